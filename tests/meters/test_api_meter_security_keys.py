"""Meter security key collections: GET list / POST / GET one / DELETE only, one per meter, key
values shown to staff only, and the master key never shown to anyone, anywhere."""

from __future__ import annotations

import logging

import pytest
from django.db import connection

from meters.models import MeterSecurityKeyCollection
from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

from .factories import MeterDeviceFactory, MeterSecurityKeyCollectionFactory

URL = "/api/v1/metering/meter-security-keys/"
MASTER = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0"
GUEK = "000102030405060708090A0B0C0D0E0F"
GAK = "D0D1D2D3D4D5D6D7D8D9DADBDCDDDEDF"
PASSWORD = "s3cr3t"


class TestMeterSecurityKeys(
    APIViewTestCases.List, APIViewTestCases.Retrieve, APIViewTestCases.Create, APIViewTestCases.Delete
):
    url = URL
    organization_path = "meter__organization"
    compare_fields = ("meter", "dlms_global_unicast_encryption_key", "iec62056_21_password")
    filters = {
        "meter": lambda obj: str(obj.meter_id),
        "meter_name": lambda obj: obj.meter.name,
        "meter_external_system_reference": lambda obj: obj.meter.external_system_reference,
        "meter_manufacturer_serial": lambda obj: obj.meter.manufacturer_serial,
        "meter_dlms_system_title": lambda obj: obj.meter.dlms_system_title,
        "meter_dlms_logical_device_name": lambda obj: obj.meter.dlms_logical_device_name.lower(),
    }

    def make_object(self, organization):
        n = MeterSecurityKeyCollection.objects.count()
        meter = MeterDeviceFactory(
            organization=organization, dlms_system_title=f"{n:016X}", dlms_logical_device_name=f"ABC{n:029X}"
        )
        return MeterSecurityKeyCollectionFactory(meter=meter, dlms_master_key=MASTER)

    def create_payload(self, organization):
        return {
            "meter": str(MeterDeviceFactory(organization=organization).pk),
            "iec62056_21_password": PASSWORD,
            "dlms_global_unicast_encryption_key": GUEK,
            "dlms_global_authentication_key": GAK,
            "dlms_master_key": MASTER,
        }

    def invalid_payload(self, organization):
        return {"meter": "not-a-uuid", "dlms_master_key": ["not", "a", "string"]}


def create_keys(personas: Personas, persona: str = "operator_a"):
    meter = MeterDeviceFactory(
        organization=personas.org_of(persona) if persona != "staff" else personas.org_a
    )
    payload = TestMeterSecurityKeys().create_payload(meter.organization)
    payload["meter"] = str(meter.pk)
    return meter, personas.client(persona).post(URL, payload, format="json")


@pytest.mark.parametrize("persona", ["staff", "admin_a", "operator_a"])
def test_master_key_is_never_returned(personas: Personas, persona) -> None:
    meter, response = create_keys(personas, "staff" if persona == "staff" else "operator_a")
    assert response.status_code == 201, response.content
    client = personas.client(persona)
    bodies = [
        response.content,
        client.get(URL).content,
        client.get(detail_url(URL, response.json()["id"])).content,
        client.get(URL, {"meter": str(meter.pk)}).content,
    ]
    for body in bodies:
        assert MASTER.encode() not in body
        assert MASTER.upper().encode() not in body
        assert b"dlms_master_key" not in body


def test_staff_see_the_other_keys_in_clear(personas: Personas) -> None:
    meter, response = create_keys(personas, "operator_a")
    assert response.status_code == 201
    body = personas.client("staff").get(detail_url(URL, response.json()["id"])).json()
    assert body["dlms_global_unicast_encryption_key"] == GUEK
    assert body["dlms_global_authentication_key"] == GAK
    assert body["iec62056_21_password"] == PASSWORD
    assert body["dlms_global_broadcast_encryption_key"] is None
    assert body["meter"]["id"] == str(meter.pk) and body["meter"]["name"] == meter.name


