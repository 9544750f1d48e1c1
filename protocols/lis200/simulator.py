"""A simulated LIS-200 volume corrector (EK280-like) on a loopback TCP port.

It reuses the IEC 62056-21 simulator's sockets, framing and faults, and answers as a LIS-200
device: P0 without a password challenge, ``instance:address.attribute`` objects read with R1, a
clock at ``1:400`` that can only be written with the supplier lock (``3:171``) open, and archives
read with R3 by a date range on a control-position column, sent ``rows_per_block`` rows per block.
``faults.close_after_blocks`` drops the connection part way through an archive answer.

The generated archive is an hourly interval archive: columns are (1) global ordinal number,
(2) archive ordinal number, (3) time stamp, (4) Vb standard volume counter in m3, (5) Vm volume at
measurement conditions in m3, (6) pressure in bar, (7) temperature in degrees C, (8) status.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from protocols.iec62056_21.codec import format_dataset
from protocols.iec62056_21.simulator import MeterSimulator

from .codec import TIME_FORMAT, Lis200Address

DEFAULT_LIS200_REGISTERS: dict[str, tuple[str, str | None]] = {
    "2:300.0": ("0012345.6789", "m3"),
    "2:301.0": ("0000012.3456", "m3"),
    "4:300.0": ("0011000.1234", "m3"),
    "6:310.0": ("1.01325", "bar"),
    "5:310.0": ("15.23", "°C"),
    "1:180.0": ("12345678", None),
    "2:190.0": ("EK280", None),
}


def hourly_archive(rows: int, *, end: datetime | None = None) -> list[list[tuple[str, str | None]]]:
    """``rows`` hourly rows ending at the last full hour before ``end`` (device local, naive)."""
    end = (end or datetime.now(UTC).replace(tzinfo=None)).replace(minute=0, second=0, microsecond=0)
    first = end - timedelta(hours=rows - 1)
    vb, vm = Decimal("10000.0000"), Decimal("9500.0000")
    archive = []
    for i in range(rows):
        stamp = first + timedelta(hours=i)
        vb += Decimal("1.2500") + Decimal(i % 7) / 100
        vm += Decimal("1.1800") + Decimal(i % 5) / 100
        archive.append(
            [
                (str(5000 + i), None),
                (str(100 + i), None),
                (stamp.strftime(TIME_FORMAT), None),
                (f"{vb:012.4f}", "m3"),
                (f"{vm:012.4f}", "m3"),
                (f"{Decimal('1.01') + Decimal(i % 3) / 100:.4f}", "bar"),
                (f"{Decimal('12.50') + Decimal(i % 10) / 10:.2f}", "°C"),
                ("0", None),
            ]
        )
    return archive


@dataclass
class Lis200Simulator(MeterSimulator):
    manufacturer: str = "ELS"
    baud_char: str = "6"
    identification: str = "EK280_V2.50"
    password: str = "12345"  # the supplier lock's code
    send_password_prompt: bool = False
    registers: dict[str, tuple[str, str | None]] = field(
        default_factory=lambda: dict(DEFAULT_LIS200_REGISTERS)
    )
    archives: dict[int, list[list[tuple[str, str | None]]]] = field(default_factory=dict)
    rows_per_block: int = 25
    clock_address: str = "1:400.0"
    lock_address: str = "3:171.0"

    def __post_init__(self) -> None:
        super().__post_init__()
        self.lock_open = False
        if not self.archives:
            self.archives = {3: hourly_archive(300, end=self.meter_local_time().replace(tzinfo=None))}

    def _key(self, address: str) -> str | None:
        try:
            return Lis200Address.parse(address).wire
        except ValueError:
            return None

    def read_register(self, address: str, parameter: str) -> str | None:
        key = self._key(address)
        if key == self.clock_address:
            return format_dataset("", (self.meter_local_time().strftime(TIME_FORMAT), None))
        if key == self.lock_address:
            return format_dataset("", ("1" if self.lock_open else "0", None))
        if key in self.registers:
            return format_dataset("", self.registers[key])
        return "(#0002)"  # unknown object

    def write_register(self, address: str, value: str) -> bool | str:
        key = self._key(address)
        if key == self.lock_address:
            self.lock_open = value == self.password
            return True if self.lock_open else "(#0004)"
        if key == self.clock_address:
            if not self.lock_open:
                return "(#0004)"  # access denied: the lock is closed
            self.set_meter_local_time(datetime.strptime(value, TIME_FORMAT))
            return True
        return "(#0004)"

    def read_blocks(self, command: str, address: str, parameter: str) -> list[str] | None:
        """R3 ``<n>:V.0(<position>;<from>;<to>;1)``."""
        if not address.upper().endswith(":V.0"):
            return None
        archive = self.archives.get(int(address.split(":")[0]))
        parts = parameter.split(";")
        if archive is None or len(parts) < 3:
            return ["(#0002)"]
        position = int(parts[0])
        start, end = parts[1], parts[2]
        selected = [
            row
            for row in archive
            if (not start or row[position - 1][0] >= start) and (not end or row[position - 1][0] <= end)
        ]
        if not selected:
            return ["(#0013)"]  # no rows in the range
        lines = ["".join(f"({v}*{u})" if u else f"({v})" for v, u in row) + "\r\n" for row in selected]
        size = self.rows_per_block
        return ["".join(lines[i : i + size]) for i in range(0, len(lines), size)]
