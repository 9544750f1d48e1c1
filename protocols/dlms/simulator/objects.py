"""The simulated meter's COSEM objects: what a small polyphase electricity meter exposes.

| OBIS            | class                     | what                                                    |
| --------------- | ------------------------- | ------------------------------------------------------- |
| 0-0:40.0.0.255  | 15 association LN         | method 1 reply_to_HLS_authentication (HLS-GMAC pass 3-4) |
| 0-0:1.0.0.255   | 8 clock                   | attr 2 time (settable), 3 time zone                      |
| 0-0:96.1.0.255  | 1 data                    | meter serial number                                      |
| 1-0:1.8.0.255   | 3 register                | active energy import, uint32, scaler 1, Wh               |
| 1-0:2.8.0.255   | 3 register                | active energy export, uint32, scaler 0, Wh               |
| 1-0:32.7.0.255  | 3 register                | voltage L1, uint16, scaler -1, V                         |
| 1-0:31.7.0.255  | 3 register                | current L1, int32, scaler -2, A                          |
| 1-0:99.1.0.255  | 7 profile generic         | load profile, 96 rows of 15 min, selective access 1 and 2 |
| 0-0:99.98.0.255 | 7 profile generic         | standard event log (clock, event code)                   |
| 0-0:96.3.10.255 | 70 disconnect control     | methods 1 remote_disconnect, 2 remote_reconnect          |
| 0-0:128.0.1.255 | 105 (HAN bind, our own)   | method 1 bind {mac(8), install code}, 2 unbind mac(8)     |

The HAN bind object is our own convention: C = 128 is in the manufacturer-specific range of
abstract objects, and its methods take the HAN device's MAC address (EUI-64) and install code so
a ZigBee/Wi-SUN in-home display can be joined. Real meters name this differently; the client takes
the OBIS, class and method numbers as parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from .. import apdu, axdr
from ..axdr import CosemDateTime, Data
from ..obis import parse_obis
from ..profile import CaptureObject, rows_from_buffer

ASSOCIATION_LN = parse_obis("0-0:40.0.0.255")
CLOCK = parse_obis("0-0:1.0.0.255")
LOAD_PROFILE = parse_obis("1-0:99.1.0.255")
EVENT_LOG = parse_obis("0-0:99.98.0.255")
DISCONNECT_CONTROL = parse_obis("0-0:96.3.10.255")
HAN_BIND = parse_obis("0-0:128.0.1.255")
HAN_BIND_CLASS = 105
EVENT_CODE = parse_obis("0-0:96.11.0.255")

Getter = Callable[[Data | None, int | None], Data | int]


@dataclass
class CosemObject:
    class_id: int
    logical_name: bytes
    attributes: dict[int, Getter] = field(default_factory=dict)
    setters: dict[int, Callable[[Data], int]] = field(default_factory=dict)
    methods: dict[int, Callable[[Data | None], tuple[int, Data | None]]] = field(default_factory=dict)


def _constant(value: Data) -> Getter:
    return lambda _params, _selector: value


class MeterModel:
    """State and objects of one simulated meter (shared by all connections)."""

    def __init__(self, *, utc_offset_minutes: int = 60, start: datetime | None = None) -> None:
        self.zone = timezone(timedelta(minutes=utc_offset_minutes))
        self.clock_skew = timedelta(0)  # meter time = real time + skew
        self.relay_connected = True
        self.han_devices: dict[bytes, bytes] = {}
        self.objects: dict[tuple[int, bytes], CosemObject] = {}
        base = start or datetime(2024, 3, 1, tzinfo=self.zone)
        self.profile_start = base
        self._build(base)

    # -- helpers ---------------------------------------------------------------------------------

    def now(self) -> datetime:
        return datetime.now(self.zone) + self.clock_skew

    def _add(self, obj: CosemObject) -> CosemObject:
        obj.attributes.setdefault(1, _constant(axdr.octets(obj.logical_name)))
        self.objects[(obj.class_id, obj.logical_name)] = obj
        return obj

    def _register(self, obis: str, value: Data, scaler: int, unit: int) -> None:
        attrs = {2: _constant(value), 3: _constant(axdr.structure(axdr.int8(scaler), axdr.enum(unit)))}
        self._add(CosemObject(3, parse_obis(obis), attrs))

    def _build(self, base: datetime) -> None:
        self._add(CosemObject(15, ASSOCIATION_LN))  # methods filled per session
        self._add(
            CosemObject(
                8,
                CLOCK,
                {
                    2: lambda _p, _s: axdr.date_time_octets(
                        CosemDateTime.from_datetime(self.now(), clock_status=0)
                    ),
                    3: _constant(Data(axdr.INT16, -int(self.zone.utcoffset(None).total_seconds() // 60))),
                },
                {2: self._set_clock},
            )
        )
        self._add(CosemObject(1, parse_obis("0-0:96.1.0.255"), {2: _constant(axdr.octets(b"UTL0000001"))}))
        self._register("1-0:1.8.0.255", axdr.uint32(1234567), 1, 30)
        self._register("1-0:2.8.0.255", axdr.uint32(89), 0, 30)
        self._register("1-0:32.7.0.255", axdr.uint16(2301), -1, 35)
        self._register("1-0:31.7.0.255", Data(axdr.INT32, -7), -2, 33)
        self._build_load_profile(base)
        self._build_event_log(base)
        self._add(
            CosemObject(
                70,
                DISCONNECT_CONTROL,
                {
                    2: lambda _p, _s: Data(axdr.BOOLEAN, self.relay_connected),
                    3: lambda _p, _s: axdr.enum(1 if self.relay_connected else 0),
                    4: _constant(axdr.enum(1)),
                },
                methods={1: lambda _p: self._relay(False), 2: lambda _p: self._relay(True)},
            )
        )
        self._add(
            CosemObject(
                HAN_BIND_CLASS,
                HAN_BIND,
                {2: lambda _p, _s: axdr.array([axdr.octets(mac) for mac in self.han_devices])},
                methods={1: self._han_bind, 2: self._han_unbind},
            )
        )

    def _build_load_profile(self, base: datetime) -> None:
        columns = [
            CaptureObject(8, CLOCK, 2),
            CaptureObject(1, parse_obis("0-0:96.10.1.255"), 2),
            CaptureObject(3, parse_obis("1-0:1.8.0.255"), 2),
            CaptureObject(3, parse_obis("1-0:32.7.0.255"), 2),
        ]
        rows = []
        for index in range(96):
            stamp = base + timedelta(minutes=15 * (index + 1))
            status = 0x80 if index == 10 else 0x00  # one row flagged (power down) for the tests
            rows.append(
                axdr.structure(
                    axdr.date_time_octets(CosemDateTime.from_datetime(stamp, clock_status=0)),
                    axdr.uint8(status),
                    axdr.uint32(1_000_000 + 25 * index),
                    axdr.uint16(2300 + index % 7),
                )
            )
        self._profile(LOAD_PROFILE, columns, rows, 900)

    def _build_event_log(self, base: datetime) -> None:
        columns = [CaptureObject(8, CLOCK, 2), CaptureObject(1, EVENT_CODE, 2)]
        events = [(2, 1), (30, 2), (61, 47), (300, 48), (1439, 23)]  # (minutes after base, code)
        rows = [
            axdr.structure(
                axdr.date_time_octets(
                    CosemDateTime.from_datetime(base + timedelta(minutes=m), clock_status=0)
                ),
                axdr.uint16(code),
            )
            for m, code in events
        ]
        self._profile(EVENT_LOG, columns, rows, 0)

    def _profile(self, name: bytes, columns: list[CaptureObject], rows: list[Data], period: int) -> None:
        capture = axdr.array([c.to_data() for c in columns])

        def buffer(params: Data | None, selector: int | None) -> Data | int:
            if selector is None:
                return axdr.array(rows)
            if selector == 1 and params is not None:
                low = axdr.CosemDateTime.from_bytes(params.value[1].value).to_datetime(self.zone)
                high = axdr.CosemDateTime.from_bytes(params.value[2].value).to_datetime(self.zone)
                stamps = rows_from_buffer(axdr.array(rows), columns, period, self.zone)
                return axdr.array(
                    [row for row, r in zip(rows, stamps, strict=True) if low <= r.timestamp <= high]
                )
            if selector == 2 and params is not None:
                first, last = params.value[0].value, params.value[1].value
                return axdr.array(rows[first - 1 : (last or len(rows))])
            return apdu.OTHER_REASON

        self._add(
            CosemObject(
                7,
                name,
                {
                    2: buffer,
                    3: _constant(capture),
                    4: _constant(axdr.uint32(period)),
                    7: _constant(axdr.uint32(len(rows))),
                    8: _constant(axdr.uint32(len(rows))),
                },
            )
        )

    # -- behaviour -------------------------------------------------------------------------------

    def _set_clock(self, value: Data) -> int:
        if value.tag != axdr.OCTET_STRING or len(value.value) != 12:
            return apdu.TYPE_UNMATCHED
        wanted = CosemDateTime.from_bytes(value.value).to_datetime(self.zone)
        if wanted is None:
            return apdu.OTHER_REASON
        self.clock_skew = wanted - datetime.now(self.zone)
        return apdu.SUCCESS

    def _relay(self, connect: bool) -> tuple[int, Data | None]:
        self.relay_connected = connect
        return apdu.SUCCESS, None

    def _han_bind(self, params: Data | None) -> tuple[int, Data | None]:
        if params is None or params.tag != axdr.STRUCTURE or len(params.value) != 2:
            return apdu.TYPE_UNMATCHED, None
        mac, code = (p.value for p in params.value)
        if not isinstance(mac, bytes) or len(mac) != 8 or not isinstance(code, bytes):
            return apdu.TYPE_UNMATCHED, None
        self.han_devices[mac] = code
        return apdu.SUCCESS, None

    def _han_unbind(self, params: Data | None) -> tuple[int, Data | None]:
        if params is None or params.tag != axdr.OCTET_STRING or len(params.value) != 8:
            return apdu.TYPE_UNMATCHED, None
        if params.value not in self.han_devices:
            return apdu.OBJECT_UNAVAILABLE, None
        del self.han_devices[params.value]
        return apdu.SUCCESS, None
