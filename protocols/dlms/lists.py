"""Turning a pushed notification body into labelled values (the HAN/customer-interface lists).

Meters push one A-XDR value whose shape the standard leaves to the utility. Four shapes exist in
the field and in our corpus:

* an array or structure of ``structure{OBIS, value[, scaler_unit]}`` (Aidon, TINETZ);
* a flat structure ``OBIS, value[, scaler_unit], OBIS, value, ...`` with stray items in between
  (Kaifa SE, Kamstrup, Netz NÖ; Kamstrup also pads with null-data);
* a flat structure of values without OBIS codes (Kaifa NO lists): the position gives the OBIS,
  from the list definition chosen by the number of items;
* anything else (an opaque octet-string): no values, the body is shown as it is.

Where a list carries no scaler_unit the scaling is implied by the vendor's list definition
(Kaifa: current in mA and voltage in 0.1 V; Kamstrup: current in 10 mA and energy in 10 Wh); the
vendor is recognised by its list identifier (``KFM_001``, ``Kamstrup_V0001``).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..results import Reading
from . import axdr
from .axdr import Data, date_time_from_octets
from .obis import obis_dotted, obis_iec
from .units import unit_symbol

# (C, D, E) -> (implied scaler, unit symbol) for lists that send bare integers
_POWER_AND_ENERGY = {
    (1, 7, 0): (0, "W"),
    (2, 7, 0): (0, "W"),
    (3, 7, 0): (0, "var"),
    (4, 7, 0): (0, "var"),
    (1, 8, 0): (0, "Wh"),
    (2, 8, 0): (0, "Wh"),
    (3, 8, 0): (0, "varh"),
    (4, 8, 0): (0, "varh"),
}
_PHASES = ((31, 32), (51, 52), (71, 72))
IMPLIED_SCALERS: dict[str, dict[tuple[int, int, int], tuple[int, str]]] = {
    "kaifa": {
        **_POWER_AND_ENERGY,
        **{(i, 7, 0): (-3, "A") for i, _ in _PHASES},
        **{(u, 7, 0): (-1, "V") for _, u in _PHASES},
    },
    "kamstrup": {
        **_POWER_AND_ENERGY,
        **{(c, 8, 0): (1, unit) for c, unit in ((1, "Wh"), (2, "Wh"), (3, "varh"), (4, "varh"))},
        **{(i, 7, 0): (-2, "A") for i, _ in _PHASES},
        **{(u, 7, 0): (0, "V") for _, u in _PHASES},
    },
}

# Kaifa's Norwegian lists send values only; the number of items says which list it is.
_KAIFA_ID = ["1-1:0.2.129.255", "0-0:96.1.0.255", "0-0:96.1.7.255"]
_KAIFA_POWER = ["1-0:1.7.0.255", "1-0:2.7.0.255", "1-0:3.7.0.255", "1-0:4.7.0.255"]
_KAIFA_ENERGY = ["0-0:1.0.0.255", "1-0:1.8.0.255", "1-0:2.8.0.255", "1-0:3.8.0.255", "1-0:4.8.0.255"]
_KAIFA_3PH = [
    "1-0:31.7.0.255",
    "1-0:51.7.0.255",
    "1-0:71.7.0.255",
    "1-0:32.7.0.255",
    "1-0:52.7.0.255",
    "1-0:72.7.0.255",
]
_KAIFA_1PH = ["1-0:31.7.0.255", "1-0:32.7.0.255"]
KAIFA_POSITIONAL_LISTS: dict[int, list[str]] = {
    1: ["1-0:1.7.0.255"],
    9: _KAIFA_ID + _KAIFA_POWER + _KAIFA_1PH,
    13: _KAIFA_ID + _KAIFA_POWER + _KAIFA_3PH,
    14: _KAIFA_ID + _KAIFA_POWER + _KAIFA_1PH + _KAIFA_ENERGY,
    18: _KAIFA_ID + _KAIFA_POWER + _KAIFA_3PH + _KAIFA_ENERGY,
}


@dataclass
class ListValue:
    """One labelled value of a pushed list; ``value`` is a Decimal for numbers, else text."""

    obis: str | None  # A-B:C.D.E.F
    type: str
    raw: Any
    value: Any
    position: int
    scaler: int | None = None
    unit_code: int | None = None
    unit: str = ""
    implied_scaler: int | None = None
    obis_by_list_definition: bool = False

    def to_jsonable(self) -> dict[str, Any]:
        out: dict[str, Any] = {"position": self.position}
        out["obis_by_list_definition" if self.obis_by_list_definition else "obis"] = self.obis
        out["type"] = self.type
        if isinstance(self.raw, bytes):
            out["raw_hex"] = self.raw.hex()
        else:
            out["raw"] = self.raw
        for key in ("scaler", "unit_code", "implied_scaler"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        if self.unit or self.unit_code is not None or self.implied_scaler is not None:
            out["unit"] = self.unit
        out["value"] = format(self.value, "f") if isinstance(self.value, Decimal) else self.value
        return out

    def to_reading(self) -> Reading | None:
        """Numbers become readings named by OBIS; strings and times do not."""
        if not isinstance(self.value, Decimal) or self.obis is None:
            return None
        return Reading(series=obis_dotted(self.obis), value=self.value, unit=self.unit)


@dataclass
class DecodedList:
    values: list[ListValue]
    unlabelled: list[Any]
    vendor: str | None


def scaled(raw: int, scaler: int) -> Decimal:
    """Exact ``raw × 10^scaler`` keeping the scaler's decimal places (790, -3 → 0.790)."""
    if scaler >= 0:
        return Decimal(raw * 10**scaler)  # 1234567, 1 -> 12345670 rather than 1.234567E+7
    return Decimal(raw).scaleb(scaler)


