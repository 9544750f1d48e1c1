"""Meter device types: CRUD and a config of the same organization."""

from __future__ import annotations

from meters.models import MeterDeviceType
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import MeterDeviceConfigFactory, MeterDeviceTypeFactory

URL = "/api/v1/metering/meter-device-types/"


class TestMeterDeviceTypes(APIViewTestCases.CRUD):
    url = URL
    compare_fields = ("name", "description", "manufacturer", "manufacturer_model", "config")

    def make_object(self, organization):
        return MeterDeviceTypeFactory(organization=organization)

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "name": "E350",
            "description": "Landis+Gyr E350, DLMS over GPRS",
            "manufacturer": "Landis+Gyr",
            "manufacturer_model": "E350",
            "config": str(MeterDeviceConfigFactory(organization=organization).pk),
        }

    def update_payload(self, obj):
        return {
            "organization": str(obj.organization_id),
            "name": "renamed",
            "manufacturer": obj.manufacturer,
            "manufacturer_model": obj.manufacturer_model,
            "config": None,
        }


def test_config_of_another_organization_is_refused(personas: Personas) -> None:
    foreign = MeterDeviceConfigFactory(organization=personas.org_b)
    device_type = MeterDeviceTypeFactory(organization=personas.org_a)
    for persona in ("operator_a", "staff"):
        response = personas.client(persona).patch(
            detail_url(URL, device_type.pk), {"config": str(foreign.pk)}, format="json"
        )
        assert response.status_code == 400, persona
        assert "config" in response.json()
    assert MeterDeviceType.objects.get(pk=device_type.pk).config_id is None


def test_deleting_a_config_leaves_its_types_without_one(personas: Personas) -> None:
    config = MeterDeviceConfigFactory(organization=personas.org_a)
    device_type = MeterDeviceTypeFactory(organization=personas.org_a, config=config)
    response = personas.client("operator_a").delete(f"/api/v1/metering/meter-device-configs/{config.pk}/")
    assert response.status_code == 204
    device_type.refresh_from_db()
    assert device_type.config_id is None
