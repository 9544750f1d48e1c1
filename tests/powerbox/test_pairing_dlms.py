"""The real path: a bind request paired through ``generic_dlms`` with the DLMS simulator's HAN
bind object (0-0:128.0.1.255), over loopback TCP, by the AMR job runner.

Until ``amr.environments.dlms`` declares ``han_bind``/``han_unbind`` itself, the test registers
``generic_dlms`` with those two calls added (tests/powerbox/support.py), routed through the real
DLMS client; once AMR declares them, AMR's own environment is used unchanged."""

from __future__ import annotations

import pytest

from amr.models import JobState
from powerbox.models import BindRequest, BindState, CustomerMeter
from protocols.dlms.simulator import DlmsSimulator

from .conftest import INSTALL_CODE, MAC, MAC_NORMALIZED
from .support import dlms_han_environment


@pytest.fixture
def dlms_meter(john, pairing, settings, monkeypatch):
    import amr.environments as registry

    monkeypatch.setitem(registry._loaded, "generic_dlms", dlms_han_environment())
    settings.POWERBOX_EXECUTION_TYPE = ""  # the meter's protocol picks generic_dlms
    settings.AMR_METER_TIMEOUT_SECONDS = 3
    with DlmsSimulator(framing="wrapper") as sim:
        device = CustomerMeter.objects.get(meter_id="E-1001").meter_device
        device.network_interface.port = sim.port
        device.network_interface.save()
        yield sim


def bind(bearer, capture, **overrides):
    body = {
        "hemProfileId": "hem-1",
        "macAddress": MAC,
        "installCode": INSTALL_CODE,
        "meterId": "E-1001",
        "actionCode": 1,
        **overrides,
    }
    with capture(execute=True):
        return bearer().post("/v1/powerbox/bind", body, format="json")


def test_bind_and_unbind_through_the_dlms_simulator(
    bearer, dlms_meter, pairing, django_capture_on_commit_callbacks
) -> None:
    assert bind(bearer, django_capture_on_commit_callbacks).status_code == 200
    assert pairing.run() == [JobState.SUCCEEDED]
    assert BindRequest.objects.get().state == BindState.BOUND
    assert dlms_meter.model.han_devices == {bytes.fromhex(MAC_NORMALIZED): bytes.fromhex(INSTALL_CODE)}

    assert bind(bearer, django_capture_on_commit_callbacks, actionCode=0).status_code == 200
    assert pairing.run() == [JobState.SUCCEEDED]
    meter = CustomerMeter.objects.get(meter_id="E-1001")
    assert (meter.bind_state, meter.bound_mac_address) == (BindState.UNBOUND, "")
    assert dlms_meter.model.han_devices == {}
