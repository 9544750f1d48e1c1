"""Every captured IEC 62056-21 readout decodes to the values and identification its .json gives."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from protocols.errors import FrameError
from protocols.iec62056_21.codec import decode_capture
from tests.support.corpus import CORPUS, corpus_path

CASES = sorted(p.stem for p in (CORPUS / "iec62056_21").glob("*.json")) or ["corpus-missing"]


def load_case(name: str) -> tuple[dict, bytes]:
    expected = json.loads(corpus_path("iec62056_21", f"{name}.json").read_text())
    path: Path = corpus_path("iec62056_21", expected["file"])
    raw = path.read_bytes()
    data = bytes.fromhex(raw.decode("ascii")) if path.suffix == ".hex" else raw
    return expected, data


def flat_values(telegrams) -> list[dict]:
    return [
        {"address": ds.address, "values": [{"value": v.text, "unit": v.unit} for v in ds.values]}
        for telegram in telegrams
        for ds in telegram.datasets
    ]


@pytest.mark.parametrize("name", CASES)
def test_capture_decodes_to_the_expected_values(name: str) -> None:
    expected, data = load_case(name)
    strict = expected["checksum"] is None or expected["checksum"]["ok"]
    telegrams = decode_capture(data, strict=strict)
    assert flat_values(telegrams) == expected["values"]
    identification = telegrams[0].to_dict()["identification"]
    assert identification == expected["identification"]


@pytest.mark.parametrize("name", CASES)
def test_checksum_verdict_matches_the_published_one(name: str) -> None:
    expected, data = load_case(name)
    checksum = expected["checksum"]
    telegrams = decode_capture(data, strict=False)
    verdict = telegrams[0].checksum
    if checksum is None:
        assert verdict is None
        return
    assert verdict is not None
    assert verdict.ok is checksum["ok"]
    assert verdict.to_dict()["published"] == checksum["published"].lower()
    assert verdict.to_dict()["computed"] == checksum["computed"].lower()


@pytest.mark.parametrize("name", CASES)
def test_bad_checksum_is_rejected_in_strict_mode_with_the_reason(name: str) -> None:
    expected, data = load_case(name)
    checksum = expected["checksum"]
    if checksum is None or checksum["ok"]:
        decode_capture(data, strict=True)  # must not raise
        return
    with pytest.raises(FrameError) as caught:
        decode_capture(data, strict=True)
    assert caught.value.reason == (
        f"BCC mismatch: got 0x{checksum['published'].lower()} expected 0x{checksum['computed'].lower()}"
    )


def test_every_numeric_value_is_an_exact_decimal_of_its_text() -> None:
    _expected, data = load_case("smartmeter_obis_iskra_mt174_full")
    (telegram,) = decode_capture(data)
    values = {ds.address: ds.value for ds in telegram.datasets}
    assert str(values["1-0:1.8.0*255"].number) == "8048.375"
    assert values["1-0:1.8.0*255"].unit == "kWh"
    assert values["1-0:0.0.1*255"].number is None  # "1ISK0063355730" is an id, not a number
    assert telegram.echoed_option_select == "050"
