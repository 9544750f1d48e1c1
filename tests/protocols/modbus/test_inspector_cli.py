"""``python -m protocols.modbus decode`` explains RTU and TCP frames as JSON, and says why it rejects one."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protocols.modbus.codec import build_rtu_adu, build_tcp_adu, encode_entry

from .conftest import METER_MAP

ROOT = Path(__file__).resolve().parents[3]


def inspect(*args: str) -> tuple[int, dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "protocols.modbus", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return completed.returncode, json.loads(completed.stdout)


def test_rtu_request_with_known_crc():
    code, out = inspect("01 03 00 00 00 05 85 C9", "--rtu")
    assert code == 0
    frame = out["frames"][0]
    assert frame["kind"] == "request"
    assert frame["function_name"] == "read holding registers"
    assert (frame["unit_id"], frame["address"], frame["count"]) == (1, 0, 5)


def test_rtu_frame_with_wrong_crc_is_rejected_with_the_reason():
    code, out = inspect("01030000000585C8", "--rtu")
    assert code == 1
    assert out["valid"] is False
    assert "CRC mismatch" in out["reason"]
    assert "0xC885" in out["reason"] and "0xC985" in out["reason"]


def test_rtu_exception_response_is_named():
    frame = build_rtu_adu(17, bytes([0x83, 0x02]))
    code, out = inspect(frame.hex())
    assert code == 0
    decoded = out["frames"][0]
    assert decoded["kind"] == "exception"
    assert decoded["exception"] == "illegal data address"
    assert decoded["unit_id"] == 17


def test_tcp_request_and_response_decode_registers_with_a_map(tmp_path):
    map_file = tmp_path / "map.json"
    map_file.write_text(json.dumps(METER_MAP.to_dict()))
    registers = []
    for entry, value in zip(METER_MAP.entries[:3], ["4294967.295", "1234.567", "230.1"], strict=True):
        registers += encode_entry(entry, value)
    payload = b"".join(r.to_bytes(2, "big") for r in registers)
    request = build_tcp_adu(9, 7, bytes([0x03, 0, 0, 0, len(registers)]))
    response = build_tcp_adu(9, 7, bytes([0x03, len(payload)]) + payload)
    code, out = inspect(request.hex(), response.hex(), "--tcp", "--map", str(map_file))
    assert code == 0
    decoded = out["frames"][1]
    assert decoded["kind"] == "response" and decoded["transaction_id"] == 9
    assert decoded["registers"] == registers
    values = {v["series"]: (v["value"], v["unit"]) for v in decoded["values"]}
    assert values == {
        "1.0.1.8.0.255": ("4294967.295", "kWh"),
        "1.0.2.8.0.255": ("1234.567", "kWh"),
        "1.0.32.7.0.255": ("230.1", "V"),
    }


def test_tcp_length_field_is_checked():
    frame = build_tcp_adu(1, 1, bytes([0x03, 0, 0, 0, 1]))
    broken = frame[:5] + bytes([frame[5] + 1]) + frame[6:]
    code, out = inspect(broken.hex(), "--tcp")
    assert code == 1
    assert "MBAP length field says 7 bytes follow, frame has 6" in out["reason"]


def test_file_with_one_frame_per_line_and_auto_framing(tmp_path):
    capture = tmp_path / "capture.txt"
    tcp = build_tcp_adu(3, 1, bytes([0x04, 0, 100, 0, 2]))
    rtu = build_rtu_adu(1, bytes([0x04, 4, 0x12, 0x34, 0x56, 0x78]))
    capture.write_text(f"{tcp.hex()}\n{rtu.hex(' ')}\n")
    code, out = inspect(str(capture), "--map", "/nonexistent.json")
    assert code == 2
    code, out = inspect(str(capture), "--address", "100")
    assert code == 0
    assert [f["framing"] for f in out["frames"]] == ["tcp", "rtu"]
    assert out["frames"][1]["registers"] == [0x1234, 0x5678]


def test_garbage_is_rejected_not_crashed():
    code, out = inspect("zz")
    assert code == 1 and "not hex" in out["reason"]
    code, out = inspect("0103", "--rtu")
    assert code == 1 and "shorter than the 4-byte minimum" in out["reason"]
