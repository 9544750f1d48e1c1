"""The M-Bus master against the simulated bus over real loopback TCP."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from protocols.errors import FrameError, NoAnswer
from protocols.mbus import codec
from protocols.mbus.client import MBusApplicationError, MBusClient
from protocols.mbus.simulator import MBusSimulator, SimulatedSlave
from protocols.transport import TcpTransport
from tests.support.corpus import corpus_path


def frame(name: str, folder: str = "test-frames") -> bytes:
    return codec.parse_hex(corpus_path("mbus", "libmbus", folder, f"{name}.hex").read_text())


@pytest.fixture
def bus() -> Iterator[MBusSimulator]:
    slaves = [
        SimulatedSlave([frame("ACW_Itron-BM-plus-m")], primary=1),
        SimulatedSlave(
            [frame("kamstrup_multical_601"), frame("abb_delta"), frame("eastron_sdm630")], primary=2
        ),
        SimulatedSlave([frame("els_falcon")], primary=3, identification="11110001"),
        SimulatedSlave([frame("tecson")], primary=4, identification="11110002"),
        SimulatedSlave([frame("oms_frame1")], primary=5, identification="22220001"),
    ]
    with MBusSimulator(slaves) as simulator:
        yield simulator


@pytest.fixture
def client(bus: MBusSimulator) -> Iterator[MBusClient]:
    transport = TcpTransport("127.0.0.1", bus.port, timeout=2.0)
    transport.open()
    try:
        yield MBusClient(transport, timeout=0.3, retries=2, drain_timeout=0.02)
    finally:
        transport.close()


def test_primary_read_returns_exact_readings(client: MBusClient) -> None:
    result = client.read(address=1)
    values = {r.series: (r.value, r.unit) for r in result.readings}
    assert values["volume:0:0:0:instantaneous"] == (Decimal("54.321"), "m³")
    assert result.info["header"]["id"] == "11490378"
    assert result.info["meter_time"] == "2014-03-13T11:11"
    assert result.info["texts"]["time_point_date:1:0:0:instantaneous"] == "2000-00-00"
    assert result.error is None


def test_multi_telegram_read_toggles_fcb_and_collects_every_telegram(
    client: MBusClient, bus: MBusSimulator
) -> None:
    result = client.read(address=2)
    assert result.info["telegrams"] == 3
    slave = bus.slaves[1]
    assert slave.fcb_seen == [True, False, True]
    expected = sum(len(codec.telegram_readings(codec.decode_telegram(t))) for t in slave.telegrams)
    assert len(result.readings) == expected
    assert len({r.series for r in result.readings}) == len(result.readings)


def test_lost_answer_is_asked_again_with_the_same_fcb(client: MBusClient, bus: MBusSimulator) -> None:
    slave = bus.slaves[1]
    client.snd_nke(2)
    first = client.request_telegram(2)
    slave.faults.append("silent")
    second = client.request_telegram(2)  # retried with the same FCB: no telegram skipped
    assert slave.fcb_seen == [True, False, False]
    assert first.header and second.header
    assert second.frame.data == codec.decode_frame(slave.telegrams[1]).data


def test_secondary_select_then_read(client: MBusClient) -> None:
    result = client.read(secondary="11110002")
    assert result.info["header"]["id"] == "11110002"
    assert result.info["header"]["manufacturer"] == "TEC"


def test_select_of_an_absent_secondary_address_is_false(client: MBusClient) -> None:
    assert client.select_secondary("99999999") is False
    with pytest.raises(NoAnswer):
        client.read(secondary="99999999")


def test_wildcard_scan_finds_every_secondary_address(client: MBusClient) -> None:
    # Narrow masks and a short answer timeout keep this short: every empty digit costs one timeout.
    client.timeout = 0.15
    assert client.scan_secondary("111100FF") == ["11110001", "11110002"]
    assert client.scan_secondary("2222000F") == ["22220001"]


def test_primary_scan(client: MBusClient) -> None:
    assert client.scan_primary(range(0, 8)) == [1, 2, 3, 4, 5]


def test_silent_slave_raises_no_answer(client: MBusClient) -> None:
    with pytest.raises(NoAnswer, match="no answer after 3 attempts"):
        client.read(address=42)


def test_persistent_bad_checksum_raises_frame_error(client: MBusClient, bus: MBusSimulator) -> None:
    bus.slaves[0].faults.extend(["ok", "bad_checksum", "bad_checksum", "bad_checksum"])
    with pytest.raises(FrameError, match="checksum"):
        client.read(address=1)


def test_retry_after_garbled_answer_then_success(client: MBusClient, bus: MBusSimulator) -> None:
    bus.slaves[0].faults.extend(["ok", "garbled", "silent"])
    result = client.read(address=1)
    assert any(r.series == "volume:0:0:0:instantaneous" for r in result.readings)
    assert bus.slaves[0].requests == 3


def test_collision_on_one_primary_address_is_a_frame_error(client: MBusClient, bus: MBusSimulator) -> None:
    bus.slaves[3].primary = 3  # two slaves on address 3 now
    client.snd_nke(3)  # identical E5s superimpose cleanly
    with pytest.raises(FrameError):
        client.request_telegram(3)


def test_closed_connection_is_no_answer(client: MBusClient, bus: MBusSimulator) -> None:
    bus.slaves[0].faults.append("close")
    with pytest.raises(NoAnswer):
        client.snd_nke(1)


def test_failure_in_a_later_telegram_keeps_what_was_read(client: MBusClient, bus: MBusSimulator) -> None:
    bus.slaves[1].faults.extend(["ok", "ok", "silent", "silent", "silent"])
    result = client.read(address=2)
    assert result.info["telegrams"] == 1
    assert result.readings and result.error is not None and "telegram 2" in result.error


def test_application_error_is_raised(bus: MBusSimulator) -> None:
    busy = SimulatedSlave([frame("ACW_Itron-BM-plus-m")], primary=9)
    busy.telegrams = [frame("application_busy", "error-frames")]
    bus.slaves.append(busy)
    transport = TcpTransport("127.0.0.1", bus.port, timeout=2.0)
    with transport:
        client = MBusClient(transport, timeout=0.5)
        with pytest.raises(MBusApplicationError, match="application busy") as caught:
            client.read(address=9)
    assert caught.value.permanent is False


def test_addresses_are_validated(client: MBusClient) -> None:
    with pytest.raises(ValueError):
        client.read(address=251)
    with pytest.raises(ValueError):
        client.read()


def test_captured_more_records_flag_of_a_lone_telegram_is_cleared() -> None:
    slave = SimulatedSlave([frame("ELV-Elvaco-CMa10")], primary=7)
    assert codec.decode_telegram(frame("ELV-Elvaco-CMa10")).more_records_follow
    assert not codec.decode_telegram(slave.telegrams[0]).more_records_follow
