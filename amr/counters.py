"""The Django-backed DLMS invocation counter store (``protocols.dlms.counters.InvocationCounterStore``).

A counter may never be handed out twice under one key, across workers, processes and restarts:
``next`` reserves inside a transaction that locks the row (``SELECT ... FOR UPDATE``; SQLite
serializes writers anyway), and ``observe`` is one conditional UPDATE that only moves forward.
Both commit at once (autocommit), never inside the job's conversation with the meter, so a worker
killed mid-session leaves the store at least as far as the last counter that left the wire.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from meters.models import DlmsInvocationCounter


class DjangoCounterStore:
    """Counters of one meter, one row per key id (``DlmsInvocationCounter``)."""

    def __init__(self, meter_id) -> None:
        self.meter_id = meter_id

    def _row(self, key_name: str) -> DlmsInvocationCounter:
        try:
            return DlmsInvocationCounter.objects.select_for_update().get_or_create(
                meter_id=self.meter_id, key_name=key_name[:40], defaults={"counter": -1}
            )[0]
        except IntegrityError:  # created concurrently: the row exists now
            return DlmsInvocationCounter.objects.select_for_update().get(
                meter_id=self.meter_id, key_name=key_name[:40]
            )

    def next(self, meter_key_id: str) -> int:
        with transaction.atomic():
            row = self._row(meter_key_id)
            row.counter += 1
            row.save(update_fields=["counter", "updated_at"])
            return row.counter

    def observe(self, meter_key_id: str, used: int) -> None:
        updated = DlmsInvocationCounter.objects.filter(
            meter_id=self.meter_id, key_name=meter_key_id[:40], counter__lt=used
        ).update(counter=used)
        if not updated:
            with transaction.atomic():
                row = self._row(meter_key_id)
                if row.counter < used:
                    row.counter = used
                    row.save(update_fields=["counter", "updated_at"])

    def last(self, meter_key_id: str) -> int | None:
        row = DlmsInvocationCounter.objects.filter(meter_id=self.meter_id, key_name=meter_key_id[:40]).first()
        return None if row is None or row.counter < 0 else row.counter
