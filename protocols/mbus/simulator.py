"""An M-Bus segment behind a transparent TCP gateway, for tests, demos and benchmarks.

Each connection sees one shared bus of :class:`SimulatedSlave` objects that answer like real
slaves: E5 to SND_NKE and to a matching secondary selection, RSP_UD to REQ_UD2 (the next telegram
of their sequence when FCB toggled, the same one again when it did not), nothing to broadcasts.
When several slaves answer at once their frames are superimposed as on a real bus (a line is at
mark unless any slave sends a space, so bytes combine with AND): identical E5s survive, different
telegrams turn into garbage. That is how a wildcard scan discovers collisions.

Faults are injected per slave as a queue consumed one per request that addresses it: ``silent``
(no answer), ``bad_checksum``, ``garbled`` (random-looking bytes), ``close`` (drop the TCP
connection). ``baudrate`` emulates the wire's speed by waiting 11 bit times (8E1) per byte of request
and answer before answering, so benchmarks see realistic meter reading rates.

The telegrams served are real frames (e.g. from the corpus); the simulator only rewrites the address
field, the id when a slave is given its own, and the "more records follow" flag so a list of
telegrams forms a proper multi-telegram sequence.
"""

from __future__ import annotations

import logging
import random
import socket
import socketserver
import threading
import time
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from protocols.errors import FrameError

from . import codec

log = logging.getLogger(__name__)

BITS_PER_BYTE = 11  # start + 8 data + even parity + stop


def set_more_records_flag(frame: bytes, more: bool) -> bytes:
    """The same RSP_UD with the "more records follow" DIF (0x1F) set or cleared, checksum redone."""
    telegram = codec.decode_telegram(frame)
    data = telegram.frame.data
    if telegram.manufacturer_data is not None:
        cut = len(data) - len(telegram.manufacturer_data) - 1
        body, tail = data[:cut], data[cut + 1 :]
        data = body + bytes([0x1F if more else 0x0F]) + tail
    elif more:
        data = data + b"\x1f"
    f = telegram.frame
    assert f.control is not None and f.address is not None and f.ci is not None
    return codec.encode_long(f.control, f.address, f.ci, data)


@dataclass
class SimulatedSlave:
    """One slave: its telegram sequence (full long frames) and addresses."""

    telegrams: list[bytes]
    primary: int | None = None
    identification: str | None = None  # 8 BCD digits replacing the telegrams' own id
    chain: bool = True  # rewrite the 0x1F flags so the list is exactly one multi-telegram sequence
    faults: deque[str] = field(default_factory=deque)

    def __post_init__(self) -> None:
        if not self.telegrams:
            raise ValueError("a slave needs at least one telegram")
        frames = [bytes(t) for t in self.telegrams]
        if self.identification is not None:
            frames = [self._with_id(f, self.identification) for f in frames]
        if self.chain:
            # Even a lone telegram loses a captured 0x1F flag: its follow-ups were not captured.
            frames = [set_more_records_flag(f, i < len(frames) - 1) for i, f in enumerate(frames)]
        self.telegrams = frames
        header = codec.decode_telegram(frames[0]).header
        if header is None:
            raise ValueError("the first telegram must carry a slave header (CI 0x72)")
        self.header = header
        self.selected = False
        self.index = 0
        self.last_fcb: bool | None = None
        self.requests = 0
        self.fcb_seen: list[bool] = []

    @classmethod
    def from_hex_files(cls, paths: Iterable[str | Path], **kwargs: object) -> SimulatedSlave:
        frames = [codec.parse_hex(Path(p).read_text()) for p in paths]
        return cls(telegrams=frames, **kwargs)  # type: ignore[arg-type]

    @staticmethod
    def _with_id(frame: bytes, identification: str) -> bytes:
        parsed = codec.decode_frame(frame)
        if parsed.ci not in (codec.CI_VARIABLE,):
            raise ValueError("only CI 0x72 telegrams can be given another id")
        ident = bytes.fromhex(identification.rjust(8, "0"))[::-1]
        assert parsed.control is not None and parsed.address is not None
        return codec.encode_long(parsed.control, parsed.address, parsed.ci, ident + parsed.data[4:])

    def reset(self) -> None:
        self.index = 0
        self.last_fcb = None

    def next_response(self, fcb: bool | None) -> bytes:
        """The telegram for a REQ_UD2: a repeated FCB gets the last telegram again."""
        self.requests += 1
        if fcb is not None:
            self.fcb_seen.append(fcb)
            if self.last_fcb is not None and fcb != self.last_fcb:
                self.index = (self.index + 1) % len(self.telegrams)
            self.last_fcb = fcb
        return self.telegrams[self.index]


