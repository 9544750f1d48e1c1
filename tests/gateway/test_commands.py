"""The daemons as management commands, one pass each, on the embedded transport."""

from __future__ import annotations

import gzip
import io
import json
import uuid

import pytest
from django.core.management import call_command

from gateway.models import EsnStatus
from gateway.transports.database import DatabaseTransport
from tests.gateway.conftest import install

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue()


def test_relay_simulator_and_consumer_commands_complete_an_install(portal, tenant_id, settings) -> None:
    settings.GATEWAY_TRANSPORT = "database"
    correlation_id = str(uuid.uuid4())
    install(
        portal, tenant_id, {"applicationId": 3, "esnList": ["E1", "FAIL2"]}, correlation_id=correlation_id
    )
    assert "sent 2" in run("gateway_relay", "--once")
    assert "handled 1" in run("eac_simulator", "--once")
    assert "applied 6" in run("gateway_consumer", "--once")
    states = dict(EsnStatus.objects.values_list("esn", "status"))
    assert states == {"E1": "licensed", "FAIL2": "failed"}
    assert "sent 6" in run("gateway_relay", "--once")


def test_simulator_can_compress_like_the_real_eac(portal, tenant_id, settings, queues) -> None:
    settings.GATEWAY_TRANSPORT = "database"
    install(portal, tenant_id, {"applicationId": 3, "esnList": ["E1"]})
    run("gateway_relay", "--once")
    run("eac_simulator", "--once", "--compress")
    [first, *_] = DatabaseTransport().receive(queues["status"], max_messages=10, timeout=0)
    assert first.properties["IsCompressed"] is True
    assert json.loads(gzip.decompress(first.body))["status"] == "received"


def test_loop_commands_stop_after_max_seconds(settings, queues) -> None:
    settings.GATEWAY_TRANSPORT = "database"
    assert "sent 0" in run("gateway_relay", "--max-seconds", "0.2", "--poll", "0.05")
    assert "applied 0" in run("gateway_consumer", "--max-seconds", "0.2")
    assert "handled 0" in run("eac_simulator", "--max-seconds", "0.2")
