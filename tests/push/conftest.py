"""Fixtures for push reception: a real receiver on loopback (ports 0), its spool in a temporary
directory, a processor driven from the test's thread, and a meter with keys that pushes."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from protocols.dlms import security
from protocols.dlms.simulator.push import build_notification, send_notification
from push.processor import PushProcessor
from push.receiver import PushReceiver, ReceiverThread
from push.spool import SpoolReader, SpoolWriter
from tests.meters.factories import (
    MeterDeviceFactory,
    MeterReadingSeriesFactory,
    MeterSecurityKeyCollectionFactory,
)
from tests.support.factories import OrganizationFactory

SYSTEM_TITLE = bytes.fromhex("4c475a0012345678")
GUEK = bytes.fromhex("000102030405060708090a0b0c0d0e0f")
GAK = bytes.fromhex("d0d1d2d3d4d5d6d7d8d9dadbdcdddedf")
KEYS = security.SecurityKeys(GUEK, GAK, SYSTEM_TITLE)
WHEN = datetime(2024, 5, 1, 12, 15, tzinfo=UTC)
SERIES = ("1.0.1.8.0.255", "1.0.32.7.0.255", "1.0.31.7.0.255")


@pytest.fixture
def spool_writer(tmp_path):
    writer = SpoolWriter(tmp_path / "push-spool", fsync=True)
    writer.start()
    yield writer
    writer.close()


@pytest.fixture
def receiver(spool_writer):
    thread = ReceiverThread(
        PushReceiver(spool_writer, host="127.0.0.1", udp_port=0, tcp_port=0, idle_timeout=5)
    )
    yield thread.start()
    thread.stop()


@pytest.fixture
def processor(spool_writer):
    return PushProcessor(SpoolReader(spool_writer.directory, spool_writer), batch=200)


@pytest.fixture
def org(db):
    return OrganizationFactory()


@pytest.fixture
def meter(org):
    meter = MeterDeviceFactory(
        organization=org, name="pusher", protocol="dlms", dlms_system_title=SYSTEM_TITLE.hex()
    )
    MeterSecurityKeyCollectionFactory(
        meter=meter, dlms_global_unicast_encryption_key=GUEK.hex(), dlms_global_authentication_key=GAK.hex()
    )
    for name in SERIES:
        MeterReadingSeriesFactory(organization=org, name=name, unit="?")
    return meter


def ciphered(counter: int, *, when: datetime = WHEN, keys: security.SecurityKeys = KEYS, **kwargs) -> bytes:
    return build_notification(when=when, keys=keys, invocation_counter=counter, **kwargs)


def push_udp(receiver: PushReceiver, message: bytes) -> None:
    send_notification("127.0.0.1", receiver.udp_port, message, protocol="udp")


def pump(processor: PushProcessor, until: Callable[[], bool], timeout: float = 10.0) -> None:
    """Run processor rounds until ``until()`` holds; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        processor.run_once()
        if until():
            return
        if time.monotonic() > deadline:
            pytest.fail("condition not reached before the deadline")
        time.sleep(0.01)
