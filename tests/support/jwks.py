"""A stand-in identity service for bearer-JWT tests: RSA keys, a JWKS file, signed tokens.

    issuer = TestIssuer(tmp_path)               # one key, JWKS written to tmp_path/jwks.json
    token = issuer.token(tenant_id="t-1")       # RS256, kid header, iss/aud/exp/iat/sub
    issuer.rotate()                             # new key published; old one dropped

Point the app at it with ``issuer.settings("GATEWAY")`` (a dict for pytest-django's ``settings``).
"""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

ISSUER = "https://identity.example.test/"
AUDIENCE = "third-party-gateway"


def new_key() -> tuple[str, rsa.RSAPrivateKey]:
    return uuid.uuid4().hex[:16], rsa.generate_private_key(public_exponent=65537, key_size=2048)


class TestIssuer:
    __test__ = False  # not a pytest test class

    def __init__(self, directory: Path, *, issuer: str = ISSUER, audience: str = AUDIENCE) -> None:
        self.path = Path(directory) / "jwks.json"
        self.issuer = issuer
        self.audience = audience
        self.keys: list[tuple[str, rsa.RSAPrivateKey]] = [new_key()]
        self.publish()

    @property
    def url(self) -> str:
        return self.path.resolve().as_uri()

    @property
    def kid(self) -> str:
        return self.keys[-1][0]

    def jwks(self) -> dict[str, Any]:
        published = []
        for kid, key in self.keys:
            jwk = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
            published.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return {"keys": published}

    def publish(self) -> None:
        self.path.write_text(json.dumps(self.jwks()))

    def rotate(self, *, keep_old: bool = False) -> str:
        """Publish a new signing key (and drop the old one unless ``keep_old``); returns its kid."""
        fresh = new_key()
        self.keys = [*self.keys, fresh] if keep_old else [fresh]
        self.publish()
        return fresh[0]

    def token(
        self,
        *,
        tenant_id: str | None = None,
        tenant_claim: str = "tenant_id",
        lifetime: int = 3600,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        **overrides: Any,
    ) -> str:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "aud": self.audience,
            "sub": "portal-client",
            "client_id": "portal-client",
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "scope": "third-party-gateway",
        }
        if tenant_id is not None:
            claims[tenant_claim] = tenant_id
        claims.update(overrides)
        claims = {k: v for k, v in claims.items() if v is not None}
        signing_kid, signing_key = self.keys[-1]
        return jwt.encode(claims, key or signing_key, algorithm="RS256", headers={"kid": kid or signing_kid})

    def settings(self, prefix: str) -> dict[str, Any]:
        return {
            f"{prefix}_JWKS_URL": self.url,
            f"{prefix}_ISSUER": self.issuer,
            f"{prefix}_AUDIENCE": self.audience,
            f"{prefix}_JWKS_REFRESH_COOLDOWN_SECONDS": 0,
        }
