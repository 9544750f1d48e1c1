"""The configured Celery broker, for tests that use a real one (Redis in CI)."""

from __future__ import annotations

from utilitarian.celery import app


def queue_length(queue: str) -> int:
    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=queue, passive=False).message_count


def purge(*queues: str) -> None:
    with app.connection_for_write() as conn:
        channel = conn.default_channel
        for queue in queues:
            channel.queue_declare(queue=queue)
            channel.queue_purge(queue)


def is_redis() -> bool:
    return app.conf.broker_url.startswith("redis://")


def require_redis() -> None:
    """Skip without the Redis broker, except in CI, where a missing service is a failure."""
    import os

    import pytest

    if not is_redis():
        message = "needs the Redis broker (CELERY_BROKER_URL=redis://...)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
