"""Register maps: which registers of a Modbus device hold which reading, and how to decode them.

Modbus says nothing about what a register means, so every device type needs a map. The map is
plain dataclasses that round-trip through JSON (``to_dict``/``from_dict``), so it can be stored on a
meter device type in the database later and handed to the driver unchanged.

Decisions a utility's engineer would look for:

* ``address`` is the zero-based address on the wire (the "PDU address"), not the 4xxxx/3xxxx
  register number of a manual; a map written from a manual subtracts 40001/30001 once.
* ``count`` is derived from ``data_type``; a map that states it must agree.
* ``byte_order`` is the order of the two bytes inside each register, ``word_order`` the order of
  the registers of a multi-register value. ``big``/``big`` is the Modbus default ("ABCD");
  ``little`` word order is the common "CDAB" of many energy meters.
* ``scale`` is either a decimal string (``"0.01"``) or an integer scaler exponent (``-2`` meaning
  10^-2, as in DLMS/M-Bus scalers). It is kept as written, so a map survives a round trip
  byte-identical, and applied in Decimal arithmetic only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

#: data type -> number of 16-bit registers it spans
REGISTER_COUNTS: dict[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "float32": 2,
    "int64": 4,
    "uint64": 4,
    "float64": 4,
}
FUNCTIONS = ("holding", "input")
ORDERS = ("big", "little")
#: The Modbus application protocol limits one read of registers to 125 of them.
MAX_REGISTERS_PER_READ = 125


class RegisterMapError(ValueError):
    """The register map is unusable; the message names the entry and the field."""


@dataclass(frozen=True)
class RegisterEntry:
    """One value of a device: where it sits, how it is encoded, what it is called."""

    series: str
    address: int
    data_type: str = "uint16"
    function: str = "holding"
    byte_order: str = "big"
    word_order: str = "big"
    scale: str | int = "1"
    unit: str = ""

    @property
    def count(self) -> int:
        return REGISTER_COUNTS[self.data_type]

    @property
    def end(self) -> int:
        """First address after this entry."""
        return self.address + self.count

    @property
    def multiplier(self) -> Decimal:
        """The scale as an exact Decimal (an int scale is a power-of-ten exponent)."""
        if isinstance(self.scale, int):
            return Decimal(1).scaleb(self.scale)
        return Decimal(self.scale)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["count"] = self.count
        return data


def _entry_from_dict(index: int, raw: Any) -> RegisterEntry:
    where = f"entry {index}"
    if not isinstance(raw, dict):
        raise RegisterMapError(f"{where}: expected an object, got {type(raw).__name__}")
    series = raw.get("series")
    if not isinstance(series, str) or not series.strip():
        raise RegisterMapError(f"{where}: 'series' must be a non-empty string")
    where = f"entry {index} ({series})"
    known = {f for f in RegisterEntry.__dataclass_fields__} | {"count"}
    unknown = sorted(set(raw) - known)
    if unknown:
        raise RegisterMapError(f"{where}: unknown field(s) {', '.join(unknown)}")

    address = raw.get("address")
    if isinstance(address, bool) or not isinstance(address, int) or not 0 <= address <= 0xFFFF:
        raise RegisterMapError(f"{where}: 'address' must be an integer 0..65535, got {address!r}")
    data_type = raw.get("data_type", "uint16")
    if data_type not in REGISTER_COUNTS:
        raise RegisterMapError(
            f"{where}: 'data_type' {data_type!r} is not one of {', '.join(REGISTER_COUNTS)}"
        )
    count = REGISTER_COUNTS[data_type]
    if "count" in raw and raw["count"] != count:
        raise RegisterMapError(f"{where}: 'count' {raw['count']!r} disagrees with {data_type} ({count})")
    if address + count - 1 > 0xFFFF:
        raise RegisterMapError(f"{where}: {data_type} at {address} runs past register 65535")
    function = raw.get("function", "holding")
    if function not in FUNCTIONS:
        raise RegisterMapError(f"{where}: 'function' must be holding or input, got {function!r}")
    for name in ("byte_order", "word_order"):
        if raw.get(name, "big") not in ORDERS:
            raise RegisterMapError(f"{where}: {name!r} must be big or little, got {raw.get(name)!r}")
    scale = raw.get("scale", "1")
    if isinstance(scale, bool) or isinstance(scale, float):
        # A float scale (0.1) is already inexact; insisting on a string keeps the map honest.
        raise RegisterMapError(f"{where}: 'scale' must be a decimal string or an integer exponent")
    if isinstance(scale, int):
        if not -30 <= scale <= 30:
            raise RegisterMapError(f"{where}: scaler exponent {scale} is out of range -30..30")
    elif isinstance(scale, str):
        try:
            parsed = Decimal(scale)
        except InvalidOperation:
            raise RegisterMapError(f"{where}: 'scale' {scale!r} is not a decimal number") from None
        if not parsed.is_finite() or parsed == 0:
            raise RegisterMapError(f"{where}: 'scale' {scale!r} must be finite and non-zero")
    else:
        raise RegisterMapError(f"{where}: 'scale' must be a decimal string or an integer exponent")
    unit = raw.get("unit", "")
    if not isinstance(unit, str):
        raise RegisterMapError(f"{where}: 'unit' must be a string")
    return RegisterEntry(
        series=series,
        address=address,
        data_type=data_type,
        function=function,
        byte_order=raw.get("byte_order", "big"),
        word_order=raw.get("word_order", "big"),
        scale=scale,
        unit=unit,
    )


@dataclass(frozen=True)
class RegisterMap:
    """An ordered list of entries; series names are unique, registers of one function may not overlap."""

    entries: tuple[RegisterEntry, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        object.__setattr__(self, "entries", tuple(self.entries))
        seen: dict[str, int] = {}
        for index, entry in enumerate(self.entries):
            if entry.series in seen:
                raise RegisterMapError(
                    f"entry {index} ({entry.series}): series already used by entry {seen[entry.series]}"
                )
            seen[entry.series] = index
        for function in FUNCTIONS:
            ordered = sorted((e for e in self.entries if e.function == function), key=lambda e: e.address)
            for before, after in zip(ordered, ordered[1:], strict=False):
                if after.address < before.end:
                    raise RegisterMapError(
                        f"{after.series}: {function} registers {after.address}..{after.end - 1} overlap "
                        f"{before.series} ({before.address}..{before.end - 1})"
                    )

    @classmethod
    def from_dict(cls, data: Any) -> RegisterMap:
        """Validate JSON-shaped data: ``{"entries": [...]}`` or a bare list of entries."""
        raw_entries = data.get("entries") if isinstance(data, dict) else data
        if not isinstance(raw_entries, list):
            raise RegisterMapError("a register map is a list of entries (or {'entries': [...]})")
        if not raw_entries:
            raise RegisterMapError("the register map has no entries")
        return cls(tuple(_entry_from_dict(i, raw) for i, raw in enumerate(raw_entries)))

    def to_dict(self) -> dict[str, Any]:
        return {"entries": [entry.to_dict() for entry in self.entries]}

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.entries)


@dataclass(frozen=True)
class ReadBlock:
    """One read request covering several entries of the same function."""

    function: str
    address: int
    count: int
    entries: tuple[RegisterEntry, ...]


def plan_reads(
    register_map: RegisterMap, *, max_registers: int = MAX_REGISTERS_PER_READ, max_gap: int = 0
) -> list[ReadBlock]:
    """Coalesce entries into as few requests as the protocol allows.

    ``max_gap`` lets a block bridge unmapped registers; it defaults to 0 because many devices
    answer "illegal data address" for any hole inside a request.
    """
    if not 1 <= max_registers <= MAX_REGISTERS_PER_READ:
        raise ValueError(f"max_registers must be 1..{MAX_REGISTERS_PER_READ}")
    blocks: list[ReadBlock] = []
    for function in FUNCTIONS:
        ordered = sorted((e for e in register_map.entries if e.function == function), key=lambda e: e.address)
        current: list[RegisterEntry] = []
        start = end = 0
        for entry in ordered:
            if current and entry.address - end <= max_gap and entry.end - start <= max_registers:
                current.append(entry)
                end = max(end, entry.end)
                continue
            if current:
                blocks.append(ReadBlock(function, start, end - start, tuple(current)))
            current, start, end = [entry], entry.address, entry.end
        if current:
            blocks.append(ReadBlock(function, start, end - start, tuple(current)))
    return blocks
