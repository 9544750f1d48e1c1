"""``python -m protocols.mbus decode``: JSON for good frames, the reason and exit 1 for bad ones."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.corpus import ROOT, corpus_path


def run_inspector(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocols.mbus", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_decodes_a_corpus_file_to_json_with_exact_values() -> None:
    path = corpus_path("mbus", "libmbus", "test-frames", "ACW_Itron-BM-plus-m.hex")
    result = run_inspector(str(path))
    assert result.returncode == 0, result.stderr
    output = json.loads(result.stdout)
    assert output["header"]["id"] == "11490378" and output["header"]["manufacturer"] == "ACW"
    volume = output["records"][1]
    assert volume == volume | {"series": "volume:0:0:0:instantaneous", "value": "54.321", "unit": "m³"}
    assert output["manufacturer_data"] == "00 01 75 13"


def test_decodes_hex_given_on_the_command_line() -> None:
    result = run_inspector("68 04 04 68 08 01 70 08 81 16")
    assert result.returncode == 0
    assert json.loads(result.stdout)["application_error"] == {"code": 8, "reason": "application busy"}


def test_short_frame_and_ack() -> None:
    assert json.loads(run_inspector("10 5B 01 5C 16").stdout)["frame"]["control"] == "5B"
    assert json.loads(run_inspector("E5").stdout)["frame"]["kind"] == "ack"


def test_rejected_frame_prints_the_reason_and_fails() -> None:
    path = corpus_path("mbus", "libmbus", "error-frames", "premature_end_of_data1.hex")
    result = run_inspector(str(path))
    assert result.returncode == 1
    assert "premature end of data" in json.loads(result.stdout)["rejected"]


def test_invalid_hex_is_rejected() -> None:
    path = corpus_path("mbus", "libmbus", "unsupported-frames", "manual_frame1.hex")
    result = run_inspector(str(path))
    assert result.returncode == 1
    assert "not hex" in json.loads(result.stdout)["rejected"]
