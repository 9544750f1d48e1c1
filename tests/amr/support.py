"""Helpers of the AMR tests: meters wired to loopback simulators, peers that misbehave."""

from __future__ import annotations

import socket
import socketserver
import threading

from django.db import connection

from amr.models import AmrJob, JobKind
from meters.models import NetworkInterface
from tests.meters.factories import MeterDeviceFactory

postgres_only = {
    "condition": connection.vendor != "postgresql",
    "reason": "needs PostgreSQL (run with DATABASE_URL=postgres://...)",
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def meter_at(
    organization, port: int, *, can_block: bool = True, interface: NetworkInterface | None = None, **kw
):
    """A meter device whose network interface points at 127.0.0.1:port."""
    if interface is None:
        interface = NetworkInterface.objects.create(
            organization=organization, static_ip_address="127.0.0.1", port=port, can_block=can_block
        )
    return MeterDeviceFactory(organization=organization, network_interface=interface, **kw)


def on_demand_job(meter, *, environment="generic_iec6205621", call="readout", kwargs=None) -> AmrJob:
    return AmrJob.objects.create(
        organization_id=meter.organization_id,
        meter_device=meter,
        kind=JobKind.ON_DEMAND,
        meter_execution_type=environment,
        task_call=call,
        task_kwargs=kwargs,
    )


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class GarbagePeer:
    """Answers every request with an identification line no mode C meter would send."""

    def __init__(self, answer: bytes = b"/garbage without a baud char\r\n") -> None:
        answer_bytes = answer

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                try:
                    while self.request.recv(1024):
                        self.request.sendall(answer_bytes)
                except OSError:
                    pass

        self.server = _Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Forwarder:
    """Listens on ``port`` (chosen before, refused until started) and forwards to ``target``,
    counting how many connections are open at the same time."""

    def __init__(self, port: int, target: int) -> None:
        self.port = port
        self.target = target
        self.active = 0
        self.max_active = 0
        self.connections = 0
        self._lock = threading.Lock()
        self.server: _Server | None = None

    def start(self) -> None:
        forwarder = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                with forwarder._lock:
                    forwarder.active += 1
                    forwarder.connections += 1
                    forwarder.max_active = max(forwarder.max_active, forwarder.active)
                try:
                    upstream = socket.create_connection(("127.0.0.1", forwarder.target))
                    pump = threading.Thread(target=_pump, args=(upstream, self.request), daemon=True)
                    pump.start()
                    _pump(self.request, upstream)
                    pump.join(5)
                finally:
                    with forwarder._lock:
                        forwarder.active -= 1

        self.server = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while data := src.recv(4096):
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (dst,):
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass
