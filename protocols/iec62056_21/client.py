"""IEC 62056-21 mode C client: data readout, programming-mode register reads and clock setting.

A session goes: sign-on ``/?<address>!`` at the initial rate (300 Bd on an optical head), the meter's
identification, our option select ``ACK 0 Z Y`` (``Y`` 0 = readout, 1 = programming), then both
sides switch to the rate of ``Z``. In programming mode the meter sends ``P0`` with an operand, we
answer ``P1`` with the password, and ``R1``/``W1`` read and write one register each until ``B0``
ends the session.

Decisions worth knowing:

- Every driver call is one session: the transport is opened, the meter signed on, and the
  transport closed again whatever happens. A meter holds no state between calls we could rely on.
- Every read has a deadline (``timeout`` per message); a silent meter raises :class:`NoAnswer`.
- Half-duplex heads echo what we send; an echo of the bytes we just wrote is dropped before the
  answer is read, so the same client works with and without echo.
- A block whose BCC does not match is answered with NAK (the meter repeats it), a command the
  meter answers with NAK is sent again; both at most ``retries`` times, then the call fails.
  A BCC error is line noise, so the resulting :class:`FrameError` is marked worth a retry.
- A refused password (``B0``, an ``(ERROR)`` answer, or NAK after every retry) raises
  :class:`AuthenticationFailed`: retrying with the same password only risks locking the meter.
- Meter times are local to the meter: the ``timezone`` given (the meter config's zone, often an
  ``Etc/GMT-1`` style zone without DST) converts them to aware UTC datetimes.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo

from protocols.errors import AuthenticationFailed, FrameError, NoAnswer, ProtocolError
from protocols.results import Reading, ReadResult
from protocols.transport import Transport

from .codec import (
    ACK,
    EOT,
    ETX,
    MODE_C_BAUDRATES,
    NAK,
    SOH,
    STX,
    ChecksumVerdict,
    DataSet,
    Identification,
    bcc,
    command_frame,
    option_select,
    parse_datasets,
    parse_identification,
    sign_on_request,
)

DEFAULT_MESSAGE_TIMEOUT = 5.0
READOUT = "0"
PROGRAMMING = "1"


def as_tzinfo(timezone: str | tzinfo | None) -> tzinfo:
    """``"Etc/GMT-1"`` or a tzinfo -> tzinfo; ``None`` means the meter keeps UTC."""
    if timezone is None:
        return UTC
    if isinstance(timezone, str):
        return ZoneInfo(timezone)
    return timezone


@dataclass(frozen=True)
class Message:
    """One thing the meter sent: ``ack``, ``nak``, or a block (``SOH`` command or ``STX`` answer)."""

    kind: str  # "ack" | "nak" | "block"
    command: str | None = None  # "P0", "B0"... for SOH blocks
    payload: bytes = b""  # between STX (or the command) and ETX/EOT
    end: int = ETX  # ETX for the last block, EOT when more blocks follow

    @property
    def is_error(self) -> bool:
        """An ``(ERROR...)``/``(#...)`` answer: the meter refused or does not know the address."""
        text = self.payload.decode("latin-1").strip()
        return text.startswith("(ER") or text.startswith("(#") or "(#" in text[:40]

    @property
    def text(self) -> str:
        return self.payload.decode("latin-1")


class BadBlock(FrameError):
    """A block arrived complete but its BCC did not match: ask the meter to repeat it."""

    permanent = False


class Link:
    """Message-level reads over a :class:`Transport`, with deadlines and echo suppression."""

    def __init__(self, transport: Transport, timeout: float) -> None:
        self.transport = transport
        self.timeout = timeout
        self._buffer = bytearray()
        self._echo = b""

    def send(self, data: bytes) -> None:
        self.transport.write(data)
        self._echo = data

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnswer("timed out waiting for the meter")
        self._buffer += self.transport.read_some(timeout=remaining)

    def _ready(self, deadline: float) -> None:
        """Wait until there is at least one byte that is not the echo of what we sent."""
        while True:
            if self._echo:
                n = min(len(self._echo), len(self._buffer))
                if n and self._buffer[:n] == self._echo[:n]:
                    if n == len(self._echo):
                        del self._buffer[:n]
                        self._echo = b""
                        continue
                elif n:
                    self._echo = b""
            if self._buffer and not self._echo:
                return
            self._fill(deadline)

    def read_identification(self) -> Identification:
        deadline = time.monotonic() + self.timeout
        while True:
            self._ready(deadline)
            slash = self._buffer.find(b"/")
            if slash < 0:
                self._buffer.clear()  # idle noise before the identification
                self._fill(deadline)
                continue
            newline = self._buffer.find(b"\n", slash)
            if newline < 0:
                self._fill(deadline)
                continue
            line = bytes(self._buffer[slash:newline]).rstrip(b"\r")
            del self._buffer[: newline + 1]
            if line.startswith(b"/?"):
                continue  # our sign-on echoed by another device on the bus
            return parse_identification(line)

    def read_message(self, timeout: float | None = None) -> Message:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            self._ready(deadline)
            first = self._buffer[0]
            if first == ACK:
                del self._buffer[:1]
                return Message("ack")
            if first == NAK:
                del self._buffer[:1]
                return Message("nak")
            if first in (SOH, STX):
                break
            del self._buffer[:1]  # idle bytes (0x7F, CR, LF) between messages
        while True:
            stops = [i for i in (self._buffer.find(ETX, 1), self._buffer.find(EOT, 1)) if i >= 0]
            if stops and min(stops) + 1 < len(self._buffer):
                break
            self._fill(deadline)
        stop = min(stops)
        frame = bytes(self._buffer[: stop + 2])
        del self._buffer[: stop + 2]
        verdict = ChecksumVerdict("BCC", frame[-1], bcc(frame[1:-1]))
        if not verdict.ok:
            raise BadBlock(verdict.reason)
        command = None
        payload = frame[1:-2]
        if first == SOH:
            command = payload[:2].decode("latin-1")
            stx = payload.find(STX)
            payload = payload[stx + 1 :] if stx >= 0 else b""
        return Message("block", command, payload, frame[-2])


class Session:
    """One signed-on conversation with a meter. Built by the clients; usable alone in tests."""

    def __init__(
        self,
        transport: Transport,
        *,
        device_address: str = "",
        initial_baudrate: int = 300,
        max_baudrate: int | None = None,
        timeout: float = DEFAULT_MESSAGE_TIMEOUT,
        retries: int = 3,
    ) -> None:
        self.transport = transport
        self.device_address = device_address
        self.initial_baudrate = initial_baudrate
        self.max_baudrate = max_baudrate
        self.retries = retries
        self.link = Link(transport, timeout)
        self.identification: Identification | None = None
        self.operand: str | None = None

    def sign_on(self, mode: str) -> Identification:
        """Sign on and select ``mode`` (READOUT or PROGRAMMING); switch to the agreed baud rate."""
        self.transport.set_baudrate(self.initial_baudrate)
        self.link.send(sign_on_request(self.device_address))
        identification = self.link.read_identification()
        self.identification = identification
        if identification.baudrate is None:
            raise ProtocolError(
                f"meter offers baud character {identification.baud_char!r}, which is not mode C"
            )
        baud_char = identification.baud_char
        if self.max_baudrate is not None:
            allowed = [
                c for c, rate in MODE_C_BAUDRATES.items() if rate <= self.max_baudrate and c <= baud_char
            ]
            baud_char = max(allowed) if allowed else "0"
        self.link.send(option_select(baud_char, mode))
        self.transport.set_baudrate(MODE_C_BAUDRATES[baud_char])
        return identification

    def read_readout(self) -> tuple[list[DataSet], Message]:
        """After a READOUT sign-on: the data block, parsed. A bad BCC is not repeated in mode C."""
        message = self.link.read_message()
        if message.kind != "block" or message.command is not None:
            raise FrameError(
                f"expected the readout block, got {message.kind} {message.command or ''}".strip()
            )
        datasets, _noise, _end = parse_datasets(message.payload)
        return datasets, message

    def exchange(self, frame: bytes) -> Message:
        """Send a command and return the answer, repeating on NAK and asking again on a bad BCC."""
        self.link.send(frame)
        naks_received = 0
        bad_blocks = 0
        while True:
            try:
                message = self.link.read_message()
            except BadBlock:
                bad_blocks += 1
                if bad_blocks > self.retries:
                    raise
                self.link.send(bytes([NAK]))
                continue
            if message.kind == "nak":
                naks_received += 1
                if naks_received > self.retries:
                    raise ProtocolError(f"meter answered NAK {naks_received} times", permanent=False)
                self.link.send(frame)
                continue
            return message

    def next_block(self) -> Message:
        """After an EOT-terminated block: ACK asks for the next one (bad BCC -> NAK, repeated)."""
        return self.exchange(bytes([ACK]))

    def enter_programming(self, password: str | None, *, send_password: bool = True) -> None:
        """Sign on in programming mode and answer the meter's P0 with our password (P1)."""
        self.sign_on(PROGRAMMING)
        message = self._read_with_nak()
        if message.kind != "block" or message.command != "P0":
            raise ProtocolError(f"expected P0 after the programming option select, got {message.kind}")
        self.operand = message.text.strip().removeprefix("(").removesuffix(")")
        if not send_password:
            return
        if password is None:
            raise AuthenticationFailed("the meter asks for a password and none is configured")
        try:
            answer = self.exchange(command_frame("P1", f"({password})"))
        except ProtocolError as exc:
            if "NAK" in exc.reason:
                raise AuthenticationFailed(f"password refused: {exc.reason}") from exc
            raise
        if answer.kind == "ack":
            return
        if answer.command == "B0":
            raise AuthenticationFailed("password refused: the meter ended the session (B0)")
        raise AuthenticationFailed(f"password refused: {answer.text or answer.kind}")

    def _read_with_nak(self) -> Message:
        for attempt in range(self.retries + 1):
            try:
                return self.link.read_message()
            except BadBlock:
                if attempt == self.retries:
                    raise
                self.link.send(bytes([NAK]))
        raise AssertionError("unreachable")

    def read_register(self, address: str, parameter: str = "") -> DataSet:
        """R1 ``address(parameter)``. The answer's address may be omitted by the meter."""
        answer = self.exchange(command_frame("R1", f"{address}({parameter})"))
        if answer.kind != "block":
            raise ProtocolError(f"R1 {address}: meter answered {answer.kind}")
        if answer.is_error:
            raise ProtocolError(f"R1 {address}: meter answered {answer.text.strip()}")
        datasets, _noise, _end = parse_datasets(answer.payload)
        if not datasets:
            raise FrameError(f"R1 {address}: answer carries no value: {answer.text!r}")
        found = datasets[0]
        return DataSet(found.address or address, found.values)

    def write_register(self, address: str, value: str) -> None:
        """W1 ``address(value)``; the meter acknowledges with ACK."""
        answer = self.exchange(command_frame("W1", f"{address}({value})"))
        if answer.kind == "ack":
            return
        detail = answer.text.strip() if answer.kind == "block" else answer.kind
        raise ProtocolError(f"W1 {address}: meter answered {detail}")

    def end(self) -> None:
        """B0: the meter drops back to idle. Best effort: the session is over either way."""
        try:
            self.link.send(command_frame("B0"))
        except ProtocolError:
            pass


def dataset_readings(datasets: Iterable[DataSet], timestamp: datetime | None = None) -> list[Reading]:
    """Numeric data sets -> readings named by OBIS (normalised) or by the address as sent."""
    readings = []
    for ds in datasets:
        number = ds.value.number
        if number is None:
            continue
        extra: dict[str, object] = {"address": ds.address, "text": ds.value.text}
        if len(ds.values) > 1:
            extra["more_values"] = [{"value": v.text, "unit": v.unit} for v in ds.values[1:]]
        readings.append(Reading(ds.obis or ds.address, number, ds.value.unit or "", timestamp, extra))
    return readings


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def format_like(template: str, digits: str) -> str:
    """Put ``digits`` into the last digit positions of ``template`` (keeps the meter's separators).

    ``("17-03-18", "230101")`` -> ``"23-01-01"``, ``("0170318", "230101")`` -> ``"0230101"``.
    """
    chars = list(template)
    positions = [i for i, ch in enumerate(chars) if ch.isdigit()][-len(digits) :]
    if len(positions) < len(digits):
        return digits
    for i, digit in zip(positions, digits, strict=True):
        chars[i] = digit
    return "".join(chars)


class Iec6205621Client:
    """The ``generic_iec6205621`` driver: readout, register reads and clock setting over one transport."""

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
        time_address: str = "0.9.1",
        date_address: str = "0.9.2",
    ) -> None:
        self.transport = transport
        self.device_address = device_address
        self.password = password
        self.tz = as_tzinfo(timezone)
        self.initial_baudrate = initial_baudrate
        self.max_baudrate = max_baudrate
        self.timeout = timeout
        self.retries = retries
        self.time_address = time_address
        self.date_address = date_address

    @contextmanager
    def session(self) -> Iterator[Session]:
        """Open the transport for one session and close it whatever happens."""
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
            yield session
        finally:
            self.transport.close()

    def _info(self, session: Session) -> dict[str, object]:
        ident = session.identification
        return {"identification": ident.to_dict() if ident else None}

    def readout(self) -> ReadResult:
        """Mode C data readout: every register the meter lists, numeric ones as readings."""
        with self.session() as session:
            session.sign_on(READOUT)
            datasets, _message = session.read_readout()
        result = ReadResult(readings=dataset_readings(datasets), info=self._info(session))
        result.info["values"] = [ds.to_dict() for ds in datasets]
        return result

    def read_registers(self, addresses: Iterable[str]) -> ReadResult:
        """Programming mode, one R1 per address. A register the meter refuses is reported in
        ``error`` and the others are still read; a lost connection keeps what was read before."""
        result = ReadResult()
        errors: list[str] = []
        datasets: list[DataSet] = []
        with self.session() as session:
            session.enter_programming(self.password)
            result.info = self._info(session)
            try:
                for address in addresses:
                    try:
                        datasets.append(session.read_register(address))
                    except (NoAnswer, BadBlock):
                        raise
                    except ProtocolError as exc:
                        if not exc.permanent:
                            raise
                        errors.append(exc.reason)
            except ProtocolError as exc:
                if not datasets:
                    raise
                errors.append(exc.reason)
            else:
                session.end()
        result.readings = dataset_readings(datasets)
        result.info["values"] = [ds.to_dict() for ds in datasets]
        result.error = "; ".join(errors) or None
        return result

    def _meter_now(self, session: Session) -> tuple[datetime, dict[str, str]]:
        time_ds = session.read_register(self.time_address)
        date_ds = session.read_register(self.date_address)
        time_digits = _digits(time_ds.value.text)[-6:]
        date_digits = _digits(date_ds.value.text)[-6:]
        if len(time_digits) != 6 or len(date_digits) != 6:
            raise FrameError(
                f"cannot read the meter clock from {date_ds.value.text!r} {time_ds.value.text!r}"
            )
        local = datetime.strptime(date_digits + time_digits, "%y%m%d%H%M%S")
        templates = {"time": time_ds.value.text, "date": date_ds.value.text}
        return local.replace(tzinfo=self.tz).astimezone(UTC), templates

    def set_time(self, allowed_drift_seconds: float = 0) -> ReadResult:
        """Read the meter clock; write it from ours when it is off by more than the allowed drift.

        Date and time are two registers, written date first: a write that straddles midnight
        could leave the meter a day off, so we refuse to write within two seconds of local midnight
        and report that instead (the next scheduled run corrects it).
        """
        with self.session() as session:
            session.enter_programming(self.password)
            meter_time, templates = self._meter_now(session)
            system_time = datetime.now(UTC).replace(microsecond=0)
            drift = (meter_time - system_time).total_seconds()
            info: dict[str, object] = {
                **self._info(session),
                "meter_time": meter_time,
                "system_time": system_time,
                "drift_seconds": drift,
                "allowed_drift_seconds": allowed_drift_seconds,
                "time_set": False,
            }
            error = None
            if abs(drift) > allowed_drift_seconds:
                local_now = datetime.now(UTC).astimezone(self.tz)
                seconds_to_midnight = 86400 - (
                    local_now.hour * 3600 + local_now.minute * 60 + local_now.second
                )
                if seconds_to_midnight <= 2:
                    error = "clock not set: too close to the meter's midnight"
                else:
                    session.write_register(
                        self.date_address, format_like(templates["date"], local_now.strftime("%y%m%d"))
                    )
                    session.write_register(
                        self.time_address, format_like(templates["time"], local_now.strftime("%H%M%S"))
                    )
                    info["time_set"] = True
                    info["new_time"] = local_now.astimezone(UTC).replace(microsecond=0)
            session.end()
        return ReadResult(info=info, error=error)
