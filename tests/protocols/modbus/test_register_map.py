"""Register maps are validated with messages that name the entry, and survive JSON round trips."""

from __future__ import annotations

import json

import pytest

from protocols.modbus.registers import RegisterMap, RegisterMapError, plan_reads


def entry(**overrides):
    base = {"series": "energy", "address": 0, "data_type": "uint32", "scale": "0.001", "unit": "kWh"}
    return {**base, **overrides}


def test_map_round_trips_through_json_unchanged():
    register_map = RegisterMap.from_dict([entry(), entry(series="t", address=2, data_type="int16", scale=-1)])
    data = json.loads(json.dumps(register_map.to_dict()))
    assert RegisterMap.from_dict(data) == register_map
    assert data["entries"][0]["count"] == 2
    assert data["entries"][1]["scale"] == -1


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"data_type": "int24"}, "'data_type' 'int24' is not one of"),
        ({"address": 70000}, "'address' must be an integer 0..65535"),
        ({"address": 65535}, "runs past register 65535"),
        ({"function": "coil"}, "'function' must be holding or input"),
        ({"word_order": "middle"}, "'word_order' must be big or little"),
        ({"scale": 0.1}, "'scale' must be a decimal string"),
        ({"scale": "abc"}, "is not a decimal number"),
        ({"scale": "0"}, "must be finite and non-zero"),
        ({"count": 4}, "'count' 4 disagrees with uint32 (2)"),
        ({"colour": "red"}, "unknown field(s) colour"),
        ({"series": ""}, "'series' must be a non-empty string"),
    ],
)
def test_invalid_entries_are_rejected_with_the_reason(bad, message):
    with pytest.raises(RegisterMapError) as excinfo:
        RegisterMap.from_dict([entry(**bad)])
    assert message in str(excinfo.value)
    assert "entry 0" in str(excinfo.value)


def test_overlapping_registers_of_one_function_are_rejected():
    with pytest.raises(RegisterMapError, match="overlap"):
        RegisterMap.from_dict([entry(), entry(series="b", address=1)])


def test_same_address_in_holding_and_input_is_fine():
    register_map = RegisterMap.from_dict([entry(), entry(series="b", function="input")])
    assert len(register_map) == 2


def test_duplicate_series_is_rejected():
    with pytest.raises(RegisterMapError, match="series already used"):
        RegisterMap.from_dict([entry(), entry(address=10)])


def test_contiguous_entries_coalesce_and_gaps_split():
    register_map = RegisterMap.from_dict(
        [entry(series=f"s{i}", address=2 * i) for i in range(10)] + [entry(series="far", address=40)]
    )
    blocks = plan_reads(register_map)
    assert [(b.address, b.count) for b in blocks] == [(0, 20), (40, 2)]
    bridged = plan_reads(register_map, max_gap=20)
    assert [(b.address, b.count) for b in bridged] == [(0, 42)]


def test_a_block_never_exceeds_125_registers():
    register_map = RegisterMap.from_dict(
        [entry(series=f"s{i}", address=4 * i, data_type="uint64", scale="1") for i in range(40)]
    )
    blocks = plan_reads(register_map)
    assert all(b.count <= 125 for b in blocks)
    assert sum(len(b.entries) for b in blocks) == 40
    assert [(b.address, b.count) for b in blocks] == [(0, 124), (124, 36)]


def test_functions_are_read_separately():
    register_map = RegisterMap.from_dict([entry(), entry(series="b", address=2, function="input")])
    assert [(b.function, b.address) for b in plan_reads(register_map)] == [("holding", 0), ("input", 2)]
