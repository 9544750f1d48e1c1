"""Staged readings are promoted in the transaction that creates their meter device."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.test import Client

from meters.models import MeterDevice, MeterReading, Protocol, StagedMeterReading
from meters.services.readings import promote_pending_staged_readings, readings_ingest
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.factories import OrganizationFactory, UserFactory

pytestmark = pytest.mark.django_db


def stage(org, meter="future", series="energy", ts="2024-03-01T00:15:00Z", value="1.25"):
    items = [{"meter_device_name": meter, "series_name": series, "timestamp": ts, "value": value}]
    assert readings_ingest(organization_id=org.pk, items=items).staged == 1


def test_creating_the_meter_promotes_its_staged_readings() -> None:
    org = OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    stage(org)
    stage(org, ts="2024-03-01T00:30:00Z")
    meter = MeterDeviceFactory(organization=org, name="future")
    assert MeterReading.objects.filter(meter_device=meter).count() == 2
    assert MeterReading.objects.filter(meter_device=meter).first().value == Decimal("1.25")
    assert not StagedMeterReading.objects.exists()


def test_promotion_is_scoped_to_the_organization() -> None:
    org, other = OrganizationFactory(), OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    MeterReadingSeriesFactory(organization=other, name="energy")
    stage(other)
    MeterDeviceFactory(organization=org, name="future")
    assert MeterReading.objects.count() == 0
    assert StagedMeterReading.objects.filter(organization=other).count() == 1


def test_staged_reading_with_unknown_series_stays_staged_until_the_series_exists() -> None:
    org = OrganizationFactory()
    stage(org, series="volume")
    meter = MeterDeviceFactory(organization=org, name="future")
    assert MeterReading.objects.count() == 0
    assert StagedMeterReading.objects.count() == 1
    MeterReadingSeriesFactory(organization=org, name="volume")
    assert MeterReading.objects.filter(meter_device=meter).count() == 1
    assert not StagedMeterReading.objects.exists()


def test_promotion_of_an_already_stored_reading_is_a_duplicate() -> None:
    org = OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    stage(org)
    stage(org)  # staged twice (separate requests)
    MeterDeviceFactory(organization=org, name="future")
    assert MeterReading.objects.count() == 1
    assert not StagedMeterReading.objects.exists()


def test_renaming_a_meter_to_a_staged_name_promotes() -> None:
    org = OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    meter = MeterDeviceFactory(organization=org, name="old")
    stage(org)
    meter.name = "future"
    meter.save()
    assert MeterReading.objects.filter(meter_device=meter).count() == 1


def test_the_daily_sweep_promotes_rows_a_race_left_behind() -> None:
    org = OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    meter = MeterDeviceFactory(organization=org, name="future")
    # Simulate the race: a staged row committed after the meter's creation promoted.
    StagedMeterReading.objects.create(
        organization=org,
        meter_device_name="future",
        series_name="energy",
        timestamp="2024-01-01T00:00Z",
        value="3",
    )
    summary = promote_pending_staged_readings()
    assert summary.saved == 1
    assert MeterReading.objects.get().meter_device == meter


def test_creating_a_meter_in_the_admin_promotes_staged_readings() -> None:
    if MeterDevice not in admin.site._registry:
        pytest.skip("MeterDevice is not registered in the admin yet (meters/admin.py)")
    org = OrganizationFactory()
    MeterReadingSeriesFactory(organization=org, name="energy")
    stage(org)
    user = UserFactory(username="admin-user", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    form = client.get("/admin/meters/meterdevice/add/")
    assert form.status_code == 200
    data = {"organization": str(org.pk), "name": "future", "protocol": Protocol.IEC62056_21}
    # Carry the defaults of every other field the form renders (inlines' management forms too).
    for name, value in _initial_form_data(form).items():
        data.setdefault(name, value)
    response = client.post("/admin/meters/meterdevice/add/", data)
    assert response.status_code == 302, _admin_errors(response)
    meter = MeterDevice.objects.get(organization=org, name="future")
    assert MeterReading.objects.filter(meter_device=meter).count() == 1
    assert not StagedMeterReading.objects.exists()


def _initial_form_data(response) -> dict:
    """Initial values of the admin add form: its bound fields and inline management forms."""
    data: dict = {}
    adminform = response.context["adminform"]
    for name, field in adminform.form.fields.items():
        initial = adminform.form.get_initial_for_field(field, name)
        if initial is None:
            continue
        if isinstance(initial, bool):
            if initial:
                data[name] = "on"
            continue
        if isinstance(initial, list | tuple):
            continue
        data[name] = initial
    for inline in response.context.get("inline_admin_formsets", []):
        formset = inline.formset
        for key, value in formset.management_form.initial.items():
            data[f"{formset.prefix}-{key}"] = value
    return data


def _admin_errors(response) -> str:
    context = getattr(response, "context", None)
    if not context or "adminform" not in context:
        return response.content[:500]
    return str(context["adminform"].form.errors)
