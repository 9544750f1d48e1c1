"""HAN device identifiers: the MAC address (EUI-64) and the Zigbee install code.

A DataBridge or SmartLink joins the meter's Home Area Network as a Zigbee Smart Energy device, so
its MAC address is an IEEE EUI-64: 8 bytes, written as 16 hex digits, bare or with ``:``/``-``
between the bytes. The install code is 6, 8, 12 or 16 bytes followed by a CRC-16 (the X.25
variant, stored little-endian); the meter derives the device's link key from it, so a code with
a wrong CRC can never join and is refused up front instead of failing after hours of waiting.
Both are normalized to upper-case hex without separators, the form stored and sent to the meter.
"""

from __future__ import annotations

import re

_MAC_BARE = re.compile(r"^[0-9A-Fa-f]{16}$")
_MAC_SEPARATED = re.compile(r"^[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(?:\1[0-9A-Fa-f]{2}){6}$")
#: Install code lengths in bytes, CRC included (6, 8, 12 or 16 bytes of code + 2 of CRC).
INSTALL_CODE_LENGTHS = (8, 10, 14, 18)


def normalize_mac(value: str) -> str:
    """The EUI-64 as 16 upper-case hex digits, or ValueError."""
    if not isinstance(value, str):
        raise ValueError("the MAC address must be a string")
    text = value.strip()
    if not (_MAC_BARE.match(text) or _MAC_SEPARATED.match(text)):
        raise ValueError("the MAC address must be an EUI-64: 16 hex digits, optionally separated by : or -")
    mac = re.sub(r"[:-]", "", text).upper()
    if mac in ("0" * 16, "F" * 16):
        raise ValueError("the MAC address may not be all zeros or all ones")
    return mac


def crc16_x25(data: bytes) -> int:
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
    return crc ^ 0xFFFF


def with_crc(code: bytes) -> bytes:
    """``code`` followed by its CRC (little-endian), as printed on a device label."""
    return code + crc16_x25(code).to_bytes(2, "little")


def normalize_install_code(value: str) -> str:
    """The install code with its CRC as upper-case hex, or ValueError.

    Spaces and dashes between digit groups are accepted (labels print the code in groups)."""
    if not isinstance(value, str):
        raise ValueError("the install code must be a string")
    text = re.sub(r"[\s-]", "", value)
    if not re.fullmatch(r"[0-9A-Fa-f]+", text or "-") or len(text) % 2:
        raise ValueError("the install code must be hexadecimal")
    raw = bytes.fromhex(text)
    if len(raw) not in INSTALL_CODE_LENGTHS:
        raise ValueError("the install code is 6, 8, 12 or 16 bytes plus a 2-byte CRC")
    if with_crc(raw[:-2]) != raw:
        raise ValueError("the install code's CRC does not match")
    return raw.hex().upper()
