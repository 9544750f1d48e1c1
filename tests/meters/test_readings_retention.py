"""Retention: readings and events older than DATA_RETENTION_DAYS, staged readings older than
STAGED_DATA_RETENTION_DAYS, deleted in batches by the daily task."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from meters.models import MeterReading, MeterSystemEvent, StagedMeterReading
from meters.services.readings import events_ingest, readings_apply_retention, readings_ingest
from meters.tasks import apply_retention
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.factories import OrganizationFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def data():
    now = timezone.now().replace(microsecond=0)
    orgs = [OrganizationFactory(), OrganizationFactory()]
    for org in orgs:
        MeterDeviceFactory(organization=org, name="M1")
        MeterReadingSeriesFactory(organization=org, name="energy")
        items = [
            {
                "meter_device_name": "M1",
                "series_name": "energy",
                "timestamp": (now - timedelta(days=d)).isoformat(),
                "value": d,
            }
            for d in (1, 10, 99, 101, 400)
        ]
        readings_ingest(organization_id=org.pk, items=items)
        events_ingest(
            organization_id=org.pk,
            items=[
                {
                    "meter_device_name": "M1",
                    "timestamp": (now - timedelta(days=d)).isoformat(),
                    "title": "t",
                    "content": "c",
                }
                for d in (1, 200)
            ],
        )
        readings_ingest(organization_id=org.pk, items=[{**items[0], "meter_device_name": "unknown"}])
    StagedMeterReading.objects.filter(organization=orgs[0]).update(created_at=now - timedelta(days=31))
    return now


def test_retention_deletes_old_rows_in_batches(data) -> None:
    summary = readings_apply_retention(
        now=data, data_retention_days=100, staged_retention_days=30, batch_size=1
    )
    assert (summary.readings, summary.events, summary.staged) == (4, 2, 1)
    assert sorted(int(v) for v in MeterReading.objects.values_list("value", flat=True)) == [
        1,
        1,
        10,
        10,
        99,
        99,
    ]
    assert MeterSystemEvent.objects.count() == 2
    assert StagedMeterReading.objects.count() == 1


def test_unset_data_retention_keeps_readings(data, settings) -> None:
    settings.DATA_RETENTION_DAYS = None
    settings.STAGED_DATA_RETENTION_DAYS = 30
    result = apply_retention()
    assert result["readings"] == 0 and result["events"] == 0 and result["staged"] == 1
    assert MeterReading.objects.count() == 10


def test_task_reads_the_settings(data, settings) -> None:
    settings.DATA_RETENTION_DAYS = 5
    settings.STAGED_DATA_RETENTION_DAYS = 60
    result = apply_retention()
    assert (result["readings"], result["events"], result["staged"]) == (8, 2, 0)


def test_retention_task_is_routed_to_the_cleanup_queue_and_scheduled() -> None:
    from utilitarian.celery import QUEUE_CLEANUP, app

    assert app.amqp.router.route({}, "meters.apply_retention")["queue"].name == QUEUE_CLEANUP
    assert any(e["task"] == "meters.apply_retention" for e in app.conf.beat_schedule.values())
