"""A Corus volume corrector on 127.0.0.1 that answers what the ``iflag`` library sends, byte for byte.

Built from the library's session code (its client is the specification we can test against):

1. wake-up: a run of NUL bytes; we answer three NULs once twelve have arrived (the library sends 200)
2. sign-on ``/?!\\r\\n`` -> an identification line ``/...\\r\\n``
3. the library's acknowledgement ``06 '076' \\r\\n`` -> a 6-byte password message, which the client
   echoes -> ``06``. The real password message is not public; ours is a stand-in, which is harmless
   because the library echoes whatever it receives.
4. then any number of read (``01 BF``), write (``01 FF``) and database (``01 BE``) requests, until
   the break ``01 'B0' 03 crc`` or the connection closes.

Parameters are held as encoded bytes per id (tests encode them with the library's own data
classes), so the simulator needs no knowledge of firmware maps. The clock parameter is live: it
reads as the simulator's clock plus an offset, and a write moves the offset. Database records are
``(meter-local datetime, record bytes)``; a request returns those between its stop (oldest) and
start (newest) dates, newest first, cut into frames of ``frame_data_size`` bytes so multi-frame
answers with ACKs between them are exercised.

Faults: ``corrupt_next_crc`` (the next answer frame goes out with a wrong CRC: a NAK gets it resent
intact for databases; parameter reads see the error), ``silent`` (accepts, never answers),
``refuse_writes`` (answers writes with NAK).
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from iflag import utils as iflag_utils

ACK, NAK = b"\x06", b"\x15"
DB_IDS = {0: "interval", 1: "hourly", 2: "daily", 3: "monthly"}


class _Closed(Exception):
    pass


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def setup(self) -> None:
        self.buffer = bytearray()
        self.request.settimeout(self.server.owner.idle_timeout)

    def _fill(self) -> None:
        try:
            chunk = self.request.recv(4096)
        except OSError as exc:
            raise _Closed from exc
        if not chunk:
            raise _Closed
        self.buffer += chunk

    def read(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data

    def read_until(self, terminator: bytes) -> bytes:
        while (index := self.buffer.find(terminator)) < 0:
            self._fill()
        data = bytes(self.buffer[: index + len(terminator)])
        del self.buffer[: index + len(terminator)]
        return data

    def send(self, data: bytes) -> None:
        self.request.sendall(data)

    def handle(self) -> None:
        owner = self.server.owner
        try:
            if owner.silent:
                while True:
                    self._fill()
            self._sign_on(owner)
            while True:
                self._serve_request(owner)
        except _Closed:
            return

    def _sign_on(self, owner: CorusSimulator) -> None:
        nulls = 0
        while nulls < 12:
            if self.read(1) == b"\x00":
                nulls += 1
        self.send(b"\x00\x00\x00")
        # Skip the rest of the wake-up NULs, then expect the sign-on.
        while True:
            byte = self.read(1)
            if byte != b"\x00":
                break
        line = byte + self.read_until(b"\n")
        if not line.startswith(b"/?") or not line.endswith(b"!\r\n"):
            raise _Closed
        self.send(b"/" + owner.identification.encode("latin-1") + b"\r\n")
        self.read_until(b"\n")  # ACK '0' baud mode CR LF
        self.send(owner.password_message)
        if self.read(len(owner.password_message)) != owner.password_message:
            self.send(NAK)
            raise _Closed
        self.send(ACK)

    def _frame(self, owner: CorusSimulator, data: bytes) -> bytes:
        frame = iflag_utils.add_crc(b"\x01" + bytes([len(data)]) + data + b"\x03")
        if owner.corrupt_next_crc:
            owner.corrupt_next_crc = False
            frame = frame[:-2] + bytes([frame[-2] ^ 0xFF]) + frame[-1:]
        return frame

    def _serve_request(self, owner: CorusSimulator) -> None:
        head = self.read(2)
        if head[0:1] != b"\x01":
            raise _Closed
        if head[1:2] == b"B":
            self.read(4)  # '0' ETX crc
            raise _Closed
        length = self.read(1)[0]
        data = self.read(length)
        tail = self.read(3)
        message = head + bytes([length]) + data + tail[:1]
        if tail[:1] != b"\x03" or iflag_utils.crc16(message) != tail[1:]:
            self.send(NAK)
            return
        owner.requests.append(head[1])
        if head[1] == 0xBF:
            self.send(self._frame(owner, b"".join(owner.parameter_bytes(i) for i in _ids(data))))
        elif head[1] == 0xFF:
            self.send(NAK if owner.refuse_writes or not owner.write(data) else ACK)
        elif head[1] == 0xBE:
            self._send_database(owner, data)
        else:
            self.send(NAK)

    def _send_database(self, owner: CorusSimulator, data: bytes) -> None:
        database = DB_IDS.get(data[0] & 0x0F)
        start = _date(data[5:9])  # newest wanted
        stop = _date(data[9:13])  # oldest wanted
        records = [
            record
            for stamp, record in sorted(
                owner.databases.get(database or "", []), key=lambda r: r[0], reverse=True
            )
            if (start is None or stamp <= start) and (stop is None or stamp >= stop)
        ]
        if not records:
            self.send(self._frame(owner, (0x8000).to_bytes(2, "little") + b"\x00"))
            return
        payload = b"".join(records)
        size = owner.frame_data_size
        chunks = [payload[i : i + size] for i in range(0, len(payload), size)]
        for number, chunk in enumerate(chunks):
            last = number == len(chunks) - 1
            header = (number | (0x8000 if last else 0)).to_bytes(2, "little")
            body = header + (bytes([len(records[0])]) if number == 0 else b"") + chunk
            while True:
                self.send(self._frame(owner, body))
                if last:
                    return
                answer = self.read(1)
                if answer == ACK:
                    break
                if answer != NAK:
                    raise _Closed


def _ids(data: bytes) -> list[int]:
    ids, i = [], 0
    while i < len(data):
        if data[i] >= 0xF0:
            ids.append(int.from_bytes(data[i : i + 2], "big") & 0x0FFF)
            i += 2
        else:
            ids.append(data[i])
            i += 1
    return ids


def _date(raw: bytes) -> datetime | None:
    return None if raw == b"\x00\x00\x00\x00" else iflag_utils.byte_to_date(raw)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: CorusSimulator


class CorusSimulator:
    """``start()`` returns the port; ``stop()`` ends it. Usable as a context manager."""

    def __init__(
        self,
        parameters: Mapping[int, bytes] | None = None,
        databases: Mapping[str, list[tuple[datetime, bytes]]] | None = None,
        *,
        clock_parameter_id: int = 106,
        clock: Callable[[], datetime] | None = None,
        clock_offset: timedelta = timedelta(0),
        identification: str = "ITRON CORUS SIM",
        password_message: bytes = b"\x01PASS\x03",
        frame_data_size: int = 64,
        host: str = "127.0.0.1",
        idle_timeout: float = 10.0,
    ) -> None:
        if not 4 <= frame_data_size <= 250:
            raise ValueError("frame_data_size must be 4..250")
        if len(password_message) != 6:
            raise ValueError("the library reads exactly 6 password bytes")
        self.parameters = dict(parameters or {})
        self.databases = {name: list(records) for name, records in (databases or {}).items()}
        self.clock_parameter_id = clock_parameter_id
        self.clock = clock or datetime.now
        self.clock_offset = clock_offset
        self.identification = identification
        self.password_message = password_message
        self.frame_data_size = frame_data_size
        self.host = host
        self.idle_timeout = idle_timeout
        self.corrupt_next_crc = False
        self.silent = False
        self.refuse_writes = False
        self.requests: list[int] = []
        self.written: list[tuple[int, bytes]] = []
        self.port = 0
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def meter_time(self) -> datetime:
        return (self.clock() + self.clock_offset).replace(microsecond=0)

    def parameter_bytes(self, parameter_id: int) -> bytes:
        if parameter_id == self.clock_parameter_id:
            return iflag_utils.date_to_byte(self.meter_time())
        # An unknown id answers "no value" (all ones) the way the library expects for missing data.
        return self.parameters.get(parameter_id, b"\xff" * 4)

    def write(self, data: bytes) -> bool:
        """Apply a write request's (id, data) pairs; False (-> NAK) when an id is unknown."""
        i = 0
        while i < len(data):
            if data[i] >= 0xF0:
                parameter_id, i = int.from_bytes(data[i : i + 2], "big") & 0x0FFF, i + 2
            else:
                parameter_id, i = data[i], i + 1
            if parameter_id == self.clock_parameter_id:
                size = 4
            elif parameter_id in self.parameters:
                size = len(self.parameters[parameter_id])
            else:
                return False
            value = data[i : i + size]
            if len(value) != size:
                return False
            i += size
            self.written.append((parameter_id, value))
            if parameter_id == self.clock_parameter_id:
                self.clock_offset = iflag_utils.byte_to_date(value) - self.clock().replace(microsecond=0)
            else:
                self.parameters[parameter_id] = value
        return True

    def start(self) -> int:
        if self._server is not None:
            return self.port
        server = _Server((self.host, 0), _Handler)
        server.owner = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self.port

    def stop(self) -> None:
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5)
        self._server = self._thread = None

    def __enter__(self) -> CorusSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port() -> int:
    """A loopback port that nothing listens on (for "connection refused" tests)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
