"""The token service: RFC 7523 client assertion, caching, refresh. Checked by a real token endpoint."""

from __future__ import annotations

import jwt
import pytest

from pie.auth import ASSERTION_TYPE, TokenError, TokenService, build_client_assertion


def test_token_endpoint_accepts_the_assertion_and_issues_a_token(pie_settings_for, token_server) -> None:
    conf = pie_settings_for()
    token = TokenService(conf).get()
    assert token_server.valid(token)
    assert token_server.refused == []
    form = token_server.forms[0]
    assert form["grant_type"] == "client_credentials"
    assert form["client_assertion_type"] == ASSERTION_TYPE


def test_assertion_claims_and_header(pie_settings_for, service_account, token_server) -> None:
    conf = pie_settings_for()
    assertion = build_client_assertion(conf, now=1_700_000_000)
    header = jwt.get_unverified_header(assertion)
    claims = jwt.decode(assertion, options={"verify_signature": False})
    assert header["alg"] == "RS256" and header["kid"] == service_account.key_id
    assert claims["iss"] == claims["sub"] == service_account.client_id
    assert claims["aud"] == token_server.url
    assert claims["iat"] == 1_700_000_000 and 0 < claims["exp"] - claims["iat"] <= 300
    assert (
        claims["jti"] != jwt.decode(build_client_assertion(conf), options={"verify_signature": False})["jti"]
    )


def test_token_is_cached_until_shortly_before_expiry(pie_settings_for, token_server) -> None:
    service = TokenService(pie_settings_for())
    assert service.get() == service.get()
    assert token_server.issued == 1


def test_token_expiring_within_the_margin_is_refreshed(pie_settings_for, token_server) -> None:
    token_server.lifetime = 30  # below the default 60 s refresh margin
    service = TokenService(pie_settings_for())
    first = service.get()
    assert service.get() != first
    assert token_server.issued == 2 and token_server.refused == []  # every request had a fresh jti


def test_replayed_assertion_is_refused(pie_settings_for, token_server) -> None:
    import requests

    conf = pie_settings_for()
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": build_client_assertion(conf),
    }
    assert requests.post(token_server.url, data=form, timeout=5).status_code == 200
    assert requests.post(token_server.url, data=form, timeout=5).status_code == 400
    assert token_server.refused == ["jti reused"]


def test_scope_is_sent_when_configured(pie_settings_for, token_server) -> None:
    token_server.scope = "pie.read"
    TokenService(pie_settings_for(PIE_SCOPE="pie.read")).get()
    assert token_server.forms[-1]["scope"] == "pie.read"


def test_private_key_from_the_environment(
    pie_settings_for, monkeypatch, service_account, token_server
) -> None:
    monkeypatch.setenv("PIE_PRIVATE_KEY", service_account.private_pem.decode())
    assert token_server.valid(TokenService(pie_settings_for(PIE_PRIVATE_KEY_FILE="")).get())


def test_assertion_signed_with_another_key_is_refused(pie_settings_for, tmp_path, token_server) -> None:
    from tests.support.pie_servers import ServiceAccount

    other = ServiceAccount.generate().write_private_key(tmp_path / "..")
    with pytest.raises(TokenError):
        TokenService(pie_settings_for(PIE_PRIVATE_KEY_FILE=str(other))).get()
    assert token_server.refused and "Signature" in token_server.refused[0]


def test_missing_private_key_fails_loudly(pie_settings_for) -> None:
    from django.core.exceptions import ImproperlyConfigured

    with pytest.raises(ImproperlyConfigured):
        TokenService(pie_settings_for(PIE_PRIVATE_KEY_FILE="")).get()
