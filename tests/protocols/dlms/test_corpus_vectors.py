"""Every DLMS vector of the shared corpus decodes to what its ``expected`` block says.

Values are compared as exact strings (the corpus writes decimals with the scaler's places, as
we do); keys absent from an expected value are not asserted, so a vector that only knows the raw
integer (the Kamstrup HDLC capture) is held to exactly that.
"""

from __future__ import annotations

import json
from functools import cache

import pytest

from protocols.dlms import security
from protocols.dlms.frames import decode_frame
from protocols.dlms.profile import CaptureObject, rows_from_buffer
from protocols.errors import FrameError
from tests.support.corpus import corpus_path

VECTOR_IDS = [
    "amshan-kaifa-se-list",
    "amshan-kaifa-no-list-1",
    "amshan-kaifa-no-list-2",
    "amshan-kaifa-no-list-3",
    "amshan-aidon-se-list",
    "amshan-aidon-no-list-1",
    "amshan-aidon-no-list-2",
    "amshan-aidon-no-list-3",
    "amshan-kamstrup-se-list-real-sample",
    "amshan-kamstrup-no-list-1-single-phase-real-sample",
    "amshan-kamstrup-no-list-2-single-phase-real-sample",
    "amshan-kamstrup-no-list-1-three-phase",
    "amshan-kamstrup-no-list-2-three-phase",
    "amshan-kamstrup-no-list-2-single-phase",
    "amshan-kamstrup-se-real-hdlc",
    "amshan-aidon-hdlc-raw-7d-in-info",
    "amshan-kaifa-hdlc-raw-7e-in-info",
    "amshan-hdlc-stuffed-short",
    "amshan-hdlc-empty-info",
    "amshan-hdlc-short-info",
    "netznoe-kaifa-push-encrypted",
    "amshan-sagemcom-mbus-stream",
    "tinetz-kaifa-push-1",
    "dlms-cosem-glo-ciphered-data-notification",
    "dlms-cosem-plain-data-notification",
    "dlms-greenbook-gcm-get-request",
    "dlms-greenbook-gmac-hls5",
    "dlms-cosem-profile-generic-buffer",
    "ric-geek-gcm-encrypt",
    "ric-geek-gmac-authenticate",
]


@cache
def _vectors() -> dict[str, dict]:
    with open(corpus_path("dlms", "vectors.json"), encoding="utf-8") as handle:
        return {v["id"]: v for v in json.load(handle)}


def _keys(vector: dict) -> security.SecurityKeys | None:
    keys = vector.get("keys") or {}
    if not keys:
        return None
    return security.SecurityKeys(
        encryption_key=bytes.fromhex(keys["encryption_key"]) if "encryption_key" in keys else None,
        authentication_key=bytes.fromhex(keys.get("authentication_key", "")),
        system_title=bytes.fromhex(keys["system_title"]) if "system_title" in keys else None,
    )


def test_the_list_covers_the_whole_corpus():
    assert sorted(VECTOR_IDS) == sorted(_vectors())


def _assert_values(got: list[dict], expected: list) -> None:
    assert len(got) == len(expected)
    for ours, theirs in zip(got, expected, strict=True):
        if not isinstance(theirs, dict):  # a bare list of raw numbers
            assert ours["raw"] == theirs
            continue
        for key, want in theirs.items():
            if key == "obis_by_list_definition":
                assert ours["obis_by_list_definition"] == want
            else:
                assert ours[key] == want, (key, ours)


def _check_data_notification(vector: dict, apdu: dict) -> None:
    expected = vector["expected"]
    assert apdu["apdu"] == "data-notification"
    if "long_invoke_id_and_priority" in expected:
        assert apdu["long_invoke_id_and_priority"] == expected["long_invoke_id_and_priority"]
    assert apdu["apdu_date_time"] == expected["apdu_date_time"]
    if "apdu_date_time_quirk" in expected:
        assert apdu["apdu_date_time_quirk"] == expected["apdu_date_time_quirk"]
    if "values" in expected:
        _assert_values(apdu["values"], expected["values"])
    if "unlabelled_items_decoded" in expected:
        assert len(apdu["unlabelled_items"]) == len(expected["unlabelled_items_decoded"])
    if "body" in expected:
        assert apdu["body"] == {k: expected["body"][k] for k in ("type", "length", "hex")}
    if "plain_apdu_hex" in expected:
        assert apdu["plain_apdu_hex"] == expected["plain_apdu_hex"]
    if "security_control" in expected:
        assert apdu["security"]["security_control"] == expected["security_control"]
        assert apdu["security"]["invocation_counter"] == expected["invocation_counter"]
    if "system_title" in expected:
        assert apdu["security"]["system_title"] == expected["system_title"]


def _check_hdlc_layer(expected: dict, layer: dict) -> None:
    assert layer["layer"] == "hdlc"
    for key in ("frame_format", "length_field", "dest_address_hex", "src_address_hex", "control", "fcs_ok"):
        assert layer[key] == expected[key], key
    if "hcs_ok" in expected:
        assert layer["hcs_ok"] == expected["hcs_ok"]
    assert layer["info_hex"] == expected.get("info_hex", "")


