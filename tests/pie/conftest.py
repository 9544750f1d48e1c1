from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tests.support.pie_servers import PieRestServer, ServiceAccount, TokenServer


@pytest.fixture(scope="session")
def service_account() -> ServiceAccount:
    return ServiceAccount.generate()


@pytest.fixture
def token_server(service_account) -> Iterator[TokenServer]:
    server = TokenServer(service_account).start()
    yield server
    server.stop()


@pytest.fixture
def pie_server(token_server) -> Iterator[PieRestServer]:
    server = PieRestServer(token_server).start()
    yield server
    server.stop()


@pytest.fixture
def pie_settings_for(settings, monkeypatch, tmp_path, service_account, token_server, pie_server):
    """Point the PiE settings at the loopback peers; returns a function taking the organization."""
    # oauthlib insists on https; the loopback token endpoint of the tests is plain http.
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.delenv("PIE_PRIVATE_KEY", raising=False)
    key_file = service_account.write_private_key(tmp_path)

    def apply(organization=None, **overrides):
        values = {
            "PIE_ORGANIZATION": str(organization.pk) if organization else "",
            "PIE_CLIENT_ID": service_account.client_id,
            "PIE_KEY_ID": service_account.key_id,
            "PIE_PRIVATE_KEY_FILE": str(key_file),
            "PIE_TOKEN_URL": token_server.url,
            "PIE_API_ROOT": pie_server.base_url,
            "PIE_HTTP_RETRIES": 1,
            "PIE_HTTP_BACKOFF_FACTOR": 0.01,
            "PIE_HTTP_READ_TIMEOUT": 2,
            "PIE_HTTP_CONNECT_TIMEOUT": 2,
            "PIE_RETRY_BASE_SECONDS": 0.05,
            "PIE_RETRY_MAX_SECONDS": 0.2,
            "PIE_RECONNECT_BASE_SECONDS": 0.1,
            "PIE_RECONNECT_MAX_SECONDS": 0.5,
            "PIE_AMQP_USERNAME": "guest",
            "PIE_AMQP_PASSWORD": "guest",
            **overrides,
        }
        for name, value in values.items():
            setattr(settings, name, value)
        from pie.conf import pie_settings

        return pie_settings()

    return apply


class ConsumerThread:
    """Runs a PieConsumer in a thread, as the management command would in its process."""

    def __init__(self, consumer) -> None:
        self.consumer = consumer
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        from django.db import connection

        try:
            self.consumer.run()
        except BaseException as exc:  # surfaced by stop()
            self.error = exc
        finally:
            connection.close()

    @property
    def stats(self):
        return self.consumer.stats

    def start(self) -> ConsumerThread:
        self.thread.start()
        if not self.consumer.connected.wait(timeout=15):
            self.stop()
            pytest.fail("the consumer did not attach to the broker within 15 s")
        return self

    def stop(self) -> None:
        self.consumer.stop()
        self.thread.join(timeout=15)
        assert not self.thread.is_alive(), "consumer did not stop within 15 s"
        if self.error:
            raise self.error
