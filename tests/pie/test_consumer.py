"""The AMQP 1.0 consumer against a real RabbitMQ (AMQP 1.0 plugin) and real loopback REST peers.

Messages are published by a separate proton connection to a fresh ``/queue/pie-test-<random>``.
The consumer runs in a thread of the test process (as in its own process under the management
command) and writes through Django's ORM, hence ``transactional_db``. While it runs, the tests
watch its ``stats`` and touch the database only after stopping it: SQLite's shared in-memory test
database locks whole tables between threads.

"Broker restart mid-stream" is simulated with :class:`FlakyTcpProxy` between the consumer and
RabbitMQ: the proxy cuts every connection, refuses new ones for a while, then lets them through
again. Restarting the shared RabbitMQ itself would disturb other engineers on this machine; for
the consumer the two look alike (the TCP connection dies, reconnects fail, then succeed), and
RabbitMQ requeues the deliveries that were unsettled when the connection died, as on a restart.
"""

from __future__ import annotations

import pytest
from proton import Message

from pie.consumer import PieConsumer, backoff_delay
from pie.models import Comment, Event, EventStatus, Ticket
from tests.support.factories import OrganizationFactory
from tests.support.pie_amqp import (
    RABBITMQ_HOST,
    RABBITMQ_PORT,
    comment_created,
    drain,
    publish,
    require_rabbitmq,
    test_queue_address,
    ticket_created,
)
from tests.support.tcp_proxy import FlakyTcpProxy
from tests.support.waiting import wait_until

from .conftest import ConsumerThread

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(120)]


@pytest.fixture
def queue() -> str:
    require_rabbitmq()
    return test_queue_address()


@pytest.fixture
def org():
    return OrganizationFactory()


@pytest.fixture
def start_consumer(pie_settings_for, org, queue):
    running: list[ConsumerThread] = []

    def start(url: str = f"amqp://{RABBITMQ_HOST}:{RABBITMQ_PORT}", **overrides) -> ConsumerThread:
        conf = pie_settings_for(org, PIE_AMQP_URL=url, PIE_AMQP_ADDRESS=queue, **overrides)
        thread = ConsumerThread(PieConsumer(conf=conf)).start()
        running.append(thread)
        return thread

    yield start
    for thread in running:
        if thread.thread.is_alive():
            thread.stop()


def test_n_published_are_n_stored_exactly_once(start_consumer, queue, pie_server) -> None:
    consumer = start_consumer()
    for n in range(10):
        pie_server.comment_ticket[f"C-{n}"] = f"T-{n}"
    messages: list[Message] = [ticket_created(f"T-{n}") for n in range(10)]
    messages += [comment_created(f"C-{n}", f"T-{n}") for n in range(10)]
    publish(queue, messages)

    wait_until(lambda: consumer.stats["stored"] == 20)
    consumer.stop()

    assert Ticket.objects.count() == 10 and Comment.objects.count() == 10
    assert all(
        c.ticket is not None and c.ticket.external_id == c.ticket_external_id for c in Comment.objects.all()
    )
    assert Event.objects.count() == 20
    assert drain(queue) == []  # every message was accepted


def test_rest_503_releases_the_message_for_redelivery(start_consumer, queue, pie_server) -> None:
    pie_server.fail(r"/tickets/T-1$", 503, times=4)  # two attempts' worth (client retries once)
    consumer = start_consumer()
    publish(queue, [ticket_created("T-1", message_id="m-503")])

    wait_until(lambda: consumer.stats["stored"] == 1)
    consumer.stop()
    assert consumer.stats["failed"] == 2
    event = Event.objects.get(message_id="m-503")
    assert event.attempts == 2 and event.deliveries == 3
    assert Ticket.objects.filter(external_id="T-1").count() == 1


def test_unparseable_message_is_rejected_with_its_reason(start_consumer, queue) -> None:
    consumer = start_consumer()
    publish(queue, [Message(id="m-junk", body="this is not a notification"), ticket_created("T-2")])

    wait_until(lambda: consumer.stats["stored"] == 1 and consumer.stats["rejected"] == 1)
    consumer.stop()
    junk = Event.objects.get(message_id="m-junk")
    assert junk.status == EventStatus.REJECTED and "names no ticket" in junk.last_error
    assert junk.body == "this is not a notification"


def test_message_failing_n_times_is_rejected_and_the_rest_flows(start_consumer, queue, pie_server) -> None:
    pie_server.fail(r"/tickets/T-bad$", 404)
    consumer = start_consumer(PIE_MAX_ATTEMPTS=3)
    publish(queue, [ticket_created("T-bad", message_id="m-bad"), ticket_created("T-good")])

    wait_until(lambda: consumer.stats["rejected"] == 1 and consumer.stats["stored"] == 1)
    consumer.stop()
    bad = Event.objects.get(message_id="m-bad")
    assert bad.status == EventStatus.REJECTED
    assert bad.attempts == 3 and "gave up after 3 attempts" in bad.last_error and "404" in bad.last_error
    assert Ticket.objects.filter(external_id="T-good").exists()
    assert drain(queue) == []
    assert not Ticket.objects.filter(external_id="T-bad").exists()