@pytest.mark.parametrize("persona", ["viewer_a", "operator_a", "admin_a"])
def test_jwt_users_never_see_key_values(personas: Personas, persona) -> None:
    _, response = create_keys(personas, "operator_a")
    assert response.status_code == 201
    created = response.json()
    for name in (
        "iec62056_21_password",
        "dlms_global_unicast_encryption_key",
        "dlms_global_authentication_key",
    ):
        assert created[name] is None, name  # not even echoed to the operator who sent them
    client = personas.client(persona)
    for body in (client.get(URL).json()["results"][0], client.get(detail_url(URL, created["id"])).json()):
        for name in (
            "iec62056_21_password",
            "dlms_global_unicast_encryption_key",
            "dlms_global_broadcast_encryption_key",
            "dlms_global_authentication_key",
        ):
            assert body[name] is None, name
    raw = client.get(URL).content
    for secret in (GUEK, GAK, PASSWORD, MASTER):
        assert secret.encode() not in raw


def test_one_collection_per_meter(personas: Personas) -> None:
    meter, response = create_keys(personas)
    assert response.status_code == 201
    again = personas.client("operator_a").post(URL, {"meter": str(meter.pk)}, format="json")
    assert again.status_code == 400
    assert "meter" in again.json()


def test_keys_cannot_be_updated(personas: Personas) -> None:
    keys = MeterSecurityKeyCollectionFactory(meter=MeterDeviceFactory(organization=personas.org_a))
    for method in ("put", "patch"):
        response = getattr(personas.client("staff"), method)(detail_url(URL, keys.pk), {}, format="json")
        assert response.status_code == 405


def test_a_meter_of_another_organization_is_refused(personas: Personas) -> None:
    foreign = MeterDeviceFactory(organization=personas.org_b)
    response = personas.client("operator_a").post(URL, {"meter": str(foreign.pk)}, format="json")
    assert response.status_code == 400
    assert "meter" in response.json()
    assert not MeterSecurityKeyCollection.objects.exists()


@pytest.mark.parametrize(
    "field,value",
    [
        ("dlms_master_key", MASTER[:-2] + "ZZ"),
        ("dlms_master_key", MASTER[:40]),
        ("dlms_master_key", MASTER + "00"),
        ("dlms_global_unicast_encryption_key", GUEK[:30]),
        ("dlms_global_authentication_key", "G" * 32),
        ("iec62056_21_password", "123456789"),
        ("iec62056_21_password", ""),
    ],
)
def test_invalid_key_material_is_a_field_error_that_does_not_echo_it(
    personas: Personas, field, value
) -> None:
    meter = MeterDeviceFactory(organization=personas.org_a)
    response = personas.client("operator_a").post(URL, {"meter": str(meter.pk), field: value}, format="json")
    assert response.status_code == 400
    assert field in response.json()
    assert value.encode() not in response.content or value == ""
    assert MASTER[:20].encode() not in response.content


def test_key_material_is_encrypted_at_rest(personas: Personas) -> None:
    _, response = create_keys(personas)
    assert response.status_code == 201
    table = MeterSecurityKeyCollection._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT dlms_master_key, dlms_global_unicast_encryption_key, iec62056_21_password FROM {table}"
        )
        stored = cursor.fetchone()
    for raw, secret in zip(stored, (MASTER, GUEK, PASSWORD), strict=True):
        assert raw and secret not in raw and secret.lower() not in raw
    keys = MeterSecurityKeyCollection.objects.get(pk=response.json()["id"])
    assert keys.dlms_master_key == MASTER  # the drivers still get the key back
    assert MASTER not in repr(keys) and MASTER not in str(keys)


def test_master_key_is_not_logged(personas: Personas, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    _, response = create_keys(personas, "staff")
    assert response.status_code == 201
    meter = MeterDeviceFactory(organization=personas.org_a)
    bad = personas.client("operator_a").post(
        URL, {"meter": str(meter.pk), "dlms_master_key": MASTER[:-1] + "X"}, format="json"
    )
    assert bad.status_code == 400
    personas.client("staff").get(URL)
    logged = "\n".join(record.getMessage() + repr(record.args) for record in caplog.records)
    assert MASTER not in logged and MASTER[:-1] not in logged


def test_deleting_a_meter_deletes_its_keys(personas: Personas) -> None:
    keys = MeterSecurityKeyCollectionFactory(meter=MeterDeviceFactory(organization=personas.org_a))
    response = personas.client("operator_a").delete(f"/api/v1/metering/meter-devices/{keys.meter_id}/")
    assert response.status_code == 204
    assert not MeterSecurityKeyCollection.objects.filter(pk=keys.pk).exists()
