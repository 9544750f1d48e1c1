"""A simulated IEC 62056-21 mode C meter on a loopback TCP port, for tests, the demo and benchmarks.

It speaks the protocol byte for byte as a meter behind a transparent modem would: identification,
data readout of a configurable register set, programming mode with a password, R1/W1 with a clock
(registers 0.9.1 time and 0.9.2 date in the meter's local time), and B0. Faults can be switched on
while it runs, so tests exercise the client's error paths against real sockets:

- ``silent``: never answer (the client must time out);
- ``bad_bcc``: the next N blocks go out with a wrong BCC (``-1``: all of them);
- ``nak``: the next N commands are answered with NAK;
- ``wrong_password``: refuse every password;
- ``close_after_bytes``: close the socket after sending that many bytes of the next answer;
- ``close_after_blocks``: close the socket after that many blocks of a multi-block answer.

``baud_latency=True`` delays what it sends by 10 bit times per byte at the current rate (300 Bd
for the identification, the agreed rate after the option select), so the benchmark measures what
a real 9600 Bd meter would cost.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo

from .client import as_tzinfo
from .codec import (
    ACK,
    EOT,
    ETX,
    MODE_C_BAUDRATES,
    NAK,
    SOH,
    STX,
    bcc,
    command_frame,
    data_block,
    format_dataset,
    parse_datasets,
)

DEFAULT_REGISTERS: dict[str, tuple[str, str | None]] = {
    "0.0.0": ("12345678", None),
    "1.8.0": ("001846.0", "kWh"),
    "1.8.1": ("001200.5", "kWh"),
    "1.8.2": ("000645.5", "kWh"),
    "2.8.0": ("004329.6", "kWh"),
    "1.7.0": ("00.490", "kW"),
    "32.7.0": ("230.1", "V"),
    "31.7.0": ("002.30", "A"),
    "C.1.0": ("63355730", None),
    "F.F": ("00000000", None),
}


class _Closed(Exception):
    """The client went away (or a fault closed the socket): end this connection's thread."""


@dataclass
class Faults:
    silent: bool = False
    bad_bcc: int = 0
    nak: int = 0
    wrong_password: bool = False
    close_after_bytes: int | None = None
    close_after_blocks: int | None = None