class _Bus:
    """The shared state of the segment; one lock serialises requests as a half-duplex bus does."""

    def __init__(self, slaves: Sequence[SimulatedSlave], baudrate: int | None, seed: int) -> None:
        self.slaves = list(slaves)
        self.baudrate = baudrate
        self.lock = threading.Lock()
        self.random = random.Random(seed)
        self.requests: list[bytes] = []

    def handle(self, request: bytes) -> bytes | None:
        """The bytes the bus carries back for one master frame (None: silence, b"close": hang up)."""
        try:
            frame = codec.decode_frame(request)
        except FrameError as exc:
            log.debug("simulator ignores a bad master frame: %s", exc.reason)
            return None
        self.requests.append(request)
        address = frame.address
        if address == codec.ADDRESS_BROADCAST:
            if frame.control == codec.SND_NKE:
                for slave in self.slaves:
                    slave.reset()
            return None
        if frame.kind == "long" and frame.ci == codec.CI_SELECT and address == codec.ADDRESS_SECONDARY:
            matching = []
            for slave in self.slaves:
                slave.selected = codec.secondary_matches(frame.data, slave.header)
                if slave.selected:
                    slave.reset()
                    matching.append(slave)
            return self._answers([(s, bytes([codec.ACK])) for s in matching])
        targets = self._addressed(address)
        if not targets:
            return None
        control = frame.control or 0
        if control == codec.SND_NKE:
            for slave in targets:
                slave.reset()
                if address == codec.ADDRESS_SECONDARY:
                    slave.selected = False
            return self._answers([(s, bytes([codec.ACK])) for s in targets])
        if control & ~codec.FCB & 0xFF in (codec.REQ_UD2, codec.REQ_UD2 & ~0x10):
            fcv = bool(control & 0x10)
            fcb = bool(control & codec.FCB) if fcv else None
            answers = []
            for slave in targets:
                telegram = slave.next_response(fcb)
                answers.append((slave, self._readdress(telegram, slave)))
            return self._answers(answers)
        if frame.kind == "long" and control & ~codec.FCB & 0xFF == codec.SND_UD:
            return self._answers([(s, bytes([codec.ACK])) for s in targets])
        return None

    def _addressed(self, address: int | None) -> list[SimulatedSlave]:
        if address == codec.ADDRESS_SECONDARY:
            return [s for s in self.slaves if s.selected]
        if address == codec.ADDRESS_BROADCAST_REPLY:
            return list(self.slaves)
        return [s for s in self.slaves if s.primary == address]

    @staticmethod
    def _readdress(telegram: bytes, slave: SimulatedSlave) -> bytes:
        """A slave answers with its own primary address (0 when it has none), whoever asked."""
        frame = codec.decode_frame(telegram)
        assert frame.control is not None and frame.ci is not None
        return codec.encode_long(frame.control, slave.primary or 0, frame.ci, frame.data)

    def _answers(self, answers: list[tuple[SimulatedSlave, bytes]]) -> bytes | None:
        wire: list[bytes] = []
        for slave, answer in answers:
            fault = slave.faults.popleft() if slave.faults else None
            if fault == "silent":
                continue
            if fault == "close":
                return b"close"
            if fault == "bad_checksum" and len(answer) > 1:
                answer = answer[:-2] + bytes([(answer[-2] + 1) & 0xFF]) + answer[-1:]
            elif fault == "garbled":
                size = max(len(answer), 6)
                answer = bytes([codec.LONG_START, 0x10, 0x11]) + self.random.randbytes(size - 3)
            wire.append(answer)
        if not wire:
            return None
        if len(wire) == 1:
            return wire[0]
        size = max(len(w) for w in wire)
        combined = bytearray(b"\xff" * size)
        for answer in wire:
            for i, byte in enumerate(answer):
                combined[i] &= byte
        return bytes(combined)


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        bus = self.server.bus
        sock: socket.socket = self.request
        sock.settimeout(0.2)
        buffer = bytearray()
        while not self.server.stopping.is_set():
            try:
                chunk = sock.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not chunk:
                return
            buffer += chunk
            while buffer:
                try:
                    size = codec.frame_size(bytes(buffer[:4]))
                except FrameError:
                    del buffer[:1]  # resynchronise on noise
                    continue
                if size is None or len(buffer) < size:
                    break
                request = bytes(buffer[:size])
                del buffer[:size]
                with bus.lock:
                    answer = bus.handle(request)
                if answer == b"close":
                    return
                if bus.baudrate:
                    wire_bytes = len(request) + (len(answer) if answer else 0)
                    time.sleep(wire_bytes * BITS_PER_BYTE / bus.baudrate)
                if answer:
                    try:
                        sock.sendall(answer)
                    except OSError:
                        return


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    bus: _Bus
    stopping: threading.Event


class MBusSimulator:
    """Start with :meth:`start` (returns the port on 127.0.0.1), stop with :meth:`stop`."""

    def __init__(
        self,
        slaves: Sequence[SimulatedSlave],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        baudrate: int | None = None,
        seed: int = 2400,
    ) -> None:
        self.bus = _Bus(slaves, baudrate, seed)
        self.host = host
        self.port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def slaves(self) -> list[SimulatedSlave]:
        return self.bus.slaves

    def start(self) -> int:
        server = _Server((self.host, self.port), _Handler)
        server.bus = self.bus
        server.stopping = threading.Event()
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
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> MBusSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
