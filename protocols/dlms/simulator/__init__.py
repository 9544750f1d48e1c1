"""A small DLMS/COSEM meter of our own, served over TCP on 127.0.0.1, for tests and demos.

Why our own: gurux's Python server classes do not work as shipped, and a simulator written from
the standard is also an independent check of the client built on gurux. It speaks the IP wrapper
or HDLC (SNRM/UA, I-frames with segmentation both ways, RR, DISC), associates with no, low or
HLS-GMAC authentication, ciphers with security suite 0, and serves the objects listed in
:mod:`.objects`. Faults are switched on by name:

* ``silence-mid-block``: stop answering from the 3rd block of a long GET (connection stays open);
* ``wrong-key``: cipher answers (and the HLS proof) with a different key;
* ``truncate``: send half of the 2nd block's frame, then hang up;
* ``close``: hang up on the first GET/SET/ACTION.

Usage::

    sim = DlmsSimulator(framing="hdlc", security=ServerSecurity(authentication="high-gmac", ciphered=True))
    port = sim.start()
    ...
    sim.stop()
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time

from ...errors import FrameError, NoAnswer
from .. import hdlc, wrapper
from .objects import MeterModel
from .push import send_notification
from .session import ServerSecurity, Session, TruncateFrame

__all__ = ["DlmsSimulator", "MeterModel", "ServerSecurity", "send_notification"]

HDLC_MAX_INFO = 128
LLC_REQUEST = b"\xe6\xe6\x00"
LLC_RESPONSE = b"\xe6\xe7\x00"


class _SocketReader:
    """Bounded reads on an accepted socket (the server side of a Transport)."""

    def __init__(self, sock: socket.socket, timeout: float) -> None:
        self.sock = sock
        self.timeout = timeout
        self.buffer = bytearray()

    def read(self, size: int, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buffer) < size:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise NoAnswer("client silent")
            self.sock.settimeout(remaining)
            try:
                chunk = self.sock.recv(4096)
            except TimeoutError:
                raise NoAnswer("client silent") from None
            if not chunk:
                raise NoAnswer("client closed the connection")
            self.buffer += chunk
        data = bytes(self.buffer[:size])
        del self.buffer[:size]
        return data


class DlmsSimulator:
    def __init__(
        self,
        *,
        framing: str = "wrapper",
        security: ServerSecurity | None = None,
        faults: set[str] | frozenset[str] = frozenset(),
        model: MeterModel | None = None,
        max_pdu: int = 256,
        idle_timeout: float = 30.0,
    ) -> None:
        if framing not in ("wrapper", "hdlc"):
            raise ValueError("framing is 'wrapper' or 'hdlc'")
        self.framing = framing
        self.security = security or ServerSecurity()
        self.faults = set(faults)
        self.model = model or MeterModel()
        self.max_pdu = max_pdu
        self.idle_timeout = idle_timeout
        self.port = 0
        self._server: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._clients: list[socket.socket] = []
        self._stopping = threading.Event()
        self.requests_seen: list[bytes] = []  # every APDU received, for tests (e.g. counters)

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> int:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        server.settimeout(0.2)
        self._server = server
        self.port = server.getsockname()[1]
        thread = threading.Thread(target=self._accept_loop, name="dlms-sim-accept", daemon=True)
        thread.start()
        self._threads.append(thread)
        return self.port

    def stop(self) -> None:
        self._stopping.set()
        for sock in [self._server, *self._clients]:
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()
        for thread in self._threads:
            thread.join(timeout=2)

    def __enter__(self) -> DlmsSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _accept_loop(self) -> None:
        assert self._server is not None
        while not self._stopping.is_set():
            try:
                client, _ = self._server.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._clients.append(client)
            thread = threading.Thread(target=self._serve, args=(client,), name="dlms-sim-conn", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, sock: socket.socket) -> None:
        session = Session(self.model, self.security, self.faults, self.max_pdu)
        reader = _SocketReader(sock, self.idle_timeout)
        try:
            if self.framing == "wrapper":
                self._serve_wrapper(sock, reader, session)
            else:
                self._serve_hdlc(sock, reader, session)
        except (NoAnswer, FrameError, OSError, ConnectionAbortedError):
            pass
        finally:
            with contextlib.suppress(OSError):
                sock.close()

    # -- wrapper ---------------------------------------------------------------------------------

    def _serve_wrapper(self, sock: socket.socket, reader: _SocketReader, session: Session) -> None:
        while not self._stopping.is_set():
            frame = wrapper.parse(wrapper.read_frame(reader))
            self.requests_seen.append(frame.apdu)
            try:
                response = session.handle(frame.apdu)
            except TruncateFrame as cut:
                raw = wrapper.build(frame.dest, frame.source, cut.response)
                sock.sendall(raw[: len(raw) // 2])
                return
            if response is not None:
                sock.sendall(wrapper.build(frame.dest, frame.source, response))

    # -- HDLC ------------------------------------------------------------------------------------

    def _serve_hdlc(self, sock: socket.socket, reader: _SocketReader, session: Session) -> None:
        send_seq = recv_seq = 0
        incoming = b""
        outgoing: list[bytes] = []
        while not self._stopping.is_set():
            frame = hdlc.parse_frame(hdlc.read_frame(reader))
            me, peer = frame.dest, frame.src

            def send(
                control: int, info: bytes = b"", segmented: bool = False, me: bytes = me, peer: bytes = peer
            ) -> None:
                sock.sendall(hdlc.build_frame(peer, me, control, info, segmented))

            if frame.control == hdlc.SNRM:
                send_seq = recv_seq = 0
                incoming, outgoing = b"", []
                params = bytes.fromhex("818014050180060180070400000001080400000001")
                send(hdlc.UA, params)
                continue
            if frame.control == hdlc.DISC:
                send(hdlc.UA)
                return
            if hdlc.is_rr(frame.control):
                if outgoing:
                    chunk = outgoing.pop(0)
                    send(hdlc.i_control(send_seq, recv_seq), chunk, bool(outgoing))
                    send_seq = (send_seq + 1) % 8
                else:
                    send(hdlc.rr_control(recv_seq))
                continue
            if not hdlc.is_i_frame(frame.control):
                send(hdlc.FRMR)
                continue
            recv_seq = ((frame.control >> 1) + 1) % 8
            incoming += frame.info
            if frame.segmented:
                send(hdlc.rr_control(recv_seq))
                continue
            request, incoming = incoming, b""
            if request[:3] == LLC_REQUEST:
                request = request[3:]
            self.requests_seen.append(request)
            try:
                response = session.handle(request)
            except TruncateFrame as cut:
                raw = hdlc.build_frame(
                    peer, me, hdlc.i_control(send_seq, recv_seq), LLC_RESPONSE + cut.response[:100]
                )
                sock.sendall(raw[: len(raw) // 2])
                return
            if response is None:
                continue
            payload = LLC_RESPONSE + response
            outgoing = [payload[i : i + HDLC_MAX_INFO] for i in range(0, len(payload), HDLC_MAX_INFO)]
            chunk = outgoing.pop(0)
            send(hdlc.i_control(send_seq, recv_seq), chunk, bool(outgoing))
            send_seq = (send_seq + 1) % 8
