"""The DLMS/COSEM transport layer for IP networks (IEC 62056-47): the "wrapper".

Eight bytes in front of every APDU: version (always 1), source wPort, destination wPort and the
APDU length, all 16-bit big-endian. There is no checksum (TCP has one) and no segmentation, so one
wrapper frame carries one whole APDU; the length field is the only way to find its end in a stream.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ..errors import FrameError

VERSION = 1
HEADER = struct.Struct(">HHHH")


@dataclass(frozen=True)
class WrapperFrame:
    source: int
    dest: int
    apdu: bytes

    def describe(self) -> dict[str, object]:
        return {
            "layer": "wrapper",
            "version": VERSION,
            "source_wport": self.source,
            "dest_wport": self.dest,
            "length": len(self.apdu),
        }


def build(source: int, dest: int, apdu: bytes) -> bytes:
    if len(apdu) > 0xFFFF:
        raise ValueError("APDU too long for one wrapper frame")
    return HEADER.pack(VERSION, source, dest, len(apdu)) + apdu


def parse(raw: bytes) -> WrapperFrame:
    """Check and split one complete wrapper frame."""
    if len(raw) < HEADER.size:
        raise FrameError(f"wrapper header is {HEADER.size} bytes, got {len(raw)}")
    version, source, dest, length = HEADER.unpack_from(raw)
    if version != VERSION:
        raise FrameError(f"wrapper version {version}, expected {VERSION}")
    if len(raw) - HEADER.size != length:
        raise FrameError(
            f"wrapper length field says {length} bytes, the frame carries {len(raw) - HEADER.size}"
        )
    return WrapperFrame(source, dest, bytes(raw[HEADER.size :]))


def read_frame(transport, timeout: float | None = None) -> bytes:
    """Read one whole wrapper frame from a transport."""
    header = transport.read(HEADER.size, timeout)
    version, _source, _dest, length = HEADER.unpack(header)
    if version != VERSION:
        raise FrameError(f"wrapper version {version}, expected {VERSION}")
    return header + transport.read(length, timeout)
