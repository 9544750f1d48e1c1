"""Bearer JWTs issued by an external identity provider, validated against its JWKS.

The integrations (Third-Party Gateway, PowerBox) are called by systems that hold OAuth 2.0 access
tokens from someone else's identity service, not by our users. Those tokens are checked by
signature against the issuer's published keys (JWKS), then by issuer, audience, expiry and,
when the integration is multi-tenant, a tenant claim. Nothing here touches the user table.

One class serves every integration; each one picks its settings by prefix::

    class GatewayBearerAuthentication(BearerJWTAuthentication):
        settings_prefix = "GATEWAY"

    # or, without a named subclass:
    BearerJWTAuthentication.for_prefix("POWERBOX")

reads ``<PREFIX>_JWKS_URL`` (``https://…`` or ``file:///…``), ``<PREFIX>_ISSUER``,
``<PREFIX>_AUDIENCE``, ``<PREFIX>_TENANT_CLAIM`` (empty: no tenant claim is required),
``<PREFIX>_JWT_ALGORITHMS`` (default RS256, ES256, PS256), ``<PREFIX>_JWKS_CACHE_SECONDS``
(300), ``<PREFIX>_JWKS_REFRESH_COOLDOWN_SECONDS`` (10: an unknown ``kid`` refetches the key set
at most this often, so rotated keys are picked up without letting forged ``kid`` values hammer
the identity service), ``<PREFIX>_JWKS_TIMEOUT_SECONDS`` (5) and ``<PREFIX>_JWT_LEEWAY_SECONDS``
(30) from Django settings, falling back to the environment.

Outcomes: no ``Authorization: Bearer`` header → DRF's 401 (``WWW-Authenticate: Bearer``); a bad
signature, unknown key, wrong issuer or audience, expired token or missing required claim → 401;
whether the principal may act for a given tenant is a permission (403), see
:class:`BearerTenantPermission`. HMAC algorithms are never accepted: the keys are public.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import unquote, urlparse

import jwt
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt import PyJWKClient
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

DEFAULT_ALGORITHMS = ("RS256", "ES256", "PS256")
_PUBLIC_KEY_ALGORITHMS = {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}


@dataclass(frozen=True)
class BearerPrincipal:
    """``request.user`` for a request authenticated by an external bearer token."""

    subject: str
    tenant_id: str | None
    claims: dict[str, Any] = field(repr=False)

    is_authenticated: ClassVar[bool] = True
    is_anonymous: ClassVar[bool] = False
    is_staff: ClassVar[bool] = False
    is_active: ClassVar[bool] = True
    pk: ClassVar[None] = None

    def __str__(self) -> str:
        return f"bearer:{self.subject}"


class JWKSClient(PyJWKClient):
    """PyJWKClient that also reads ``file:///path`` key sets (deployments that mount the JWKS).

    PyJWT refuses non-HTTP schemes on purpose (a ``jku`` header must never read local files);
    here the URL comes from our own settings, never from a token, so a file is safe to allow.
    """

    def __init__(self, uri: str, **kwargs: Any) -> None:
        scheme = urlparse(uri).scheme.lower()
        if scheme not in ("http", "https", "file"):
            raise ImproperlyConfigured(f"JWKS URL must be https://… or file:///…, not {uri!r}")
        super().__init__(uri if scheme != "file" else "https://jwks.file.invalid/", **kwargs)
        self.uri = uri
        self._is_file = scheme == "file"

    def fetch_data(self) -> Any:
        if not self._is_file:
            return super().fetch_data()
        import time

        path = unquote(urlparse(self.uri).path)
        try:
            with open(path, encoding="utf-8") as handle:
                data = self._as_jwk_set_payload(json.load(handle))
        except (OSError, ValueError) as exc:
            raise jwt.PyJWKClientConnectionError(f"cannot read JWKS file {path}: {exc}") from exc
        if self.jwk_set_cache is not None:
            self.jwk_set_cache.put(data)
        self._last_successful_fetch = time.monotonic()
        return data


_clients: dict[tuple, JWKSClient] = {}
_clients_lock = threading.Lock()


def jwks_client(url: str, *, lifespan: float, cooldown: float, timeout: float) -> JWKSClient:
    """One cached client per (URL, cache policy), shared by every request of the process."""
    key = (url, lifespan, cooldown, timeout)
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            client = JWKSClient(url, lifespan=lifespan, cooldown_duration=cooldown, timeout=timeout)
            _clients[key] = client
        return client


def clear_jwks_cache() -> None:
    """Forget every cached key set (tests; or an operator after an emergency key revocation)."""
    with _clients_lock:
        _clients.clear()


class BearerJWTAuthentication(BaseAuthentication):
    """DRF authentication for ``Authorization: Bearer <JWT>`` from the configured issuer."""

    settings_prefix: ClassVar[str] = ""
    keyword = "Bearer"

    @classmethod
    def for_prefix(cls, prefix: str) -> type[BearerJWTAuthentication]:
        return type(f"{prefix.title()}BearerJWTAuthentication", (cls,), {"settings_prefix": prefix})

    # --- configuration --------------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        if not self.settings_prefix:
            raise ImproperlyConfigured(f"{type(self).__name__} needs a settings_prefix")
        full = f"{self.settings_prefix}_{name}"
        value = getattr(settings, full, None)
        if value is None:
            value = os.environ.get(full, default)
        return value

    def required_setting(self, name: str) -> str:
        value = self.setting(name)
        if not value:
            raise ImproperlyConfigured(f"{self.settings_prefix}_{name} is not set")
        return str(value)

    @property
    def tenant_claim(self) -> str:
        return str(self.setting("TENANT_CLAIM", "tenant_id") or "")

    def algorithms(self) -> list[str]:
        raw = self.setting("JWT_ALGORITHMS", ",".join(DEFAULT_ALGORITHMS))
        names = [a.strip() for a in (raw.split(",") if isinstance(raw, str) else raw) if a.strip()]
        unsafe = set(names) - _PUBLIC_KEY_ALGORITHMS
        if unsafe or not names:
            raise ImproperlyConfigured(f"{self.settings_prefix}_JWT_ALGORITHMS: unsupported {sorted(unsafe)}")
        return names

    def client(self) -> JWKSClient:
        return jwks_client(
            self.required_setting("JWKS_URL"),
            lifespan=float(self.setting("JWKS_CACHE_SECONDS", 300)),
            cooldown=float(self.setting("JWKS_REFRESH_COOLDOWN_SECONDS", 10)),
            timeout=float(self.setting("JWKS_TIMEOUT_SECONDS", 5)),
        )

    # --- DRF hooks ------------------------------------------------------------------------
    def authenticate_header(self, request: Request) -> str:
        return f'{self.keyword} realm="{self.settings_prefix.lower() or "api"}"'

    def authenticate(self, request: Request) -> tuple[BearerPrincipal, str] | None:
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != self.keyword.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed("Malformed bearer authorization header.")
        try:
            token = parts[1].decode("ascii")
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Malformed bearer token.") from exc
        claims = self.decode(token)
        return self.principal(claims), token

    def decode(self, token: str) -> dict[str, Any]:
        required = ["exp", "iss", "aud"]
        if self.tenant_claim:
            required.append(self.tenant_claim)
        try:
            signing_key = self.client().get_signing_key_from_jwt(token)
            return jwt.decode(
                token,
                key=signing_key.key,
                algorithms=self.algorithms(),
                audience=self.required_setting("AUDIENCE"),
                issuer=self.required_setting("ISSUER"),
                leeway=float(self.setting("JWT_LEEWAY_SECONDS", 30)),
                options={"require": required},
            )
        except jwt.PyJWKClientConnectionError as exc:
            # The identity service is unreachable: the token may be fine, but we cannot tell.
            raise exceptions.AuthenticationFailed("Signing keys are unavailable; try again.") from exc
        except jwt.ExpiredSignatureError as exc:
            raise exceptions.AuthenticationFailed("Token has expired.") from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise exceptions.AuthenticationFailed(f"Invalid token: {exc}") from exc

    def principal(self, claims: dict[str, Any]) -> BearerPrincipal:
        tenant = claims.get(self.tenant_claim) if self.tenant_claim else None
        subject = claims.get("sub") or claims.get("client_id") or claims.get("azp") or ""
        return BearerPrincipal(
            subject=str(subject), tenant_id=None if tenant is None else str(tenant), claims=claims
        )


class BearerTenantPermission(BasePermission):
    """The token's tenant claim must equal the URL's tenant (``view.tenant_url_kwarg``).

    Comparison ignores case so GUID tenant ids written in upper case still match."""

    message = "The token was not issued for this tenant."

    def has_permission(self, request: Request, view: Any) -> bool:
        principal = request.user
        if not isinstance(principal, BearerPrincipal):
            return False
        kwarg = getattr(view, "tenant_url_kwarg", "tenantId")
        wanted = str(view.kwargs.get(kwarg, ""))
        return bool(principal.tenant_id) and principal.tenant_id.lower() == wanted.lower()
