"""``generic_lis200``: LIS-200 volume correctors (Elster EK2xx, DL2xx) over IEC 62056-21 flow.

The meter's ``iec62056_21_address`` is the device address of the sign-on, its
``iec62056_21_password`` the supplier lock's code (only used by ``set_time``), and its device
config's time zone how the device keeps time.
"""

from __future__ import annotations

from protocols.results import ReadResult

from .base import Call, ExecutionEnvironment, Kwarg, as_datetime

_ARCHIVE = (
    Kwarg("archive_number", "int", minimum=1, help="archive (1..n) to read"),
    Kwarg("control_position", "int", minimum=1, help="1-based column holding the row's timestamp"),
)


class Lis200Environment(ExecutionEnvironment):
    name = "generic_lis200"
    description = "LIS-200 devices: single values, archives by date or age, clock setting."
    calls = (
        Call("read_single_value", (Kwarg("address", "str", help="object address, e.g. 2:300.0 or 2.300"),)),
        Call(
            "read_archive_by_date",
            (
                Kwarg("start_date", "datetime", help="oldest row (ISO 8601; naive means UTC)"),
                Kwarg("end_date", "datetime", required=False, help="newest row; omitted: up to now"),
                *_ARCHIVE,
            ),
        ),
        Call(
            "read_archive_by_offset_seconds",
            (Kwarg("offset_seconds", "int", minimum=1, help="rows of the last N seconds"), *_ARCHIVE),
        ),
        Call("set_time", (), help="write the device clock from the server's"),
    )

    def _client(self):
        from protocols.lis200.client import Lis200Client

        return Lis200Client(
            self.meter.transport(),
            device_address=self.meter.iec62056_21_address or "",
            password=self.meter.iec62056_21_password,
            timezone=self.meter.timezone,
            timeout=self.meter.timeout,
        )

    def read_single_value(self, *, address: str) -> ReadResult:
        return self._client().read_single_value(address)

    def read_archive_by_date(
        self, *, start_date: str, archive_number: int, control_position: int, end_date: str | None = None
    ) -> ReadResult:
        return self._client().read_archive_by_date(
            as_datetime(start_date),
            as_datetime(end_date),
            archive_number=archive_number,
            control_position=control_position,
        )

    def read_archive_by_offset_seconds(
        self, *, offset_seconds: int, archive_number: int, control_position: int
    ) -> ReadResult:
        return self._client().read_archive_by_offset_seconds(
            offset_seconds, archive_number=archive_number, control_position=control_position
        )

    def set_time(self) -> ReadResult:
        return self._client().set_time()
