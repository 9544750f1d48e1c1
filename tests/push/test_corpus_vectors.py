"""The published push captures of the shared corpus, with their published keys, go through the
receiver (UDP, as the bytes were captured) into readings of a meter with that system title."""

from __future__ import annotations

import json
import socket
from datetime import datetime
from decimal import Decimal
from functools import cache

import pytest

from meters.models import MeterReading
from push.models import FrameState, RawPushFrame
from tests.meters.factories import MeterDeviceFactory, MeterSecurityKeyCollectionFactory
from tests.support.corpus import corpus_path

from .conftest import pump

pytestmark = pytest.mark.django_db

PUSH_VECTORS = [
    "netznoe-kaifa-push-encrypted",
    "tinetz-kaifa-push-1",
    "dlms-cosem-glo-ciphered-data-notification",
]


@cache
def _vectors() -> dict[str, dict]:
    with open(corpus_path("dlms", "vectors.json"), encoding="utf-8") as handle:
        return {v["id"]: v for v in json.load(handle)}


def _meter_for(vector: dict, org):
    keys = vector["keys"]
    meter = MeterDeviceFactory(
        organization=org, name=vector["id"][:50], dlms_system_title=keys["system_title"]
    )
    MeterSecurityKeyCollectionFactory(
        meter=meter,
        dlms_global_unicast_encryption_key=keys["encryption_key"],
        dlms_global_authentication_key=keys.get("authentication_key", ""),
    )
    return meter


@pytest.mark.parametrize("transport", ["udp", "tcp"])
@pytest.mark.parametrize("vector_id", PUSH_VECTORS)
def test_corpus_push_becomes_readings(vector_id, transport, receiver, processor, org):
    vector = _vectors()[vector_id]
    org.auto_create_series = True
    org.save()
    meter = _meter_for(vector, org)
    raw = bytes.fromhex(vector["hex"])
    if transport == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(raw, ("127.0.0.1", receiver.udp_port))
    else:  # not wrapper-framed: the connection's bytes are one frame
        with socket.create_connection(("127.0.0.1", receiver.tcp_port), timeout=5) as sock:
            sock.sendall(raw)

    pump(processor, lambda: RawPushFrame.objects.exclude(state=FrameState.PENDING).exists())

    frame = RawPushFrame.objects.get()
    expected = vector["expected"]
    assert frame.state == FrameState.PROCESSED, frame.reason
    assert (frame.meter, frame.system_title, frame.invocation_counter) == (
        meter,
        vector["keys"]["system_title"],
        expected["invocation_counter"],
    )
    numeric = {
        v["obis"]: Decimal(v["value"])
        for v in expected.get("values", [])
        if "scaler" in v and v["obis"] != "0-0:1.0.0.255"
    }
    stored = {
        r.series.name: r.value
        for r in MeterReading.objects.filter(meter_device=meter).select_related("series")
    }
    assert stored == {_dotted(obis): value for obis, value in numeric.items()}
    assert frame.readings == len(numeric)
    if numeric:
        stamp = datetime.fromisoformat(expected["apdu_date_time"])
        assert set(MeterReading.objects.values_list("timestamp", flat=True)) == {stamp}
        # exact decimals, with the scaler's places
        voltage = MeterReading.objects.get(series__name__in=["1.0.32.7.0.255"])
        assert str(voltage.value) == next(
            v["value"] for v in expected["values"] if v["obis"] == "1-0:32.7.0.255"
        )


def _dotted(obis: str) -> str:
    return obis.replace("-", ".").replace(":", ".")
