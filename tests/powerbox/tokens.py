"""The utility's identity provider for the PowerBox tests, on the shared ``TestIssuer``
(tests/support/jwks.py): named keys (``k1``, ``k2``…) cached for the session, and customer
tokens whose customer claim (``sub`` unless told otherwise) holds the CIS clientId."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.jwks import TestIssuer

ISSUER = "https://idp.utility.test/realms/customers"
AUDIENCE = "powerbox"


@lru_cache(maxsize=8)
def rsa_key(name: str) -> rsa.RSAPrivateKey:
    """One RSA key per name for the whole session (key generation is the slow part)."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class IdentityProvider:
    def __init__(self, directory: Path) -> None:
        self.issuer = TestIssuer(directory, issuer=ISSUER, audience=AUDIENCE)

    @property
    def jwks_url(self) -> str:
        return self.issuer.url

    def publish(self, **keys: rsa.RSAPrivateKey) -> None:
        """Publish exactly these keys (kid=key) in the JWKS file."""
        self.issuer.keys = list(keys.items())
        self.issuer.publish()

    def token(
        self,
        client_id: Any = "123456789",
        *,
        kid: str = "k1",
        key: rsa.RSAPrivateKey | None = None,
        claim: str = "sub",
        **overrides: Any,
    ) -> str:
        """A token for ``client_id`` (None: without the customer claim) signed by key ``kid``."""
        if client_id is None:
            overrides.setdefault(claim, None)
        signing_key = key if key is not None else dict(self.issuer.keys)[kid]
        return self.issuer.token(
            tenant_id=client_id, tenant_claim=claim, key=signing_key, kid=kid, scope=None, **overrides
        )


def unsigned_token(claims: dict[str, Any], kid: str = "k1") -> str:
    """A token with ``alg: none`` (PyJWT writes an empty signature)."""
    return jwt.encode(claims, None, algorithm="none", headers={"kid": kid})
