"""Modbus figures: frames the inspector's codec decodes per second, meters read per minute.

``python -m benchmarks.modbus [--seconds N]``. The meter figure is one client connection per meter
(connect, read a 20-entry map, disconnect) against the simulator over loopback, so it measures our
code plus pymodbus on both ends, not a network. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import logging
import time

from protocols.modbus.client import ModbusClient
from protocols.modbus.codec import build_rtu_adu, build_tcp_adu, decode_entry, decode_rtu, decode_tcp
from protocols.modbus.registers import RegisterMap
from protocols.modbus.simulator import ModbusSimulator

TYPES = ["uint32", "int16", "float32", "int32", "uint16", "float64", "uint64", "int64"]


def twenty_entry_map() -> tuple[RegisterMap, dict[str, str]]:
    entries, values, address = [], {}, 0
    for i in range(20):
        data_type = TYPES[i % len(TYPES)]
        entry = {
            "series": f"s{i}",
            "address": address,
            "data_type": data_type,
            "scale": "0.01",
            "unit": "kWh",
        }
        if i % 3 == 0:
            entry["word_order"] = "little"
        entries.append(entry)
        values[f"s{i}"] = f"{-1 if data_type.startswith('int') else 1}{i}.25"
        address += {"int16": 1, "uint16": 1, "uint32": 2, "int32": 2, "float32": 2}.get(data_type, 4)
    return RegisterMap.from_dict(entries), values


def bench_codec(seconds: float) -> tuple[float, float]:
    payload = bytes(range(40))
    frames = [
        (decode_rtu, build_rtu_adu(1, bytes([0x03, 0, 0, 0, 20]))),
        (decode_rtu, build_rtu_adu(1, bytes([0x03, len(payload)]) + payload)),
        (decode_tcp, build_tcp_adu(1, 1, bytes([0x03, len(payload)]) + payload)),
        (decode_rtu, build_rtu_adu(1, bytes([0x83, 0x02]))),
    ]
    register_map, _ = twenty_entry_map()
    registers = [int.from_bytes(payload[i : i + 2], "big") for i in range(0, 40, 2)] * 3
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for decode, frame in frames:
            decode(frame)
        count += len(frames)
    adus = count / (time.perf_counter() - start)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for entry in register_map.entries:
            decode_entry(entry, registers[entry.address : entry.address + entry.count])
        count += len(register_map)
    values = count / (time.perf_counter() - start)
    return adus, values


def bench_meters(seconds: float) -> tuple[float, int]:
    register_map, values = twenty_entry_map()
    with ModbusSimulator(register_map, values) as sim:
        meters, start = 0, time.perf_counter()
        requests = 0
        while time.perf_counter() - start < seconds:
            result = ModbusClient(host="127.0.0.1", port=sim.port, timeout=2.0).read_registers(register_map)
            assert len(result.readings) == 20
            requests = result.info["requests"]
            meters += 1
        return meters / (time.perf_counter() - start) * 60, requests


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    args = parser.parse_args()
    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    adus, values = bench_codec(args.seconds)
    print(f"inspector codec: {adus:,.0f} ADUs decoded/s (RTU+CRC and TCP, 20-register responses)")
    print(f"value codec:     {values:,.0f} register-map values decoded/s (exact Decimal)")
    per_minute, requests = bench_meters(args.seconds)
    print(f"meter reads:     {per_minute:,.0f} meters/min (20-entry map, {requests} requests each, loopback)")


if __name__ == "__main__":
    main()
