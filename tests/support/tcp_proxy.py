"""A loopback TCP forwarder a test can cut and restore: a broker outage at the connection level
(stopping the machine's shared RabbitMQ would disturb everything else using it)."""

from __future__ import annotations

import select
import socket
import threading


class FlakyTcpProxy:
    """Loopback TCP forwarder that can cut every connection and refuse new ones for a while."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(0.1)
        self.port = self.listener.getsockname()[1]
        self.down = threading.Event()
        self.closed = threading.Event()
        self.lock = threading.Lock()
        self.sockets: set[socket.socket] = set()
        self.accepted = 0
        self.refused = 0  # connections turned away while down
        self.thread = threading.Thread(target=self._accept_loop, daemon=True)

    def start(self) -> FlakyTcpProxy:
        self.thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self.closed.is_set():
            try:
                client, _ = self.listener.accept()
            except (TimeoutError, OSError):
                continue
            if self.down.is_set():
                client.close()  # the "broker" is away: the connection dies at once
                with self.lock:
                    self.refused += 1
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.accepted += 1
                self.sockets |= {client, upstream}
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while not self.closed.is_set():
                readable, _, _ = select.select([a, b], [], [], 0.1)
                for sock in readable:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):
            return
        finally:
            for sock in (a, b):
                self._drop(sock)

    def _drop(self, sock: socket.socket) -> None:
        with self.lock:
            self.sockets.discard(sock)
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        sock.close()

    def cut(self) -> None:
        """Broker goes away: every open connection is reset and new ones are refused."""
        self.down.set()
        with self.lock:
            victims = list(self.sockets)
        for sock in victims:
            self._drop(sock)

    def restore(self) -> None:
        self.down.clear()

    def close(self) -> None:
        self.cut()
        self.closed.set()
        self.listener.close()
        self.thread.join(timeout=5)
