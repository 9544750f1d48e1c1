"""Access tokens for PiE: an RFC 7523 client assertion exchanged for a bearer token.

The service account authenticates with a JWT it signs itself (``private_key_jwt``): issuer and
subject are the client id, the audience is the token endpoint, ``jti`` is fresh for every
request (the identity provider refuses a replay), ``iat``/``exp`` bound it to a short window, and
the ``kid`` header names the registered key. The form is posted through requests-oauthlib's
``OAuth2Session.fetch_token`` with a ``BackendApplicationClient`` (grant ``client_credentials``):
it already speaks the token response (``expires_in`` → ``expires_at``, error bodies → exceptions),
so only the assertion is ours. authlib's ``PrivateKeyJWT`` would build the assertion too, but it
is a second OAuth stack beside the requests-oauthlib the project already depends on, and its
claim defaults (lifetime, no ``kid`` unless the key carries one) would need overriding anyway.
``include_client_id=True`` keeps requests-oauthlib from adding an HTTP Basic header.

One :class:`TokenService` per process caches the token until ``token_refresh_margin_seconds``
before it expires; callers that get a 401 call :meth:`TokenService.invalidate` and ask again.
The private key is loaded when an assertion is signed and never logged or stored.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass

import jwt
from oauthlib.oauth2 import BackendApplicationClient
from requests_oauthlib import OAuth2Session

from .conf import PieSettings, pie_settings

logger = logging.getLogger(__name__)

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


class TokenError(Exception):
    """The identity provider did not issue a token (worth retrying later)."""


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: float

    def fresh(self, margin: float) -> bool:
        return time.time() < self.expires_at - margin


def build_client_assertion(conf: PieSettings, *, now: float | None = None) -> str:
    """A signed client assertion for one token request."""
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": conf.client_id,
        "sub": conf.client_id,
        "aud": conf.token_url,
        "jti": str(uuid.uuid4()),
        "iat": issued,
        "exp": issued + conf.assertion_lifetime_seconds,
    }
    headers = {"kid": conf.key_id} if conf.key_id else None
    return jwt.encode(claims, conf.private_key_pem(), algorithm="RS256", headers=headers)


class TokenService:
    def __init__(self, conf: PieSettings | None = None) -> None:
        self.conf = conf or pie_settings()
        self._token: AccessToken | None = None
        self._lock = threading.Lock()

    def get(self) -> str:
        """A valid access token, fetched when the cached one is missing or about to expire."""
        with self._lock:
            if self._token is None or not self._token.fresh(self.conf.token_refresh_margin_seconds):
                self._token = self._fetch()
            return self._token.value

    def invalidate(self, rejected: str | None = None) -> None:
        """Forget the cached token (the API answered 401 with it)."""
        with self._lock:
            if rejected is None or (self._token is not None and self._token.value == rejected):
                self._token = None

    def _fetch(self) -> AccessToken:
        conf = self.conf
        session = OAuth2Session(client=BackendApplicationClient(client_id=conf.client_id))
        extra = {"scope": conf.scope} if conf.scope else {}
        assertion = build_client_assertion(conf)  # a missing key is a configuration error: raise it
        try:
            token = session.fetch_token(
                conf.token_url,
                client_assertion_type=ASSERTION_TYPE,
                client_assertion=assertion,
                include_client_id=True,
                timeout=(conf.http_connect_timeout, conf.http_read_timeout),
                verify=conf.ca_bundle or True,
                **extra,
            )
        except Exception as exc:  # requests and oauthlib errors alike: the caller retries later
            raise TokenError(
                f"token request to {conf.token_url} failed: {type(exc).__name__}: {exc}"
            ) from exc
        expires_at = float(token.get("expires_at") or time.time() + float(token.get("expires_in") or 300))
        logger.info("pie: access token obtained, valid for %.0f s", expires_at - time.time())
        return AccessToken(value=token["access_token"], expires_at=expires_at)
