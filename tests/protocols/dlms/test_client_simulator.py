"""The gurux-based client against our simulator, over loopback TCP, with the wrapper and with HDLC."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from protocols.dlms import apdu, security
from protocols.dlms.client import DlmsClient, DlmsSettings
from protocols.dlms.counters import FileCounterStore, MemoryCounterStore
from protocols.dlms.simulator import DlmsSimulator, ServerSecurity
from protocols.errors import AuthenticationFailed, NoAnswer
from protocols.transport import TcpTransport

GUEK = bytes(range(16))
GAK = bytes(range(16, 32))
METER_ZONE = timezone(timedelta(hours=1))


def _settings(framing: str, **overrides) -> DlmsSettings:
    base = dict(framing=framing, timeout=2.0, encryption_key=GUEK, authentication_key=GAK)
    base.update(overrides)
    return DlmsSettings(**base)


def _client(sim: DlmsSimulator, settings: DlmsSettings, counters=None) -> DlmsClient:
    return DlmsClient(TcpTransport("127.0.0.1", sim.port, timeout=settings.timeout), settings, counters)


@pytest.fixture(params=["wrapper", "hdlc"])
def framing(request) -> str:
    return request.param


@pytest.fixture
def meter(framing):
    with DlmsSimulator(framing=framing) as sim:
        yield sim


def test_registers_are_exact_decimals_scaled_from_attribute_3(meter, framing):
    with _client(meter, _settings(framing)) as client:
        result = client.read_registers(["1-0:1.8.0.255", "1.0.32.7.0.255", "1-0:31.7.0.255"])
    assert result.error is None
    got = {r.series: (r.value, r.unit) for r in result.readings}
    assert got == {
        "1.0.1.8.0.255": (Decimal("12345670"), "Wh"),
        "1.0.32.7.0.255": (Decimal("230.1"), "V"),
        "1.0.31.7.0.255": (Decimal("-0.07"), "A"),
    }
    gets = [r for r in meter.requests_seen if r[:2] == b"\xc0\x01"]
    assert [(r[5:11].hex(), r[11]) for r in gets[:2]] == [("0100010800ff", 3), ("0100010800ff", 2)]


def test_whole_load_profile_has_96_rows_in_utc(meter, framing):
    with _client(meter, _settings(framing)) as client:
        result = client.read_profile("1-0:99.1.0.255")
    assert result.error is None and result.info["rows"] == 96
    energy = [r for r in result.readings if r.series == "1.0.1.8.0.255"]
    assert len(energy) == 96
    assert energy[0].timestamp == datetime(2024, 3, 1, 0, 15, tzinfo=METER_ZONE)
    assert energy[0].timestamp.tzinfo == UTC
    assert energy[1].value - energy[0].value == Decimal("250")  # raw 25 with scaler 1
    flagged = [r for r in result.readings if r.series == "0.0.96.10.1.255" and r.value == 128]
    assert len(flagged) == 1


def test_profile_by_range_returns_only_the_rows_inside(meter, framing):
    start = datetime(2024, 3, 1, 6, 0, tzinfo=METER_ZONE)
    with _client(meter, _settings(framing)) as client:
        result = client.read_profile("1-0:99.1.0.255", start, start + timedelta(hours=2))
    stamps = sorted({r.timestamp for r in result.readings})
    assert len(stamps) == 9 and stamps[0] == start and stamps[-1] == start + timedelta(hours=2)


def test_clock_is_read_and_set_when_the_drift_is_too_large(meter, framing):
    meter.model.clock_skew = timedelta(seconds=300)
    with _client(meter, _settings(framing)) as client:
        before = client.read_clock()
        assert 295 < before.info["drift_seconds"] < 305
        assert before.info["meter_time"].utcoffset() == timedelta(hours=1)
        kept = client.set_time(allowed_drift_seconds=600)
        assert kept.info["adjusted"] is False
        fixed = client.set_time(allowed_drift_seconds=30)
        assert fixed.info["adjusted"] is True
        assert abs(client.read_clock().info["drift_seconds"]) < 5


def test_events_come_with_codes_and_utc_times(meter, framing):
    with _client(meter, _settings(framing)) as client:
        result = client.read_events("0-0:99.98.0.255")
    assert [e.event_code for e in result.events] == [1, 2, 47, 48, 23]
    assert result.events[0].timestamp == datetime(2024, 3, 1, 0, 2, tzinfo=METER_ZONE)
    assert result.events[0].description == "power down"


def test_disconnect_and_reconnect_report_the_new_state(meter, framing):
    with _client(meter, _settings(framing)) as client:
        off = client.disconnect_control("disconnect")
        assert off.info == {"output_state": False, "control_state": "disconnected"}
        assert meter.model.relay_connected is False
        on = client.disconnect_control("connect")
        assert on.info == {"output_state": True, "control_state": "connected"}


def test_han_bind_and_unbind(meter, framing):
    with _client(meter, _settings(framing)) as client:
        assert client.han_bind("00:11:22:33:44:55:66:77", "a1b2c3d4").error is None
        assert meter.model.han_devices == {bytes.fromhex("0011223344556677"): bytes.fromhex("a1b2c3d4")}
        assert client.han_unbind("0011223344556677").error is None
        assert meter.model.han_devices == {}
        assert client.han_unbind("0011223344556677").error  # no longer bound


@pytest.mark.parametrize("framing_name", ["wrapper", "hdlc"])
def test_hls_gmac_with_ciphered_apdus(framing_name):
    secure = ServerSecurity(
        authentication="high-gmac", ciphered=True, encryption_key=GUEK, authentication_key=GAK
    )
    with DlmsSimulator(framing=framing_name, security=secure) as sim:
        settings = _settings(framing_name, authentication="high-gmac", ciphered=True, client_address=1)
        with _client(sim, settings) as client:
            result = client.read_registers(["1-0:32.7.0.255"])
            profile = client.read_profile("1-0:99.1.0.255")
    assert result.readings[0].value == Decimal("230.1")
    assert profile.info["rows"] == 96 and profile.error is None
    after_association = sim.requests_seen[1:-1]  # between the AARQ and the RLRQ
    assert after_association and all(security.is_ciphered(r) for r in after_association)
    assert not any(r[0] == apdu.GET_REQUEST for r in sim.requests_seen)


def test_low_authentication_with_a_wrong_password_is_refused():
    with DlmsSimulator(security=ServerSecurity(authentication="low", password=b"secret00")) as sim:
        client = _client(
            sim, _settings("wrapper", authentication="low", password=b"wrong000", client_address=17)
        )
        with pytest.raises(AuthenticationFailed, match="association refused"):
            client.open()


def test_meter_answering_with_another_key_is_rejected_by_tag_check():
    secure = ServerSecurity(authentication="high-gmac", ciphered=True)
    with DlmsSimulator(security=secure, faults={"wrong-key"}) as sim:
        client = _client(
            sim, _settings("wrapper", authentication="high-gmac", ciphered=True, client_address=1)
        )
        with pytest.raises(AuthenticationFailed, match="authentication tag mismatch"):
            client.open()


def test_our_wrong_key_is_refused_by_the_meter():
    secure = ServerSecurity(authentication="high-gmac", ciphered=True)
    with DlmsSimulator(framing="hdlc", security=secure) as sim:
        settings = _settings(
            "hdlc", authentication="high-gmac", ciphered=True, client_address=1, encryption_key=bytes(16)
        )
        with pytest.raises(AuthenticationFailed):
            _client(sim, settings).open()


def test_silence_mid_block_gives_the_rows_so_far_and_an_error(framing):
    with DlmsSimulator(framing=framing, faults={"silence-mid-block"}) as sim:
        with _client(sim, _settings(framing, timeout=0.5)) as client:
            result = client.read_profile("1-0:99.1.0.255")
    assert result.error and "stopped answering" in result.error
    rows = {r.timestamp for r in result.readings}
    assert 0 < len(rows) < 96
    assert min(rows) == datetime(2024, 3, 1, 0, 15, tzinfo=METER_ZONE)


def test_truncated_frame_is_an_error_not_a_hang(framing):
    with DlmsSimulator(framing=framing, faults={"truncate"}) as sim:
        with _client(sim, _settings(framing, timeout=0.5)) as client:
            result = client.read_profile("1-0:99.1.0.255")
    assert result.error


def test_closed_socket_is_reported_as_no_answer():
    with DlmsSimulator(faults={"close"}) as sim:
        with _client(sim, _settings("wrapper", timeout=0.5)) as client:
            result = client.read_registers(["1-0:1.8.0.255"])
            assert result.error and "closed" in result.error
            with pytest.raises(NoAnswer):
                client.read_clock()


def _client_counters(requests: list[bytes]) -> list[int]:
    return [security.parse_ciphered(r).invocation_counter for r in requests if security.is_ciphered(r)]


@pytest.mark.parametrize("store_kind", ["memory", "file"])
def test_invocation_counter_never_repeats_across_sessions(tmp_path, store_kind):
    store = MemoryCounterStore() if store_kind == "memory" else FileCounterStore(tmp_path / "counters.json")
    secure = ServerSecurity(authentication="high-gmac", ciphered=True)
    settings = _settings(
        "wrapper", authentication="high-gmac", ciphered=True, client_address=1, meter_key_id="m1"
    )
    counters: list[int] = []
    for _ in range(2):
        # a fresh simulator each time: the meter's own replay check cannot mask a reuse
        with DlmsSimulator(security=secure) as sim:
            with _client(sim, settings, store) as client:
                client.read_registers(["1-0:1.8.0.255"])
            counters += _client_counters(sim.requests_seen)
    assert len(counters) >= 6
    assert counters == sorted(counters) and len(set(counters)) == len(counters)


def test_file_counter_store_survives_a_new_instance(tmp_path):
    path = tmp_path / "ic.json"
    first = FileCounterStore(path)
    assert first.next("k") == 0
    first.observe("k", 41)
    assert FileCounterStore(path).next("k") == 42
