"""Signal receivers of the meters app (connected in ``MetersConfig.ready``).

Staged readings are promoted in the transaction that saves a meter device, whoever saves it:
the API, the admin add form, the PowerBox sync. A save that is not a creation still checks (one
indexed EXISTS query), because renaming a meter to a staged name should promote too. A new series
may make staged readings of existing meters valid, so its creation promotes those.
"""

from __future__ import annotations

from django.db import transaction

from .models import MeterDevice, MeterReadingSeries
from .services.readings import promote_staged_readings, promote_staged_readings_for_series


def meter_device_saved(sender, instance: MeterDevice, created: bool, raw: bool = False, **kwargs) -> None:
    if raw:  # loaddata
        return
    with transaction.atomic():
        promote_staged_readings(meter_device=instance)


def series_saved(sender, instance: MeterReadingSeries, created: bool, raw: bool = False, **kwargs) -> None:
    if raw or not created:
        return
    with transaction.atomic():
        promote_staged_readings_for_series(series=instance)
