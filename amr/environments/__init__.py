"""The registry of execution environments: name → dotted path, imported on first use.

An execution environment adapts one protocol driver to AMR jobs: it declares its calls and their
keyword arguments (so the API, the admin and invoke validation can list them) and runs a call
against a meter device. The names of the contract come first; the others cover the remaining
drivers. Model choices and serializers derive from this dict, so it is the one list to extend.
"""

from __future__ import annotations

ENVIRONMENTS: dict[str, str] = {
    "generic_lis200": "amr.environments.lis200.Lis200Environment",
    "generic_iec6205621": "amr.environments.iec6205621.Iec6205621Environment",
    "generic_corus_meter": "amr.environments.corus.CorusEnvironment",
    "generic_dlms": "amr.environments.dlms.DlmsEnvironment",
    "generic_mbus": "amr.environments.mbus.MbusEnvironment",
    "generic_modbus": "amr.environments.modbus.ModbusEnvironment",
}

#: The contract's enum (utilitarian-api-1.3.0); the rest are extensions of this server.
CONTRACT_ENVIRONMENTS = ("generic_lis200", "generic_iec6205621", "generic_corus_meter")

ENVIRONMENT_CHOICES = [(name, name) for name in ENVIRONMENTS]


def get_environment(name: str):
    """The environment class registered as ``name`` (imported on first use).

    Raises KeyError for an unknown name, so callers turn it into a 400 with the known names."""
    from django.utils.module_loading import import_string

    if name not in ENVIRONMENTS:
        raise KeyError(name)
    if name not in _loaded:
        _loaded[name] = import_string(ENVIRONMENTS[name])
    return _loaded[name]


def describe_environments() -> list[dict]:
    """Every environment with its calls and their kwargs (for the API schema, admin and docs)."""
    return [get_environment(name).describe() for name in ENVIRONMENTS]


_loaded: dict[str, type] = {}
