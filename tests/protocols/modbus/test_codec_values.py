"""Register values decode to exact Decimals whatever the data type, byte order and word order."""

from __future__ import annotations

import struct
from decimal import Decimal

import pytest

from protocols.modbus.codec import decode_entry, encode_entry, float32_text
from protocols.modbus.registers import RegisterEntry

ORDERS = [("big", "big"), ("big", "little"), ("little", "big"), ("little", "little")]


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_uint32_with_milli_scale_is_exact_in_every_order(byte_order, word_order):
    e = RegisterEntry("e", 0, "uint32", byte_order=byte_order, word_order=word_order, scale="0.001")
    registers = encode_entry(e, "4294967.295")
    assert decode_entry(e, registers) == Decimal("4294967.295")
    assert str(decode_entry(e, registers)) == "4294967.295"


def test_byte_and_word_orders_place_bytes_as_documented():
    value = 0x11223344
    expected = {
        ("big", "big"): [0x1122, 0x3344],  # ABCD
        ("big", "little"): [0x3344, 0x1122],  # CDAB
        ("little", "big"): [0x2211, 0x4433],  # BADC
        ("little", "little"): [0x4433, 0x2211],  # DCBA
    }
    for (byte_order, word_order), registers in expected.items():
        e = RegisterEntry("e", 0, "uint32", byte_order=byte_order, word_order=word_order)
        assert decode_entry(e, registers) == value
        assert encode_entry(e, value) == registers


@pytest.mark.parametrize(
    ("data_type", "registers", "expected"),
    [
        ("int16", [0xFFFF], "-1"),
        ("uint16", [0xFFFF], "65535"),
        ("int32", [0x8000, 0x0000], "-2147483648"),
        ("uint64", [0xFFFF] * 4, "18446744073709551615"),
        ("int64", [0x8000, 0, 0, 0], "-9223372036854775808"),
    ],
)
def test_integer_extremes_are_exact(data_type, registers, expected):
    assert decode_entry(RegisterEntry("x", 0, data_type), registers) == Decimal(expected)


def test_large_integers_are_not_routed_through_floats():
    # 2**53 + 1 cannot be held by a float: a float detour would return ...992.
    e = RegisterEntry("x", 0, "uint64", scale="0.001")
    registers = encode_entry(e, Decimal(2**53 + 1) / 1000)
    assert decode_entry(e, registers) == Decimal("9007199254740.993")


def test_scaler_exponent_scales_exactly():
    e = RegisterEntry("t", 0, "int16", scale=-2)
    assert decode_entry(e, [0xEC78]) == Decimal("-50.00")


def test_float32_gives_the_shortest_decimal_the_meter_sent():
    e = RegisterEntry("v", 0, "float32")
    registers = [0x3DCC, 0xCCCD]  # 0.1f
    assert decode_entry(e, registers) == Decimal("0.1")
    raw = struct.pack(">f", 230.1)
    assert float32_text(raw) == "230.1"
    assert struct.pack(">f", float(float32_text(raw))) == raw


@pytest.mark.parametrize(("byte_order", "word_order"), ORDERS)
def test_float64_uses_repr_and_scale_in_decimal(byte_order, word_order):
    e = RegisterEntry("pf", 0, "float64", byte_order=byte_order, word_order=word_order, scale="0.01")
    registers = encode_entry(e, "0.95")
    assert decode_entry(e, registers) == Decimal("0.95")


@pytest.mark.parametrize("bits", [[0x7FC0, 0x0000], [0x7F80, 0x0000]])
def test_nan_and_infinity_are_refused(bits):
    with pytest.raises(ValueError, match="not a number"):
        decode_entry(RegisterEntry("v", 0, "float32"), bits)


def test_encoding_refuses_values_finer_than_the_scale():
    with pytest.raises(ValueError, match="not a whole number"):
        encode_entry(RegisterEntry("e", 0, "uint32", scale="0.01"), "1.234")
    with pytest.raises(ValueError, match="does not fit"):
        encode_entry(RegisterEntry("e", 0, "uint16"), 70000)
