"""PiE settings, read on each use from Django settings first, then the environment, then a default.

Reading lazily (not at import) lets tests override them with pytest-django's ``settings`` fixture
and lets one process switch environment without re-importing. The private key is never a Django
setting that could end up in a settings dump: it is read from ``PIE_PRIVATE_KEY_FILE`` or from
the ``PIE_PRIVATE_KEY`` environment variable, and only when an assertion is signed.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

#: Public endpoints of the two PiE environments (from PiE's onboarding documentation).
ENVIRONMENTS = {
    "acceptance": {
        "token_url": "https://acc.idp.cmf.energysector.nl/am/oauth2/access_token",
        "api_root": "https://api.acc.cmf.energysector.nl",
    },
    "production": {
        "token_url": "https://idp.cmf.energysector.nl/am/oauth2/access_token",
        "api_root": "https://api.cmf.energysector.nl",
    },
}


def _raw(name: str, default: Any) -> Any:
    if hasattr(settings, name):
        return getattr(settings, name)
    return os.environ.get(name, default)


def _str(name: str, default: str = "") -> str:
    value = _raw(name, default)
    return "" if value is None else str(value)


def _int(name: str, default: int) -> int:
    return int(_raw(name, default))


def _float(name: str, default: float) -> float:
    return float(_raw(name, default))


def _bool(name: str, default: bool) -> bool:
    value = _raw(name, default)
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class PieSettings:
    environment: str
    organization_id: uuid.UUID | None
    # OAuth client assertion (RFC 7523)
    client_id: str
    key_id: str
    private_key_file: str
    scope: str
    token_url: str
    assertion_lifetime_seconds: int
    token_refresh_margin_seconds: int
    # REST
    api_root: str
    ticket_path: str
    ticket_comments_path: str
    comment_path: str
    tickets_list_path: str
    http_connect_timeout: float
    http_read_timeout: float
    http_retries: int
    http_backoff_factor: float
    ca_bundle: str
    # AMQP 1.0
    amqp_url: str
    amqp_address: str
    amqp_sasl_mechanisms: str
    amqp_username: str
    amqp_password: str
    amqp_allow_plain: bool
    amqp_ca_file: str
    amqp_idle_timeout: float
    prefetch: int
    max_attempts: int
    retry_base_seconds: float
    retry_max_seconds: float
    reconnect_base_seconds: float
    reconnect_max_seconds: float
    reconcile_days: int

    def private_key_pem(self) -> bytes:
        """The service account's private key: from the file, else the environment. Never logged."""
        if self.private_key_file:
            return Path(self.private_key_file).read_bytes()
        value = os.environ.get("PIE_PRIVATE_KEY", "")
        if not value:
            raise ImproperlyConfigured(
                "PiE needs PIE_PRIVATE_KEY_FILE or the PIE_PRIVATE_KEY environment variable"
            )
        return value.encode()

    def require_organization(self) -> uuid.UUID:
        if self.organization_id is None:
            raise ImproperlyConfigured("PIE_ORGANIZATION (the organization's uuid) is not set")
        return self.organization_id


def pie_settings() -> PieSettings:
    environment = _str("PIE_ENVIRONMENT", "acceptance")
    if environment not in ENVIRONMENTS:
        raise ImproperlyConfigured(f"PIE_ENVIRONMENT must be one of {sorted(ENVIRONMENTS)}")
    defaults = ENVIRONMENTS[environment]
    organization = _str("PIE_ORGANIZATION")
    client_id = _str("PIE_CLIENT_ID")
    return PieSettings(
        environment=environment,
        organization_id=uuid.UUID(organization) if organization else None,
        client_id=client_id,
        key_id=_str("PIE_KEY_ID"),
        private_key_file=_str("PIE_PRIVATE_KEY_FILE"),
        scope=_str("PIE_SCOPE"),
        token_url=_str("PIE_TOKEN_URL") or defaults["token_url"],
        assertion_lifetime_seconds=_int("PIE_ASSERTION_LIFETIME_SECONDS", 120),
        token_refresh_margin_seconds=_int("PIE_TOKEN_REFRESH_MARGIN_SECONDS", 60),
        api_root=(_str("PIE_API_ROOT") or defaults["api_root"]).rstrip("/"),
        ticket_path=_str("PIE_TICKET_PATH", "/pie/v1/tickets/{ticket_id}"),
        ticket_comments_path=_str("PIE_TICKET_COMMENTS_PATH", "/pie/v1/tickets/{ticket_id}/comments"),
        comment_path=_str("PIE_COMMENT_PATH", "/pie/v1/comments/{comment_id}"),
        tickets_list_path=_str("PIE_TICKETS_LIST_PATH"),
        http_connect_timeout=_float("PIE_HTTP_CONNECT_TIMEOUT", 5.0),
        http_read_timeout=_float("PIE_HTTP_READ_TIMEOUT", 15.0),
        http_retries=_int("PIE_HTTP_RETRIES", 2),
        http_backoff_factor=_float("PIE_HTTP_BACKOFF_FACTOR", 0.5),
        ca_bundle=_str("PIE_CA_BUNDLE"),
        amqp_url=_str("PIE_AMQP_URL"),
        amqp_address=_str("PIE_AMQP_ADDRESS"),
        amqp_sasl_mechanisms=_str("PIE_AMQP_SASL_MECHANISMS", "PLAIN"),
        amqp_username=_str("PIE_AMQP_USERNAME") or client_id,
        amqp_password=_str("PIE_AMQP_PASSWORD"),
        amqp_allow_plain=_bool("PIE_AMQP_ALLOW_PLAIN", False),
        amqp_ca_file=_str("PIE_AMQP_CA_FILE"),
        amqp_idle_timeout=_float("PIE_AMQP_IDLE_TIMEOUT", 60.0),
        prefetch=_int("PIE_PREFETCH", 10),
        max_attempts=_int("PIE_MAX_ATTEMPTS", 10),
        retry_base_seconds=_float("PIE_RETRY_BASE_SECONDS", 2.0),
        retry_max_seconds=_float("PIE_RETRY_MAX_SECONDS", 600.0),
        reconnect_base_seconds=_float("PIE_RECONNECT_BASE_SECONDS", 1.0),
        reconnect_max_seconds=_float("PIE_RECONNECT_MAX_SECONDS", 60.0),
        reconcile_days=_int("PIE_RECONCILE_DAYS", 7),
    )
