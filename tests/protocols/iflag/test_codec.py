"""Corus values are exact where the library would go through floats; frames are checked and explained."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest
from iflag import data as d
from iflag.messages import ReadDatabaseRequest, ReadRequest, WriteData, WriteRequest

from protocols.errors import FrameError
from protocols.iflag.codec import (
    ExactEULong,
    ExactFloat,
    ExactWord,
    data_class,
    decode_frame,
    split_frames,
)


def test_float_is_the_shortest_decimal_of_the_meters_bits():
    raw = struct.pack("<f", 123456.7)
    assert ExactFloat.from_bytes(raw).value == Decimal("123456.7")
    assert d.Float.from_bytes(raw).value == Decimal("123456.703125")  # what the library would report
    tiny = struct.pack("<f", 1.5e-7)
    assert ExactFloat.from_bytes(tiny).value == Decimal("1.5E-7")
    assert d.Float.from_bytes(tiny).value == 0


def test_float_no_value_marker_is_none():
    assert ExactFloat.from_bytes(b"\xff\xff\xff\xff").value is None
    assert ExactFloat.from_bytes(struct.pack("<f", float("nan"))).value is None


def test_integers_are_plain_decimals():
    assert str(ExactWord.from_bytes((100).to_bytes(2, "little")).value) == "100"
    assert ExactEULong.from_bytes((2**40 - 2).to_bytes(5, "little")).value == Decimal(2**40 - 2)


def test_unknown_type_names_are_refused():
    with pytest.raises(ValueError, match="unknown Corus data type"):
        data_class("double")


def test_library_read_request_is_decoded_including_two_byte_ids():
    decoded = decode_frame(ReadRequest([1, 48, 300]).to_bytes())
    assert decoded == {"kind": "read request", "parameter_ids": [1, 48, 300]}


def test_library_database_request_is_decoded():
    from datetime import datetime

    frame = ReadDatabaseRequest("hourly", datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 7)).to_bytes()
    decoded = decode_frame(frame)
    assert decoded["kind"] == "database request"
    assert decoded["database"] == "hourly"
    assert (decoded["start"], decoded["stop"]) == ("2024-05-01T10:00:00", "2024-05-01T07:00:00")


def test_write_request_and_break():
    frame = WriteRequest([WriteData(id=106, data=b"\x01\x02\x03\x04")]).to_bytes()
    assert decode_frame(frame) == {"kind": "write request", "data": "6a01020304"}
    assert decode_frame(b"\x01B0\x03!1") == {"kind": "break"}


def test_bad_crc_is_rejected_with_both_values():
    frame = bytearray(ReadRequest([1]).to_bytes())
    frame[-1] ^= 0x55
    with pytest.raises(FrameError, match="CRC mismatch"):
        decode_frame(bytes(frame))


def test_structure_errors_are_named():
    with pytest.raises(FrameError, match="not SOH"):
        decode_frame(b"\x02\x00\x03\x00\x00")
    with pytest.raises(FrameError, match="not ETX"):
        decode_frame(b"\x01\x01\xaa\x04\x00\x00")


def test_a_session_capture_splits_into_frames():
    stream = bytes(12) + b"/?!\r\n" + ReadRequest([1]).to_bytes() + b"\x06" + b"\x01B0\x03!1"
    kinds = [decode_frame(f)["kind"] for f in split_frames(stream)]
    assert kinds == ["wake-up", "sign-on request", "read request", "ack", "break"]
