"""HTTP install → request queue → EAC simulator → status consumer → notifications → status endpoint.

The broker goes away in the middle (right when the consumer settles its first status message,
after the state change is committed) and comes back; every EAC message must count exactly once
in the consumer's state and every notification must reach the tenant's queue.

* ``azure-servicebus``: the in-process test broker is stopped and restarted.
* ``amqp``: RabbitMQ is shared, so the outage is a cut TCP proxy between us and it.
* ``database``: the embedded default, no outage.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from gateway.consumer import consume_status
from gateway.models import EsnStatus, OutboxMessage, StatusEvent
from gateway.relay import relay_outbox
from gateway.simulator import simulate_once
from gateway.transports import TransportError, get_transport
from tests.gateway.conftest import RABBITMQ, install, status_url
from tests.support.tcp_proxy import FlakyTcpProxy

pytestmark = [pytest.mark.django_db, pytest.mark.timeout(180)]

ESNS = ["E1", "E2", "FAIL3"]
EXPECTED_EVENTS = (
    {("E1", s) for s in ("received", "downloading", "installed", "licensed")}
    | {("E2", s) for s in ("received", "downloading", "installed", "licensed")}
    | {
        ("FAIL3", "received"),
        ("FAIL3", "failed"),
    }
)


class InterruptOnFirstComplete:
    """Wraps a transport; the first ``complete`` triggers the outage before it reaches the broker."""

    def __init__(self, inner, outage) -> None:
        self.inner = inner
        self.outage = outage

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def complete(self, message) -> None:
        if self.outage is not None:
            outage, self.outage = self.outage, None
            outage()
        self.inner.complete(message)


def pump(*, relay, simulator, consumer, until, deadline_seconds: float = 60) -> int:
    """Run the three roles in turn until ``until()``; broker errors are retried like the daemons do."""
    failures = 0
    deadline = time.monotonic() + deadline_seconds
    while not until():
        assert time.monotonic() < deadline, (
            "the flow did not complete in time",
            list(EsnStatus.objects.values_list("esn", "status")),
            list(
                OutboxMessage.objects.filter(sent_at__isnull=True).values_list(
                    "kind", "attempts", "last_error"
                )
            ),
        )
        for role, step in (
            (relay, lambda t: relay_outbox(transport=t)),
            (simulator, lambda t: simulate_once(transport=t, timeout=0.2)),
            (consumer, lambda t: consume_status(transport=t, timeout=0.2)),
        ):
            try:
                result = step(role)
                if getattr(result, "failed", 0):
                    failures += 1
                    role.close()
            except TransportError:  # the next round reconnects; each step blocks on its own timeout
                failures += 1
                role.close()
    return failures


def finished(correlation_id: str) -> bool:
    rows = EsnStatus.objects.filter(request__correlation_id=correlation_id)
    done = all(r.status in ("licensed", "failed") for r in rows)
    return done and not OutboxMessage.objects.filter(sent_at__isnull=True).exists()


def drain(transport, queue: str, expected: int, timeout: float = 15) -> list:
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = transport.receive(queue, max_messages=50, timeout=0.5)
        for message in batch:
            transport.complete(message)
        got.extend(batch)
        if len({m.message_id for m in got}) >= expected and not batch:
            break
    return got


def run_flow(portal, tenant_id, queues, *, outage=None, restore=None) -> None:
    correlation_id = str(uuid.uuid4())
    response = install(
        portal, tenant_id, {"applicationId": 42, "esnList": ESNS}, correlation_id=correlation_id
    )
    assert response.status_code == 202

    relay, simulator = get_transport(), get_transport()
    consumer = InterruptOnFirstComplete(get_transport(), outage)
    try:
        if outage is not None:
            # Up to the first settlement (which triggers the outage), then a few failing rounds.
            pump(
                relay=relay,
                simulator=simulator,
                consumer=consumer,
                until=lambda: consumer.outage is None and StatusEvent.objects.exists(),
            )
            failures = 0
            for _ in range(3):  # the broker is down: every role fails, nothing is lost
                failures += pump(relay=relay, simulator=simulator, consumer=consumer, until=_once())
            assert failures >= 1
            restore()
        pump(relay=relay, simulator=simulator, consumer=consumer, until=lambda: finished(correlation_id))
    finally:
        for transport in (relay, simulator, consumer.inner):
            transport.close()

    events = list(
        StatusEvent.objects.filter(request__correlation_id=correlation_id).values_list("esn", "status")
    )
    assert sorted(events) == sorted(EXPECTED_EVENTS)  # each EAC message counted exactly once
    body = portal.get(status_url(tenant_id, correlation_id)).json()
    assert {e["esn"]: e["status"] for e in body["esns"]} == {
        "E1": "licensed",
        "E2": "licensed",
        "FAIL3": "failed",
    }
    assert "simulated" in next(e["reason"] for e in body["esns"] if e["esn"] == "FAIL3")

    with get_transport() as reader:
        notifications = drain(
            reader, queues["notification_pattern"].format(tenant_id=tenant_id), len(EXPECTED_EVENTS)
        )
        unique = {m.message_id: json.loads(m.body) for m in notifications}
        assert {(n["esn"], n["status"]) for n in unique.values()} == EXPECTED_EVENTS
        for esn in ("E1", "E2"):  # in order per ESN (first delivery of each id)
            seen = list(
                dict.fromkeys(
                    json.loads(m.body)["status"] for m in notifications if json.loads(m.body)["esn"] == esn
                )
            )
            assert seen == ["received", "downloading", "installed", "licensed"]
        acks = drain(reader, queues["response"], 1)
        assert acks and acks[0].correlation_id == correlation_id


def _once():
    calls = {"n": 0}

    def until() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    return until


@pytest.mark.parametrize("transport_factory", ["database"], indirect=True)
def test_end_to_end_on_the_embedded_transport(transport_factory, portal, tenant_id, queues) -> None:
    run_flow(portal, tenant_id, queues)


@pytest.mark.parametrize("transport_factory", ["azure-servicebus"], indirect=True)
def test_end_to_end_on_service_bus_with_a_broker_restart(
    transport_factory, servicebus_broker, portal, tenant_id, queues, settings
) -> None:
    settings.GATEWAY_TRANSPORT_TIMEOUT_SECONDS = 2
    run_flow(portal, tenant_id, queues, outage=servicebus_broker.stop, restore=servicebus_broker.start)


@pytest.mark.parametrize("transport_factory", ["amqp"], indirect=True)
def test_end_to_end_on_rabbitmq_with_a_connection_cut(
    transport_factory, portal, tenant_id, queues, settings
) -> None:
    proxy = FlakyTcpProxy(RABBITMQ).start()
    settings.GATEWAY_AMQP_URL = f"amqp://guest:guest@127.0.0.1:{proxy.port}"
    settings.GATEWAY_TRANSPORT_TIMEOUT_SECONDS = 2
    try:
        run_flow(portal, tenant_id, queues, outage=proxy.cut, restore=proxy.restore)
    finally:
        proxy.close()
