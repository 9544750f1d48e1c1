"""Concurrent bind calls for one meter: the meter row lock decides them one after the other,
so exactly one wins (PostgreSQL only: SQLite serializes every writer anyway)."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from amr.models import AmrJob
from powerbox.models import BindRequest, BindState, CustomerMeter
from powerbox.services import bind_request_submit

from .conftest import INSTALL_CODE, MAC_NORMALIZED, OTHER_MAC

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql", reason="needs PostgreSQL (run with DATABASE_URL=postgres://...)"
    ),
    pytest.mark.django_db(transaction=True),
]

URL = "/v1/powerbox/bind"
MACS = [
    MAC_NORMALIZED,
    OTHER_MAC,
    "000D6F000A90AAAA",
    "000D6F000A90BBBB",
    "000D6F000A90CCCC",
    "000D6F000A90DDDD",
]


def concurrently(calls) -> list:
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(index: int, call) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # reported by the assertion below
            results[index] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads)
    return results


def post_bind(idp, mac: str):
    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {idp.token('123456789')}")
        body = {
            "hemProfileId": "hem-1",
            "macAddress": mac,
            "installCode": INSTALL_CODE,
            "meterId": "E-1001",
            "actionCode": 1,
        }
        return client.post(URL, body, format="json")

    return call


def test_concurrent_binds_of_different_devices_have_one_winner(idp, john, pairing) -> None:
    responses = concurrently([post_bind(idp, mac) for mac in MACS])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * (len(MACS) - 1), responses
    assert all(r.content == b"" for r in responses)

    request = BindRequest.objects.get()
    winner = MACS[[r.status_code for r in responses].index(200)]
    assert request.mac_address == winner
    meter = CustomerMeter.objects.get(meter_id="E-1001")
    assert (meter.bind_state, meter.bound_mac_address) == (BindState.REQUESTED, winner)
    assert AmrJob.objects.filter(task_call="han_bind").count() == 1
    assert len(pairing.sent) == 1


def test_concurrent_binds_of_the_same_device_start_one_job(idp, john, pairing) -> None:
    responses = concurrently([post_bind(idp, MAC_NORMALIZED) for _ in range(6)])
    assert [r.status_code for r in responses] == [200] * 6
    assert BindRequest.objects.count() == 1
    assert AmrJob.objects.filter(task_call="han_bind").count() == 1


def test_the_partial_unique_constraint_backs_the_lock_up(john, pairing) -> None:
    """Even a writer that skipped the row lock cannot open a second request for the meter."""
    from django.db import IntegrityError, transaction

    bind_request_submit(
        customer=john,
        meter_id="E-1001",
        hem_profile_id="h",
        mac_address=MAC_NORMALIZED,
        install_code=INSTALL_CODE,
        action=1,
    )
    first = BindRequest.objects.get()
    with pytest.raises(IntegrityError), transaction.atomic():
        BindRequest.objects.create(
            organization_id=first.organization_id,
            meter_id=first.meter_id,
            client_id="x",
            hem_profile_id="h",
            action=1,
            mac_address=OTHER_MAC,
            state=BindState.PENDING,
            created_at=first.created_at,
            updated_at=first.created_at,
            expires_at=first.expires_at,
        )
