"""Signals other apps listen to instead of AMR importing them.

``job_state_changed`` is sent after a job run records its outcome (succeeded, failed, retrying),
once the change is committed. Receivers get ``job_id``, ``state``, ``task_call``,
``meter_device_id`` and ``info`` (the driver's result info). PowerBox advances its HAN bind
state machine with it.
"""

from django.dispatch import Signal

job_state_changed = Signal()
