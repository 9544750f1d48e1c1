"""``python -m protocols.iec62056_21 decode`` run as a user would, in a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from protocols.iec62056_21.codec import data_block
from tests.support.corpus import corpus_path

ROOT = Path(__file__).resolve().parents[3]


def inspect(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocols.iec62056_21", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_text_capture_file_decodes_to_json() -> None:
    done = inspect(str(corpus_path("iec62056_21", "vzlogger_lgz_zmd120_pull.txt")))
    assert done.returncode == 0, done.stderr
    decoded = json.loads(done.stdout)
    assert decoded["identification"]["manufacturer"] == "LGZ"
    first = decoded["values"][2]
    assert first["address"] == "1.8.1"
    assert first["values"][0] == {"value": "001846.0", "unit": "kWh", "decimal": "1846.0"}


def test_p1_file_reports_the_crc_verdict_and_obis() -> None:
    done = inspect(str(corpus_path("iec62056_21", "amshan_p1_kamstrup.txt")))
    decoded = json.loads(done.stdout)
    assert decoded["checksum"] == {"type": "CRC-16/ARC", "published": "92f5", "computed": "92f5", "ok": True}
    assert decoded["values"][1]["obis"] == "1.0.1.8.0.255"


def test_bad_bcc_is_rejected_with_the_reason_and_a_nonzero_exit() -> None:
    path = str(corpus_path("iec62056_21", "smartmeter_obis_siemens_heat_siec2wr5.hex"))
    done = inspect(path)
    assert done.returncode == 1
    assert json.loads(done.stdout)["reason"] == "BCC mismatch: got 0x58 expected 0x6f"
    lenient = inspect(path, "--lenient")
    assert lenient.returncode == 0
    decoded = json.loads(lenient.stdout)
    assert decoded["checksum"]["ok"] is False
    assert decoded["values"][0]["values"][0]["value"] == "0029.055"


def test_hex_string_argument() -> None:
    done = inspect(data_block("1.8.0(000123.456*kWh)").hex())
    assert done.returncode == 0, done.stderr
    decoded = json.loads(done.stdout)
    assert decoded["values"][0]["values"][0]["decimal"] == "123.456"


def test_input_that_is_neither_a_file_nor_hex() -> None:
    done = inspect("not-hex-and-no-such-file")
    assert done.returncode == 2
    assert "cannot read input" in json.loads(done.stdout)["reason"]
