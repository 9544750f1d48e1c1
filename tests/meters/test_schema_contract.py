"""The served OpenAPI schema matches the contract for every metering path this app implements.

The contract (``utilitarian-api-1.3.0.openapi.json``) sits beside the project in
``../shared/spec`` (``UTILITARIAN_SPEC`` overrides the directory or names the file). For each
implemented contract path: the path exists (contract paths are relative to /api/v1 and some lack
the trailing slash), the same methods, the contract's status codes and list filters, and every
property of every request and response schema with the same type, format, maxLength, pattern,
enum, nullable and readOnly (and the same required properties in request bodies, except for
PATCH: the contract reuses the full body there, but a partial update requires nothing). Request and
response schemas are compared per operation, since the served schema splits components
(COMPONENT_SPLIT_REQUEST). Deliberate differences are allow-listed below with their reason; an
allow-list entry that no longer matches anything fails too, so the list cannot go stale.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from amr.environments import CONTRACT_ENVIRONMENTS, ENVIRONMENTS
from meters.timezones import REMOVED_FROM_CONTRACT
from tests.support.personas import Personas

SPEC_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "spec"
SPEC_NAME = "utilitarian-api-1.3.0.openapi.json"

#: Contract paths this app implements (readings and amr-tasks/invoke belong to other work).
IMPLEMENTED = (
    "/metering/meter-devices",
    "/metering/meter-device-types",
    "/metering/meter-device-configs",
    "/metering/meter-reading-series",
    "/metering/network-interfaces",
    "/metering/sim-cards",
    "/metering/meter-security-keys",
    "/metering/amr-tasks",
    "/metering/amr-task-groups",
)
COMPARED_ATTRIBUTES = ("type", "format", "maxLength", "pattern", "enum", "nullable", "readOnly")


@dataclass
class Allowed:
    """A deliberate difference: ``where`` and ``attribute`` are regexes over a drift's location."""

    where: str
    attribute: str
    reason: str
    #: Extra guard on the two values, so the allowance cannot hide a different drift.
    check: Callable[[Any, Any], bool] = lambda contract, ours: True
    used: bool = field(default=False, compare=False)


def _removed_timezones_only(contract: Any, ours: Any) -> bool:
    return set(contract) - set(ours) == set(REMOVED_FROM_CONTRACT) and set(ours) <= set(contract)


def _environment_extensions_only(contract: Any, ours: Any) -> bool:
    return set(contract) == set(CONTRACT_ENVIRONMENTS) and set(ours) == set(ENVIRONMENTS)


ALLOWED = [
    Allowed(
        r"\.timezone$",
        "enum",
        "meters/timezones.py leaves out Asia/Hanoi and US/Pacific-New: the IANA database no longer has "
        "them, so no driver could convert with them (REMOVED_FROM_CONTRACT).",
        _removed_timezones_only,
    ),
    Allowed(
        r"\.meter_execution_type$",
        "enum",
        "the execution-environment registry (amr/environments) extends the contract's three with the "
        "DLMS, M-Bus and Modbus environments of this server.",
        _environment_extensions_only,
    ),
    Allowed(
        r"^/metering/meter-security-keys post 201 response\.dlms_master_key$",
        "missing",
        "the master key is never returned by any endpoint (the contract's own text says so, although its "
        "create response reuses the IN schema).",
    ),
    Allowed(
        r"network-interfaces.* response.*\.(host|block_time)$",
        "nullable",
        "host is null when no address is known and block_time when the interface is not blocked; the "
        "contract's generator never marked read-only properties nullable.",
        lambda contract, ours: contract is False and ours is True,
    ),
]


def load_contract() -> dict:
    override = os.environ.get("UTILITARIAN_SPEC")
    path = Path(override) if override else SPEC_DIR
    if path.is_dir():
        path = path / SPEC_NAME
    if not path.exists():
        message = f"API contract not found at {path} (set UTILITARIAN_SPEC)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return json.loads(path.read_text())


def normalise_path(path: str) -> str:
    if path.startswith("/api/v1/"):
        path = path[len("/api/v1") :]
    return path.rstrip("/") or "/"


