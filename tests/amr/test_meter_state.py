"""Calls that change a meter are mirrored on its MeterDevice, and other apps hear about outcomes."""

from __future__ import annotations

from amr.models import AmrJob, JobState
from amr.services import job_run
from amr.signals import job_state_changed
from meters.models import DisconnectorStatus, Protocol
from protocols.dlms.simulator import DlmsSimulator
from tests.amr.support import meter_at, on_demand_job


def test_disconnect_control_updates_the_disconnector_status(
    organization, fast_retries, django_capture_on_commit_callbacks
) -> None:
    heard: list[dict] = []

    def listener(sender, **kwargs) -> None:
        heard.append(kwargs)

    job_state_changed.connect(listener)
    try:
        with DlmsSimulator() as sim:
            meter = meter_at(organization, sim.port, protocol=Protocol.DLMS, has_disconnector=True)
            job = on_demand_job(
                meter, environment="generic_dlms", call="disconnect_control", kwargs={"action": "disconnect"}
            )
            with django_capture_on_commit_callbacks(execute=True):
                assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
            meter.refresh_from_db()
            assert meter.disconnector_status == DisconnectorStatus.DISCONNECTED

            job = on_demand_job(
                meter, environment="generic_dlms", call="disconnect_control", kwargs={"action": "connect"}
            )
            with django_capture_on_commit_callbacks(execute=True):
                assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
            meter.refresh_from_db()
            assert meter.disconnector_status == DisconnectorStatus.CONNECTED
    finally:
        job_state_changed.disconnect(listener)
    assert [h["state"] for h in heard] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert heard[-1]["task_call"] == "disconnect_control"
    assert heard[-1]["job_id"] == job.pk
    assert AmrJob.objects.get(pk=job.pk).info["control_state"] == "connected"
