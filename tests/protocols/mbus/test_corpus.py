"""Every frame of the libmbus corpus decodes to libmbus's normalised values, or is rejected with a reason.

libmbus's ``.norm.xml`` is our reference for values; its *names* are its own, so a small translation
(below) maps our quantity names, units and media to its wording. Values are compared as Decimal.
libmbus prints numbers with ``%f`` (six decimals) after computing in double precision, so a value of
ours with more than six decimals is rounded to six before comparing, and real32 values (the one
place the wire itself is binary floating point) are compared to within one binary32 ulp.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

import pytest

from protocols.errors import FrameError
from protocols.mbus.codec import Record, Telegram, decode_hex
from tests.support.corpus import CORPUS, corpus_path

LIBMBUS = CORPUS / "mbus" / "libmbus"


def _names(folder: str) -> list[str]:
    # Collected at import time without failing when the corpus is absent; the tests themselves
    # go through corpus_path(), which fails in CI and skips on a laptop.
    directory = LIBMBUS / folder
    return sorted(p.stem for p in directory.glob("*.hex")) if directory.exists() else ["<corpus missing>"]


# libmbus medium names -> medium codes (EN 13757-3 table), to compare with our numeric medium.
LIBMBUS_MEDIA = {
    "Other": 0x00,
    "Oil": 0x01,
    "Electricity": 0x02,
    "Gas": 0x03,
    "Heat: Outlet": 0x04,
    "Heat": 0x04,
    "Warm water (30-90°C)": 0x06,
    "Water": 0x07,
    "Heat Cost Allocator": 0x08,
    "Heat: Inlet": 0x0C,
    "Heat / Cooling load meter": 0x0D,
    "Bus/System": 0x0E,
    "Cold water": 0x16,
    "Breaker: Electricity": 0x20,
}

# Our quantity name (lower case) -> libmbus's where they differ.
QUANTITY_ALIASES = {
    "units for h.c.a.": "h.c.a.",
}


def _fix_text(text: str | None) -> str:
    # The XML declares ISO-8859-1 but holds UTF-8 bytes for the degree sign.
    return (text or "").replace("Â°", "°")


def _letters(text: str) -> str:
    """Wording without punctuation or the XML's mis-encoded apostrophes ("DIFE´s" vs "DIFEs")."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text or "")
    except InvalidOperation:
        return None


def _same_number(ours: Decimal, theirs: Decimal, record: Record | None) -> bool:
    if record is not None and record.coding == "real32":
        tolerance = max(abs(theirs) * Decimal(2) ** -23, Decimal("0.000001"))
        return abs(ours - theirs) <= tolerance
    if ours.as_tuple().exponent < -6:  # type: ignore[operator]
        ours = ours.quantize(Decimal("0.000001"), rounding=ROUND_HALF_EVEN)
    return ours == theirs


def _expected_text(record: Record) -> str | None:
    """Our text in libmbus's notation (dates with seconds and a Z, invalid times as libmbus zeroes)."""
    if record.quantity.startswith("Time point (date & time)"):
        if record.invalid:
            return "1900-01-00T00:00:00Z"
        assert record.text is not None
        return record.text + (":00Z" if len(record.text) == 16 else "Z")
    return record.text


def _compare_fixed(telegram: Telegram, expected: list[ET.Element]) -> None:
    scale = {"l": -3, "kWh": 3}
    for record, element in zip(telegram.records, expected, strict=True):
        unit = _fix_text(element.findtext("Unit"))
        theirs = Decimal(element.findtext("Value") or "")
        if unit in scale:
            assert record.value == theirs.scaleb(scale[unit])
        else:  # "reserved but historic": libmbus gives the raw counter
            assert record.raw == theirs


