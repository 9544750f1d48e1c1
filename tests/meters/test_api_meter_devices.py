"""Meter devices: CRUD, the contract's filters, unique names per organization, references within
the device's organization, hex identifiers and the optional driver fields."""

from __future__ import annotations

import pytest

from meters.models import MeterDevice
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import (
    AmrTaskFactory,
    AmrTaskGroupFactory,
    MeterDeviceFactory,
    MeterDeviceTypeFactory,
    NetworkInterfaceFactory,
)

URL = "/api/v1/metering/meter-devices/"


class TestMeterDevices(APIViewTestCases.CRUD):
    url = URL
    compare_fields = (
        "name",
        "external_system_reference",
        "manufacturer_serial",
        "protocol",
        "dlms_system_title",
        "type",
        "network_interface",
        "task_groups",
        "meter_tasks",
        "current_transformer_ratio",
        "disconnector_status",
        "mbus_primary_address",
    )
    filters = {
        "name": lambda obj: obj.name,
        "external_system_reference": lambda obj: obj.external_system_reference,
        "manufacturer_serial": lambda obj: obj.manufacturer_serial,
        "dlms_logical_device_name": lambda obj: obj.dlms_logical_device_name,
        "dlms_system_title": lambda obj: obj.dlms_system_title.lower(),
    }

    def make_object(self, organization):
        serial = MeterDevice.objects.count()
        return MeterDeviceFactory(
            organization=organization,
            dlms_logical_device_name=f"4C475A{serial:026X}",
            dlms_system_title=f"4C475A{serial:010X}",
        )

    def create_payload(self, organization):
        return {
            "organization": str(organization.pk),
            "name": "meter-0001",
            "external_system_reference": "CIS-0001",
            "manufacturer_serial": "LGZ123456",
            "protocol": "dlms-cosem",
            "dlms_logical_device_name": "4C475A3132333435",
            "dlms_system_title": "4C475A0001E240AB",
            "type": str(MeterDeviceTypeFactory(organization=organization).pk),
            "network_interface": str(NetworkInterfaceFactory(organization=organization).pk),
            "task_groups": [str(AmrTaskGroupFactory(organization=organization).pk)],
            "meter_tasks": [str(AmrTaskFactory(organization=organization).pk)],
            "has_current_transformer": True,
            "current_transformer_ratio": 30,
            "disconnector_status": 1,
            "mbus_primary_address": 5,
            "dlms_authentication": "high-gmac",
        }

    def update_payload(self, obj):
        return {"organization": str(obj.organization_id), "name": obj.name, "protocol": "mbus"}


def test_name_is_unique_within_an_organization(personas: Personas) -> None:
    MeterDeviceFactory(organization=personas.org_a, name="M1")
    MeterDeviceFactory(organization=personas.org_b, name="M2")
    client = personas.client("operator_a")
    response = client.post(URL, {"name": "M1", "protocol": "mbus"}, format="json")
    assert response.status_code == 400
    assert "name" in response.json()
    assert client.post(URL, {"name": "M2", "protocol": "mbus"}, format="json").status_code == 201
    response = personas.client("staff").post(
        URL, {"organization": str(personas.org_a.pk), "name": "M1", "protocol": "mbus"}, format="json"
    )
    assert response.status_code == 400
    assert "name" in response.json()


