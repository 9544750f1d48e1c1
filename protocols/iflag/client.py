"""Corus (I-FLAG) client for the ``generic_corus_meter`` execution environment, on the ``iflag`` library.

The library knows the session (wake-up, sign-on, break) and the frames; this module supplies what an
AMR job needs around it:

* **Our transports.** The library's own TCP transport returns short reads as if they were whole
  (``socket.recv(n)`` may return fewer than ``n`` bytes) and cannot use a serial port. We hand it an
  adapter over ``protocols.transport`` instead, which reads exactly ``n`` bytes or raises
  :class:`NoAnswer`, so a silent meter never hangs a worker.
* **Exact values.** Parameters and database fields are decoded with the exact data types of
  ``codec`` (the library's own go through floats; see there). The pulse weight that scales database
  volumes is read with the exact Float too and handed to the library, so it never reads it itself.
* **Time zones.** Corus dates carry no zone. ``timezone`` says how the meter keeps time (e.g.
  ``Etc/GMT-1`` for a meter on CET without DST); dates we send are converted into it and dates we
  receive are converted back to aware UTC.
* **Errors.** The library's CRC/structure errors become :class:`FrameError`, a NAK to a write
  becomes :class:`ProtocolError`; timeouts and refused connections come from our transport as
  :class:`NoAnswer`/:class:`TransportUnavailable`.

Every call is one session: open, wake up, sign on, do the work, break, close.

``read_database_by_date(database, start_date, end_date)``: ``start_date`` is the oldest and
``end_date`` the newest record wanted (the library's ``start``/``stop`` are the other way round,
because the meter reads its databases newest first). Either may be omitted.

Serial links: the library acknowledges the sign-on without switching baud rate, so a serial
transport stays at its configured speed; optical-head sessions that need a baud switch are not
handled here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from iflag import exceptions as iflag_exceptions
from iflag import utils as iflag_utils
from iflag.client import CorusClient
from iflag.data import DatabaseRecordParameter, Date, IFlagParameter
from iflag.messages import WriteData, WriteRequest
from iflag.transport import BaseTransport

from ..errors import FrameError, ProtocolError
from ..results import Reading, ReadResult
from ..transport import DEFAULT_TIMEOUT, Transport, open_transport
from .codec import data_class

log = logging.getLogger(__name__)

DATABASES = ("interval", "hourly", "daily", "monthly")
#: The response length byte caps one answer at 255 data bytes.
MAX_RESPONSE_BYTES = 255
#: Parameter ids on the common Corus parameter maps; configurable because firmware maps differ.
DEFAULT_PULSE_WEIGHT_ID = 1
DEFAULT_CLOCK_ID = 106


class _TransportAdapter(BaseTransport):
    """Lets the library talk through a ``protocols.transport.Transport``."""

    def __init__(self, transport: Transport) -> None:
        super().__init__(timeout=transport.timeout)
        self.inner = transport

    def connect(self) -> None:
        self.inner.open()

    def disconnect(self) -> None:
        self.inner.close()

    def _send(self, data: bytes) -> None:
        self.inner.write(data)

    def _recv(self, chars: int = 1) -> bytes:
        return self.inner.read(chars)


class _WriteData(WriteData):
    """The library drops the data of parameters with two-byte ids (>= 239); keep it."""

    def to_bytes(self) -> bytes:
        if self.id < 239:
            return self.id.to_bytes(1, "big") + self.data
        return (self.id | 0xF000).to_bytes(2, "big") + self.data


class _CorusClient(CorusClient):
    """The library's database reader appends a frame's data *before* checking its CRC, so a frame
    that is NAKed and resent lands twice: a shifted, garbled answer, or (when a frame holds whole
    records) silently duplicated records. This reader keeps a frame only once its CRC is good."""

    def _read_database_data(self) -> list[bytes]:
        data = b""
        record_size = 0
        expected_number = 0
        retries = 0
        while True:
            head = self.transport.recv(2)
            if head[:1] != b"\x01":
                raise iflag_exceptions.ProtocolError("first char is not SOH")
            body = self.transport.recv(head[1])
            tail = self.transport.recv(3)
            if tail[:1] != b"\x03":
                raise iflag_exceptions.ProtocolError("end char not ETX")
            if not iflag_utils.crc_valid(head + body + tail[:1], tail[1:]):
                if retries >= 3:
                    raise iflag_exceptions.CommunicationError("Maximum amounts of retries done. Aborting.")
                retries += 1
                self.transport.send(b"\x15")  # NAK: the meter sends the same frame again
                continue
            retries = 0
            number = int.from_bytes(body[:2], "little")
            if number & 0x7FFF != expected_number:
                raise iflag_exceptions.ProtocolError("Data frames not received in order")
            if expected_number == 0:
                record_size = body[2] if len(body) > 2 else 0
                if record_size == 0:
                    raise iflag_exceptions.ProtocolError("Empty response")
                data += body[3:]
            else:
                data += body[2:]
            if number & 0x8000:
                break
            self.transport.send(b"\x06")
            expected_number += 1
        if len(data) % record_size:
            raise iflag_exceptions.ProtocolError(
                f"{len(data)} bytes of records are not a whole number of {record_size}-byte records"
            )
        return [data[i : i + record_size] for i in range(0, len(data), record_size)]


@dataclass(frozen=True)
class Parameter:
    """A parameter to read: its id on the meter's parameter map and how it is encoded."""

    id: int
    data_type: str
    series: str = ""
    unit: str = ""

    @classmethod
    def from_any(cls, raw: Parameter | Mapping[str, Any]) -> Parameter:
        if isinstance(raw, Parameter):
            return raw
        try:
            parameter = cls(
                id=int(raw["id"]),
                data_type=str(raw["data_type"]),
                series=str(raw.get("series", "")),
                unit=str(raw.get("unit", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"parameter {raw!r} needs an integer 'id' and a 'data_type'") from exc
        data_class(parameter.data_type)
        if not 0 <= parameter.id <= 0x0FFF:
            raise ValueError(f"parameter id {parameter.id} is outside 0..4095")
        return parameter


@dataclass(frozen=True)
class RecordField:
    """One field of a database record, in the order the record holds them."""

    name: str
    data_type: str
    pulse_weighted: bool = False
    divisor: str | None = None
    unit: str = ""
    series: str = ""


@dataclass(frozen=True)
class DatabaseLayout:
    """Record layouts per database and record length (firmware dependent), JSON-serialisable:

    ``{"interval": {"52": {"timestamp_field": "end_date", "fields": [{"name": ..., "data_type": ...,
    "pulse_weighted": true, "divisor": "10", "unit": "m3"}]}}}``
    """

    layouts: dict[str, dict[int, tuple[str, tuple[RecordField, ...]]]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> DatabaseLayout:
        layouts: dict[str, dict[int, tuple[str, tuple[RecordField, ...]]]] = {}
        for database, by_length in raw.items():
            if database not in DATABASES:
                raise ValueError(f"unknown database {database!r} (one of {', '.join(DATABASES)})")
            layouts[database] = {}
            for length, spec in by_length.items():
                fields = tuple(RecordField(**f) for f in spec["fields"])
                for f in fields:
                    data_class(f.data_type)
                total = sum(data_class(f.data_type).LENGTH for f in fields)
                if total != int(length):
                    raise ValueError(f"{database} layout for {length}-byte records adds up to {total} bytes")
                timestamp_field = spec.get("timestamp_field", "end_date")
                if timestamp_field not in {f.name for f in fields}:
                    raise ValueError(f"{database}: timestamp field {timestamp_field!r} is not in the layout")
                layouts[database][int(length)] = (timestamp_field, fields)
        return cls(layouts)

    def library_config(self) -> dict[str, dict[int, list[DatabaseRecordParameter]]]:
        return {
            database: {
                length: [
                    DatabaseRecordParameter(
                        name=f.name,
                        data_class=data_class(f.data_type),
                        affected_by_pulse_input=f.pulse_weighted,
                        multiplied=Decimal(f.divisor) if f.divisor else None,
                    )
                    for f in fields
                ]
                for length, (_, fields) in by_length.items()
            }
            for database, by_length in self.layouts.items()
        }


def _aware(value: datetime | str | None, name: str) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        raise ValueError(f"{name} must carry a timezone")
    return value


class CorusMeter:
    """One Corus volume corrector. Give ``transport`` or the address to build one from."""

    def __init__(
        self,
        *,
        transport: Transport | None = None,
        host: str | None = None,
        port: int | None = None,
        serial_port: str | None = None,
        baudrate: int = 9600,
        timeout: float = DEFAULT_TIMEOUT,
        timezone: str = "UTC",
        database_layout: DatabaseLayout | Mapping[str, Any] | None = None,
        input_pulse_weight: Decimal | str | None = None,
        pulse_weight_parameter_id: int = DEFAULT_PULSE_WEIGHT_ID,
        clock_parameter_id: int = DEFAULT_CLOCK_ID,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.transport = transport or open_transport(
            host=host, port=port, serial_port=serial_port, baudrate=baudrate, timeout=timeout
        )
        self.zone = ZoneInfo(timezone)
        if database_layout is not None and not isinstance(database_layout, DatabaseLayout):
            database_layout = DatabaseLayout.from_dict(database_layout)
        self.database_layout = database_layout
        self.input_pulse_weight = Decimal(input_pulse_weight) if input_pulse_weight is not None else None
        self.pulse_weight_parameter_id = pulse_weight_parameter_id
        self.clock_parameter_id = clock_parameter_id
        self._now = now or (lambda: datetime.now(UTC))

    # -- plumbing -----------------------------------------------------------------------------

    def _to_meter(self, value: datetime) -> datetime:
        return value.astimezone(self.zone).replace(tzinfo=None)

    def _from_meter(self, value: datetime) -> datetime:
        return value.replace(tzinfo=self.zone).astimezone(UTC)

    def _session(self) -> CorusClient:
        client = _CorusClient(_TransportAdapter(self.transport))
        try:
            client.startup()
        except iflag_exceptions.CorusClientError as exc:
            self.transport.close()
            raise ProtocolError(f"sign-on failed: {exc}") from exc
        except BaseException:
            self.transport.close()
            raise
        return client

    def _end(self, client: CorusClient) -> None:
        try:
            client.shutdown()
        except Exception as exc:  # the break is a courtesy; the job's outcome does not depend on it
            log.debug("break not delivered: %s", exc)
        finally:
            self.transport.close()

    @staticmethod
    def _library_error(exc: iflag_exceptions.CorusClientError) -> ProtocolError:
        cause = exc.__cause__ or exc
        reason = str(cause) or type(cause).__name__
        if isinstance(cause, iflag_exceptions.ProtocolError | iflag_exceptions.CommunicationError):
            return FrameError(reason)
        return ProtocolError(reason)

    def _read(self, client: CorusClient, parameters: list[Parameter]) -> dict[int, Any]:
        """Read in as few requests as the 255-byte answer allows."""
        values: dict[int, Any] = {}
        batch: list[Parameter] = []
        size = 0
        for parameter in [*parameters, None]:
            length = data_class(parameter.data_type).LENGTH if parameter else 0
            if batch and (parameter is None or size + length > MAX_RESPONSE_BYTES):
                request = [IFlagParameter(id=p.id, data_class=data_class(p.data_type)) for p in batch]
                try:
                    values.update(client.read_parameters(request))
                except iflag_exceptions.CorusClientError as exc:
                    raise self._library_error(exc) from exc
                except ValueError as exc:  # answer of the wrong length
                    raise FrameError(str(exc)) from exc
                batch, size = [], 0
            if parameter is not None:
                batch.append(parameter)
                size += length
        return values

    # -- calls of the execution environment ---------------------------------------------------

    def read_parameters(self, parameters: Iterable[Parameter | Mapping[str, Any]]) -> ReadResult:
        """Read parameters; numbers become readings, texts and dates go to ``info["parameters"]``."""
        wanted = [Parameter.from_any(p) for p in parameters]
        if not wanted:
            raise ValueError("no parameters to read")
        client = self._session()
        try:
            values = self._read(client, wanted)
        finally:
            self._end(client)
        result = ReadResult()
        others: dict[str, Any] = {}
        for parameter in wanted:
            value = values.get(parameter.id)
            if value is None:
                others[str(parameter.id)] = None
            elif isinstance(value, Decimal | int) and not isinstance(value, bool):
                result.readings.append(
                    Reading(
                        series=parameter.series or f"corus.{parameter.id}",
                        value=Decimal(value),
                        unit=parameter.unit,
                        extra={"parameter_id": parameter.id},
                    )
                )
            elif isinstance(value, datetime):
                others[str(parameter.id)] = self._from_meter(value)
            else:
                others[str(parameter.id)] = value
        if others:
            result.info["parameters"] = others
        return result

    def read_database_by_date(
        self,
        database: str,
        start_date: datetime | str | None = None,
        end_date: datetime | str | None = None,
    ) -> ReadResult:
        """Records from ``start_date`` (oldest) to ``end_date`` (newest), as timestamped readings."""
        if database not in DATABASES:
            raise ValueError(f"unknown database {database!r} (one of {', '.join(DATABASES)})")
        if self.database_layout is None or database not in self.database_layout.layouts:
            raise ValueError(f"no record layout configured for the {database} database")
        oldest = _aware(start_date, "start_date")
        newest = _aware(end_date, "end_date")
        if oldest and newest and oldest > newest:
            raise ValueError("start_date is after end_date")
        client = self._session()
        try:
            pulse_weight = self.input_pulse_weight
            if pulse_weight is None:
                read = self._read(client, [Parameter(self.pulse_weight_parameter_id, "float")])
                pulse_weight = read.get(self.pulse_weight_parameter_id)
                if not pulse_weight:
                    raise ProtocolError("the meter reports no input pulse weight")
            try:
                records = client.read_database(
                    database,
                    start=self._to_meter(newest) if newest else None,
                    stop=self._to_meter(oldest) if oldest else None,
                    input_pulse_weight=pulse_weight,
                    database_layout=self.database_layout.library_config(),
                )
            except iflag_exceptions.CorusClientError as exc:
                cause = exc.__cause__
                # The library signals "no records in range" as a protocol error; it is not one.
                if isinstance(cause, iflag_exceptions.ProtocolError) and str(cause) == "Empty response":
                    records = []
                else:
                    raise self._library_error(exc) from exc
            except ValueError as exc:  # a record that does not fit the configured layout
                raise FrameError(str(exc)) from exc
        finally:
            self._end(client)
        return self._records_to_result(database, records, pulse_weight)

    def read_database_by_offset_seconds(self, offset_seconds: int, database: str) -> ReadResult:
        """Records of the last ``offset_seconds`` up to now."""
        if offset_seconds <= 0:
            raise ValueError("offset_seconds must be positive")
        now = self._now()
        return self.read_database_by_date(database, now - timedelta(seconds=offset_seconds), now)

    def _records_to_result(
        self, database: str, records: list[dict[str, Any]], pulse_weight: Decimal
    ) -> ReadResult:
        assert self.database_layout is not None
        result = ReadResult(
            info={"database": database, "records": len(records), "pulse_weight": pulse_weight}
        )
        layouts = self.database_layout.layouts[database]
        for record in records:
            names = set(record)
            timestamp_field, fields = next(
                (layout for layout in layouts.values() if names <= {f.name for f in layout[1]}),
                next(iter(layouts.values())),
            )
            stamp = record.get(timestamp_field)
            if not isinstance(stamp, datetime):
                result.info.setdefault("skipped", []).append(f"record without {timestamp_field}")
                continue
            timestamp = self._from_meter(stamp)
            extra = {
                f.name: record[f.name]
                for f in fields
                if f.name in record and f.data_type in ("byte", "string") and not f.series
            }
            for f in fields:
                value = record.get(f.name)
                if value is None or f.name == timestamp_field or f.data_type in ("date", "null2", "null4"):
                    continue
                if f.data_type in ("byte", "string") and not f.series:
                    continue
                result.readings.append(
                    Reading(
                        series=f.series or f"{database}.{f.name}",
                        value=Decimal(value),
                        unit=f.unit,
                        timestamp=timestamp,
                        extra={"database": database, **extra},
                    )
                )
        return result

    def set_time(self, allowed_drift_seconds: int = 0) -> ReadResult:
        """Read the meter's clock; write ours into it when it is off by more than the allowance."""
        if allowed_drift_seconds < 0:
            raise ValueError("allowed_drift_seconds must not be negative")
        client = self._session()
        try:
            meter_local = self._read(client, [Parameter(self.clock_parameter_id, "date")]).get(
                self.clock_parameter_id
            )
            if not isinstance(meter_local, datetime):
                raise ProtocolError(f"parameter {self.clock_parameter_id} is not a valid date")
            now = self._now()
            meter_time = self._from_meter(meter_local)
            drift = (meter_time - now).total_seconds()
            adjusted = abs(drift) > allowed_drift_seconds
            if adjusted:
                # Whole seconds only: the Corus date has no sub-second part.
                target = self._to_meter(self._now()).replace(microsecond=0)
                self._write(client, self.clock_parameter_id, Date(target).to_bytes())
        finally:
            self._end(client)
        return ReadResult(
            info={
                "meter_time": meter_time,
                "system_time": now,
                "drift_seconds": Decimal(str(round(drift, 3))),
                "allowed_drift_seconds": allowed_drift_seconds,
                "adjusted": adjusted,
            }
        )

    def _write(self, client: CorusClient, parameter_id: int, data: bytes) -> None:
        """The library's write sends a broken frame for two-byte ids; send our own through it."""
        message = WriteRequest(data=[_WriteData(id=parameter_id, data=data)])
        client.transport.send(message.to_bytes())
        answer = client.transport.recv(1)
        if answer != b"\x06":
            raise ProtocolError(
                f"the meter refused to write parameter {parameter_id} (answer {answer.hex()})"
            )
