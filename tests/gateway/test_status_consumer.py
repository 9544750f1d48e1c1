"""EAC status messages → per-ESN status and tenant notifications (tolerant, deduplicated, ordered)."""

from __future__ import annotations

import gzip
import json
import uuid

import pytest

from gateway.consumer import consume_status
from gateway.models import EsnStatus, OutboxKind, OutboxMessage, StatusEvent
from gateway.relay import relay_outbox
from gateway.transports import OutgoingMessage
from gateway.transports.database import DatabaseTransport
from tests.gateway.conftest import install

pytestmark = pytest.mark.django_db


@pytest.fixture
def accepted(portal, tenant_id):
    correlation_id = str(uuid.uuid4())
    install(portal, tenant_id, {"applicationId": 1, "esnList": ["E1", "E2"]}, correlation_id=correlation_id)
    return correlation_id


@pytest.fixture
def eac(queues):
    transport = DatabaseTransport()

    def send(body, *, properties=None, correlation_id=None, message_id=None, raw=False):
        data = body if raw else json.dumps(body).encode()
        transport.send(
            queues["status"],
            [
                OutgoingMessage(
                    body=data,
                    message_id=message_id or uuid.uuid4().hex,
                    correlation_id=correlation_id,
                    properties=properties or {},
                )
            ],
        )
        return consume_status(transport=transport, timeout=0)

    send.transport = transport
    return send


def states(correlation_id: str) -> dict[str, str]:
    return dict(EsnStatus.objects.filter(request__correlation_id=correlation_id).values_list("esn", "status"))


def test_status_for_one_esn_updates_it_and_notifies_the_tenant(accepted, eac, tenant_id, queues) -> None:
    result = eac({"esn": "E1", "status": "Downloading"}, properties={"Itron-CorrelationId": accepted})
    assert result.applied == 1
    assert states(accepted) == {"E1": "downloading", "E2": "accepted"}
    note = OutboxMessage.objects.get(kind=OutboxKind.NOTIFICATION)
    assert note.destination == queues["notification_pattern"].format(tenant_id=tenant_id)
    body = json.loads(bytes(note.body))
    assert body["esn"] == "E1" and body["status"] == "downloading" and body["correlationId"] == accepted
    assert note.properties["Itron-CorrelationId"] == accepted


def test_redelivered_message_counts_once(accepted, eac) -> None:
    message_id = uuid.uuid4().hex
    eac({"esn": "E1", "status": "installed"}, correlation_id=accepted, message_id=message_id)
    again = eac({"esn": "E1", "status": "installed"}, correlation_id=accepted, message_id=message_id)
    assert again.duplicates == 1 and again.applied == 0
    assert StatusEvent.objects.filter(message_id=message_id).count() == 1
    assert OutboxMessage.objects.filter(kind=OutboxKind.NOTIFICATION).count() == 1


def test_compressed_body_is_gunzipped(accepted, eac) -> None:
    body = gzip.compress(json.dumps({"esn": "E2", "status": "licensed"}).encode())
    eac(body, raw=True, properties={"Itron-CorrelationId": accepted, "IsCompressed": True})
    assert states(accepted)["E2"] == "licensed"


def test_status_code_alone_maps_to_a_state(accepted, eac) -> None:
    eac(b"", raw=True, properties={"Itron-CorrelationId": accepted, "Itron-Status-Code": "202"})
    assert states(accepted) == {"E1": "received", "E2": "received"}
    eac(
        {"message": "license pool exhausted"},
        properties={"Itron-CorrelationId": accepted, "Itron-Status-Code": "409"},
    )
    rows = EsnStatus.objects.filter(request__correlation_id=accepted)
    assert {r.status for r in rows} == {"failed"}
    assert all(r.reason == "license pool exhausted" and r.status_code == "409" for r in rows)


def test_per_esn_result_list_is_understood(accepted, eac) -> None:
    body = {
        "Results": [
            {"ESN": "E1", "State": "INSTALLED"},
            {"ESN": "E2", "State": "Failed", "Error": "no space"},
        ]
    }
    eac(body, properties={"Itron-CorrelationId": accepted})
    assert states(accepted) == {"E1": "installed", "E2": "failed"}
    assert EsnStatus.objects.get(esn="E2").reason == "no space"


def test_unrecognised_status_is_kept_raw(accepted, eac) -> None:
    eac({"esn": "E1", "status": "Teleporting"}, properties={"Itron-CorrelationId": accepted, "X-Custom": "1"})
    event = StatusEvent.objects.get()
    assert event.status == "unknown" and "Teleporting" in event.raw_body
    assert event.raw_properties["X-Custom"] == "1"
    assert states(accepted)["E1"] == "accepted"


def test_status_never_moves_back(accepted, eac) -> None:
    eac({"esn": "E1", "status": "installed"}, correlation_id=accepted)
    eac({"esn": "E1", "status": "downloading"}, correlation_id=accepted)  # late redelivery
    assert states(accepted)["E1"] == "installed"
    assert StatusEvent.objects.filter(esn="E1").count() == 2


def test_unknown_correlation_is_dead_lettered(eac, queues) -> None:
    result = eac({"esn": "E1", "status": "installed"}, properties={"Itron-CorrelationId": "never-seen"})
    assert result.dead_lettered == 1
    [dead] = eac.transport.receive(queues["status"] + "/$DeadLetterQueue", timeout=0)
    assert json.loads(dead.body)["esn"] == "E1"


def test_message_for_another_tenant_is_dead_lettered(accepted, eac) -> None:
    result = eac(
        {"esn": "E1", "status": "installed"},
        properties={"Itron-CorrelationId": accepted, "Itron-Tenant-Id": "x"},
    )
    assert result.dead_lettered == 1 and states(accepted)["E1"] == "accepted"


def test_notifications_reach_the_tenant_queue_in_order(accepted, eac, tenant_id, queues) -> None:
    for status in ("received", "downloading", "installed", "licensed"):
        eac({"esn": "E1", "status": status}, correlation_id=accepted)
    transport = DatabaseTransport()
    relay_outbox(transport=transport)
    queue = queues["notification_pattern"].format(tenant_id=tenant_id)
    received = transport.receive(queue, max_messages=10, timeout=0)
    assert [json.loads(m.body)["status"] for m in received] == [
        "received",
        "downloading",
        "installed",
        "licensed",
    ]


def test_log_lines_of_a_status_message_carry_its_correlation_id(eac) -> None:
    """Operators follow a request through the logs by its correlation id (LOG_FORMAT=json
    writes the ids bound while the message is handled as fields)."""
    import io
    import logging

    from utilitarian.logging import JsonFormatter

    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("gateway.consumer")
    logger.addHandler(handler)
    try:
        unknown = str(uuid.uuid4())
        result = eac({"esn": "E1", "status": "installed"}, properties={"Itron-CorrelationId": unknown})
    finally:
        logger.removeHandler(handler)
    assert result.dead_lettered == 1
    (line,) = [json.loads(text) for text in stream.getvalue().splitlines()]
    assert line["correlation_id"] == unknown and line["message_id"]