def test_duplicate_deliveries_are_stored_and_fetched_once(start_consumer, queue, pie_server) -> None:
    consumer = start_consumer()
    publish(queue, [ticket_created("T-3", message_id="m-dup")])
    wait_until(lambda: consumer.stats["stored"] == 1)
    publish(queue, [ticket_created("T-3", message_id="m-dup"), ticket_created("T-4", message_id="m-after")])

    wait_until(lambda: consumer.stats["stored"] == 2 and consumer.stats["duplicate"] == 1)
    consumer.stop()
    assert Event.objects.get(message_id="m-dup").deliveries == 2
    assert pie_server.count(r"/tickets/T-3$") == 1
    assert Ticket.objects.filter(external_id="T-3").count() == 1
    assert drain(queue) == []


def test_token_expiry_mid_stream_refreshes_and_loses_nothing(start_consumer, queue, token_server) -> None:
    consumer = start_consumer()
    publish(queue, [ticket_created(f"T-{n}") for n in range(5)])
    wait_until(lambda: consumer.stats["stored"] == 5)
    token_server.revoke_all()
    publish(queue, [ticket_created(f"T-{n}") for n in range(5, 10)])

    wait_until(lambda: consumer.stats["stored"] == 10)
    consumer.stop()
    assert token_server.issued == 2 and token_server.refused == []
    assert Ticket.objects.count() == 10


def test_broker_outage_mid_stream_reconnects_and_stores_each_once(start_consumer, queue) -> None:
    proxy = FlakyTcpProxy((RABBITMQ_HOST, RABBITMQ_PORT)).start()
    try:
        consumer = start_consumer(url=f"amqp://127.0.0.1:{proxy.port}")
        publish(queue, [ticket_created(f"T-{n}") for n in range(15)])
        wait_until(lambda: consumer.stats["stored"] >= 5)

        proxy.cut()  # the broker "goes away" in the middle of the stream
        publish(queue, [ticket_created(f"T-{n}") for n in range(15, 30)])  # published while it is away
        wait_until(lambda: proxy.refused >= 2)  # it has tried to reconnect, and been refused, twice
        assert not consumer.consumer.connected.is_set()
        proxy.restore()

        wait_until(lambda: consumer.stats["stored"] == 30, timeout=30)
        consumer.stop()
        assert consumer.stats["connected"] >= 2  # it came back through a new connection
        assert Ticket.objects.count() == 30 and Event.objects.count() == 30
        assert drain(queue) == []
    finally:
        proxy.close()


def test_stop_settles_nothing_it_has_not_stored(start_consumer, queue, pie_server) -> None:
    pie_server.fail(r"/tickets/T-held$", 503)
    consumer = start_consumer(PIE_RETRY_BASE_SECONDS=30, PIE_RETRY_MAX_SECONDS=30)
    publish(queue, [ticket_created("T-held", message_id="m-held")])
    wait_until(lambda: consumer.stats["failed"] == 1)

    consumer.stop()  # while the delivery is held for its 30 s backoff

    left = drain(queue, timeout=2)
    assert [m.id for m in left] == ["m-held"]
    assert Event.objects.get(message_id="m-held").status == EventStatus.RETRYING


def test_backoff_doubles_and_is_capped() -> None:
    assert [backoff_delay(n, 2, 10) for n in (1, 2, 3, 4, 5)] == [2, 4, 8, 10, 10]


def test_sigterm_stops_the_management_command_cleanly(pie_settings_for, org, queue) -> None:
    """The command installs a SIGTERM handler; the signal ends it without settling unstored work."""
    import os
    import signal
    import threading

    from django.core.management import call_command

    pie_settings_for(org, PIE_AMQP_URL=f"amqp://{RABBITMQ_HOST}:{RABBITMQ_PORT}", PIE_AMQP_ADDRESS=queue)
    publish(queue, [ticket_created("T-sig", message_id="m-sig")])
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def terminate_once_stored() -> None:
        """SIGTERM as soon as the event is stored: it may land while the message is still being
        settled, which the command must finish before it stops."""
        from django.db import connection

        try:
            wait_until(lambda: Event.objects.filter(message_id="m-sig", status=EventStatus.STORED).exists())
        finally:
            connection.close()
            os.kill(os.getpid(), signal.SIGTERM)

    killer = threading.Thread(target=terminate_once_stored, daemon=True)
    killer.start()
    try:
        call_command(
            "pie_consumer", "--no-reconcile"
        )  # returns once SIGTERM is handled (or the test times out)
    finally:
        killer.join(30)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert Event.objects.get(message_id="m-sig").status == EventStatus.STORED
    assert drain(queue) == []
