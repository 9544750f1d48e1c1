"""The shared bearer-JWT authentication (utilitarian/bearer.py) as the gateway uses it."""

from __future__ import annotations

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.gateway.conftest import install
from utilitarian.bearer import BearerJWTAuthentication

pytestmark = pytest.mark.django_db


def client_with(portal, token: str):
    portal.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return portal


def test_valid_token_for_the_tenant_is_accepted(portal, tenant_id) -> None:
    assert install(portal, tenant_id).status_code == 202


def test_missing_token_is_401_with_bearer_challenge(portal, tenant_id) -> None:
    portal.credentials()
    response = install(portal, tenant_id)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", ""])
def test_malformed_token_is_401(portal, tenant_id, token) -> None:
    assert install(client_with(portal, token), tenant_id).status_code == 401


def test_expired_token_is_401(portal, issuer, tenant_id) -> None:
    token = issuer.token(tenant_id=tenant_id, exp=1_600_000_000, iat=1_599_990_000, nbf=1_599_990_000)
    response = install(client_with(portal, token), tenant_id)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]


@pytest.mark.parametrize("claim", [{"iss": "https://evil.example/"}, {"aud": "someone-else"}])
def test_wrong_issuer_or_audience_is_401(portal, issuer, tenant_id, claim) -> None:
    assert (
        install(client_with(portal, issuer.token(tenant_id=tenant_id, **claim)), tenant_id).status_code == 401
    )


def test_token_signed_by_an_unknown_key_is_401(portal, issuer, tenant_id) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = issuer.token(tenant_id=tenant_id, key=stranger)  # published kid, wrong key
    assert install(client_with(portal, token), tenant_id).status_code == 401


def test_hmac_token_using_the_public_key_as_secret_is_401(portal, issuer, tenant_id) -> None:
    claims = jwt.decode(issuer.token(tenant_id=tenant_id), options={"verify_signature": False})
    forged = jwt.encode(
        claims,
        "a-shared-secret-the-attacker-picked-0123456789",
        algorithm="HS256",
        headers={"kid": issuer.kid},
    )
    assert install(client_with(portal, forged), tenant_id).status_code == 401


def test_token_without_tenant_claim_is_401(portal, issuer, tenant_id) -> None:
    assert install(client_with(portal, issuer.token()), tenant_id).status_code == 401


def test_token_of_another_tenant_is_403(portal, issuer, tenant_id) -> None:
    token = issuer.token(tenant_id="11111111-2222-3333-4444-555556666666")
    assert install(client_with(portal, token), tenant_id).status_code == 403


def test_tenant_claim_name_is_configurable(portal, issuer, tenant_id, settings) -> None:
    settings.GATEWAY_TENANT_CLAIM = "itron_tenant"
    assert install(client_with(portal, issuer.token(tenant_id=tenant_id)), tenant_id).status_code == 401
    token = issuer.token(tenant_id=tenant_id, tenant_claim="itron_tenant")
    assert install(client_with(portal, token), tenant_id).status_code == 202


def test_rotated_key_is_picked_up_without_restart(portal, issuer, tenant_id) -> None:
    assert install(portal, tenant_id).status_code == 202  # key set now cached
    issuer.rotate()
    assert install(client_with(portal, issuer.token(tenant_id=tenant_id)), tenant_id).status_code == 202


def test_key_set_is_cached_between_requests(portal, issuer, tenant_id) -> None:
    assert install(portal, tenant_id).status_code == 202
    issuer.path.write_text("{not json")  # a cached set does not need the file again
    assert install(portal, tenant_id).status_code == 202


def test_unreachable_key_set_is_401_not_500(portal, issuer, tenant_id, settings) -> None:
    settings.GATEWAY_JWKS_URL = issuer.url + ".missing"
    assert install(portal, tenant_id).status_code == 401


def test_for_prefix_reads_that_prefix_settings(issuer, settings, rf) -> None:
    for name, value in issuer.settings("POWERBOX").items():
        setattr(settings, name, value)
    settings.POWERBOX_TENANT_CLAIM = ""
    auth = BearerJWTAuthentication.for_prefix("POWERBOX")()
    request = rf.get("/", HTTP_AUTHORIZATION=f"Bearer {issuer.token(sub='customer-42')}")
    principal, _ = auth.authenticate(request)
    assert principal.subject == "customer-42" and principal.tenant_id is None
