"""Pushed DataNotifications travel over real loopback sockets into readings."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from meters.models import DlmsInvocationCounter, MeterReading
from protocols.dlms import axdr, wrapper
from protocols.dlms.simulator.push import build_notification
from push.models import FrameState, RawPushFrame
from push.processor import PushProcessor
from push.spool import SpoolReader
from tests.support.waiting import wait_until

from .conftest import SERIES, WHEN, ciphered, pump, push_udp

pytestmark = pytest.mark.django_db


def _values(meter) -> dict[str, Decimal]:
    return {
        r.series.name: r.value
        for r in MeterReading.objects.filter(meter_device=meter).select_related("series")
    }


def test_ciphered_notification_over_udp_becomes_readings(receiver, processor, meter):
    push_udp(receiver, ciphered(7))

    pump(processor, lambda: MeterReading.objects.filter(meter_device=meter).count() == 3)

    assert _values(meter) == {
        "1.0.1.8.0.255": Decimal("12345670"),
        "1.0.32.7.0.255": Decimal("230.1"),
        "1.0.31.7.0.255": Decimal("-0.07"),
    }
    assert set(MeterReading.objects.values_list("timestamp", flat=True)) == {WHEN}
    frame = RawPushFrame.objects.get()
    assert (frame.state, frame.meter, frame.system_title, frame.invocation_counter) == (
        FrameState.PROCESSED,
        meter,
        meter.dlms_system_title,
        7,
    )
    assert (
        frame.readings == 3
        and frame.transport == "udp"
        and frame.report["timestamp"] == "notification date-time"
    )
    assert DlmsInvocationCounter.objects.get(meter=meter, key_name="push:guek").counter == 7


def test_several_wrapper_frames_on_one_tcp_connection(receiver, processor, meter):
    frames = [wrapper.build(1, 1, ciphered(n, when=WHEN + timedelta(minutes=15 * n))) for n in range(1, 5)]
    with socket.create_connection(("127.0.0.1", receiver.tcp_port), timeout=5) as sock:
        sock.sendall(b"".join(frames[:2]))
        sock.sendall(frames[2][:5])  # a frame split across segments
        time.sleep(0.05)
        sock.sendall(frames[2][5:] + frames[3])

    pump(processor, lambda: MeterReading.objects.filter(meter_device=meter).count() == 12)

    assert list(
        RawPushFrame.objects.order_by("id").values_list("transport", "invocation_counter", "state")
    ) == [("tcp", n, FrameState.PROCESSED) for n in range(1, 5)]


def test_bare_apdu_in_a_datagram_is_accepted(receiver, processor, meter):
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.sendto(ciphered(3), ("127.0.0.1", receiver.udp_port))

    pump(processor, lambda: MeterReading.objects.filter(meter_device=meter).count() == 3)


def test_plain_notification_is_attributed_by_the_device_id_in_its_list(receiver, processor, org):
    from tests.meters.factories import MeterDeviceFactory

    plain_meter = MeterDeviceFactory(organization=org, name="plain", manufacturer_serial="SN-PLAIN-1")
    org.auto_create_series = True
    org.save()
    values = [
        ("0-0:96.1.0.255", axdr.octets(b"SN-PLAIN-1"), 0, 255),
        ("1-0:1.8.0.255", axdr.uint32(4711), 0, 30),
    ]
    push_udp(receiver, build_notification(when=WHEN, values=values))

    pump(processor, lambda: RawPushFrame.objects.filter(state=FrameState.PROCESSED).exists())

    assert _values(plain_meter) == {"1.0.1.8.0.255": Decimal("4711")}
    series = plain_meter.readings.get().series
    assert (series.unit, series.description) == ("Wh", "created by push")


def test_notification_without_date_time_is_stamped_with_the_receive_time(receiver, processor, meter):
    from protocols.dlms import apdu, security

    from .conftest import KEYS

    body = axdr.array(
        [
            axdr.structure(
                axdr.octets(bytes([1, 0, 1, 8, 0, 255])),
                axdr.uint32(5),
                axdr.structure(axdr.int8(0), axdr.enum(30)),
            )
        ]
    )
    plain = apdu.encode_data_notification(1, None, body)
    protected = security.protect(
        0x30, KEYS.system_title, 9, KEYS.encryption_key, KEYS.authentication_key, plain
    )
    before = datetime.now(UTC)
    push_udp(receiver, security.build_ciphered(security.GENERAL_GLO_CIPHERING, protected, KEYS.system_title))

    pump(processor, lambda: MeterReading.objects.filter(meter_device=meter).exists())

    stamp = MeterReading.objects.get().timestamp
    assert before - timedelta(seconds=1) <= stamp <= datetime.now(UTC)
    assert RawPushFrame.objects.get().report["timestamp"] == "received time"


@pytest.mark.django_db(transaction=True)
def test_processor_thread_ingests_while_the_receiver_runs(receiver, spool_writer, meter):
    processor = PushProcessor(SpoolReader(spool_writer.directory, spool_writer), idle_wait=0.05)
    processor.start()
    try:
        for n in range(1, 21):
            push_udp(receiver, ciphered(n, when=WHEN + timedelta(minutes=15 * n)))
        # Poll the processor's own counters: on SQLite's shared in-memory test database a query
        # from this thread while the processor writes fails with "table is locked".
        wait_until(lambda: processor.readings >= 60, what="60 readings from the processor")
    finally:
        processor.stop()
    assert MeterReading.objects.filter(meter_device=meter).count() == 60
    assert RawPushFrame.objects.filter(state=FrameState.PROCESSED).count() == 20
    assert sorted(set(MeterReading.objects.values_list("series__name", flat=True))) == sorted(SERIES)
