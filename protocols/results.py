"""What drivers hand back: readings and events with exact values and aware UTC timestamps.

Every driver returns these, so the AMR execution environments convert one shape into
ingestion rows whatever the protocol. Values are ``Decimal`` end to end (never a float).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any


@dataclass(frozen=True)
class Reading:
    """One measured value. ``series`` is the name a reading series is looked up by
    (an OBIS code such as ``1.0.1.8.0.255``, an M-Bus record description, a LIS-200 address)."""

    series: str
    value: Decimal
    unit: str = ""
    timestamp: datetime | None = None  # aware; None means "the time of the read"
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Event:
    """One entry of a meter's event log."""

    event_code: int
    timestamp: datetime
    description: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class ReadResult:
    """The outcome of one driver call. ``error`` is set when the call failed part way:
    whatever was read before the failure is still in ``readings``/``events``."""

    readings: list[Reading] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    error: str | None = None


def to_jsonable(obj: Any) -> Any:
    """Turn driver output into JSON-safe data: Decimal as exact strings, datetimes as ISO 8601."""
    if hasattr(obj, "__dataclass_fields__"):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Decimal):
        return format(obj, "f")
    if isinstance(obj, datetime):
        return obj.isoformat()
    if isinstance(obj, (bytes, bytearray)):
        return obj.hex()
    return obj


def dumps(obj: Any) -> str:
    """JSON text for the frame inspectors."""
    return json.dumps(to_jsonable(obj), indent=2, ensure_ascii=False)
