"""A register map and a running simulator shared by the Modbus tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from protocols.modbus.registers import RegisterMap
from protocols.modbus.simulator import ModbusSimulator

METER_MAP = RegisterMap.from_dict(
    [
        {"series": "1.0.1.8.0.255", "address": 0, "data_type": "uint32", "scale": "0.001", "unit": "kWh"},
        {
            "series": "1.0.2.8.0.255",
            "address": 2,
            "data_type": "uint32",
            "scale": "0.001",
            "unit": "kWh",
            "word_order": "little",
        },
        {"series": "1.0.32.7.0.255", "address": 4, "data_type": "float32", "unit": "V"},
        {"series": "1.0.14.7.0.255", "address": 6, "data_type": "int16", "scale": -2, "unit": "Hz"},
        {
            "series": "1.0.1.7.0.255",
            "address": 7,
            "data_type": "int32",
            "scale": "0.1",
            "unit": "W",
            "byte_order": "little",
        },
        {
            "series": "power_factor",
            "address": 100,
            "data_type": "float64",
            "function": "input",
            "byte_order": "little",
            "word_order": "little",
        },
        {"series": "counter", "address": 104, "data_type": "uint64", "function": "input"},
        {"series": "offset", "address": 108, "data_type": "int64", "function": "input", "scale": "0.01"},
    ]
)
METER_VALUES = {
    "1.0.1.8.0.255": "4294967.295",
    "1.0.2.8.0.255": "1234.567",
    "1.0.32.7.0.255": "230.1",
    "1.0.14.7.0.255": "-49.98",
    "1.0.1.7.0.255": "-123456.7",
    "power_factor": "0.95",
    "counter": "18446744073709551615",
    "offset": "-92233720368547758.08",
}


@pytest.fixture
def simulator() -> Iterator[ModbusSimulator]:
    with ModbusSimulator(METER_MAP, METER_VALUES, unit_id=7) as sim:
        yield sim