@pytest.mark.parametrize("field", ["type", "network_interface", "task_groups", "meter_tasks"])
@pytest.mark.parametrize("persona", ["operator_a", "staff"])
def test_references_must_belong_to_the_devices_organization(personas: Personas, field, persona) -> None:
    foreign = {
        "type": lambda: str(MeterDeviceTypeFactory(organization=personas.org_b).pk),
        "network_interface": lambda: str(NetworkInterfaceFactory(organization=personas.org_b).pk),
        "task_groups": lambda: [str(AmrTaskGroupFactory(organization=personas.org_b).pk)],
        "meter_tasks": lambda: [str(AmrTaskFactory(organization=personas.org_b).pk)],
    }[field]()
    payload = {"organization": str(personas.org_a.pk), "name": "M", "protocol": "mbus", field: foreign}
    response = personas.client(persona).post(URL, payload, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert not MeterDevice.objects.filter(name="M").exists()


def test_a_device_without_organization_cannot_reference_an_organizations_objects(personas: Personas) -> None:
    task = AmrTaskFactory(organization=personas.org_a)
    response = personas.client("staff").post(
        URL, {"name": "stock-1", "protocol": "mbus", "meter_tasks": [str(task.pk)]}, format="json"
    )
    assert response.status_code == 400
    assert "meter_tasks" in response.json()


def test_assigning_an_organization_checks_existing_references(personas: Personas) -> None:
    staff = personas.client("staff")
    response = staff.post(URL, {"name": "stock-1", "protocol": "mbus"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["organization"] is None
    device = MeterDevice.objects.get(pk=response.json()["id"])
    response = staff.patch(
        detail_url(URL, device.pk), {"organization": str(personas.org_a.pk)}, format="json"
    )
    assert response.status_code == 200, response.content
    response = staff.patch(
        detail_url(URL, device.pk), {"organization": str(personas.org_b.pk)}, format="json"
    )
    assert response.status_code == 400
    assert "organization" in response.json()


def test_network_interface_info_describes_the_interface(personas: Personas) -> None:
    interface = NetworkInterfaceFactory(organization=personas.org_a, fqdn="m1.example.test", port=4059)
    device = MeterDeviceFactory(organization=personas.org_a, network_interface=interface)
    bare = MeterDeviceFactory(organization=personas.org_a)
    client = personas.client("viewer_a")
    assert client.get(detail_url(URL, device.pk)).json()["network_interface_info"] == "m1.example.test:4059"
    assert client.get(detail_url(URL, bare.pk)).json()["network_interface_info"] == ""


@pytest.mark.parametrize(
    "field,value",
    [
        ("dlms_system_title", "4C475A0001E240AG"),
        ("dlms_system_title", "4C475A0001E240AB00"),
        ("dlms_logical_device_name", "zz"),
        ("protocol", "zigbee"),
        ("disconnector_status", 3),
        ("current_transformer_ratio", 2**31),
        ("mbus_primary_address", 251),
        ("mbus_secondary_address", "1234"),
        ("modbus_unit_id", 248),
        ("dlms_authentication", "medium"),
        ("name", "x" * 51),
        ("name", ""),
        ("iec62056_21_address", "123456789"),
    ],
)
def test_invalid_values_are_field_errors(personas: Personas, field, value) -> None:
    payload = {"name": "M", "protocol": "iec62056-21", field: value}
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_driver_fields_are_optional_and_round_trip(personas: Personas) -> None:
    payload = {
        "name": "modbus-1",
        "protocol": "modbus",
        "serial_port": "/dev/ttyUSB0",
        "serial_baudrate": 9600,
        "modbus_unit_id": 17,
        "mbus_secondary_address": "12345678",
        "dlms_client_address": 16,
        "dlms_server_address": 1,
        "dlms_transport": "hdlc",
    }
    response = personas.client("operator_a").post(URL, payload, format="json")
    assert response.status_code == 201, response.content
    for key, value in payload.items():
        assert response.json()[key] == value, key


def test_deleting_a_device_keeps_its_type_and_interface(personas: Personas) -> None:
    device_type = MeterDeviceTypeFactory(organization=personas.org_a)
    interface = NetworkInterfaceFactory(organization=personas.org_a)
    device = MeterDeviceFactory(organization=personas.org_a, type=device_type, network_interface=interface)
    assert personas.client("operator_a").delete(detail_url(URL, device.pk)).status_code == 204
    assert type(device_type).objects.filter(pk=device_type.pk).exists()
    assert type(interface).objects.filter(pk=interface.pk).exists()


def test_list_filters_are_exact(personas: Personas) -> None:
    MeterDeviceFactory(organization=personas.org_a, name="meter-10")
    MeterDeviceFactory(organization=personas.org_a, name="meter-100")
    body = personas.client("viewer_a").get(URL, {"name": "meter-10"}).json()
    assert [item["name"] for item in body["results"]] == ["meter-10"]
