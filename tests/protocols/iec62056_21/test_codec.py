"""Codec units: checksums, identification lines, data lines, blocks and command frames."""

from __future__ import annotations

from decimal import Decimal

import pytest

from protocols.errors import FrameError
from protocols.iec62056_21.codec import (
    ACK,
    EOT,
    ETX,
    SOH,
    STX,
    bcc,
    command_frame,
    crc16_arc,
    data_block,
    decode_block,
    decode_capture,
    normalise_obis,
    option_select,
    parse_datasets,
    parse_identification,
    sign_on_request,
)


def test_bcc_is_the_xor_of_the_bytes() -> None:
    assert bcc(b"") == 0
    assert bcc(b"\x01\x02\x04") == 0x07
    assert bcc(b"AA") == 0


def test_crc16_arc_check_value() -> None:
    # The catalogue check value of CRC-16/ARC over "123456789".
    assert crc16_arc(b"123456789") == 0xBB3D


def test_p1_telegram_with_a_wrong_crc_is_rejected() -> None:
    body = b"/ABC5METER\r\n\r\n1-0:1.8.0(000123.456*kWh)\r\n!"
    good = body + f"{crc16_arc(body):04X}".encode() + b"\r\n"
    (telegram,) = decode_capture(good)
    assert telegram.checksum is not None and telegram.checksum.ok
    bad = body + f"{crc16_arc(body) ^ 1:04X}".encode() + b"\r\n"
    with pytest.raises(FrameError, match="CRC mismatch"):
        decode_capture(bad)


def test_identification_with_enhanced_id() -> None:
    ident = parse_identification(b"/ELL5\\253833635_A")
    assert (ident.manufacturer, ident.baud_char, ident.enhanced_id, ident.identification) == (
        "ELL",
        "5",
        "\\2",
        "53833635_A",
    )
    assert ident.baudrate == 9600


@pytest.mark.parametrize("line", [b"/?!", b"/AB", b"XYZ5abc"])
def test_not_an_identification(line: bytes) -> None:
    with pytest.raises(FrameError):
        parse_identification(line)


def test_value_unit_rules() -> None:
    datasets, noise, end = parse_datasets(b"1.8.0(013925.5*)\r\n0.0(42)\r\n9.4(088*C&082*C)\r\n!")
    assert [(ds.values[0].text, ds.values[0].unit) for ds in datasets] == [
        ("013925.5", ""),
        ("42", None),
        ("088", "C&082*C"),
    ]
    assert noise == []
    assert end == len(b"1.8.0(013925.5*)\r\n0.0(42)\r\n9.4(088*C&082*C)\r\n")


def test_data_sets_sharing_a_line_and_several_values() -> None:
    datasets, _noise, _end = parse_datasets(b"6.8(0029.055*MWh)6.26(01589.28*m3)1.6.0(02.468*kW)(1703100930)")
    assert [ds.address for ds in datasets] == ["6.8", "6.26", "1.6.0"]
    assert [v.text for v in datasets[2].values] == ["02.468", "1703100930"]


def test_stray_bytes_are_skipped_and_reported() -> None:
    datasets, noise, _end = parse_datasets(b"1.8.0(1*kWh)Y\x02\x02\x01\x00!")
    assert len(datasets) == 1
    assert noise == [b"Y\x02\x02\x01\x00"]


def test_numbers_are_exact_and_text_stays_text() -> None:
    datasets, _noise, _end = parse_datasets(b"a(+000.8*A)b(        18438636)c(210222161900W)d()")
    numbers = [ds.value.number for ds in datasets]
    assert numbers == [Decimal("0.8"), Decimal("18438636"), None, None]
    assert datasets[0].value.text == "+000.8"
    assert format(Decimal("0.1") + datasets[0].value.number, "f") == "0.9"


def test_obis_normalisation() -> None:
    assert normalise_obis("1-0:1.8.0*255") == "1.0.1.8.0.255"
    assert normalise_obis("1-0:1.8.0") == "1.0.1.8.0.255"
    assert normalise_obis("0-0:C.1.0*255") == "0.0.96.1.0.255"
    assert normalise_obis("1.8.0") is None
    assert normalise_obis("F.F") is None


def test_command_frames_byte_for_byte() -> None:
    assert sign_on_request() == b"/?!\r\n"
    assert sign_on_request("12345") == b"/?12345!\r\n"
    assert option_select("5", "1") == b"\x06051\r\n"
    frame = command_frame("R1", "1.8.0()")
    assert frame[:4] == bytes([SOH]) + b"R1" + bytes([STX])
    assert frame[-2] == ETX and frame[-1] == bcc(frame[1:-1])
    assert command_frame("B0") == bytes([SOH]) + b"B0" + bytes([ETX]) + bytes([bcc(b"B0\x03")])
    assert ACK == 0x06


def test_decode_block_round_trip_and_bad_bcc() -> None:
    block = data_block("1.8.0(001846.0*kWh)", end=EOT)
    telegram, command, used = decode_block(block)
    assert command is None and used == len(block)
    assert telegram.datasets[0].value.text == "001846.0"
    corrupted = block[:-1] + bytes([block[-1] ^ 0xFF])
    with pytest.raises(FrameError, match=r"BCC mismatch: got 0x.. expected 0x.."):
        decode_block(corrupted)
    telegram, _command, _used = decode_block(corrupted, strict=False)
    assert telegram.checksum is not None and not telegram.checksum.ok


def test_two_pushes_in_one_capture_are_two_telegrams() -> None:
    data = b"/HAG5A\r\n1.8.0(1)\r\n!\n/HAG5A\r\n1.8.0(2)\r\n!\n"
    telegrams = decode_capture(data)
    assert [t.datasets[0].value.text for t in telegrams] == ["1", "2"]


def test_capture_without_identification_is_rejected() -> None:
    with pytest.raises(FrameError, match="no identification"):
        decode_capture(b"1.8.0(1)\r\n!")
