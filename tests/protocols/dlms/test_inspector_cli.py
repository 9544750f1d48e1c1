"""``python -m protocols.dlms decode``: JSON for good frames, the reason and a non-zero exit for bad ones."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.support.corpus import corpus_path

ROOT = Path(__file__).resolve().parents[3]


def _vector(vector_id: str) -> dict:
    with open(corpus_path("dlms", "vectors.json"), encoding="utf-8") as handle:
        return next(v for v in json.load(handle) if v["id"] == vector_id)


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "protocols.dlms", "decode", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_hdlc_frame_prints_layers_and_exact_values():
    proc = _run(_vector("amshan-aidon-hdlc-raw-7d-in-info")["hex"])
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert [layer["layer"] for layer in out["layers"]] == ["hdlc", "llc"]
    (value,) = out["apdus"][0]["values"]
    assert (value["obis"], value["value"], value["unit"]) == ("1-0:1.7.0.255", "1661", "W")


def test_ciphered_push_from_a_hex_file_is_decrypted_with_the_key(tmp_path: Path):
    vector = _vector("netznoe-kaifa-push-encrypted")
    capture = tmp_path / "push.hex"
    capture.write_text(" ".join(vector["hex"][i : i + 2] for i in range(0, len(vector["hex"]), 2)) + "\n")
    proc = _run(str(capture), "--key", vector["keys"]["encryption_key"])
    assert proc.returncode == 0, proc.stderr
    apdu = json.loads(proc.stdout)["apdus"][0]
    assert apdu["security"]["invocation_counter"] == 35
    assert apdu["apdu_date_time"] == "2021-09-27T09:47:15+02:00"
    voltage = next(v for v in apdu["values"] if v["obis"] == "1-0:32.7.0.255")
    assert (voltage["value"], voltage["unit"]) == ("233.7", "V")


def test_wrong_key_is_rejected_with_the_reason_and_a_non_zero_exit():
    vector = _vector("dlms-cosem-glo-ciphered-data-notification")
    proc = _run(vector["hex"], "--key", "00" * 16, "--auth-key", "00" * 16)
    assert proc.returncode == 1
    assert "authentication tag mismatch" in json.loads(proc.stdout)["rejected"]


def test_bad_fcs_is_rejected_with_the_decoded_reason():
    raw = bytearray(bytes.fromhex(_vector("amshan-hdlc-short-info")["hex"]))
    raw[-3] ^= 0x01
    proc = _run(raw.hex())
    assert proc.returncode == 1
    assert "FCS mismatch" in json.loads(proc.stdout)["rejected"]


def test_not_hex_is_rejected():
    proc = _run("not-a-frame")
    assert proc.returncode == 2
