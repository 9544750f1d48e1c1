"""Wired M-Bus long frames carrying a segmented DLMS APDU (EN 13757-2 link layer, as the Austrian
grid operators' customer interfaces use it: Netz NÖ, TINETZ, Sagemcom/Kaifa meters).

Each frame is ``68 L L 68 | C A CI STSAP DTSAP data | CS 16``. CI counts the segments: the low
nibble is the segment number and bit 0x10 marks the last one; the DLMS APDU is the concatenation of
the ``data`` parts. STSAP/DTSAP are the DLMS service access points (0x01 / 0x67 for pushes).

Quirk: Sagemcom meters send 257 user-data bytes and write L = 0x01 (the length modulo 256). We
take L at face value when the checksum and stop byte fit, else try L + 256.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FrameError

START = 0x68
STOP = 0x16
LAST_SEGMENT = 0x10


@dataclass(frozen=True)
class MbusFrame:
    length_field: int
    control: int
    address: int
    ci: int
    stsap: int
    dtsap: int
    data: bytes
    length_quirk: bool = False

    @property
    def user_data_length(self) -> int:
        return 5 + len(self.data)

    @property
    def is_last(self) -> bool:
        return bool(self.ci & LAST_SEGMENT)

    def describe(self) -> dict[str, object]:
        return {
            "layer": "mbus-wired",
            "L": self.length_field,
            "user_data_len": self.user_data_length,
            "length_quirk": "L field is the length modulo 256" if self.length_quirk else None,
            "C": f"{self.control:02x}",
            "A": f"{self.address:02x}",
            "CI": f"{self.ci:02x}",
            "stsap": f"{self.stsap:02x}",
            "dtsap": f"{self.dtsap:02x}",
            "checksum_ok": True,
            "stop_ok": True,
        }


def _parse_at(buf: bytes, pos: int) -> tuple[MbusFrame, int]:
    if len(buf) - pos < 6:
        raise FrameError(f"truncated M-Bus frame at offset {pos}")
    if buf[pos] != START or buf[pos + 3] != START:
        raise FrameError(f"no M-Bus long frame start at offset {pos}")
    if buf[pos + 1] != buf[pos + 2]:
        raise FrameError(f"M-Bus L fields differ at offset {pos} ({buf[pos + 1]} / {buf[pos + 2]})")
    declared = buf[pos + 1]
    reasons = []
    for length in (declared, declared + 256):
        start, end = pos + 4, pos + 4 + length
        if end + 2 > len(buf):
            reasons.append(f"L={length}: frame runs past the data")
            continue
        user = buf[start:end]
        checksum = sum(user) & 0xFF
        if checksum != buf[end]:
            reasons.append(f"L={length}: checksum 0x{buf[end]:02x}, computed 0x{checksum:02x}")
            continue
        if buf[end + 1] != STOP:
            reasons.append(f"L={length}: no stop byte")
            continue
        if length < 5:
            raise FrameError(f"M-Bus frame at offset {pos} too short for a DLMS segment")
        frame = MbusFrame(
            declared, user[0], user[1], user[2], user[3], user[4], bytes(user[5:]), length != declared
        )
        return frame, end + 2
    raise FrameError(f"bad M-Bus frame at offset {pos}: " + "; ".join(reasons))


def parse_frames(buf: bytes) -> list[MbusFrame]:
    """All frames of a captured stream, in order."""
    frames = []
    pos = 0
    while pos < len(buf):
        frame, pos = _parse_at(buf, pos)
        frames.append(frame)
    return frames


@dataclass(frozen=True)
class Reassembled:
    frames: list[MbusFrame]
    apdu: bytes
    complete: bool  # False for a trailing push whose first or last segment is missing


def reassemble(frames: list[MbusFrame]) -> list[Reassembled]:
    """Group segments into APDUs: a push starts at segment number 0 and ends at the last-flag.

    A capture may begin mid-push; those orphan segments come back with ``complete=False``.
    """
    pushes: list[Reassembled] = []
    group: list[MbusFrame] = []
    for frame in frames:
        if frame.ci & 0x0F == 0 and group:
            pushes.append(Reassembled(group, b"".join(f.data for f in group), False))
            group = []
        group.append(frame)
        if frame.is_last:
            complete = group[0].ci & 0x0F == 0
            pushes.append(Reassembled(group, b"".join(f.data for f in group), complete))
            group = []
    if group:
        pushes.append(Reassembled(group, b"".join(f.data for f in group), False))
    return pushes