def _is_obis(item: Data) -> bool:
    return item.tag == axdr.OCTET_STRING and len(item.value) == 6


def _is_scaler_unit(item: Data | None) -> bool:
    return (
        item is not None
        and item.tag == axdr.STRUCTURE
        and len(item.value) == 2
        and item.value[0].tag == axdr.INT8
        and item.value[1].tag == axdr.ENUM
    )


def _text(raw: bytes) -> str:
    if raw and all(0x20 <= b < 0x7F for b in raw):
        return raw.decode("ascii")
    return raw.hex()


def _render(item: Data, obis: str | None) -> tuple[str, Any, Any]:
    """(type name, raw, value) for a non-numeric or unscaled item."""
    if item.tag == axdr.OCTET_STRING:
        stamp = date_time_from_octets(item.value)
        if stamp is not None:
            moment = stamp.to_datetime()
            if moment is not None:
                return "octet-string (date-time)", item.value, moment.isoformat()
        return "octet-string", item.value, _text(item.value)
    if item.tag in (axdr.VISIBLE_STRING, axdr.UTF8_STRING):
        return item.type_name, item.value, item.value
    if item.is_integer:
        return item.type_name, item.value, Decimal(item.value)
    if item.tag in (axdr.FLOAT32, axdr.FLOAT64):
        return item.type_name, format(item.value, "f"), item.value
    return item.type_name, axdr.to_python(item), axdr.to_python(item)


def _make_value(
    position: int, obis: str | None, item: Data, scaler_unit: Data | None, by_definition: bool
) -> ListValue:
    type_name, raw, value = _render(item, obis)
    entry = ListValue(obis, type_name, raw, value, position, obis_by_list_definition=by_definition)
    if scaler_unit is not None:
        entry.scaler = scaler_unit.value[0].value
        entry.unit_code = scaler_unit.value[1].value
        entry.unit = unit_symbol(entry.unit_code)
        if item.is_integer:
            entry.value = scaled(item.value, entry.scaler)
        elif isinstance(item.value, Decimal):
            entry.value = item.value.scaleb(entry.scaler)
    return entry


def _apply_implied(values: list[ListValue], vendor: str | None) -> None:
    table = IMPLIED_SCALERS.get(vendor or "")
    if not table:
        return
    for entry in values:
        if entry.scaler is not None or not isinstance(entry.raw, int) or entry.obis is None:
            continue
        _, _, c, d, e, _ = (int(x) for x in entry.obis.replace("-", ".").replace(":", ".").split("."))
        rule = table.get((c, d, e))
        if rule:
            entry.implied_scaler, entry.unit = rule
            entry.value = scaled(entry.raw, entry.implied_scaler)


def _vendor_from(values: list[ListValue], unlabelled: list[Any]) -> str | None:
    texts = [str(v.value) for v in values if isinstance(v.value, str)] + [str(u) for u in unlabelled]
    for text in texts:
        if text.startswith("Kamstrup"):
            return "kamstrup"
        if text.startswith("KFM"):
            return "kaifa"
    return None


def decode_list(body: Data) -> DecodedList:
    """Label the values of a notification body (see the module docstring for the shapes)."""
    if body.tag not in (axdr.ARRAY, axdr.STRUCTURE) or not body.value:
        return DecodedList([], [], None)
    items: list[Data] = body.value
    values: list[ListValue] = []
    unlabelled: list[Any] = []

    def entry_of(item: Data) -> bool:
        return item.tag == axdr.STRUCTURE and len(item.value) >= 2 and _is_obis(item.value[0])

    if not any(_is_obis(i) or entry_of(i) for i in items):
        if body.tag == axdr.STRUCTURE and len(items) in KAIFA_POSITIONAL_LISTS:
            obis_codes = KAIFA_POSITIONAL_LISTS[len(items)]
            values = [
                _make_value(pos, code, item, None, True)
                for pos, (code, item) in enumerate(zip(obis_codes, items, strict=True))
            ]
            _apply_implied(values, "kaifa")
            return DecodedList(values, [], "kaifa")
        return DecodedList([], [axdr.to_python(i) for i in items], None)
    index = 0
    while index < len(items):
        item = items[index]
        if entry_of(item):
            parts = item.value
            scaler_unit = parts[2] if len(parts) > 2 and _is_scaler_unit(parts[2]) else None
            values.append(_make_value(len(values), obis_iec(parts[0].value), parts[1], scaler_unit, False))
            index += 1
        elif _is_obis(item) and index + 1 < len(items):
            follower = items[index + 2] if index + 2 < len(items) else None
            scaler_unit = follower if _is_scaler_unit(follower) else None
            values.append(
                _make_value(len(values), obis_iec(item.value), items[index + 1], scaler_unit, False)
            )
            index += 3 if scaler_unit is not None else 2
        else:
            if item.tag != axdr.NULL:
                unlabelled.append(
                    _render(item, None)[2] if item.tag != axdr.STRUCTURE else axdr.to_python(item)
                )
            index += 1
    vendor = _vendor_from(values, unlabelled)
    _apply_implied(values, vendor)
    return DecodedList(values, unlabelled, vendor)
