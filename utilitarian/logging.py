"""JSON log lines for log shippers (``LOG_FORMAT=json``), carrying the ids of the work in hand.

Two ways to put ids on a record, both end up as top-level keys of the JSON line:

* ``logger.info(..., extra={"push_frame": ...})`` for one record;
* :func:`log_context` for everything logged while a unit of work runs (an AMR job, an HTTP
  request). It binds ids in a :class:`~contextvars.ContextVar`, so code deep inside a driver or a
  service logs with the job id, meter and correlation id without being handed them. A context
  variable rather than a thread-local: it also follows asyncio tasks (the push receiver) and is
  restored on exit, so nested contexts (a request that runs a job eagerly) unwind correctly.

``extra`` wins over the context for the same key: the caller that names a value knows best.
"""

from __future__ import annotations

import contextlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils.log import log_response

_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

_context: ContextVar[dict[str, Any]] = ContextVar("utilitarian_log_context", default={})  # noqa: B039  (never mutated)


def current_log_context() -> dict[str, Any]:
    """The ids bound by the enclosing :func:`log_context` blocks (a copy)."""
    return dict(_context.get())


@contextlib.contextmanager
def log_context(**ids: Any) -> Iterator[None]:
    """Bind ``ids`` (None values are left out) to every record logged inside the block."""
    merged = {**_context.get(), **{key: value for key, value in ids.items() if value is not None}}
    token = _context.set(merged)
    try:
        yield
    finally:
        _context.reset(token)


def _jsonable(value: Any) -> Any:
    return value if isinstance(value, str | int | float | bool | type(None)) else str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the bound ids, ``extra`` keys."""

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        payload.update({key: _jsonable(value) for key, value in _context.get().items()})
        for key, value in vars(record).items():
            if key not in _STANDARD and not key.startswith("_"):
                payload[key] = _jsonable(value)
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload)


#: Request headers that carry a caller's correlation id, first match wins (the gateway's
#: clients send Itron-CorrelationId; proxies commonly add X-Request-ID).
CORRELATION_HEADERS = ("HTTP_X_CORRELATION_ID", "HTTP_ITRON_CORRELATIONID", "HTTP_X_REQUEST_ID")


class RequestLogContextMiddleware:
    """Binds a correlation id to every record logged while a request is handled: the caller's
    (see :data:`CORRELATION_HEADERS`, at most 128 characters) or a new one, echoed back in
    ``X-Correlation-ID`` so a client can quote it when reporting a problem."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        correlation_id = next(
            (request.META[h][:128] for h in CORRELATION_HEADERS if request.META.get(h)), None
        ) or str(uuid.uuid4())
        with log_context(correlation_id=correlation_id):
            response = self.get_response(request)
            if response.status_code >= 400:
                # Django logs a 4xx/5xx response after the middleware chain returns, outside
                # this context; log it here instead (log_response marks it, so never twice).
                log_response(
                    "%s: %s", response.reason_phrase, request.path, response=response, request=request
                )
        response.setdefault("X-Correlation-ID", correlation_id)
        return response
