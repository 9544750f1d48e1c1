"""Queue transports, chosen by ``GATEWAY_TRANSPORT`` from an explicit registry.

The registry maps a name to a dotted path and imports the class on first use, so the broker SDKs
(python-qpid-proton, azure-servicebus) load only when their backend is selected and the business
code never imports them. Every backend implements :class:`gateway.transports.base.Transport`.
"""

from __future__ import annotations

from django.utils.module_loading import import_string

from .. import conf
from .base import Outcome, OutgoingMessage, ReceivedMessage, Transport, TransportError

TRANSPORTS: dict[str, str] = {
    "database": "gateway.transports.database.DatabaseTransport",
    "amqp": "gateway.transports.amqp.AmqpTransport",
    "azure-servicebus": "gateway.transports.servicebus.ServiceBusTransport",
}


def transport_class(name: str) -> type[Transport]:
    try:
        path = TRANSPORTS[name]
    except KeyError:
        raise TransportError(
            f"unknown GATEWAY_TRANSPORT {name!r}; choose one of {', '.join(TRANSPORTS)}", permanent=True
        ) from None
    return import_string(path)


def get_transport(name: str | None = None) -> Transport:
    """A new transport of the configured kind (callers close it, or use it as a context manager)."""
    return transport_class(name or conf.get("GATEWAY_TRANSPORT")).from_settings()


__all__ = [
    "TRANSPORTS",
    "Outcome",
    "OutgoingMessage",
    "ReceivedMessage",
    "Transport",
    "TransportError",
    "get_transport",
    "transport_class",
]
