"""Meter device configs: CRUD, series of the same organization, series_info, the time zone enum."""

from __future__ import annotations

from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import MeterDeviceConfigFactory, MeterReadingSeriesFactory

URL = "/api/v1/metering/meter-device-configs/"


class TestMeterDeviceConfigs(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("name", "timezone", "series")

    def make_object(self, organization):
        return MeterDeviceConfigFactory(organization=organization)

    def create_payload(self, organization):
        series = MeterReadingSeriesFactory(organization=organization)
        return {
            "organization": str(organization.pk),
            "name": "E350 hourly",
            "series": [str(series.pk)],
            "timezone": "Etc/GMT-1",
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "name": "renamed", "series": [], "timezone": "UTC"}


def test_series_info_lists_the_series(personas: Personas) -> None:
    energy = MeterReadingSeriesFactory(organization=personas.org_a, name="energy", unit="kWh")
    power = MeterReadingSeriesFactory(organization=personas.org_a, name="power", unit="kW")
    config = MeterDeviceConfigFactory(organization=personas.org_a, series=[power, energy])
    body = personas.client("viewer_a").get(detail_url(URL, config.pk)).json()
    assert body["series_info"] == "energy [kWh], power [kW]"
    assert sorted(body["series"]) == sorted([str(energy.pk), str(power.pk)])


def test_series_of_another_organization_are_refused(personas: Personas) -> None:
    foreign = MeterReadingSeriesFactory(organization=personas.org_b)
    payload = {"organization": str(personas.org_a.pk), "name": "x", "series": [str(foreign.pk)]}
    for persona in ("operator_a", "staff"):
        response = personas.client(persona).post(URL, payload, format="json")
        assert response.status_code == 400, persona
        assert "series" in response.json()


def test_timezone_must_be_one_of_the_contracts(personas: Personas) -> None:
    client = personas.client("operator_a")
    for zone in ("Mars/Olympus_Mons", "Asia/Hanoi", "", None, 1):
        response = client.post(URL, {"name": "x", "series": [], "timezone": zone}, format="json")
        assert response.status_code == 400, zone
        assert "timezone" in response.json()
    response = client.post(URL, {"name": "x", "series": []}, format="json")
    assert response.status_code == 201
    assert response.json()["timezone"] == "UTC"


def test_series_is_required_on_create_but_may_be_empty(personas: Personas) -> None:
    client = personas.client("operator_a")
    response = client.post(URL, {"name": "x"}, format="json")
    assert response.status_code == 400
    assert "series" in response.json()