def _check_gcm(vector: dict) -> None:
    keys, expected = vector["keys"], vector["expected"]
    title = bytes.fromhex(keys["system_title"])
    ek, ak = bytes.fromhex(keys["encryption_key"]), bytes.fromhex(keys["authentication_key"])
    counter = expected["invocation_counter"]
    sc = int(expected["security_control"], 16)
    assert (title + counter.to_bytes(4, "big")).hex() == expected["iv"]
    if vector["kind"] == "gmac":
        challenge = bytes.fromhex(expected.get("challenge_hex") or vector["hex"])
        assert (bytes([sc]) + ak + challenge).hex() == expected["aad_hex"]
        answer = security.gmac(title, counter, ek, ak, challenge)
        assert answer[5:].hex() == expected["gmac_tag_hex"]
        return
    plain = bytes.fromhex(expected["plain_apdu_hex"])
    protected = security.protect(sc, title, counter, ek, ak, plain)
    tag = expected.get("tag_hex") or expected["tag_12_hex"]
    ciphertext = bytes.fromhex(expected.get("ciphertext_hex") or vector["hex"])
    assert protected[5:] == ciphertext + bytes.fromhex(tag)
    assert security.unprotect(sc, title, counter, ek, ak, ciphertext + bytes.fromhex(tag)) == plain


def _check_profile(vector: dict) -> None:
    from protocols.dlms import axdr

    expected = vector["expected"]
    columns = [
        CaptureObject(8, bytes([0, 0, 1, 0, 0, 255]), 2),
        CaptureObject(1, bytes([0, 0, 96, 10, 1, 255]), 2),
        CaptureObject(3, bytes([1, 0, 1, 8, 0, 255]), 2),
        CaptureObject(3, bytes([1, 0, 2, 8, 0, 255]), 2),
    ]
    rows = rows_from_buffer(
        axdr.decode_all(bytes.fromhex(vector["hex"])), columns, expected["capture_period_s"]
    )
    assert len(rows) == len(expected["entries"])
    for row, entry in zip(rows, expected["entries"], strict=True):
        assert row.timestamp.isoformat() == (entry["clock"] or entry["clock_derived"])
        for key in ("0-0:96.10.1.255", "1-0:1.8.0.255", "1-0:2.8.0.255"):
            assert row.values[key] == entry[key]


@pytest.mark.parametrize("vector_id", VECTOR_IDS)
def test_vector_decodes_to_its_expected_content(vector_id: str):
    vector = _vectors()[vector_id]
    expected = vector["expected"]
    raw = bytes.fromhex(vector["hex"])
    if vector["kind"] in ("gmac",) or (vector["kind"] == "ciphered-apdu" and "iv" in expected):
        _check_gcm(vector)
        return
    if vector["kind"] == "profile-buffer":
        _check_profile(vector)
        return
    decoded = decode_frame(raw, _keys(vector)).to_jsonable()
    if vector["transport"] == "hdlc":
        _check_hdlc_layer(expected, decoded["layers"][0])
    if vector["transport"] == "mbus-wired":
        frames = [f for layer in decoded["layers"] for f in layer["frames"]]
        want_frames = expected.get("mbus_frames") or expected["frames"]
        assert len(frames) == len(want_frames)
        for ours, theirs in zip(frames, want_frames, strict=True):
            assert ours["L"] == theirs["L"]
            assert ours["user_data_len"] == theirs["user_data_len"]
            assert ours["CI"] == theirs["CI"]
            assert (ours["length_quirk"] is None) == (theirs["length_quirk"] is None)
        if "pushes" in expected:
            complete = [p for p in expected["pushes"] if "system_title" in p]
            assert len(decoded["apdus"]) == len(complete)
            for ours, theirs in zip(decoded["apdus"], complete, strict=True):
                assert ours["security"]["system_title"] == theirs["system_title"]
                assert ours["security"]["security_control"] == theirs["security_control"]
                assert ours["security"]["invocation_counter"] == theirs["invocation_counter"]
                assert ours["security"]["ciphered_len_field"] == theirs["len_field"]
            assert len(decoded["errors"]) == len(expected["pushes"]) - len(complete)
            return
    if vector["kind"] == "hdlc-frame":
        assert decoded["apdus"] == []
        return
    assert len(decoded["apdus"]) == 1
    _check_data_notification(vector, decoded["apdus"][0])


def test_tampered_ciphertext_is_rejected_with_the_reason():
    vector = _vectors()["dlms-cosem-glo-ciphered-data-notification"]
    raw = bytearray(bytes.fromhex(vector["hex"]))
    raw[-5] ^= 0x01
    with pytest.raises(FrameError, match="authentication tag mismatch"):
        decode_frame(bytes(raw), _keys(vector))


def test_wrong_key_is_rejected_with_the_reason():
    vector = _vectors()["dlms-cosem-glo-ciphered-data-notification"]
    keys = security.SecurityKeys(b"\x00" * 16, b"\x00" * 16)
    with pytest.raises(FrameError, match="authentication tag mismatch"):
        decode_frame(bytes.fromhex(vector["hex"]), keys)


def test_corrupted_hdlc_frame_reports_the_fcs():
    raw = bytearray(bytes.fromhex(_vectors()["amshan-aidon-hdlc-raw-7d-in-info"]["hex"]))
    raw[20] ^= 0xFF
    with pytest.raises(FrameError, match="FCS mismatch"):
        decode_frame(bytes(raw))


def test_netz_noe_push_gives_readings_in_the_meter_offset():
    vector = _vectors()["netznoe-kaifa-push-encrypted"]
    apdu = decode_frame(bytes.fromhex(vector["hex"]), _keys(vector)).apdus[0]
    result = apdu.to_read_result()
    energy = next(r for r in result.readings if r.series == "1.0.1.8.0.255")
    assert str(energy.value) == "12937" and energy.unit == "Wh"
    assert energy.timestamp.isoformat() == "2021-09-27T09:47:15+02:00"
    assert result.info["invocation_counter"] == 35
