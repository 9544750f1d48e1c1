"""A-XDR, date-time, OBIS, HDLC, wrapper and M-Bus segment codecs on their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from protocols.dlms import apdu, axdr, hdlc, mbus, security, wrapper
from protocols.dlms.axdr import CosemDateTime, Data
from protocols.dlms.lists import scaled
from protocols.dlms.obis import obis_dotted, obis_iec, parse_obis
from protocols.errors import FrameError, ProtocolError


def test_crc16_x25_check_value():
    assert hdlc.crc16(b"123456789") == 0x906E


@pytest.mark.parametrize(
    "item",
    [
        Data(axdr.NULL),
        Data(axdr.BOOLEAN, True),
        Data(axdr.BIT_STRING, "1011001"),
        Data(axdr.INT8, -128),
        Data(axdr.INT16, -2),
        Data(axdr.INT32, -(2**31)),
        Data(axdr.INT64, -(2**63)),
        Data(axdr.UINT8, 255),
        Data(axdr.UINT16, 65535),
        Data(axdr.UINT32, 2**32 - 1),
        Data(axdr.UINT64, 2**64 - 1),
        Data(axdr.ENUM, 7),
        Data(axdr.OCTET_STRING, bytes(range(200))),
        Data(axdr.VISIBLE_STRING, "Kamstrup_V0001"),
        Data(axdr.UTF8_STRING, "Zähler"),
        Data(axdr.FLOAT32, Decimal("0.5")),
        Data(axdr.FLOAT64, Decimal("-1234.25")),
        Data(axdr.DATE_TIME, CosemDateTime(2024, 3, 31, 7, 2, 0, 0, 0, -120, 0x80)),
        axdr.structure(axdr.uint8(1), axdr.array([axdr.uint16(2), Data(axdr.NULL)])),
    ],
    ids=lambda item: item.type_name,
)
def test_axdr_round_trip(item: Data):
    raw = axdr.encode(item)
    assert axdr.decode_all(raw) == item
    assert axdr.encode(axdr.decode_all(raw)) == raw


def test_long_lengths_use_the_multi_byte_form():
    raw = axdr.encode(Data(axdr.OCTET_STRING, b"x" * 300))
    assert raw[:4] == bytes([0x09, 0x82, 0x01, 0x2C])


def test_float_becomes_the_exact_binary_value_not_a_rounded_one():
    value = axdr.decode_all(bytes([axdr.FLOAT32]) + bytes.fromhex("3dcccccd")).value  # 0.1f
    assert value == Decimal("0.100000001490116119384765625")


def test_truncated_integer_is_a_frame_error():
    with pytest.raises(FrameError, match="truncated double-long-unsigned"):
        axdr.decode_all(bytes.fromhex("060000"))


def test_deviation_is_the_negated_utc_offset():
    stamp = CosemDateTime.from_bytes(bytes.fromhex("07e509160311231effffc400"))
    assert stamp.deviation == -60
    assert stamp.to_datetime() == datetime(2021, 9, 22, 17, 35, 30, tzinfo=timezone(timedelta(hours=1)))


def test_unspecified_deviation_gives_a_naive_time_or_the_default_zone():
    stamp = CosemDateTime.from_bytes(bytes.fromhex("07e30c1001073b28ff8000ff"))
    assert stamp.deviation is None
    assert stamp.to_datetime().tzinfo is None
    assert stamp.to_datetime(UTC) == datetime(2019, 12, 16, 7, 59, 40, tzinfo=UTC)


def test_date_time_round_trips_through_an_aware_datetime():
    moment = datetime(2024, 7, 1, 12, 30, 15, tzinfo=timezone(timedelta(hours=2)))
    stamp = CosemDateTime.from_datetime(moment, clock_status=0x80)
    assert stamp.deviation == -120 and stamp.weekday == 1
    assert CosemDateTime.from_bytes(stamp.to_bytes()).to_datetime() == moment


def test_wildcard_date_time_is_not_a_time():
    assert CosemDateTime(0xFFFF, 0xFF, 0xFF).to_datetime() is None


def test_ascii_meter_number_is_not_mistaken_for_a_date_time():
    assert axdr.date_time_from_octets(b"181220000009") is None


def test_obis_spellings():
    assert parse_obis("1-0:1.8.0.255") == parse_obis("1.0.1.8.0.255") == bytes([1, 0, 1, 8, 0, 255])
    assert obis_dotted("1-0:32.7.0.255") == "1.0.32.7.0.255"
    assert obis_iec(bytes([0, 0, 96, 3, 10, 255])) == "0-0:96.3.10.255"
    with pytest.raises(ProtocolError):
        parse_obis("1-0:1.8.0.256")


def test_scaling_keeps_the_scalers_places():
    assert format(scaled(790, -3), "f") == "0.790"
    assert format(scaled(7745250, 1), "f") == "77452500"
    assert format(scaled(0, -1), "f") == "0.0"


def test_hdlc_build_and_parse_with_segmentation_and_4_byte_address():
    dest = hdlc.encode_server_address(1, 0x3FFF)
    frame = hdlc.build_frame(
        dest, hdlc.encode_client_address(0x10), hdlc.i_control(3, 5), b"\x7e\x7d" * 10, True
    )
    parsed = hdlc.parse_frame(frame)
    assert parsed.segmented and parsed.info == b"\x7e\x7d" * 10
    assert hdlc.decode_address(parsed.dest) == (1, 0x3FFF)
    assert hdlc.control_name(parsed.control) == "I(send=3, recv=5)"


def test_hdlc_bad_hcs_is_reported():
    frame = bytearray(hdlc.build_frame(b"\x03", b"\x21", 0x10, b"abc"))
    frame[6] ^= 1  # the HCS itself
    frame[-3:-1] = hdlc.crc16(bytes(frame[1:-3])).to_bytes(2, "little")
    with pytest.raises(FrameError, match="HCS mismatch"):
        hdlc.parse_frame(bytes(frame))


def test_hdlc_length_field_must_match():
    frame = hdlc.build_frame(b"\x03", b"\x21", 0x10, b"abc")
    with pytest.raises(FrameError, match="length field"):
        hdlc.parse_frame(frame[:-3] + frame[-1:])


def test_wrapper_round_trip_and_length_check():
    raw = wrapper.build(0x10, 0x01, b"\xc0\x01")
    assert raw.hex() == "000100100001" + "0002c001"
    assert wrapper.parse(raw).apdu == b"\xc0\x01"
    with pytest.raises(FrameError, match="length field"):
        wrapper.parse(raw + b"\x00")


def test_mbus_segments_reassemble_and_tolerate_the_l_modulo_256_quirk():
    def long_frame(ci: int, data: bytes, declared: int | None = None) -> bytes:
        user = bytes([0x53, 0xFF, ci, 0x01, 0x67]) + data
        length = len(user) if declared is None else declared
        return bytes([0x68, length, length, 0x68]) + user + bytes([sum(user) & 0xFF, 0x16])

    stream = long_frame(0x00, b"A" * 252, declared=1) + long_frame(0x11, b"BC")
    frames = mbus.parse_frames(stream)
    assert frames[0].length_quirk and frames[0].user_data_length == 257
    (push,) = mbus.reassemble(frames)
    assert push.complete and push.apdu == b"A" * 252 + b"BC"


def test_data_notification_round_trip():
    stamp = CosemDateTime(2024, 1, 2, 2, 3, 4, 5, 0, -60, 0)
    body = axdr.structure(axdr.octets(parse_obis("1-0:1.8.0.255")), axdr.uint32(42))
    raw = apdu.encode_data_notification(7, stamp, body)
    decoded = apdu.decode_data_notification(raw)
    assert (decoded.long_invoke_id_and_priority, decoded.date_time, decoded.body) == (7, stamp, body)


def test_authenticated_only_apdu_keeps_the_plaintext_and_checks_the_tag():
    key, ak, title = bytes(range(16)), bytes(range(16, 32)), b"ABCDEFGH"
    protected = security.protect(0x10, title, 9, key, ak, b"hello")
    assert protected[5:10] == b"hello"
    assert security.unprotect(0x10, title, 9, key, ak, protected[5:]) == b"hello"
    with pytest.raises(FrameError, match="authentication tag mismatch"):
        security.unprotect(0x10, title, 10, key, ak, protected[5:])
