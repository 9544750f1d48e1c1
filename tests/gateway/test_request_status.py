"""GET .../tenants/{tenantId}/requests/{correlationId}: the request and the latest status per ESN."""

from __future__ import annotations

import uuid

import pytest

from tests.gateway.conftest import install, status_url

pytestmark = pytest.mark.django_db


def test_status_lists_every_esn_with_its_state(portal, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    install(portal, tenant_id, {"applicationId": 5, "esnList": ["E1", "E2"]}, correlation_id=correlation_id)
    response = portal.get(status_url(tenant_id, correlation_id))
    assert response.status_code == 200
    body = response.json()
    assert body["correlationId"] == correlation_id and body["requestType"] == "install"
    assert body["licensePolicy"] == "next-available"
    assert [(e["esn"], e["status"]) for e in body["esns"]] == [("E1", "accepted"), ("E2", "accepted")]


def test_unknown_correlation_id_is_404(portal, tenant_id) -> None:
    assert portal.get(status_url(tenant_id, "nope")).status_code == 404


def test_another_tenants_request_is_not_visible(portal, issuer, tenant_id) -> None:
    correlation_id = str(uuid.uuid4())
    install(portal, tenant_id, correlation_id=correlation_id)
    other = str(uuid.uuid4())
    portal.credentials(HTTP_AUTHORIZATION=f"Bearer {issuer.token(tenant_id=other)}")
    assert portal.get(status_url(other, correlation_id)).status_code == 404
    assert portal.get(status_url(tenant_id, correlation_id)).status_code == 403