@dataclass
class MeterSimulator:
    """A threaded mode C meter. ``start()`` returns the port; ``stop()`` ends every connection."""

    manufacturer: str = "UTL"
    baud_char: str = "5"
    identification: str = "SIM1000"
    device_address: str = ""
    password: str = "00000000"
    operand: str = "12345678"
    registers: Mapping[str, tuple[str, str | None]] = field(default_factory=lambda: dict(DEFAULT_REGISTERS))
    timezone: str | tzinfo | None = None
    clock_offset: float = 0.0
    baud_latency: bool = False
    send_password_prompt: bool = True
    faults: Faults = field(default_factory=Faults)

    def __post_init__(self) -> None:
        self.registers = dict(self.registers)
        self.tz = as_tzinfo(self.timezone)
        self._server: socketserver.ThreadingTCPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._lock = threading.Lock()
        self.received: list[bytes] = []  # every frame received, for assertions
        self.port: int | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def start(self) -> int:
        simulator = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                simulator._serve(self.request)

        class Server(socketserver.ThreadingTCPServer):
            daemon_threads = True
            allow_reuse_address = True

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="iec-sim", daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        with self._lock:
            for conn in list(self._connections):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self._connections.clear()
        self._server = None

    def __enter__(self) -> MeterSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- the clock ----------------------------------------------------------------------------

    def meter_time(self) -> datetime:
        """The meter's clock as aware UTC."""
        return datetime.now(UTC) + timedelta(seconds=self.clock_offset)

    def meter_local_time(self) -> datetime:
        return self.meter_time().astimezone(self.tz)

    def set_meter_local_time(self, local: datetime) -> None:
        aware = local.replace(tzinfo=self.tz) if local.tzinfo is None else local
        self.clock_offset = (aware - datetime.now(UTC)).total_seconds()

    # --- connection handling ------------------------------------------------------------------

    def _serve(self, conn: socket.socket) -> None:
        with self._lock:
            self._connections.add(conn)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        state = _Connection(self, conn)
        try:
            while True:
                state.serve_session()
        except (_Closed, OSError):
            pass
        finally:
            with self._lock:
                self._connections.discard(conn)
            try:
                conn.close()
            except OSError:
                pass

    def take_fault(self, name: str) -> bool:
        """Consume one occurrence of a counted fault (``-1`` never runs out)."""
        with self._lock:
            count = getattr(self.faults, name)
            if count == 0:
                return False
            if count > 0:
                setattr(self.faults, name, count - 1)
            return True

    # --- what a meter answers; overridden by the LIS-200 simulator -----------------------------

    def identification_line(self) -> bytes:
        return f"/{self.manufacturer}{self.baud_char}{self.identification}\r\n".encode("latin-1")

    def readout_text(self) -> str:
        lines = [format_dataset(address, value) for address, value in self.registers.items()]
        return "\r\n".join(lines) + "\r\n!\r\n"

    def read_register(self, address: str, parameter: str) -> str | None:
        """The payload of an R1 answer, or ``None`` for "no such register"."""
        local = self.meter_local_time()
        if address == "0.9.1":
            return format_dataset(address, (local.strftime("%H:%M:%S"), None))
        if address == "0.9.2":
            return format_dataset(address, (local.strftime("%y-%m-%d"), None))
        if address in self.registers:
            return format_dataset(address, self.registers[address])
        return None

    def write_register(self, address: str, value: str) -> bool | str:
        """True to acknowledge, False for ``(ERROR)``, or the error payload to answer with."""
        local = self.meter_local_time().replace(tzinfo=None)
        digits = "".join(ch for ch in value if ch.isdigit())
        if address == "0.9.1" and len(digits) >= 6:
            hh, mm, ss = int(digits[-6:-4]), int(digits[-4:-2]), int(digits[-2:])
            self.set_meter_local_time(local.replace(hour=hh, minute=mm, second=ss))
            return True
        if address == "0.9.2" and len(digits) >= 6:
            yy, mo, dd = int(digits[-6:-4]), int(digits[-4:-2]), int(digits[-2:])
            self.set_meter_local_time(local.replace(year=2000 + yy, month=mo, day=dd))
            return True
        if address in self.registers:
            self.registers[address] = (value, self.registers[address][1])
            return True
        return False

    def read_blocks(self, command: str, address: str, parameter: str) -> list[str] | None:
        """Multi-block answers (LIS-200 R3); plain IEC meters have none."""
        return None