def is_implemented(contract_path: str) -> bool:
    path = normalise_path(contract_path)
    return any(path == p or path == p + "/{id}" for p in IMPLEMENTED)


class Comparator:
    def __init__(self, contract: dict, ours: dict) -> None:
        self.contract = contract
        self.ours = ours
        self.drifts: list[str] = []

    def resolve(self, schema: dict | None, document: dict) -> dict:
        """Follow $ref and flatten single allOf / nullable oneOf (drf-spectacular's enum shapes)."""
        schema = dict(schema or {})
        while "$ref" in schema:
            ref = schema.pop("$ref")
            target: Any = document
            for part in ref.lstrip("#/").split("/"):
                target = target[part]
            schema = {**target, **schema}
        if "allOf" in schema and len(schema["allOf"]) == 1:
            inner = self.resolve(schema.pop("allOf")[0], document)
            schema = {**inner, **schema}
        if "oneOf" in schema:
            members = [self.resolve(member, document) for member in schema.pop("oneOf")]
            real = [m for m in members if m.get("enum") not in ([None], [""])]
            merged: dict = {}
            for member in real:
                for key, value in member.items():
                    if key == "enum":
                        merged.setdefault("enum", []).extend(value)
                    else:
                        merged.setdefault(key, value)
            if any(m.get("enum") == [None] for m in members):
                merged["nullable"] = True
            schema = {**merged, **schema}
        if "enum" in schema:
            schema["enum"] = [v for v in schema["enum"] if v is not None and v != ""] or schema["enum"]
        return schema

    def drift(self, where: str, attribute: str, contract: Any, ours: Any) -> None:
        for allowed in ALLOWED:
            if (
                re.search(allowed.where, where)
                and re.fullmatch(allowed.attribute, attribute)
                and allowed.check(contract, ours)
            ):
                allowed.used = True
                return
        self.drifts.append(f"{where}: {attribute} contract={contract!r} ours={ours!r}")

    def compare_schema(
        self, where: str, contract: dict | None, ours: dict | None, *, request: bool, partial: bool = False
    ) -> None:
        c = self.resolve(contract, self.contract)
        o = self.resolve(ours, self.ours)
        for attribute in COMPARED_ATTRIBUTES:
            c_value, o_value = c.get(attribute), o.get(attribute)
            if attribute in ("nullable", "readOnly"):
                c_value, o_value = bool(c_value), bool(o_value)
            if attribute == "enum" and c_value is not None and o_value is not None:
                if sorted(map(str, c_value)) != sorted(map(str, o_value)):
                    self.drift(where, attribute, c_value, o_value)
                continue
            if attribute == "readOnly" and request:
                continue  # read-only properties are left out of request schemas entirely
            if c_value != o_value:
                self.drift(where, attribute, c_value, o_value)
        if c.get("type") == "array":
            self.compare_schema(f"{where}[]", c.get("items"), o.get("items"), request=request)
        if "properties" in c:
            ours_properties = o.get("properties", {})
            for name, c_prop in c["properties"].items():
                c_prop_resolved = self.resolve(c_prop, self.contract)
                if request and c_prop_resolved.get("readOnly"):
                    if name in ours_properties and not self.resolve(ours_properties[name], self.ours).get(
                        "readOnly"
                    ):
                        self.drift(f"{where}.{name}", "readOnly", True, False)
                    continue
                if name not in ours_properties:
                    self.drift(f"{where}.{name}", "missing", "present", None)
                    continue
                self.compare_schema(f"{where}.{name}", c_prop, ours_properties[name], request=request)
            if request and not partial:
                c_required = set(c.get("required", [])) - {
                    n for n, p in c["properties"].items() if self.resolve(p, self.contract).get("readOnly")
                }
                if c_required != set(o.get("required", [])):
                    self.drift(where, "required", sorted(c_required), sorted(o.get("required", [])))

    @staticmethod
    def json_schema(body: dict | None) -> dict | None:
        if not body:
            return None
        return body.get("content", {}).get("application/json", {}).get("schema")

    def compare_operation(self, path: str, method: str, c_op: dict, o_op: dict) -> None:
        key = f"{path} {method}"
        c_params = {p["name"] for p in c_op.get("parameters", []) if p.get("in") == "query"}
        o_params = {p["name"] for p in o_op.get("parameters", []) if p.get("in") == "query"}
        for missing in sorted(c_params - o_params):
            self.drift(f"{key} query.{missing}", "missing", "present", None)
        c_body = c_op.get("requestBody")
        if c_body:
            c_body = self.resolve(c_body, self.contract)
            o_body = self.resolve(o_op.get("requestBody"), self.ours)
            if not o_body:
                self.drift(f"{key} request", "missing", "present", None)
            else:
                self.compare_schema(
                    f"{key} request",
                    self.json_schema(c_body),
                    self.json_schema(o_body),
                    request=True,
                    partial=method == "patch",
                )
        for code, c_response in c_op.get("responses", {}).items():
            o_response = o_op.get("responses", {}).get(code)
            if o_response is None:
                self.drift(f"{key} {code}", "missing", "present", None)
                continue
            c_schema = self.json_schema(c_response)
            if c_schema is not None:
                self.compare_schema(
                    f"{key} {code} response", c_schema, self.json_schema(o_response), request=False
                )

    def run(self) -> list[str]:
        ours_by_path = {normalise_path(p): ops for p, ops in self.ours["paths"].items()}
        for path, c_ops in self.contract["paths"].items():
            if not is_implemented(path):
                continue
            normalised = normalise_path(path)
            o_ops = ours_by_path.get(normalised)
            if o_ops is None:
                self.drifts.append(f"{path}: missing from the served schema")
                continue
            c_methods = {m for m in c_ops if m != "parameters"}
            o_methods = {m for m in o_ops if m not in ("parameters", "servers", "summary", "description")}
            if c_methods != o_methods:
                self.drifts.append(f"{path}: methods contract={sorted(c_methods)} ours={sorted(o_methods)}")
            for method in sorted(c_methods & o_methods):
                self.compare_operation(normalised, method, c_ops[method], o_ops[method])
        return self.drifts


