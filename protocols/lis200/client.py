"""The ``generic_lis200`` driver: single values, archives and the clock of LIS-200 devices.

Built on the IEC 62056-21 session (sign-on, programming mode, R1/W1/R3 with BCC, NAK repeats,
deadlines). What differs from a plain IEC meter:

- The device sends ``P0`` after the programming option select but wants no ``P1``: access rights
  are locks, opened by writing the lock's code (the supplier lock, ``3:171.0`` on EK2xx devices).
  We open it only for writes and only when a password is configured.
- R1 carries a parameter: ``2:300.0(1)`` asks for one value.
- Archives come in several blocks; a connection lost part way returns the rows of the blocks that
  arrived complete (BCC checked) and says what happened in ``ReadResult.error``.
- Series names: a single value keeps the address the caller asked for (``2.300``), as the meter
  config names it; archive columns are ``lis200:<archive>:<column>`` (1-based column numbers).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta, tzinfo

from protocols.errors import AuthenticationFailed, ProtocolError
from protocols.iec62056_21.client import DEFAULT_MESSAGE_TIMEOUT, Message, Session, as_tzinfo
from protocols.iec62056_21.codec import command_frame
from protocols.results import Reading, ReadResult
from protocols.transport import Transport

from .codec import Lis200Address, archive_request, error_code, format_time, parse_rows, parse_time

DEFAULT_CLOCK_ADDRESS = "1:400.0"
DEFAULT_LOCK_ADDRESS = "3:171.0"


def _as_datetime(value: datetime | str) -> datetime:
    """Task kwargs arrive as JSON: accept ISO 8601 text; naive means UTC (the platform's time)."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


class Lis200Client:
    """Reads and writes one LIS-200 device over a transport (one session per call)."""

    def __init__(
        self,
        transport: Transport,
        *,
        device_address: str = "",
        password: str | None = None,
        timezone: str | tzinfo | None = None,
        initial_baudrate: int = 300,
        max_baudrate: int | None = None,
        timeout: float = DEFAULT_MESSAGE_TIMEOUT,
        retries: int = 3,
        clock_address: str = DEFAULT_CLOCK_ADDRESS,
        lock_address: str = DEFAULT_LOCK_ADDRESS,
    ) -> None:
        self.transport = transport
        self.device_address = device_address
        self.password = password
        self.tz = as_tzinfo(timezone)
        self.initial_baudrate = initial_baudrate
        self.max_baudrate = max_baudrate
        self.timeout = timeout
        self.retries = retries
        self.clock_address = Lis200Address.parse(clock_address)
        self.lock_address = Lis200Address.parse(lock_address)

    @contextmanager
    def session(self) -> Iterator[Session]:
        session = Session(
            self.transport,
            device_address=self.device_address,
            initial_baudrate=self.initial_baudrate,
            max_baudrate=self.max_baudrate,
            timeout=self.timeout,
            retries=self.retries,
        )
        self.transport.open()
        try:
            session.enter_programming(None, send_password=False)
            yield session
        finally:
            self.transport.close()

    @staticmethod
    def _info(session: Session) -> dict[str, object]:
        ident = session.identification
        return {"identification": ident.to_dict() if ident else None, "operand": session.operand}

    def read_single_value(self, address: str) -> ReadResult:
        """R1 ``instance:address.attribute(1)``; a number becomes a reading, text goes to ``info``."""
        target = Lis200Address.parse(address)
        with self.session() as session:
            dataset = session.read_register(target.wire, "1")
            info = self._info(session)
            session.end()
        value = dataset.value
        info.update({"address": target.wire, "value": value.text, "unit": value.unit})
        readings = []
        if value.number is not None:
            extra = {"address": target.wire, "text": value.text}
            readings.append(Reading(address, value.number, value.unit or "", None, extra))
        return ReadResult(readings=readings, info=info)

    def read_archive_by_date(
        self,
        start_date: datetime | str,
        end_date: datetime | str | None = None,
        *,
        archive_number: int,
        control_position: int,
    ) -> ReadResult:
        """Rows whose control-position column lies between the dates (``end_date`` None: up to now)."""
        start = format_time(_as_datetime(start_date), self.tz)
        end = format_time(_as_datetime(end_date), self.tz) if end_date is not None else ""
        address, parameter = archive_request(archive_number, control_position, start, end)
        result = ReadResult(info={"archive_number": archive_number, "from": start, "to": end or None})
        rows: list[tuple] = []
        with self.session() as session:
            result.info.update(self._info(session))
            try:
                message = session.exchange(command_frame("R3", f"{address}({parameter})"))
                code = self._refused(message)
                if code is not None:
                    result.error = f"archive {archive_number}: device answered {code}"
                    session.end()
                    return result
                rows.extend(parse_rows(message.payload))
                while message.end != 0x03:
                    message = session.next_block()
                    rows.extend(parse_rows(message.payload))
                session.end()
            except ProtocolError as exc:
                result.error = f"archive {archive_number} read stopped after {len(rows)} rows: {exc.reason}"
        result.readings, skipped = self._row_readings(rows, archive_number, control_position)
        result.info["rows"] = len(rows)
        if skipped:
            result.info["rows_without_time"] = skipped
        return result

    def read_archive_by_offset_seconds(
        self, offset_seconds: int, *, archive_number: int, control_position: int
    ) -> ReadResult:
        """The rows of the last ``offset_seconds`` up to now."""
        start = datetime.now(UTC) - timedelta(seconds=int(offset_seconds))
        return self.read_archive_by_date(
            start, None, archive_number=archive_number, control_position=control_position
        )

    def set_time(self) -> ReadResult:
        """Write the device clock from ours (opening the supplier lock first when we have its code)."""
        with self.session() as session:
            info = self._info(session)
            before = session.read_register(self.clock_address.wire, "1").value.text
            meter_time = parse_time(before, self.tz)
            if self.password is not None:
                try:
                    session.write_register(self.lock_address.wire, self.password)
                except ProtocolError as exc:
                    raise AuthenticationFailed(f"supplier lock refused the code: {exc.reason}") from exc
            now = datetime.now(UTC).replace(microsecond=0)
            session.write_register(self.clock_address.wire, format_time(now, self.tz))
            session.end()
        info.update(
            {
                "meter_time": meter_time,
                "system_time": now,
                "drift_seconds": (meter_time - now).total_seconds(),
                "time_set": True,
            }
        )
        return ReadResult(info=info)

    @staticmethod
    def _refused(message: Message) -> str | None:
        if message.kind != "block":
            return message.kind
        return error_code(message.payload)

    def _row_readings(
        self, rows: list[tuple], archive_number: int, control_position: int
    ) -> tuple[list[Reading], int]:
        readings: list[Reading] = []
        skipped = 0
        for row in rows:
            if len(row) < control_position:
                skipped += 1
                continue
            try:
                timestamp = parse_time(row[control_position - 1].text, self.tz)
            except ProtocolError:
                skipped += 1
                continue
            for column, value in enumerate(row, start=1):
                number = value.number
                if column == control_position or number is None:
                    continue
                series = f"lis200:{archive_number}:{column}"
                extra = {"archive": archive_number, "column": column, "text": value.text}
                readings.append(Reading(series, number, value.unit or "", timestamp, extra))
        return readings, skipped
