"""The network side of push reception: asyncio UDP and TCP servers that spool every frame.

Nothing here parses, decrypts or touches the database: a frame is appended to the spool
(:mod:`push.spool`) the moment it is complete, and the processor takes it from there. That is
what keeps the receiver fast and keeps frames safe while the database is away.

* **UDP**: one datagram is one frame, as received (an IEC 62056-47 wrapper frame, or a bare APDU,
  HDLC or M-Bus frame: the processor recognises the layers).
* **TCP**: a connection carries any number of wrapper frames (8-byte header with the APDU
  length, then the APDU). A connection that does not start with wrapper version ``00 01`` is
  read to its end (at most :data:`MAX_RAW_TCP` bytes) and spooled as one raw frame. Idle
  connections are closed after ``idle_timeout`` seconds; nothing is ever sent back (a
  DataNotification is unconfirmed).
"""

from __future__ import annotations

import asyncio
import logging
import socket
import threading
from dataclasses import dataclass, field

from protocols.dlms import wrapper

from .spool import SpoolWriter

logger = logging.getLogger(__name__)

MAX_RAW_TCP = 64 * 1024


@dataclass
class ReceiverStats:
    udp_frames: int = 0
    tcp_frames: int = 0
    tcp_connections: int = 0
    tcp_errors: int = 0
    peers: set[str] = field(default_factory=set)


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, receiver: PushReceiver) -> None:
        self.receiver = receiver

    def datagram_received(self, data: bytes, addr) -> None:
        self.receiver.spool.append(data, transport="udp", peer=f"{addr[0]}:{addr[1]}")
        self.receiver.stats.udp_frames += 1

    def error_received(self, exc: Exception) -> None:
        logger.warning("push receiver: UDP error %s", exc)


class PushReceiver:
    """UDP and/or TCP servers on ``host``; port 0 binds a free port (see :attr:`udp_port`)."""

    def __init__(
        self,
        spool: SpoolWriter,
        *,
        host: str = "0.0.0.0",
        udp_port: int | None = None,
        tcp_port: int | None = None,
        idle_timeout: float = 300.0,
    ) -> None:
        self.spool = spool
        self.host = host
        self.udp_port = udp_port
        self.tcp_port = tcp_port
        self.idle_timeout = idle_timeout
        self.stats = ReceiverStats()
        self._udp_transport: asyncio.DatagramTransport | None = None
        self._tcp_server: asyncio.base_events.Server | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        if self.udp_port is not None:
            transport, _ = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self), local_addr=(self.host, self.udp_port)
            )
            sock = transport.get_extra_info("socket")
            # A burst of pushes must wait in the kernel, not be dropped, while the loop is busy.
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
            except OSError:
                pass
            self._udp_transport = transport
            self.udp_port = sock.getsockname()[1]
            logger.info("push receiver: UDP on %s:%d", self.host, self.udp_port)
        if self.tcp_port is not None:
            self._tcp_server = await asyncio.start_server(self._handle_tcp, self.host, self.tcp_port)
            self.tcp_port = self._tcp_server.sockets[0].getsockname()[1]
            logger.info("push receiver: TCP on %s:%d", self.host, self.tcp_port)

    async def close(self) -> None:
        if self._udp_transport is not None:
            self._udp_transport.close()
        if self._tcp_server is not None:
            self._tcp_server.close()
            await self._tcp_server.wait_closed()

    async def _handle_tcp(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        addr = writer.get_extra_info("peername")
        peer = f"{addr[0]}:{addr[1]}" if addr else "?"
        self.stats.tcp_connections += 1
        try:
            while True:
                try:
                    head = await asyncio.wait_for(reader.readexactly(wrapper.HEADER.size), self.idle_timeout)
                except asyncio.IncompleteReadError as exc:
                    if exc.partial:
                        self._spool_tcp(exc.partial, peer)  # a short raw frame, kept for the record
                    return
                if head[:2] != b"\x00\x01":
                    rest = await asyncio.wait_for(reader.read(MAX_RAW_TCP), self.idle_timeout)
                    self._spool_tcp(head + rest, peer)
                    return
                length = int.from_bytes(head[6:8], "big")
                body = await asyncio.wait_for(reader.readexactly(length), self.idle_timeout)
                self._spool_tcp(head + body, peer)
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError) as exc:
            self.stats.tcp_errors += 1
            logger.info("push receiver: TCP %s closed (%s)", peer, type(exc).__name__)
        finally:
            writer.close()

    def _spool_tcp(self, frame: bytes, peer: str) -> None:
        self.spool.append(frame, transport="tcp", peer=peer)
        self.stats.tcp_frames += 1


class ReceiverThread:
    """Runs a :class:`PushReceiver` on its own asyncio loop in a thread (tests, benchmark)."""

    def __init__(self, receiver: PushReceiver) -> None:
        self.receiver = receiver
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="push-receiver", daemon=True)

    def start(self, timeout: float = 5.0) -> PushReceiver:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.receiver.start(), self.loop).result(timeout)
        return self.receiver

    def stop(self, timeout: float = 5.0) -> None:
        asyncio.run_coroutine_threadsafe(self.receiver.close(), self.loop).result(timeout)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout)
        self.loop.close()
