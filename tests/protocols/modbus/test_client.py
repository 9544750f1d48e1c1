"""The client reads a register map from pymodbus's server over loopback, exactly and economically."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from protocols.errors import NoAnswer, ProtocolError, TransportUnavailable
from protocols.modbus.client import ModbusClient
from protocols.modbus.registers import RegisterMap
from protocols.modbus.simulator import ModbusSimulator

from .conftest import METER_MAP, METER_VALUES


def client_for(sim: ModbusSimulator, **kwargs) -> ModbusClient:
    kwargs.setdefault("timeout", 1.0)
    return ModbusClient(host="127.0.0.1", port=sim.port, unit_id=sim.unit_id, **kwargs)


def test_values_read_back_exactly_as_written(simulator):
    result = client_for(simulator).read_registers(METER_MAP)
    values = {r.series: r.value for r in result.readings}
    assert values == {series: Decimal(v) for series, v in METER_VALUES.items()}
    assert all(isinstance(r.value, Decimal) for r in result.readings)
    units = {r.series: r.unit for r in result.readings}
    assert units["1.0.1.8.0.255"] == "kWh"
    assert str(values["1.0.32.7.0.255"]) == "230.1"


def test_contiguous_entries_are_read_in_one_request_per_block(simulator):
    client = client_for(simulator)
    result = client.read_registers(METER_MAP)
    # 5 holding entries at 0..8 and 3 input entries at 100..111: two requests, not eight.
    assert result.info["requests"] == 2
    assert simulator.requests_received == 2


def test_the_clients_own_map_is_used_and_dicts_are_accepted(simulator):
    client = client_for(simulator, register_map=METER_MAP)
    assert len(client.read_registers().readings) == len(METER_MAP)
    as_json = METER_MAP.to_dict()
    assert len(client.read_registers(as_json).readings) == len(METER_MAP)


def test_values_changed_on_the_device_are_seen(simulator):
    simulator.set_values({"1.0.1.8.0.255": "1.001"})
    result = client_for(simulator).read_registers(METER_MAP)
    assert {r.series: r.value for r in result.readings}["1.0.1.8.0.255"] == Decimal("1.001")


def test_exception_response_becomes_protocol_error_with_the_reason():
    with ModbusSimulator(METER_MAP, METER_VALUES, exceptions={("holding", 4): 2}) as sim:
        with pytest.raises(ProtocolError) as excinfo:
            client_for(sim).read_registers(METER_MAP)
    assert "illegal data address" in str(excinfo.value)
    assert excinfo.value.permanent is True
    assert not isinstance(excinfo.value, NoAnswer)


def test_busy_device_is_worth_a_retry():
    with ModbusSimulator(METER_MAP, METER_VALUES, exceptions={("input", 100): 6}) as sim:
        with pytest.raises(ProtocolError, match="server device busy") as excinfo:
            client_for(sim).read_registers(METER_MAP)
    assert excinfo.value.permanent is False


def test_reading_an_unmapped_register_is_an_illegal_address(simulator):
    register_map = RegisterMap.from_dict([{"series": "nowhere", "address": 50}])
    with pytest.raises(ProtocolError, match="exception 2: illegal data address"):
        client_for(simulator).read_registers(register_map)


def test_unit_id_nobody_answers_to_is_no_answer(simulator):
    client = ModbusClient(host="127.0.0.1", port=simulator.port, unit_id=9, timeout=0.2)
    with pytest.raises(NoAnswer) as excinfo:
        client.read_registers(METER_MAP)
    assert excinfo.value.permanent is False
    assert simulator.requests_received == 0


def test_silent_unit_is_no_answer():
    with ModbusSimulator(METER_MAP, METER_VALUES, unit_id=3, silent_unit_ids={3}) as sim:
        with pytest.raises(NoAnswer):
            ModbusClient(host="127.0.0.1", port=sim.port, unit_id=3, timeout=0.2).read_registers(METER_MAP)


def test_closed_port_is_transport_unavailable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportUnavailable) as excinfo:
        ModbusClient(host="127.0.0.1", port=port, timeout=0.5).read_registers(METER_MAP)
    assert excinfo.value.permanent is False


def test_missing_serial_port_is_transport_unavailable():
    client = ModbusClient(serial_port="/dev/does-not-exist-modbus", framing="rtu", timeout=0.2)
    with pytest.raises(TransportUnavailable):
        client.read_registers(METER_MAP)


def test_rtu_framing_over_a_tcp_gateway():
    with ModbusSimulator(METER_MAP, METER_VALUES, framing="rtu", unit_id=5) as sim:
        result = client_for(sim, framing="rtu-over-tcp").read_registers(METER_MAP)
    assert {r.series: r.value for r in result.readings}["1.0.2.8.0.255"] == Decimal("1234.567")
    assert result.info["framing"] == "rtu-over-tcp"


def test_rtu_serial_client_through_a_pyserial_socket_url():
    with ModbusSimulator(METER_MAP, METER_VALUES, framing="rtu", unit_id=5) as sim:
        client = ModbusClient(
            serial_port=f"socket://127.0.0.1:{sim.port}", framing="rtu", unit_id=5, timeout=1.0
        )
        result = client.read_registers(METER_MAP)
    assert {r.series: r.value for r in result.readings} == {s: Decimal(v) for s, v in METER_VALUES.items()}


def test_tcp_client_cannot_talk_to_an_rtu_gateway():
    with ModbusSimulator(METER_MAP, METER_VALUES, framing="rtu") as sim:
        with pytest.raises(NoAnswer):
            client_for(sim, framing="tcp", timeout=0.2).read_registers(METER_MAP)


def test_a_map_larger_than_one_request_is_split():
    big = RegisterMap.from_dict(
        [{"series": f"r{i}", "address": i, "data_type": "uint16"} for i in range(300)]
    )
    values = {f"r{i}": i for i in range(300)}
    with ModbusSimulator(big, values) as sim:
        result = client_for(sim).read_registers(big)
    assert result.info["requests"] == 3
    assert [r.value for r in result.readings] == [Decimal(i) for i in range(300)]


def test_nan_register_is_skipped_and_reported():
    register_map = RegisterMap.from_dict(
        [{"series": "v", "address": 0, "data_type": "float32"}, {"series": "w", "address": 2}]
    )
    with ModbusSimulator(register_map, {"v": "NaN", "w": 5}) as sim:
        result = client_for(sim).read_registers(register_map)
    assert [r.series for r in result.readings] == ["w"]
    assert "not a number" in result.info["skipped"]["v"]
