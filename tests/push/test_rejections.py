"""Frames that must not become readings are kept, marked rejected with the reason, and logged."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest

from meters.models import DlmsInvocationCounter, MeterReading
from protocols.dlms import security
from push.models import FrameState, RawPushFrame
from tests.meters.factories import (
    MeterDeviceConfigFactory,
    MeterDeviceTypeFactory,
    MeterSecurityKeyCollectionFactory,
)

from .conftest import GAK, GUEK, SYSTEM_TITLE, WHEN, ciphered, pump, push_udp

pytestmark = pytest.mark.django_db


def _settled(count: int = 1):
    return lambda: RawPushFrame.objects.exclude(state=FrameState.PENDING).count() == count


def test_unknown_system_title_is_rejected_with_the_reason(receiver, processor, meter, caplog):
    stranger = security.SecurityKeys(GUEK, GAK, bytes.fromhex("5858580000000001"))
    push_udp(receiver, ciphered(1, keys=stranger))

    with caplog.at_level(logging.WARNING, logger="push.services"):
        pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert (frame.state, frame.reason, frame.system_title) == (
        FrameState.REJECTED,
        "unknown system title 5858580000000001",
        "5858580000000001",
    )
    assert frame.meter is None and not MeterReading.objects.exists()
    assert "unknown system title 5858580000000001" in caplog.text


def test_replayed_invocation_counter_is_rejected(receiver, processor, meter):
    frame_bytes = ciphered(5)
    push_udp(receiver, frame_bytes)
    pump(processor, _settled(1))
    push_udp(receiver, frame_bytes)  # the very same frame again
    push_udp(receiver, ciphered(4, when=WHEN + timedelta(minutes=15)))  # an older counter

    pump(processor, _settled(3))

    states = list(RawPushFrame.objects.order_by("id").values_list("state", "reason"))
    assert states[0] == (FrameState.PROCESSED, "")
    assert states[1] == (FrameState.REJECTED, "replayed invocation counter 5 (last accepted 5, push:guek)")
    assert states[2] == (FrameState.REJECTED, "replayed invocation counter 4 (last accepted 5, push:guek)")
    assert DlmsInvocationCounter.objects.get(meter=meter, key_name="push:guek").counter == 5
    assert MeterReading.objects.count() == 3


def test_wrong_key_fails_the_tag_and_leaves_the_counter_alone(receiver, processor, meter):
    forged = security.SecurityKeys(bytes(16), GAK, SYSTEM_TITLE)
    push_udp(receiver, ciphered(100, keys=forged))

    pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert frame.state == FrameState.REJECTED
    assert frame.reason.startswith("undecodable: authentication failed: authentication tag mismatch")
    assert frame.meter == meter
    assert not DlmsInvocationCounter.objects.filter(meter=meter).exists()
    assert not MeterReading.objects.exists()


def test_garbage_is_rejected_as_undecodable(receiver, processor, meter):
    push_udp(receiver, b"\x0f\x00\x00")

    pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert frame.state == FrameState.REJECTED and frame.reason.startswith("undecodable")
    assert bytes(frame.raw)[8:] == b"\x0f\x00\x00"  # the wire bytes are kept (wrapper + APDU)


def test_meter_without_a_guek_cannot_decrypt(receiver, processor, meter):
    meter.security_keys.delete()
    push_udp(receiver, ciphered(1))

    pump(processor, _settled())

    assert RawPushFrame.objects.get().reason == "meter device 'pusher' has no GUEK to decrypt its push"


def test_plain_frame_claiming_a_ciphering_meter_is_refused(receiver, processor, meter):
    from protocols.dlms import axdr
    from protocols.dlms.simulator.push import build_notification

    values = [("0-0:96.1.0.255", axdr.octets(meter.manufacturer_serial.encode()), 0, 255)]
    push_udp(receiver, build_notification(when=WHEN, values=values))

    pump(processor, _settled())

    assert (
        RawPushFrame.objects.get().reason
        == "plain notification for meter device 'pusher', which has a GUEK: refused"
    )


def test_unknown_series_is_reported_not_dropped_when_auto_create_is_off(receiver, processor, meter):
    meter.organization.series.filter(name="1.0.31.7.0.255").delete()
    push_udp(receiver, ciphered(2))

    pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert (frame.state, frame.readings) == (FrameState.PROCESSED, 2)
    assert frame.reason == "1 value(s) not recorded, see the report"
    assert frame.report["not_recorded"] == [
        {
            "series": "1.0.31.7.0.255",
            "value": "-0.07",
            "reason": "unknown series in the organization (auto_create_series is off)",
        }
    ]


def test_series_outside_the_meter_config_is_reported(receiver, processor, meter):
    config = MeterDeviceConfigFactory(
        organization=meter.organization, series=list(meter.organization.series.all()[:0])
    )
    meter.type = MeterDeviceTypeFactory(organization=meter.organization, config=config)
    meter.save()
    push_udp(receiver, ciphered(2))

    pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert frame.readings == 0 and len(frame.report["not_recorded"]) == 3
    assert "is not in the config" in frame.report["not_recorded"][0]["reason"]


def test_broadcast_key_is_used_when_the_security_control_says_so(receiver, processor, org):
    from tests.meters.factories import MeterDeviceFactory

    title = bytes.fromhex("4c475a00000000bb")
    gbek = bytes(range(32, 48))
    bmeter = MeterDeviceFactory(organization=org, name="bcast", dlms_system_title=title.hex())
    MeterSecurityKeyCollectionFactory(
        meter=bmeter,
        dlms_global_broadcast_encryption_key=gbek.hex(),
        dlms_global_authentication_key=GAK.hex(),
    )
    org.auto_create_series = True
    org.save()
    from protocols.dlms import apdu, axdr
    from protocols.dlms.axdr import CosemDateTime

    body = axdr.array([axdr.structure(axdr.octets(bytes([1, 0, 1, 8, 0, 255])), axdr.uint32(1))])
    plain = apdu.encode_data_notification(1, CosemDateTime.from_datetime(WHEN), body)
    protected = security.protect(0x70, title, 1, gbek, GAK, plain)
    push_udp(receiver, security.build_ciphered(security.GENERAL_DED_CIPHERING, protected, title))

    pump(processor, _settled())

    frame = RawPushFrame.objects.get()
    assert (frame.state, frame.readings) == (FrameState.PROCESSED, 1), frame.reason
    assert DlmsInvocationCounter.objects.get(meter=bmeter).key_name == "push:gbek"
