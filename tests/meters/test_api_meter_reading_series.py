"""Meter reading series: CRUD, filters, unique name per organization, exact SI multipliers, and
deleting a series that has readings (409)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from meters.models import MeterReading, MeterReadingSeries
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import MeterDeviceFactory, MeterReadingSeriesFactory

URL = "/api/v1/metering/meter-reading-series/"


class TestMeterReadingSeries(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("name", "unit", "description", "si_multiplier", "affected_by_ct_ratio")
    filters = {"name": lambda obj: obj.name, "unit": lambda obj: obj.unit}

    def make_object(self, organization):
        return MeterReadingSeriesFactory(organization=organization, unit=uuid.uuid4().hex[:8])

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "name": "1.0.1.8.0.255",
            "description": "Active energy import",
            "unit": "kWh",
            "unit_description": "kilowatt hour",
            "si_multiplier": "3600000",
            "affected_by_ct_ratio": True,
            "affected_by_vt_ratio": True,
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "name": obj.name, "unit": "MWh"}


def test_name_is_unique_within_an_organization(personas: Personas) -> None:
    MeterReadingSeriesFactory(organization=personas.org_a, name="energy")
    MeterReadingSeriesFactory(organization=personas.org_b, name="power")
    client = personas.client("operator_a")
    response = client.post(URL, {"name": "energy", "unit": "kWh"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert client.post(URL, {"name": "power", "unit": "kW"}, format="json").status_code == 201


def test_renaming_onto_an_existing_name_is_400(personas: Personas) -> None:
    MeterReadingSeriesFactory(organization=personas.org_a, name="energy")
    other = MeterReadingSeriesFactory(organization=personas.org_a, name="power")
    response = personas.client("operator_a").patch(
        detail_url(URL, other.pk), {"name": "energy"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()


def test_si_multiplier_is_exact_and_refuses_floats_and_garbage(personas: Personas) -> None:
    client = personas.client("operator_a")
    response = client.post(
        URL, {"name": "a", "unit": "Pa", "si_multiplier": "0.000000000000000000001"}, format="json"
    )
    assert response.status_code == 201, response.content
    assert response.json()["si_multiplier"] == "0.000000000000000000001"
    assert MeterReadingSeries.objects.get(pk=response.json()["id"]).si_multiplier.as_tuple().exponent == -21
    for bad in (0.1, "NaN", "Infinity", "ten", [], True, "1" * 50):
        response = client.post(URL, {"name": "b", "unit": "Pa", "si_multiplier": bad}, format="json")
        assert response.status_code == 400, bad
        assert "si_multiplier" in response.json()


def test_deleting_a_series_with_readings_is_409(personas: Personas) -> None:
    series = MeterReadingSeriesFactory(organization=personas.org_a)
    meter = MeterDeviceFactory(organization=personas.org_a)
    MeterReading.objects.create(
        organization=personas.org_a,
        meter_device=meter,
        series=series,
        timestamp=datetime(2024, 1, 1, tzinfo=UTC),
        value="1.5",
    )
    response = personas.client("operator_a").delete(detail_url(URL, series.pk))
    assert response.status_code == 409
    assert "meter reading" in response.json()["detail"]
    assert MeterReadingSeries.objects.filter(pk=series.pk).exists()


def test_deleting_a_series_without_readings_removes_it_from_configs(personas: Personas) -> None:
    from .factories import MeterDeviceConfigFactory

    series = MeterReadingSeriesFactory(organization=personas.org_a)
    config = MeterDeviceConfigFactory(organization=personas.org_a, series=[series])
    assert personas.client("operator_a").delete(detail_url(URL, series.pk)).status_code == 204
    assert list(config.series.all()) == []
