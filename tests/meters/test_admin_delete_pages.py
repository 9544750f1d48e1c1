"""The admin's delete pages count the rows a meter or an organization owns by the million
(readings, events, staged readings, AMR jobs) instead of loading and listing each, and the delete
itself still takes them along, leaving other meters' and organizations' rows alone."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from meters.models import MeterDevice, MeterReading, MeterSystemEvent, StagedMeterReading
from meters.services.readings import events_ingest, readings_ingest
from tests.support.factories import OrganizationFactory, UserFactory
from utilitarian.models import Organization

from .factories import MeterDeviceFactory, MeterReadingSeriesFactory, MeterSecurityKeyCollectionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff() -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


def populate(org, meter: str, readings: int) -> MeterDevice:
    device = MeterDeviceFactory(organization=org, name=meter)
    MeterReadingSeriesFactory(organization=org, name=f"energy-{meter}")
    items = [
        {
            "meter_device_name": meter,
            "series_name": f"energy-{meter}",
            "timestamp": f"2024-01-{1 + i // 96:02d}T{i % 96 // 4:02d}:{i % 4 * 15:02d}:00Z",
            "value": i,
        }
        for i in range(readings)
    ]
    assert readings_ingest(organization_id=org.pk, items=items).saved == readings
    events = [
        {
            "meter_device_name": meter,
            "timestamp": f"2024-01-01T0{i}:00:00Z",
            "title": "power",
            "content": "down",
        }
        for i in range(3)
    ]
    assert events_ingest(organization_id=org.pk, items=events).saved == 3
    return device


def test_the_meter_delete_page_counts_readings_and_the_delete_takes_them(staff) -> None:
    org = OrganizationFactory()
    meter = populate(org, "M1", 500)
    keys = MeterSecurityKeyCollectionFactory(meter=meter)
    other = populate(org, "M2", 10)
    url = reverse("admin:meters_meterdevice_delete", args=[meter.pk])
    page = staff.get(url).content.decode()
    assert "Meter readings: 500 (counted, not listed)" in page
    assert "Meter system events: 3 (counted, not listed)" in page
    assert "Meter reading:" not in page  # not one reading listed on its own
    assert reverse("admin:meters_metersecuritykeycollection_change", args=[keys.pk]) in page  # the rest is
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not MeterDevice.objects.filter(pk=meter.pk).exists()
    assert set(MeterReading.objects.values_list("meter_device_id", flat=True)) == {other.pk}
    assert set(MeterSystemEvent.objects.values_list("meter_device_id", flat=True)) == {other.pk}


def test_the_organization_delete_page_counts_and_the_delete_takes_everything(staff) -> None:
    org, kept = OrganizationFactory(), OrganizationFactory()
    populate(org, "M1", 200)
    populate(org, "M2", 100)
    populate(kept, "M1", 5)
    staged = readings_ingest(
        organization_id=org.pk,
        items=[
            {"meter_device_name": "new", "series_name": "x", "timestamp": "2024-01-01T00:00:00Z", "value": 1}
        ],
    )
    assert staged.staged == 1
    url = reverse("admin:utilitarian_organization_delete", args=[org.pk])
    page = staff.get(url).content.decode()
    assert "Meter readings: 300 (counted, not listed)" in page
    assert "Staged meter readings: 1 (counted, not listed)" in page
    assert (
        reverse(
            "admin:meters_meterdevice_change", args=[MeterDevice.objects.get(organization=org, name="M1").pk]
        )
        in page
    )
    assert staff.post(url, {"post": "yes"}).status_code == 302
    assert not Organization.objects.filter(pk=org.pk).exists()
    assert set(MeterReading.objects.values_list("organization_id", flat=True)) == {kept.pk}
    assert set(MeterSystemEvent.objects.values_list("organization_id", flat=True)) == {kept.pk}
    assert not StagedMeterReading.objects.exists()