@pytest.fixture
def served_schema(personas: Personas) -> dict:
    response = personas.client("staff").get("/api/schema/", {"format": "json"})
    assert response.status_code == 200, response.content[:500]
    return json.loads(response.content)


def test_every_implemented_contract_path_is_served(served_schema: dict) -> None:
    contract = load_contract()
    served = {normalise_path(p) for p in served_schema["paths"]}
    wanted = {normalise_path(path) for path in contract["paths"] if is_implemented(path)}
    assert len(wanted) == 2 * len(IMPLEMENTED)
    assert wanted <= served, sorted(wanted - served)


def test_served_schema_matches_the_contract(served_schema: dict) -> None:
    for allowed in ALLOWED:
        allowed.used = False
    drifts = Comparator(load_contract(), served_schema).run()
    assert not drifts, "schema drift from the contract:\n" + "\n".join(drifts)
    stale = [allowed.reason for allowed in ALLOWED if not allowed.used]
    assert not stale, f"allow-list entries that match nothing any more: {stale}"


def test_master_key_is_write_only_in_the_served_schema(served_schema: dict) -> None:
    text = json.dumps(served_schema)
    assert "dlms_master_key" in text  # documented as input...
    for name, component in served_schema["components"]["schemas"].items():
        if "dlms_master_key" in component.get("properties", {}):
            assert name.endswith("Request"), f"{name} would return the master key"


def test_comparator_catches_drift() -> None:
    """The check is not vacuous: a changed length, a lost property and a lost method are found."""
    contract = load_contract()
    assert Comparator(contract, json.loads(json.dumps(contract))).run() == []
    ours = json.loads(json.dumps(contract))
    ours["components"]["schemas"]["MeterDevice"]["properties"]["name"]["maxLength"] = 60
    del ours["components"]["schemas"]["SimCard"]["properties"]["imsi"]
    del ours["paths"]["/metering/amr-tasks/{id}"]["patch"]
    drifts = "\n".join(Comparator(contract, ours).run())
    assert "meter-devices get 200 response.results[].name: maxLength contract=50 ours=60" in drifts
    assert "sim-cards post request.imsi: missing" in drifts
    assert "/metering/amr-tasks/{id}: methods" in drifts
