"""``python -m protocols.iflag decode`` prints frames the library sends as JSON, or why it rejects them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from iflag import utils
from iflag.messages import ReadRequest

ROOT = Path(__file__).resolve().parents[3]


def inspect(*args: str) -> tuple[int, dict]:
    completed = subprocess.run(
        [sys.executable, "-m", "protocols.iflag", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return completed.returncode, json.loads(completed.stdout)


def test_request_and_response_with_parameter_types(tmp_path):
    request = ReadRequest([48, 1]).to_bytes()
    data = (5).to_bytes(4, "little") + (50000000).to_bytes(4, "little") + bytes.fromhex("cdcccc3d")
    response = utils.add_crc(b"\x01" + bytes([len(data)]) + data + b"\x03")
    capture = tmp_path / "session.bin"
    capture.write_bytes(request + response)
    code, out = inspect(str(capture), "--parameters", "48:index,1:float")
    assert code == 0
    assert out["frames"][0]["parameter_ids"] == [48, 1]
    assert out["frames"][1]["parameters"] == {"48": "5.5", "1": "0.1"}


def test_bad_crc_is_rejected():
    frame = bytearray(ReadRequest([1]).to_bytes())
    frame[-2] ^= 1
    code, out = inspect(frame.hex())
    assert code == 1
    assert out["valid"] is False and "CRC mismatch" in out["reason"]
