from django.apps import AppConfig


class PowerboxConfig(AppConfig):
    name = "powerbox"

    def ready(self) -> None:
        from amr.signals import job_state_changed

        from .pairing import BIND_CALL, UNBIND_CALL

        def follow_pairing_job(sender, *, job_id, task_call: str, **kwargs) -> None:
            """A HAN pairing job moved: advance its bind request (the 48 h sweep is the backstop)."""
            if task_call in (BIND_CALL, UNBIND_CALL):
                from .services import amr_job_changed

                amr_job_changed(job_id=job_id)

        job_state_changed.connect(follow_pairing_job, dispatch_uid="powerbox.follow_pairing_job", weak=False)
