"""MAC addresses (EUI-64) and Zigbee install codes are checked and normalized before any job."""

from __future__ import annotations

import pytest

from powerbox.han import crc16_x25, normalize_install_code, normalize_mac, with_crc


@pytest.mark.parametrize(
    "value",
    ["000D6F000A901234", "00:0D:6F:00:0A:90:12:34", "00-0d-6f-00-0a-90-12-34", " 000d6f000a901234 "],
)
def test_eui64_in_its_usual_spellings_is_normalized(value: str) -> None:
    assert normalize_mac(value) == "000D6F000A901234"


@pytest.mark.parametrize(
    "value",
    [
        "",
        "EB_MAC_Address",
        "00:0D:6F:00:0A:90",  # EUI-48: not a Zigbee device
        "00:0D:6F:00:0A:90:12:34:56",
        "00:0D-6F:00:0A:90:12:34",  # mixed separators
        "000D6F000A90123G",
        "0000000000000000",
        "FFFFFFFFFFFFFFFF",
        "00:0D:6F:00:0A:90:12:3",
    ],
)
def test_malformed_mac_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_mac(value)


def test_crc_matches_the_zigbee_specification_example() -> None:
    code = bytes.fromhex("83FED3407A939723A5C639B26916D505")
    assert crc16_x25(code) == 0xB5C3
    assert with_crc(code).hex().upper() == "83FED3407A939723A5C639B26916D505C3B5"


@pytest.mark.parametrize("length", [6, 8, 12, 16])
def test_install_codes_of_every_length_with_their_crc_are_accepted(length: int) -> None:
    code = with_crc(bytes(range(1, length + 1))).hex()
    assert normalize_install_code(code) == code.upper()


def test_install_code_printed_in_groups_is_accepted() -> None:
    assert normalize_install_code("83FE D340 7A93 9723 A5C6 39B2 6916 D505 C3B5") == (
        "83FED3407A939723A5C639B26916D505C3B5"
    )


@pytest.mark.parametrize(
    "value",
    [
        "",
        "EB_Install_Code",
        "83FED3407A939723A5C639B26916D505C3B6",  # CRC off by one
        "83FED3407A939723A5C639B26916D505",  # no CRC
        "83FED3407A939723A5C639B26916D505C3B",  # odd length
        with_crc(bytes(10)).hex(),  # 10 bytes is not a Zigbee install code length
    ],
)
def test_malformed_install_code_is_refused(value: str) -> None:
    with pytest.raises(ValueError):
        normalize_install_code(value)