def _compare(telegram: Telegram, root: ET.Element, raw_root: ET.Element) -> None:
    slave = root.find("SlaveInformation")
    assert slave is not None and telegram.header is not None
    header = telegram.header
    # libmbus prints the BCD id without leading zeros (and keeps non-decimal digits as they are).
    assert (header.identification or "").lstrip("0") or "0" == slave.findtext("Id")
    assert header.access_number == int(slave.findtext("AccessNumber") or "")
    assert f"{header.status:02X}" == slave.findtext("Status")
    assert header.medium == LIBMBUS_MEDIA[_fix_text(slave.findtext("Medium"))]
    if slave.find("Manufacturer") is not None:
        assert header.manufacturer == slave.findtext("Manufacturer")
        assert header.version == int(slave.findtext("Version") or "")
        assert f"{header.signature:04X}" == slave.findtext("Signature")

    expected = root.findall("DataRecord")
    raw_expected = raw_root.findall("DataRecord")
    if telegram.structure == "fixed":
        _compare_fixed(telegram, expected)
        return
    ours: list[Record | None] = list(telegram.records)
    if telegram.manufacturer_data is not None:
        ours.append(None)
    assert len(ours) == len(expected), f"{len(ours)} records, libmbus has {len(expected)}"
    for index, (record, element, raw_element) in enumerate(zip(ours, expected, raw_expected, strict=True)):
        where = f"record {index}"
        if record is None:  # the DIF 0x0F / 0x1F manufacturer data block
            function = "More records follow" if telegram.more_records_follow else "Manufacturer specific"
            assert element.findtext("Function") == function, where
            assert (telegram.manufacturer_data or b"").hex(" ").upper() == (
                element.findtext("Value") or ""
            ), where
            continue
        if element.find("Function") is None:
            # libmbus leaves a record it cannot name empty (VIF 0x7B without extension byte).
            assert record.error is not None, where
            continue
        function = {
            "instantaneous": "Instantaneous value",
            "maximum": "Maximum value",
            "minimum": "Minimum value",
            "error": "Value during error state",
        }[record.function]
        assert element.findtext("Function") == function, where
        assert record.storage == int(element.findtext("StorageNumber") or ""), where
        if element.find("Tariff") is not None:
            assert record.tariff == int(element.findtext("Tariff") or ""), where
            assert record.subunit == int(element.findtext("Device") or ""), where
        quantity = _fix_text(element.findtext("Quantity"))
        unit = _fix_text(element.findtext("Unit")).replace("m^3", "m³")
        if record.plain_unit is not None:
            assert quantity == record.plain_unit, where
        elif quantity != "Reserved":
            ours_q = record.quantity.lower()
            assert QUANTITY_ALIASES.get(ours_q, ours_q) == quantity.lower(), where
            if unit not in ("-", "Units for H.C.A.", ""):
                assert record.unit == unit, where
        value_text = element.findtext("Value")
        theirs = _decimal(value_text)
        if record.value is not None:
            assert theirs is not None, f"{where}: libmbus has text {value_text!r}, we have {record.value}"
            assert _same_number(record.value, theirs, record), f"{where}: {record.value} != {theirs}"
        elif record.invalid and record.coding.startswith("bcd"):
            # Non-decimal BCD digits (an error marker such as DDDDEBBD): libmbus's normalised
            # value is an artefact of parsing them as a number; its raw XML has the digits.
            assert record.text == raw_element.findtext("Value"), where
        else:
            assert _expected_text(record) == value_text, where


@pytest.mark.parametrize("name", _names("test-frames"))
def test_test_frame_matches_libmbus(name: str) -> None:
    hex_path = corpus_path("mbus", "libmbus", "test-frames", f"{name}.hex")
    telegram = decode_hex(hex_path.read_text())
    root = ET.parse(hex_path.with_suffix(".norm.xml")).getroot()
    raw_root = ET.parse(hex_path.with_suffix(".xml")).getroot()
    _compare(telegram, root, raw_root)


@pytest.mark.parametrize("name", _names("error-frames"))
def test_error_frame_is_rejected_or_reported(name: str) -> None:
    hex_path = corpus_path("mbus", "libmbus", "error-frames", f"{name}.hex")
    xml_path = hex_path.with_suffix(".xml")
    if xml_path.exists():
        error = ET.parse(xml_path).getroot().findtext("SlaveInformation/Error") or ""
        telegram = decode_hex(hex_path.read_text())
        assert telegram.application_error is not None
        assert _letters(telegram.application_error[1]) == _letters(error)
    else:
        with pytest.raises(FrameError) as caught:
            decode_hex(hex_path.read_text())
        assert caught.value.reason


# What each unsupported frame is, and whether it can honestly be decoded.
UNSUPPORTED = {
    "invalid_length": "L field 0",
    "invalid_length2": "fixed data structure must be 16 bytes",
    "manual_frame1": "not hex",
    "manual_frame4": None,  # SND_UD CI 0x51 to 0xFE: set primary address 8
    "manual_frame5": None,  # SND_UD CI 0x51: set secondary address
    "manual_frame6": None,  # SND_UD CI 0x51: id and energy
    "svm_f22_telegram2": None,  # RSP_UD whose data is all manufacturer-specific (DIF 0x1F)
}


@pytest.mark.parametrize("name", _names("unsupported-frames"))
def test_unsupported_frame_is_decoded_honestly_or_rejected(name: str) -> None:
    hex_path = corpus_path("mbus", "libmbus", "unsupported-frames", f"{name}.hex")
    reason = UNSUPPORTED[name]
    if reason is None:
        telegram = decode_hex(hex_path.read_text())
        assert telegram.records or telegram.manufacturer_data
    else:
        with pytest.raises(FrameError, match=reason):
            decode_hex(hex_path.read_text())


def test_set_primary_address_command_decodes_to_bus_address() -> None:
    telegram = decode_hex(
        corpus_path("mbus", "libmbus", "unsupported-frames", "manual_frame4.hex").read_text()
    )
    assert telegram.frame.address == 0xFE and telegram.frame.ci == 0x51
    (record,) = telegram.records
    assert (record.quantity, record.value) == ("Bus address", Decimal(8))


def test_itron_volume_is_exact() -> None:
    telegram = decode_hex(
        corpus_path("mbus", "libmbus", "test-frames", "ACW_Itron-BM-plus-m.hex").read_text()
    )
    volume = telegram.records[1]
    assert volume.value == Decimal("54.321") and str(volume.value) == "54.321"
    assert volume.series == "volume:0:0:0:instantaneous"
