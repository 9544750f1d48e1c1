"""The AMQP 1.0 consumer of PiE notifications (python-qpid-proton, one reactor thread).

Per delivery, in order: parse → record the event (dedup by message id) → fetch over REST and
upsert → mark stored → *accept*. Nothing is accepted before it is stored, so a crash at any
point loses nothing: the broker redelivers, and the event row turns the redelivery into an
accept without a second fetch.

* **REST failure** (PiE down, 5xx/429 after the client's own retries, 404, token trouble): the
  attempt is counted and the delivery is held for an exponential backoff, then *released* so the
  broker redelivers it. Other deliveries keep flowing meanwhile (up to the prefetch credit).
* **Poison**: a message that names nothing (unparseable) is rejected at once; one that failed
  ``PIE_MAX_ATTEMPTS`` times is rejected too. The reason is kept on the event row, and start-up
  reconciliation retries the tickets such events name.
* **Broker gone**: the connection is rebuilt with exponential backoff (and a fresh access token
  as SASL password, since tokens expire). Deliveries held for backoff die with the connection
  and are redelivered by the broker.
* **Stop** (SIGTERM through the management command, or :meth:`PieConsumer.stop` from a test):
  the message being processed finishes (it is stored, then accepted); everything else is left
  unsettled and the connection closed, so the broker keeps it.

The REST fetch runs inside the reactor callback: it is bounded by the client's timeouts and
retries, which must stay below the connection's idle timeout. Messages live one day on the
broker; a consumer away longer catches up through :func:`pie.services.reconcile` at start.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from urllib.parse import urlsplit

from django.db import close_old_connections
from proton import Condition, Delivery, Endpoint, SSLDomain
from proton.handlers import MessagingHandler
from proton.reactor import Container

from . import services
from .auth import TokenError
from .client import PieClient, PieError
from .conf import PieSettings, pie_settings
from .messages import UnparseableMessage, parse_notification
from .models import EventStatus

logger = logging.getLogger(__name__)

LOOPBACK_HOSTS = {"127.0.0.1", "::1", "localhost"}


def backoff_delay(attempt: int, base: float, maximum: float) -> float:
    """``base * 2**(attempt-1)``, capped."""
    return min(maximum, base * (2 ** max(0, attempt - 1)))


class _Timer:
    """A proton timer handler that calls a function once."""

    def __init__(self, callback) -> None:
        self.callback = callback

    def on_timer_task(self, event) -> None:
        self.callback()


class PieConsumer(MessagingHandler):
    def __init__(
        self,
        *,
        conf: PieSettings | None = None,
        client: PieClient | None = None,
        organization_id: uuid.UUID | None = None,
    ) -> None:
        self.conf = conf or pie_settings()
        super().__init__(prefetch=self.conf.prefetch, auto_accept=False)
        self.client = client or PieClient(self.conf)
        self.organization_id = organization_id or self.conf.require_organization()
        self._check_url()
        self._stop = threading.Event()
        self.stopping = False
        self.container: Container | None = None
        self.connection = None
        self.receiver = None
        self.connected = threading.Event()
        self.reconnect_attempt = 0
        self._held: dict[int, object] = {}  # id(delivery) → proton Task of its delayed release
        self._close_deadline = None
        #: What happened so far (stored, duplicate, failed, rejected, connected): for logs and tests.
        self.stats: Counter[str] = Counter()

    # --- lifecycle -------------------------------------------------------------------------
    def _check_url(self) -> None:
        if not self.conf.amqp_url or not self.conf.amqp_address:
            raise ValueError("PIE_AMQP_URL and PIE_AMQP_ADDRESS must be set")
        parts = urlsplit(self.conf.amqp_url)
        if parts.scheme not in ("amqp", "amqps"):
            raise ValueError("PIE_AMQP_URL must be amqps://… (or amqp:// for a local broker)")
        if parts.scheme == "amqp" and not (self.conf.amqp_allow_plain or parts.hostname in LOOPBACK_HOSTS):
            raise ValueError(
                "plain amqp:// is only allowed to a loopback broker or with PIE_AMQP_ALLOW_PLAIN=1"
            )

    def run(self) -> None:
        """Run until :meth:`stop` is called (blocks)."""
        self.container = Container(self)
        self.container.container_id = f"utilitarian-pie-{uuid.uuid4()}"
        self.container.run()

    def stop(self) -> None:
        """Ask the consumer to stop (thread- and signal-safe)."""
        self._stop.set()

    def on_start(self, event) -> None:
        self._connect()
        self._tick()

    def _tick(self) -> None:
        assert self.container is not None
        if self._stop.is_set() and not self.stopping:
            self._shutdown()
        if self.stopping:
            if self._close_deadline is not None and self.container is not None:
                self._close_deadline -= 0.1
                if self._close_deadline <= 0:
                    logger.warning("pie: broker did not confirm close in time; stopping anyway")
                    self.container.stop()
                    return
            if self.connection is None:
                return
        self.container.schedule(0.1, _Timer(self._tick))

    def _shutdown(self) -> None:
        self.stopping = True
        for task in self._held.values():
            task.cancel()
        self._held.clear()
        self._close_deadline = 5.0
        if self.connection is not None and self.connection.state & Endpoint.LOCAL_ACTIVE:
            # Unsettled deliveries go back to the broker's queue when the link closes.
            self.connection.close()
        else:
            self.connection = None
        logger.info("pie: consumer stopping")

    # --- connection ------------------------------------------------------------------------
    def _connect(self) -> None:
        if self.stopping:
            return
        assert self.container is not None
        conf = self.conf
        password = conf.amqp_password
        if not password:
            try:
                password = self.client.tokens.get()
            except TokenError as exc:
                logger.warning("pie: no access token for the broker: %s", exc)
                self._schedule_reconnect()
                return
        scheme = urlsplit(conf.amqp_url).scheme
        ssl_domain = None
        if scheme == "amqps":
            ssl_domain = SSLDomain(SSLDomain.MODE_CLIENT)
            if conf.amqp_ca_file:
                ssl_domain.set_trusted_ca_db(conf.amqp_ca_file)
            ssl_domain.set_peer_authentication(SSLDomain.VERIFY_PEER_NAME, conf.amqp_ca_file or None)
        self.connection = self.container.connect(
            conf.amqp_url,
            user=conf.amqp_username or None,
            password=password,
            allowed_mechs=conf.amqp_sasl_mechanisms or None,
            allow_insecure_mechs=scheme == "amqp",
            ssl_domain=ssl_domain,
            reconnect=False,
            heartbeat=conf.amqp_idle_timeout or None,
        )
        self.receiver = self.container.create_receiver(self.connection, conf.amqp_address)

    def _schedule_reconnect(self) -> None:
        if self.stopping:
            return
        self.reconnect_attempt += 1
        delay = backoff_delay(
            self.reconnect_attempt, self.conf.reconnect_base_seconds, self.conf.reconnect_max_seconds
        )
        logger.warning(
            "pie: broker unavailable, reconnecting in %.1f s (attempt %d)", delay, self.reconnect_attempt
        )
        assert self.container is not None
        self.container.schedule(delay, _Timer(self._connect))

    def _lost(self, connection) -> None:
        if connection != self.connection:
            return  # an older connection's late event
        self.connected.clear()
        for task in self._held.values():
            task.cancel()  # the broker redelivers them: their link is gone
        self._held.clear()
        self.connection = None
        self.receiver = None
        if not self.stopping:
            self._schedule_reconnect()

    def on_link_opened(self, event) -> None:
        if event.link.is_receiver and event.connection == self.connection:
            self.reconnect_attempt = 0
            self.stats["connected"] += 1
            self.connected.set()
            logger.info("pie: receiving from %s", self.conf.amqp_address)

    def on_disconnected(self, event) -> None:
        self._lost(event.connection)

    def on_transport_error(self, event) -> None:
        condition = event.transport.condition
        logger.warning("pie: transport error: %s", condition.description if condition else "unknown")

    def on_connection_error(self, event) -> None:
        condition = event.connection.remote_condition
        logger.warning("pie: broker closed the connection: %s", condition)
        event.connection.close()

    def on_link_error(self, event) -> None:
        condition = event.link.remote_condition
        logger.warning("pie: broker closed the link: %s", condition)
        event.connection.close()

    def on_connection_closed(self, event) -> None:
        if self.stopping:
            self.connection = None
            self.connected.clear()
        else:
            self._lost(event.connection)

    # --- messages --------------------------------------------------------------------------
    def on_message(self, event) -> None:
        if self.stopping:
            return  # not stored: leave it to the broker
        delivery, message = event.delivery, event.message
        close_old_connections()
        try:
            notification = parse_notification(
                amqp_id=message.id, properties=message.properties, body=message.body, subject=message.subject
            )
        except UnparseableMessage as exc:
            logger.warning(
                "pie: rejecting unparseable message %s: %s", exc.notification.message_id, exc.reason
            )
            try:
                services.rejected_event_record(
                    organization_id=self.organization_id, notification=exc.notification, reason=exc.reason
                )
            except Exception:
                logger.exception("pie: could not record the rejected message; leaving it to the broker")
                self._release_later(delivery, self.conf.retry_base_seconds)
                return
            self.stats["rejected"] += 1
            self._reject(delivery, exc.reason)
            return
        try:
            record = services.event_record(organization_id=self.organization_id, notification=notification)
        except Exception:
            logger.exception("pie: could not record message %s; releasing it", notification.message_id)
            self._release_later(delivery, self.conf.retry_base_seconds)
            return
        if record.status == EventStatus.STORED:
            self.stats["duplicate"] += 1
            self.accept(delivery)  # a duplicate delivery of something already stored
            return
        if record.status == EventStatus.REJECTED:
            self.stats["duplicate"] += 1
            self._reject(delivery, record.last_error)
            return
        try:
            services.event_process(event=record, client=self.client)
            services.event_mark_stored(event=record)
        except Exception as exc:
            try:
                self._failed(delivery, record, exc)
            except Exception:
                # The database itself is failing: leave the message to the broker, count nothing.
                logger.exception("pie: could not record the failure of message %s", record.message_id)
                self._release_later(delivery, self.conf.retry_base_seconds)
            return
        self.stats["stored"] += 1
        self.accept(delivery)

    def _failed(self, delivery, record, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {exc}"
        if not isinstance(exc, PieError):
            logger.error("pie: processing message %s failed unexpectedly", record.message_id, exc_info=exc)
        self.stats["failed"] += 1
        attempts = services.event_mark_failed(event=record, error=reason)
        if attempts >= self.conf.max_attempts:
            reason = f"gave up after {attempts} attempts; last error: {reason}"
            services.event_mark_rejected(event=record, reason=reason)
            logger.error("pie: rejecting message %s: %s", record.message_id, reason)
            self.stats["rejected"] += 1
            self._reject(delivery, reason)
            return
        delay = backoff_delay(attempts, self.conf.retry_base_seconds, self.conf.retry_max_seconds)
        logger.warning(
            "pie: message %s attempt %d failed (%s); releasing in %.1f s",
            record.message_id,
            attempts,
            reason,
            delay,
        )
        self._release_later(delivery, delay)

    def _reject(self, delivery, reason: str) -> None:
        delivery.local.condition = Condition("utilitarian:pie:poison", reason[:1000])
        self.settle(delivery, Delivery.REJECTED)

    def _release_later(self, delivery, delay: float) -> None:
        assert self.container is not None
        key = id(delivery)

        def release() -> None:
            self._held.pop(key, None)
            link = delivery.link
            if self.stopping or delivery.settled or not (link.state & Endpoint.LOCAL_ACTIVE):
                return
            self.release(delivery, delivered=False)

        self._held[key] = self.container.schedule(delay, _Timer(release))
