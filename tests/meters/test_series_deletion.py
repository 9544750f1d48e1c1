"""A series with readings cannot be deleted, by any route (the readings' foreign key has no index
of its own, so the check is ours, not PROTECT's); deleting the whole organization takes its
readings and series with it."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError
from django.test import Client
from django.urls import reverse

from meters.models import MeterReading, MeterReadingSeries
from meters.services.readings import readings_ingest, series_reading_sample
from tests.support.factories import OrganizationFactory, UserFactory

from .factories import MeterDeviceFactory, MeterReadingSeriesFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def org():
    org = OrganizationFactory()
    for name in ("M1", "M2", "M3"):
        MeterDeviceFactory(organization=org, name=name)
    MeterReadingSeriesFactory(organization=org, name="energy")
    MeterReadingSeriesFactory(organization=org, name="power")
    return org


def ingest(org, meter: str, series: str) -> None:
    summary = readings_ingest(
        organization_id=org.pk,
        items=[
            {
                "meter_device_name": meter,
                "series_name": series,
                "timestamp": "2024-01-01T00:00:00Z",
                "value": 1,
            }
        ],
    )
    assert summary.saved == 1


def test_the_sample_finds_a_reading_of_any_meter_and_only_of_that_series(org) -> None:
    energy, power = (org.series.get(name=n) for n in ("energy", "power"))
    assert series_reading_sample(energy) is None
    ingest(org, "M3", "power")
    assert series_reading_sample(energy) is None
    reading = series_reading_sample(power)
    assert reading is not None and (reading.meter_device.name, reading.series_id) == ("M3", power.pk)


def test_a_series_with_readings_is_refused_by_instance_and_queryset_deletes(org) -> None:
    ingest(org, "M2", "energy")
    energy = org.series.get(name="energy")
    with pytest.raises(ProtectedError, match="MeterReading.series"):
        energy.delete()
    with pytest.raises(ProtectedError):
        MeterReadingSeries.objects.filter(organization=org).delete()
    assert org.series.count() == 2  # power (no readings) was not deleted either: one transaction
    assert MeterReading.objects.filter(series=energy).count() == 1


def test_a_series_without_readings_is_deleted(org) -> None:
    ingest(org, "M1", "energy")
    org.series.get(name="power").delete()
    assert list(org.series.values_list("name", flat=True)) == ["energy"]


def test_deleting_the_organization_takes_its_readings_and_keeps_the_others(org) -> None:
    other = OrganizationFactory()
    MeterDeviceFactory(organization=other, name="M1")
    MeterReadingSeriesFactory(organization=other, name="energy")
    ingest(org, "M1", "energy")
    ingest(org, "M2", "power")
    ingest(other, "M1", "energy")
    org.delete()
    assert list(MeterReading.objects.values_list("organization_id", flat=True)) == [other.pk]
    assert not MeterReadingSeries.objects.filter(organization_id=org.pk).exists()


def test_the_admin_shows_the_series_as_protected_and_keeps_it(org) -> None:
    ingest(org, "M1", "energy")
    energy = org.series.get(name="energy")
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    url = reverse("admin:meters_meterreadingseries_delete", args=[energy.pk])
    page = client.get(url)
    assert page.status_code == 200 and "Cannot delete meter reading series" in page.content.decode()
    assert client.post(url, {"post": "yes"}).status_code == 200  # the same refusal, no delete
    assert org.series.filter(pk=energy.pk).exists()
    # The bulk action refuses too.
    changelist = reverse("admin:meters_meterreadingseries_changelist")
    response = client.post(
        changelist, {"action": "delete_selected", "_selected_action": [energy.pk], "post": "yes"}
    )
    assert response.status_code == 200 and "Cannot delete meter reading series" in response.content.decode()
    assert org.series.filter(pk=energy.pk).exists()
    # Without readings the same page deletes it.
    power = org.series.get(name="power")
    url = reverse("admin:meters_meterreadingseries_delete", args=[power.pk])
    assert client.post(url, {"post": "yes"}).status_code == 302
    assert not org.series.filter(pk=power.pk).exists()


def test_readings_carry_no_index_on_the_series_alone() -> None:
    """The point of the change: the readings table keeps three indexes (key, unique key,
    organization+time); a fourth would be paid again on every ingested row."""
    field = MeterReading._meta.get_field("series")
    assert (field.db_index, field.db_constraint) == (False, False)
    assert not any(index.fields == ["series"] for index in MeterReading._meta.indexes)
