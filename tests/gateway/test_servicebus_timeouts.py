"""The SDK can hang on a broker that is gone or refuses it: every call is bounded."""

from __future__ import annotations

import socket
import threading
import time

import pytest

from gateway.transports import OutgoingMessage, TransportError
from gateway.transports.servicebus import ServiceBusTransport

pytestmark = pytest.mark.timeout(60)


def test_stopped_broker_fails_fast_and_recovers_after_restart(servicebus_broker) -> None:
    transport = ServiceBusTransport(connection_string=servicebus_broker.connection_string, timeout=3)
    transport.send("gateway-test-sb-restart", [OutgoingMessage(body=b"before")])
    servicebus_broker.stop()
    started = time.monotonic()
    with pytest.raises(TransportError) as caught:
        transport.send("gateway-test-sb-restart", [OutgoingMessage(body=b"during")])
    assert time.monotonic() - started < 3 + 1 and not caught.value.permanent
    servicebus_broker.start()
    transport.send("gateway-test-sb-restart", [OutgoingMessage(body=b"after")])
    bodies = [m.body for m in servicebus_broker.messages("gateway-test-sb-restart")]
    assert bodies == [b"before", b"after"]
    transport.close()


def test_a_silent_peer_times_out_instead_of_hanging() -> None:
    """A listener that accepts and never answers: the SDK would wait; the transport gives up."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    port = listener.getsockname()[1]
    conn = f"Endpoint=sb://127.0.0.1:{port}/;SharedAccessKeyName=k;SharedAccessKey=dg==;UseDevelopmentEmulator=true"
    transport = ServiceBusTransport(connection_string=conn, timeout=1.5)
    started = time.monotonic()
    try:
        with pytest.raises(TransportError, match="timed out|failed"):
            transport.send("q", [OutgoingMessage(body=b"x")])
        assert time.monotonic() - started < 4
    finally:
        stop.set()
        thread.join(2)
        for sock in accepted:
            sock.close()
        listener.close()
        transport.close()
