"""``generic_iec6205621``: IEC 62056-21 (mode C) meters: data readout, register reads, clock.

The password of programming mode comes from the meter's security key collection
(``iec62056_21_password``); the device address from ``iec62056_21_address``.
"""

from __future__ import annotations

from protocols.results import ReadResult

from .base import Call, ExecutionEnvironment, Kwarg


class Iec6205621Environment(ExecutionEnvironment):
    name = "generic_iec6205621"
    description = "IEC 62056-21 mode C meters: readout, register reads and clock setting."
    calls = (
        Call("readout", (), help="mode C data readout: every register the meter lists"),
        Call(
            "read_registers",
            (Kwarg("addresses", "str_list", help='register addresses, e.g. ["1.8.0", "2.8.0"]'),),
            help="programming mode, one R1 per address (needs the meter's password)",
        ),
        Call(
            "set_time",
            (Kwarg("allowed_drift_seconds", "number", required=False, minimum=0),),
            help="set the meter clock when it is off by more than the allowed drift",
        ),
    )

    def _client(self):
        from protocols.iec62056_21.client import Iec6205621Client

        return Iec6205621Client(
            self.meter.transport(),
            device_address=self.meter.iec62056_21_address or "",
            password=self.meter.iec62056_21_password,
            timezone=self.meter.timezone,
            timeout=self.meter.timeout,
        )

    def readout(self) -> ReadResult:
        return self._client().readout()

    def read_registers(self, *, addresses: list[str]) -> ReadResult:
        return self._client().read_registers(addresses)

    def set_time(self, *, allowed_drift_seconds: float = 0) -> ReadResult:
        return self._client().set_time(float(allowed_drift_seconds))