class _Connection:
    """Per-connection protocol state: what was signed on, at which rate, with which access."""

    def __init__(self, sim: MeterSimulator, conn: socket.socket) -> None:
        self.sim = sim
        self.conn = conn
        self.buffer = bytearray()
        self.baudrate = 300
        self.authorised = False
        self.sent_in_answer = 0
        self.pending_blocks: list[str] = []
        self.blocks_sent = 0

    # raw I/O --------------------------------------------------------------------------------

    def _recv(self) -> None:
        chunk = self.conn.recv(4096)
        if not chunk:
            raise _Closed()
        self.buffer += chunk

    def read_until(self, terminator: bytes) -> bytes:
        while (index := self.buffer.find(terminator)) < 0:
            self._recv()
        data = bytes(self.buffer[: index + len(terminator)])
        del self.buffer[: index + len(terminator)]
        return data

    def read_exact(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._recv()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def send(self, data: bytes) -> None:
        sim = self.sim
        if sim.faults.silent:
            return
        limit = sim.faults.close_after_bytes
        if limit is not None:
            room = limit - self.sent_in_answer
            if room < len(data):
                self._transmit(data[: max(room, 0)])
                sim.faults.close_after_bytes = None
                self.conn.shutdown(socket.SHUT_RDWR)
                raise _Closed()
        self.sent_in_answer += len(data)
        self._transmit(data)

    def _transmit(self, data: bytes) -> None:
        if self.sim.baud_latency and data:
            time.sleep(len(data) * 10 / self.baudrate)
        self.conn.sendall(data)

    def send_answer(self, frame: bytes) -> bytes:
        """Send an answer (data blocks may get a corrupted BCC); return it for a NAK repeat."""
        if frame[:1] == bytes([STX]) and self.sim.take_fault("bad_bcc"):
            self.send(frame[:-1] + bytes([frame[-1] ^ 0x5A]))
        else:
            self.send(frame)
        return frame

    # protocol -------------------------------------------------------------------------------

    def read_frame(self) -> bytes:
        """A programming-mode message from the client: ACK or NAK alone, or ``SOH ... ETX|EOT BCC``."""
        while not self.buffer:
            self._recv()
        first = self.buffer[0]
        if first in (ACK, NAK):
            return self.read_exact(1)
            return self.read_exact(1)
        if first == SOH:
            while True:
                stops = [i for i in (self.buffer.find(ETX), self.buffer.find(EOT)) if i >= 0]
                if stops and min(stops) + 1 < len(self.buffer):
                    return self.read_exact(min(stops) + 2)
                self._recv()
        if first == ord("/"):
            return self.read_until(b"!\r\n")
        del self.buffer[:1]  # line noise
        return b""

    def serve_session(self) -> None:
        sim = self.sim
        self.baudrate = 300
        self.authorised = False
        self.sent_in_answer = 0
        request = self.read_until(b"!\r\n")
        start = request.rfind(b"/?")
        address = request[start + 2 : -3].decode("latin-1") if start >= 0 else ""
        sim.received.append(request)
        if address and sim.device_address and address != sim.device_address:
            return  # not for us: a meter on a shared bus stays quiet
        self.send(sim.identification_line())
        option = self.read_until(b"\r\n")  # ACK V Z Y CR LF
        sim.received.append(option)
        if len(option) != 6 or option[0] != ACK:
            return
        baud_char, mode = chr(option[2]), chr(option[3])
        self.baudrate = MODE_C_BAUDRATES.get(baud_char, 300)
        self.sent_in_answer = 0
        if mode == "0":
            self.send_answer(data_block(sim.readout_text()))
            return
        if mode != "1":
            return
        # A meter that needs no password (LIS-200: locks are opened by writing them) still sends P0.
        self.authorised = not sim.send_password_prompt
        last_answer = self.send_answer(command_frame("P0", f"({sim.operand})"))
        while True:
            frame = self.read_frame()
            if not frame:
                continue
            sim.received.append(frame)
            self.sent_in_answer = 0
            if frame == bytes([NAK]):
                last_answer = self.send_answer(last_answer)  # the client asks for a repeat
                continue
            if frame[0] != SOH:
                if frame == bytes([ACK]) and self.pending_blocks:
                    last_answer = self._next_block()
                continue
            if bcc(frame[1:-1]) != frame[-1]:
                self.send(bytes([NAK]))
                continue
            command = frame[1:3].decode("latin-1")
            if command == "B0":
                return
            if sim.take_fault("nak"):
                self.send(bytes([NAK]))
                continue
            last_answer = self._answer(command, frame)

    def _next_block(self) -> bytes:
        limit = self.sim.faults.close_after_blocks
        if limit is not None and self.blocks_sent >= limit:
            self.sim.faults.close_after_blocks = None
            self.conn.shutdown(socket.SHUT_RDWR)
            raise _Closed()
        self.blocks_sent += 1
        payload = self.pending_blocks.pop(0)
        return self.send_answer(data_block(payload, end=EOT if self.pending_blocks else ETX))

    def _answer(self, command: str, frame: bytes) -> bytes:
        sim = self.sim
        stx = frame.find(STX)
        text = frame[stx + 1 : -2].decode("latin-1") if stx >= 0 else ""
        if command == "P1":
            given = text[1:-1] if text.startswith("(") and text.endswith(")") else text
            if sim.faults.wrong_password or given != sim.password:
                self.send(command_frame("B0"))
                raise _Closed()
            self.authorised = True
            return self.send_answer(bytes([ACK]))
        datasets, _noise, _end = parse_datasets(text.encode("latin-1"))
        address = datasets[0].address if datasets else text.split("(")[0]
        parameter = datasets[0].value.text if datasets else ""
        if not self.authorised and command in ("R1", "W1", "R3"):
            return self._reply("(ERROR)")
        if command == "R1":
            payload = sim.read_register(address, parameter)
            return self._reply(payload if payload is not None else "(ERROR)")
        if command == "W1":
            outcome = sim.write_register(address, parameter)
            if outcome is True:
                return self.send_answer(bytes([ACK]))
            return self._reply(outcome if isinstance(outcome, str) else "(ERROR)")
        if command == "R3":
            blocks = sim.read_blocks(command, address, parameter)
            if not blocks:
                return self._reply("(ERROR)")
            self.pending_blocks = list(blocks)
            self.blocks_sent = 0
            return self._next_block()
        return self._reply("(ERROR)")

    def _reply(self, payload: str) -> bytes:
        return self.send_answer(data_block(payload))
