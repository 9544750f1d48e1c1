"""The customer's bearer token: every way it can be wrong is a 401 with an empty body."""

from __future__ import annotations

import time
from types import SimpleNamespace

import jwt
import pytest
from jwt import jwk_set_cache
from rest_framework.test import APIClient

from .tokens import AUDIENCE, ISSUER, rsa_key, unsigned_token

ENDPOINTS = ["/v1/powerbox/customer", "/v1/powerbox/bind"]


def assert_bare(response, code: int) -> None:
    assert response.status_code == code, response.content
    assert response.content == b""


def post(endpoint: str, authorization: str | None):
    client = APIClient()
    if authorization is not None:
        client.credentials(HTTP_AUTHORIZATION=authorization)
    return client.post(endpoint)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_missing_token_is_401_with_a_bearer_challenge(idp, john, endpoint) -> None:
    response = post(endpoint, None)
    assert_bare(response, 401)
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer",
        "Bearer    ",
        "Bearer a b",
        "Bearer not-a-jwt",
        "Bearer eyJhbGciOiJSUzI1NiJ9.e30.c2ln",
        "Basic dXNlcjpwYXNz",
        "Token 0123456789abcdef0123456789abcdef01234567",
        "JWT abc",
    ],
)
@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_malformed_authorization_is_401(idp, john, endpoint, authorization) -> None:
    assert_bare(post(endpoint, authorization), 401)


def token_cases(idp) -> dict[str, str]:
    now = int(time.time())
    return {
        "expired": idp.token(exp=now - 3600, iat=now - 7200),
        "wrong issuer": idp.token(iss="https://evil.test/"),
        "wrong audience": idp.token(aud="someone-else"),
        "no exp": idp.token(exp=None),
        "no iss": idp.token(iss=None),
        "no aud": idp.token(aud=None),
        "no customer claim": idp.token(None),
        "empty customer claim": idp.token(""),
        "customer claim is a list": idp.token(["123456789"]),
        "customer claim is true": idp.token(True),
        "signed by a stranger": idp.token(key=rsa_key("stranger")),
        "unknown kid": idp.token(kid="k-unknown", key=rsa_key("stranger")),
        "alg none": unsigned_token({"sub": "123456789", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600}),
        "HS256 with the public key as secret": jwt.encode(
            {"sub": "123456789", "iss": ISSUER, "aud": AUDIENCE, "exp": now + 3600},
            "a shared secret the server must never accept",
            algorithm="HS256",
            headers={"kid": "k1"},
        ),
        "not yet valid": idp.token(nbf=now + 3600),
    }


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_every_bad_token_is_401_with_an_empty_body(idp, john, endpoint) -> None:
    for name, token in token_cases(idp).items():
        response = post(endpoint, f"Bearer {token}")
        assert response.status_code == 401, name
        assert response.content == b"", name


def test_tampered_payload_is_401(idp, john) -> None:
    header, _payload, signature = idp.token().split(".")
    forged = jwt.utils.base64url_encode(b'{"sub":"987654321"}').decode()
    assert_bare(post("/v1/powerbox/customer", f"Bearer {header}.{forged}.{signature}"), 401)


def test_valid_token_is_accepted(idp, john) -> None:
    response = post("/v1/powerbox/customer", f"Bearer {idp.token()}")
    assert response.status_code == 200
    assert response.json()["clientId"] == "123456789"


def test_bearer_keyword_is_case_insensitive(idp, john) -> None:
    assert post("/v1/powerbox/customer", f"bearer {idp.token()}").status_code == 200


def test_rotated_key_is_fetched_on_an_unknown_kid(idp, john, settings) -> None:
    settings.POWERBOX_JWKS_REFRESH_COOLDOWN_SECONDS = 0
    assert post("/v1/powerbox/customer", f"Bearer {idp.token()}").status_code == 200  # k1 cached
    idp.publish(k1=rsa_key("k1"), k2=rsa_key("k2"))
    assert post("/v1/powerbox/customer", f"Bearer {idp.token(kid='k2')}").status_code == 200


def test_key_removed_from_the_jwks_stops_working_after_the_cache_expires(
    idp, john, settings, monkeypatch
) -> None:
    settings.POWERBOX_JWKS_CACHE_SECONDS = 300
    assert post("/v1/powerbox/customer", f"Bearer {idp.token()}").status_code == 200
    idp.publish(k2=rsa_key("k2"))
    # Time-travel the key set cache's clock past its lifespan instead of waiting for it.
    later = time.monotonic() + 301
    monkeypatch.setattr(jwk_set_cache, "time", SimpleNamespace(monotonic=lambda: later))
    assert_bare(post("/v1/powerbox/customer", f"Bearer {idp.token(key=rsa_key('k1'))}"), 401)


def test_unreadable_jwks_is_401_not_500(idp, john, settings, tmp_path) -> None:
    settings.POWERBOX_JWKS_URL = (tmp_path / "missing.json").as_uri()
    assert_bare(post("/v1/powerbox/customer", f"Bearer {idp.token()}"), 401)


def test_customer_claim_is_configurable(idp, john, settings) -> None:
    settings.POWERBOX_CUSTOMER_CLAIM = "client_id"
    token = idp.token("123456789", claim="client_id", sub="some-oidc-subject")
    response = post("/v1/powerbox/customer", f"Bearer {token}")
    assert response.status_code == 200
    assert response.json()["clientId"] == "123456789"
    # the default claim no longer names the customer
    token = idp.token(None, claim="client_id", sub="123456789")  # the clientId in ``sub`` only
    assert_bare(post("/v1/powerbox/customer", f"Bearer {token}"), 401)


def test_numeric_customer_claim_names_the_customer(idp, john, settings) -> None:
    # ``sub`` must be a string (RFC 7519); a custom claim may carry the clientId as a number
    settings.POWERBOX_CUSTOMER_CLAIM = "client_id"
    response = post("/v1/powerbox/customer", f"Bearer {idp.token(123456789, claim='client_id')}")
    assert response.status_code == 200


def test_staff_api_token_does_not_open_powerbox(idp, john, personas) -> None:
    assert_bare(personas.client("staff").post("/v1/powerbox/customer"), 401)


@pytest.mark.parametrize("client_id", ["123\x00456", "x" * 65, "   "])
def test_customer_claim_that_cannot_be_a_client_id_is_401(idp, john, client_id) -> None:
    assert_bare(post("/v1/powerbox/customer", f"Bearer {idp.token(client_id)}"), 401)
