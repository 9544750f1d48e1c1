"""OBIS codes (logical names) in the three spellings meters and people use.

COSEM puts six bytes on the wire; documents write ``1-0:1.8.0.255`` (IEC 62056-61) and our reading
series are named ``1.0.1.8.0.255`` (dots only, always six groups) so that one series name never has
two spellings. Parsing accepts both forms and a five-group short form with F = 255 implied.
"""

from __future__ import annotations

import re

from ..errors import ProtocolError

_OBIS_RE = re.compile(r"^\s*(\d+)[-.](\d+)[:.](\d+)\.(\d+)\.(\d+)(?:[.*&](\d+))?\s*$")


def parse_obis(text: str | bytes) -> bytes:
    """Six logical-name bytes from ``A-B:C.D.E.F``, ``A.B.C.D.E.F`` or six raw bytes."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) != 6:
            raise ProtocolError(f"an OBIS code is 6 bytes, got {len(text)}")
        return bytes(text)
    match = _OBIS_RE.match(text)
    if not match:
        raise ProtocolError(f"not an OBIS code: {text!r}")
    groups = [int(g) if g is not None else 255 for g in match.groups()]
    if any(g > 255 for g in groups):
        raise ProtocolError(f"OBIS group out of range in {text!r}")
    return bytes(groups)


def obis_dotted(code: bytes | str) -> str:
    """``1.0.1.8.0.255``: the spelling reading series are named by."""
    raw = parse_obis(code)
    return ".".join(str(b) for b in raw)


def obis_iec(code: bytes | str) -> str:
    """``1-0:1.8.0.255``: the spelling of documents and of the frame corpus."""
    a, b, c, d, e, f = parse_obis(code)
    return f"{a}-{b}:{c}.{d}.{e}.{f}"
