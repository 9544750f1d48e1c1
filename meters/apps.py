from django.apps import AppConfig


class MetersConfig(AppConfig):
    name = "meters"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from . import signals
        from .models import MeterDevice, MeterReadingSeries

        post_save.connect(
            signals.meter_device_saved, sender=MeterDevice, dispatch_uid="meters.promote_staged"
        )
        post_save.connect(
            signals.series_saved, sender=MeterReadingSeries, dispatch_uid="meters.promote_staged_series"
        )
