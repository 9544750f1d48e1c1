"""No metering endpoint answers 500 to any input: every wrong value is a 400 naming the field.

The garbage is derived from the served schema of each resource's create request, so a field added
later is covered without touching this file: wrong JSON types (lists and objects for scalars,
strings for booleans and numbers), null for non-nullable fields, over-long strings, malformed and
unknown UUIDs, out-of-range integers, unknown enum values and pattern violations. Each is sent
alone inside an otherwise valid body: as a create by staff and as a partial update by an operator.
"""

from __future__ import annotations

import json

import pytest

from tests.support.api import APIViewTestCases, detail_url
from tests.support.personas import Personas

# Modules, not classes: a Test* class imported here would be collected (and run) twice.
from . import (
    test_api_amr_task_groups,
    test_api_amr_tasks,
    test_api_meter_device_configs,
    test_api_meter_device_types,
    test_api_meter_devices,
    test_api_meter_reading_series,
    test_api_meter_security_keys,
    test_api_network_interfaces,
    test_api_sim_cards,
)

RESOURCES = [
    test_api_sim_cards.TestSimCards,
    test_api_network_interfaces.TestNetworkInterfaces,
    test_api_meter_reading_series.TestMeterReadingSeries,
    test_api_meter_device_configs.TestMeterDeviceConfigs,
    test_api_meter_device_types.TestMeterDeviceTypes,
    test_api_meter_devices.TestMeterDevices,
    test_api_meter_security_keys.TestMeterSecurityKeys,
    test_api_amr_tasks.TestAmrTasks,
    test_api_amr_task_groups.TestAmrTaskGroups,
]
UNKNOWN_UUID = "00000000-0000-4000-8000-000000000000"


def resolve(schema: dict, document: dict) -> dict:
    schema = dict(schema)
    while "$ref" in schema:
        target = document
        for part in schema.pop("$ref").lstrip("#/").split("/"):
            target = target[part]
        schema = {**target, **schema}
    for key in ("allOf", "oneOf"):
        for member in schema.pop(key, []):
            member = resolve(member, document)
            if member.get("enum") == [None]:
                schema["nullable"] = True
            elif member.get("enum") != [""]:
                schema = {**member, **schema}
    return schema


def garbage_for(prop: dict) -> list:
    kind = prop.get("type")
    values: list = []
    if not prop.get("nullable"):
        values.append(None)
    if kind == "array":
        values += ["not-a-list", {"a": 1}, ["not-a-uuid"], [UNKNOWN_UUID], [None], [{"a": 1}], [["nested"]]]
        return values
    if kind == "object":
        return values + [["a", "list"], "a string", 12]
    values += [["a", "list"], {"an": "object"}]
    if kind == "boolean":
        values += ["maybe", 2, ""]
    elif kind == "integer":
        values += ["twelve", "", 1.5, True, 10**30, -(10**30)]
        if "maximum" in prop:
            values.append(prop["maximum"] + 1)
        if "minimum" in prop:
            values.append(prop["minimum"] - 1)
    elif kind == "string":
        if "enum" in prop:
            values += ["not-one-of-them", 99]
        if prop.get("format") == "uuid":
            values += ["not-a-uuid", UNKNOWN_UUID, 12, "1" * 1000]
        if prop.get("format") == "decimal":
            values += ["twelve", "NaN", 0.1, "1" * 100]
        if prop.get("format") == "uri":
            values += ["not a link"]
        if "maxLength" in prop:
            values.append("a" * (prop["maxLength"] + 1))
        if "pattern" in prop:
            values.append("%%%%")
        if prop.get("minLength") and "enum" not in prop:
            values.append("")
    return values


@pytest.fixture
def served_schema(personas: Personas) -> dict:
    return json.loads(personas.client("staff").get("/api/schema/", {"format": "json"}).content)


def request_properties(schema: dict, url: str) -> dict:
    path = next(p for p in schema["paths"] if p.rstrip("/") == url.rstrip("/"))
    body = schema["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    return {name: resolve(prop, schema) for name, prop in resolve(body, schema)["properties"].items()}


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.url.split("/")[-2])
def test_every_garbage_value_is_a_400_naming_the_field(personas: Personas, served_schema, resource) -> None:
    case = resource()
    properties = request_properties(served_schema, case.url)
    assert properties, case.url
    staff = personas.client("staff")
    operator = personas.client("operator_a")
    existing = case.make_object(personas.org_a)
    failures = []
    for name, prop in properties.items():
        for value in garbage_for(prop):
            payload = {**case.create_payload(personas.org_a), name: value}
            response = staff.post(case.url, payload, format="json")
            if response.status_code != 400 or name not in response.json():
                failures.append(
                    f"POST {name}={value!r:.40}: {response.status_code} {response.content[:120]!r}"
                )
            if name == "organization" or not isinstance(case, APIViewTestCases.Update):
                continue
            response = operator.patch(detail_url(case.url, existing.pk), {name: value}, format="json")
            if response.status_code != 400 or name not in response.json():
                failures.append(
                    f"PATCH {name}={value!r:.40}: {response.status_code} {response.content[:120]!r}"
                )
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.url.split("/")[-2])
@pytest.mark.parametrize("body", ["[1, 2]", '"a string"', "12", "null", "{not json", "", "[]"])
def test_a_body_that_is_not_an_object_is_400(personas: Personas, resource, body) -> None:
    response = personas.client("staff").post(resource.url, body, content_type="application/json")
    assert response.status_code == 400, response.content


@pytest.mark.parametrize("resource", RESOURCES, ids=lambda r: r.url.split("/")[-2])
@pytest.mark.parametrize(
    "query",
    [
        {"limit": "x", "offset": "-1"},
        {"limit": 10**30, "offset": 10**30},
        {"name": "x" * 5000, "iccid": "\u00e9\u00e8", "unit": "\U0001f4a9"},
        {"meter": "not-a-uuid"},
        {"dlms_system_title": "\x00"},
    ],
)
def test_garbage_query_parameters_never_500(personas: Personas, resource, query) -> None:
    response = personas.client("staff").get(resource.url, query)
    assert response.status_code in (200, 400), response.content
