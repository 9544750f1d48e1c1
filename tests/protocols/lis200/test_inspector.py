"""``python -m protocols.lis200 decode`` run in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protocols.iec62056_21.codec import EOT, command_frame, data_block

ROOT = Path(__file__).resolve().parents[3]


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocols.lis200", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_archive_request_and_blocks_decode(tmp_path: Path) -> None:
    frames = (
        command_frame("R3", "3:V.0(3;2024-01-01,00:00:00;;1)")
        + data_block("(1)(2024-01-01,00:00:00)(0012.5000*m3)\r\n", end=EOT)
        + data_block("(#0013)")
    )
    capture = tmp_path / "archive.hex"
    capture.write_text(frames.hex())
    done = inspect(str(capture))
    assert done.returncode == 0, done.stderr
    decoded = json.loads(done.stdout)["frames"]
    assert decoded[0]["command"] == "R3"
    assert decoded[0]["values"][0]["lis200_address"] == "3:V.0"
    assert decoded[1]["end"] == "EOT"
    assert decoded[1]["values"][0]["values"][2] == {"value": "0012.5000", "unit": "m3", "decimal": "12.5000"}
    assert decoded[2]["error_code"] == "#0013"


def test_corrupted_block_is_rejected() -> None:
    block = bytearray(data_block("(0012345.6789*m3)"))
    block[-1] ^= 0x01
    done = inspect(bytes(block).hex())
    assert done.returncode == 1
    assert json.loads(done.stdout)["reason"].startswith("BCC mismatch: got 0x")
