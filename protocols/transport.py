"""Byte transports the drivers talk through: TCP (transparent modem, gateway) and serial ports.

Drivers only need "send these bytes" and "give me bytes until X, or fail after a timeout", plus a
baud-rate switch for protocols that change speed mid-session (IEC 62056-21 mode C). Keeping the
interface this small lets every driver run unchanged over TCP, a serial port, or a test pipe, and
makes every read bounded in time: a meter that stops answering raises :class:`NoAnswer`, it never
hangs a worker.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Protocol

from .errors import NoAnswer, TransportUnavailable

DEFAULT_TIMEOUT = 10.0


class Transport(Protocol):
    """What a driver needs from a byte stream."""

    timeout: float

    def open(self) -> None: ...

    def close(self) -> None: ...

    def write(self, data: bytes) -> None: ...

    def read(self, size: int, timeout: float | None = None) -> bytes:
        """Read exactly ``size`` bytes or raise :class:`NoAnswer`."""
        ...

    def read_some(self, timeout: float | None = None) -> bytes:
        """Read whatever is available (at least one byte) or raise :class:`NoAnswer`."""
        ...

    def read_until(self, terminator: bytes, timeout: float | None = None, max_size: int = 65536) -> bytes:
        """Read up to and including ``terminator`` or raise :class:`NoAnswer`."""
        ...

    def unread(self, data: bytes) -> None: ...

    def set_baudrate(self, baudrate: int) -> None: ...


class _BufferedReads:
    """read/read_until on top of a ``_recv`` primitive; shared by the concrete transports."""

    timeout: float
    _buffer: bytearray

    def _recv(self, deadline: float) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def read(self, size: int, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while len(self._buffer) < size:
            self._buffer += self._recv(deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def read_some(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        if not self._buffer:
            self._buffer += self._recv(deadline)
        data = bytes(self._buffer)
        self._buffer.clear()
        return data

    def read_until(self, terminator: bytes, timeout: float | None = None, max_size: int = 65536) -> bytes:
        """Read up to and including ``terminator``."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while True:
            index = self._buffer.find(terminator)
            if index >= 0:
                end = index + len(terminator)
                data = bytes(self._buffer[:end])
                del self._buffer[:end]
                return data
            if len(self._buffer) > max_size:
                raise NoAnswer(f"no {terminator!r} within {max_size} bytes")
            self._buffer += self._recv(deadline)

    def unread(self, data: bytes) -> None:
        """Put bytes back in front of the buffer (for parsers that peek)."""
        self._buffer[:0] = data


@dataclass
class TcpTransport(_BufferedReads):
    """A TCP connection, e.g. to a transparent modem or an M-Bus/serial gateway."""

    host: str
    port: int
    timeout: float = DEFAULT_TIMEOUT
    connect_timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        self._sock: socket.socket | None = None
        self._buffer = bytearray()

    def open(self) -> None:
        try:
            self._sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
        except OSError as exc:
            raise TransportUnavailable(f"cannot connect to {self.host}:{self.port}: {exc}") from exc
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def close(self) -> None:
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None
        self._buffer.clear()

    def write(self, data: bytes) -> None:
        if self._sock is None:
            raise TransportUnavailable("transport is not open")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            raise NoAnswer(f"connection lost while sending: {exc}") from exc

    def _recv(self, deadline: float) -> bytes:
        if self._sock is None:
            raise TransportUnavailable("transport is not open")
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NoAnswer("timed out waiting for the meter")
        self._sock.settimeout(remaining)
        try:
            chunk = self._sock.recv(4096)
        except TimeoutError as exc:
            raise NoAnswer("timed out waiting for the meter") from exc
        except OSError as exc:
            raise NoAnswer(f"connection lost: {exc}") from exc
        if not chunk:
            raise NoAnswer("connection closed by the peer")
        return chunk

    def set_baudrate(self, baudrate: int) -> None:
        """A TCP link has no baud rate; a transparent modem follows the meter by itself."""

    def __enter__(self) -> TcpTransport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class SerialTransport(_BufferedReads):
    """A local serial port (optical head, RS-485, M-Bus level converter) through pyserial."""

    port: str
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout: float = DEFAULT_TIMEOUT

    def __post_init__(self) -> None:
        self._serial = None
        self._buffer = bytearray()

    def open(self) -> None:
        import serial  # pyserial; imported lazily so protocol code loads without it

        try:
            self._serial = serial.serial_for_url(
                self.port,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                timeout=0.05,
            )
        except (serial.SerialException, ValueError) as exc:
            raise TransportUnavailable(f"cannot open serial port {self.port}: {exc}") from exc

    def close(self) -> None:
        if self._serial is not None:
            try:
                self._serial.close()
            finally:
                self._serial = None
        self._buffer.clear()

    def write(self, data: bytes) -> None:
        import serial

        if self._serial is None:
            raise TransportUnavailable("transport is not open")
        try:
            self._serial.write(data)
            self._serial.flush()
        except (serial.SerialException, OSError) as exc:
            raise TransportUnavailable(f"serial port {self.port} failed: {exc}") from exc

    def _recv(self, deadline: float) -> bytes:
        import serial

        if self._serial is None:
            raise TransportUnavailable("transport is not open")
        while True:
            try:
                chunk = self._serial.read(max(1, self._serial.in_waiting))
            except (serial.SerialException, OSError) as exc:
                raise TransportUnavailable(f"serial port {self.port} failed: {exc}") from exc
            if chunk:
                return chunk
            if time.monotonic() >= deadline:
                raise NoAnswer("timed out waiting for the meter")

    def set_baudrate(self, baudrate: int) -> None:
        self.baudrate = baudrate
        if self._serial is not None:
            self._serial.baudrate = baudrate

    def __enter__(self) -> SerialTransport:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_transport(
    *,
    host: str | None = None,
    port: int | None = None,
    serial_port: str | None = None,
    baudrate: int = 9600,
    bytesize: int = 8,
    parity: str = "N",
    stopbits: float = 1,
    timeout: float = DEFAULT_TIMEOUT,
) -> Transport:
    """Build (not open) the transport a meter's settings describe: serial wins when given."""
    if serial_port:
        return SerialTransport(
            serial_port,
            baudrate=baudrate,
            bytesize=bytesize,
            parity=parity,
            stopbits=stopbits,
            timeout=timeout,
        )
    if host and port:
        return TcpTransport(host, int(port), timeout=timeout)
    raise TransportUnavailable("the meter has neither a network address nor a serial port")
