"""The M-Bus codec on hand-built frames: framing checks, every data coding, VIF tables, dates."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import pytest

from protocols.errors import FrameError
from protocols.mbus import codec

# id 12345678, manufacturer "ABB" (0x0442), version 1, medium electricity, access 7, status 0.
HEADER = bytes.fromhex("78563412 4204 01 02 07 00 0000".replace(" ", ""))


def rsp_ud(records_hex: str, *, ci: int = codec.CI_VARIABLE, header: bytes = HEADER) -> bytes:
    return codec.encode_long(codec.RSP_UD, 1, ci, header + bytes.fromhex(records_hex.replace(" ", "")))


def only_record(records_hex: str) -> codec.Record:
    (record,) = codec.decode_telegram(rsp_ud(records_hex)).records
    return record


# -- link layer ---------------------------------------------------------------------------------


def test_checksum_is_the_byte_sum_modulo_256() -> None:
    assert codec.checksum(bytes([0xFF, 0x02, 0x10])) == 0x11


def test_short_frame_round_trip() -> None:
    raw = codec.encode_short(codec.REQ_UD2 | codec.FCB, 5)
    assert raw == bytes.fromhex("107B058016")
    frame = codec.decode_frame(raw)
    assert (frame.kind, frame.control, frame.address) == ("short", 0x7B, 5)


def test_single_character_is_an_ack() -> None:
    assert codec.decode_frame(b"\xe5").kind == "ack"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (bytes.fromhex("107B058116"), "checksum 0x81 does not match computed 0x80"),
        (bytes.fromhex("107B058017"), "stop byte"),
        (bytes.fromhex("68030468080170 79 16".replace(" ", "")), "length bytes differ"),
        (bytes.fromhex("68030369080170 79 16".replace(" ", "")), "second start byte"),
        (bytes.fromhex("6803036808017079"), "announces 9 bytes but 8"),
        (bytes.fromhex("680303680801707A16"), "checksum 0x7A does not match computed 0x79"),
        (bytes.fromhex("6800006808081616"), "below 3"),
        (bytes.fromhex("42"), "unexpected start byte 0x42"),
        (b"\xe5\xe5", "stray"),
    ],
)
def test_malformed_frames_are_rejected_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        codec.decode_frame(raw)


def test_frame_size_reads_the_length_field() -> None:
    assert codec.frame_size(b"\x68") is None
    assert codec.frame_size(bytes.fromhex("68 0A 0A 68".replace(" ", ""))) == 16
    assert codec.frame_size(b"\x10") == 5
    assert codec.frame_size(b"\xe5") == 1


def test_parse_hex_rejects_odd_tokens() -> None:
    with pytest.raises(FrameError, match="not hex"):
        codec.parse_hex("68 0 03")
    assert codec.parse_hex("e5") == b"\xe5"
    assert codec.parse_hex("1040FF3F16") == bytes.fromhex("1040FF3F16")


# -- header --------------------------------------------------------------------------------------


def test_variable_header_fields() -> None:
    telegram = codec.decode_telegram(rsp_ud(""))
    assert telegram.header is not None
    header = telegram.header
    assert (header.identification, header.manufacturer, header.version) == ("12345678", "ABB", 1)
    assert (header.medium, header.medium_name, header.access_number, header.status) == (
        2,
        "Electricity",
        7,
        0,
    )


def test_truncated_header_is_rejected() -> None:
    with pytest.raises(FrameError, match="12 bytes"):
        codec.decode_telegram(codec.encode_long(codec.RSP_UD, 1, 0x72, HEADER[:5]))


def test_unknown_ci_is_rejected() -> None:
    with pytest.raises(FrameError, match="unsupported CI field 0x99"):
        codec.decode_telegram(codec.encode_long(codec.RSP_UD, 1, 0x99, b""))


def test_application_error_is_reported_not_raised() -> None:
    telegram = codec.decode_telegram(codec.encode_long(codec.RSP_UD, 1, codec.CI_APPLICATION_ERROR, b"\x08"))
    assert telegram.application_error == (8, "application busy")


# -- data codings --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "value"),
    [
        ("01 13 FF", Decimal("-0.001")),  # int8, volume litres
        ("02 13 FF 7F", Decimal("32.767")),  # int16
        ("03 13 00 00 80", Decimal("-8388.608")),  # int24, most negative
        ("04 13 01 00 00 80", Decimal("-2147483.647")),  # int32
        ("06 03 01 00 00 00 00 01", Decimal(2**40 + 1)),  # int48, Wh
        ("07 03 FF FF FF FF FF FF FF 7F", Decimal(2**63 - 1)),  # int64 stays exact
        ("09 13 99", Decimal("0.099")),  # BCD2
        ("0A 13 34 12", Decimal("1.234")),  # BCD4
        ("0B 13 56 34 12", Decimal("123.456")),  # BCD6
        ("0C 13 78 56 34 12", Decimal("12345.678")),  # BCD8
        ("0E 03 90 78 56 34 12 00", Decimal("1234567890")),  # BCD12
        ("0C 13 78 56 34 F2", Decimal("-2345.678")),  # BCD with sign nibble F
        ("0D 13 C2 34 12", Decimal("1.234")),  # LVAR positive BCD
        ("0D 13 D2 34 12", Decimal("-1.234")),  # LVAR negative BCD
    ],
)
def test_numeric_codings_scale_exactly(records: str, value: Decimal) -> None:
    assert only_record(records).value == value


def test_real32_uses_the_shortest_decimal_that_round_trips() -> None:
    # 230.1 as binary32 is 230.100006103515625; the meter meant 230.1.
    record = only_record("05 FD 48 9A 19 66 43")  # voltage 10^-1 V
    assert record.coding == "real32"
    assert record.value == Decimal("23.01")


def test_real32_nan_gives_no_value() -> None:
    record = only_record("05 2B 00 00 C0 7F")
    assert record.value is None and record.invalid


def test_invalid_bcd_digits_are_kept_as_text() -> None:
    record = only_record("0C 2B BD EB DD DD")
    assert record.value is None and record.text == "DDDDEBBD" and record.invalid


def test_lvar_text_is_sent_reversed() -> None:
    record = only_record("0D FD 11 05" + "6F6C6C6548")  # customer "Hello"
    assert record.text == "Hello" and record.value is None


def test_lvar_binary_is_hex_most_significant_first() -> None:
    record = only_record("0D FD 16 E3 01 02 03")
    assert record.text == "03 02 01"


def test_reserved_lvar_is_rejected() -> None:
    with pytest.raises(FrameError, match="reserved LVAR 0xFA"):
        codec.decode_telegram(rsp_ud("0D 13 FA"))


def test_selection_coding_has_no_value() -> None:
    record = only_record("08 13")
    assert record.value is None and record.data == b""


# -- DIF / DIFE fields and special functions ---------------------------------------------------


def test_storage_tariff_subunit_from_difes() -> None:
    # DIF: storage LSB 1, maximum, BCD8; DIFE 1: subunit 1, tariff 2, storage 3; DIFE 2: storage 1.
    record = only_record("DC E3 01 13 01 00 00 00")
    assert record.function == "maximum"
    assert record.storage == 1 | (3 << 1) | (1 << 5)
    assert record.tariff == 2 and record.subunit == 1
    assert record.series == "volume:39:2:1:maximum"


def test_idle_filler_is_skipped_and_manufacturer_data_kept() -> None:
    telegram = codec.decode_telegram(rsp_ud("2F 2F 01 13 05 1F AA BB"))
    assert len(telegram.records) == 1
    assert telegram.manufacturer_data == b"\xaa\xbb" and telegram.more_records_follow


@pytest.mark.parametrize(
    ("records", "reason"),
    [
        ("84", "premature end of data: DIFE 1"),
        ("04", "premature end of data: VIF"),
        ("04 93", "premature end of data: VIFE 1"),
        ("04 13 01 02", "data of the record at byte 12 needs 4 bytes"),
        ("8C" + "80" * 10 + "00 13 00 00 00 00", "more than 10 DIFEs"),
        ("0C 93" + "A0" * 10 + "20 00 00 00 00", "more than 10 VIFEs"),
        ("02 FC 09 41 42", "plain-text unit of 9 characters"),
        ("3F", "reserved special function DIF 0x3F"),
    ],
)
def test_truncated_or_oversized_records_are_rejected(records: str, reason: str) -> None:
    with pytest.raises(FrameError, match=reason):
        codec.decode_telegram(rsp_ud(records))


# -- VIF / VIFE ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("records", "quantity", "unit", "value"),
    [
        ("02 06 10 00", "Energy", "Wh", Decimal(16000)),  # kWh
        ("02 0E 10 00", "Energy", "J", Decimal(1_000_000 * 16)),  # MJ
        ("02 1B 10 00", "Mass", "kg", Decimal(16)),
        ("02 22 02 00", "On time", "s", Decimal(7200)),  # hours -> seconds
        ("02 27 02 00", "Operating time", "s", Decimal(172800)),  # days -> seconds
        ("02 2B 10 00", "Power", "W", Decimal(16)),
        ("02 3B 10 00", "Volume flow", "m³/h", Decimal("0.016")),
        ("02 59 10 01", "Flow temperature", "°C", Decimal("2.72")),
        ("02 5E 10 01", "Return temperature", "°C", Decimal("27.2")),
        ("02 63 10 00", "Temperature difference", "K", Decimal(16)),
        ("02 69 10 00", "Pressure", "bar", Decimal("0.16")),
        ("02 FD 5A 20 00", "Current", "A", Decimal("0.32")),
        ("02 FB 00 10 00", "Energy", "Wh", Decimal(1_600_000)),  # 0.1 MWh
        ("02 FD 3A 07 00", "Dimensionless", "", Decimal(7)),
        ("02 6E 07 00", "Units for H.C.A.", "", Decimal(7)),
        ("0C 78 78 56 34 12", "Fabrication No", "", Decimal(12345678)),
    ],
)
def test_vif_tables(records: str, quantity: str, unit: str, value: Decimal) -> None:
    record = only_record(records)
    assert (record.quantity, record.unit, record.value) == (quantity, unit, value)


def test_multiplicative_correction_vife_rescales() -> None:
    record = only_record("02 93 74 10 00")  # volume litres, x10^-2
    assert record.value == Decimal("0.00016")


def test_combinable_vife_qualifies_the_series() -> None:
    record = only_record("02 93 3B 10 00")
    assert record.qualifiers == ("accumulation only if positive",)
    assert record.series == "volume.accumulation_only_if_positive:0:0:0:instantaneous"


def test_record_error_vife_is_reported() -> None:
    record = only_record("02 93 15 00 00")
    assert record.error == "no data available"


def test_plain_text_vif_reads_the_unit_reversed() -> None:
    record = only_record("02 FC 03 48 52 25 74 D4 11")
    assert (record.unit, record.value, record.series) == (
        "%RH",
        Decimal("45.64"),
        "plain_percentrh:0:0:0:instantaneous",
    )


def test_manufacturer_specific_vif() -> None:
    record = only_record("01 FF 13 04")
    assert record.quantity == "Manufacturer specific" and record.value == 4


def test_extension_without_its_vife_is_flagged() -> None:
    record = only_record("0C 7B 02 03 00 00")
    assert record.error is not None and record.value == 302


# -- dates -----------------------------------------------------------------------------------------


def test_date_type_g() -> None:
    record = only_record("42 6C BF 15")
    assert (record.text, record.moment, record.storage) == ("2013-05-31", date(2013, 5, 31), 1)


def test_date_time_type_f() -> None:
    record = only_record("04 6D 0B 0B CD 13")
    assert (record.text, record.moment) == ("2014-03-13T11:11", datetime(2014, 3, 13, 11, 11))


def test_date_time_type_f_invalid_flag() -> None:
    record = only_record("04 6D 80 00 00 00")
    assert record.invalid and record.moment is None


def test_date_time_type_i_has_seconds() -> None:
    record = only_record("06 6D 2A 0B 0B CD 13 00")
    assert record.text == "2014-03-13T11:11:42"
    assert record.moment == datetime(2014, 3, 13, 11, 11, 42)


def test_nineties_years_are_nineteen_hundreds() -> None:
    record = only_record("04 6D 10 09 05 C5")  # year 96
    assert record.text == "1996-05-05T09:16"


# -- fixed structure, selection, series ------------------------------------------------------------


def test_fixed_structure_binary_counters() -> None:
    # status bit 7: binary counters; medium water (7), units litres and historic.
    data = bytes.fromhex("78563412 0A 80 E9 7E 01000000 35010000".replace(" ", ""))
    telegram = codec.decode_telegram(codec.encode_long(codec.RSP_UD, 5, codec.CI_FIXED, data))
    first, second = telegram.records
    assert telegram.header is not None and telegram.header.medium == 7
    assert first.value == Decimal("0.001") and first.unit == "m³"
    assert second.raw == 0x135 and second.storage == 1


def test_selection_matches_with_wildcards() -> None:
    header = codec.decode_telegram(rsp_ud("")).header
    assert header is not None
    assert codec.secondary_matches(codec.encode_secondary_address("1234FFFF"), header)
    assert codec.secondary_matches(codec.encode_secondary_address("12345678", "ABB", 1, 2), header)
    assert not codec.secondary_matches(codec.encode_secondary_address("12345679"), header)
    assert not codec.secondary_matches(codec.encode_secondary_address("12345678", "KAM"), header)


def test_repeated_descriptions_get_distinct_series() -> None:
    telegram = codec.decode_telegram(rsp_ud("01 13 01 01 13 02"))
    readings = codec.telegram_readings(telegram)
    assert [r.series for r in readings] == ["volume:0:0:0:instantaneous", "volume:0:0:0:instantaneous#2"]
    assert [r.value for r in readings] == [Decimal("0.001"), Decimal("0.002")]
