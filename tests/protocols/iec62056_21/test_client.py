"""The mode C client against the simulated meter over loopback TCP, fault by fault."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from protocols.errors import AuthenticationFailed, FrameError, NoAnswer, ProtocolError
from protocols.iec62056_21.client import Iec6205621Client, format_like
from protocols.iec62056_21.codec import NAK, command_frame, option_select, sign_on_request
from protocols.iec62056_21.simulator import MeterSimulator
from protocols.transport import TcpTransport
from tests.support.waiting import wait_until

PASSWORD = "00000000"
ZONE = "Etc/GMT-1"


@pytest.fixture
def meter() -> Iterator[MeterSimulator]:
    simulator = MeterSimulator(password=PASSWORD, timezone=ZONE)
    simulator.start()
    yield simulator
    simulator.stop()


def client_for(meter: MeterSimulator, **kwargs) -> Iec6205621Client:
    options = {"password": PASSWORD, "timezone": ZONE, "timeout": 2.0}
    options.update(kwargs)
    return Iec6205621Client(TcpTransport("127.0.0.1", meter.port, timeout=2.0), **options)


def test_readout_returns_every_numeric_register_exactly(meter: MeterSimulator) -> None:
    result = client_for(meter).readout()
    by_series = {r.series: r for r in result.readings}
    assert by_series["1.8.0"].value == Decimal("1846.0")
    assert by_series["1.8.0"].unit == "kWh"
    assert by_series["1.8.0"].extra["text"] == "001846.0"
    assert len(result.info["values"]) == len(meter.registers)
    assert result.info["identification"]["manufacturer"] == "UTL"
    assert result.error is None


def test_session_speaks_mode_c_byte_for_byte(meter: MeterSimulator) -> None:
    client_for(meter).read_registers(["1.8.0"])
    wait_until(lambda: len(meter.received) >= 5, timeout=2, what="the simulator's record of the session")
    assert meter.received[0] == sign_on_request()
    assert meter.received[1] == option_select("5", "1")
    assert meter.received[2] == command_frame("P1", f"({PASSWORD})")
    assert meter.received[3] == command_frame("R1", "1.8.0()")
    assert meter.received[4] == command_frame("B0")


def test_max_baudrate_caps_the_option_select(meter: MeterSimulator) -> None:
    client_for(meter, max_baudrate=2400).readout()
    assert meter.received[1] == option_select("3", "0")


def test_register_reads_with_password(meter: MeterSimulator) -> None:
    result = client_for(meter).read_registers(["1.8.1", "2.8.0"])
    assert [(r.series, r.value) for r in result.readings] == [
        ("1.8.1", Decimal("1200.5")),
        ("2.8.0", Decimal("4329.6")),
    ]


def test_unknown_register_is_reported_and_the_others_are_read(meter: MeterSimulator) -> None:
    result = client_for(meter).read_registers(["1.8.1", "99.99.99", "2.8.0"])
    assert [r.series for r in result.readings] == ["1.8.1", "2.8.0"]
    assert result.error is not None and "99.99.99" in result.error


def test_wrong_password_raises_authentication_failed(meter: MeterSimulator) -> None:
    with pytest.raises(AuthenticationFailed):
        client_for(meter, password="11111111").read_registers(["1.8.0"])


def test_missing_password_raises_authentication_failed(meter: MeterSimulator) -> None:
    with pytest.raises(AuthenticationFailed, match="none is configured"):
        client_for(meter, password=None).read_registers(["1.8.0"])


def test_meter_that_refuses_every_password(meter: MeterSimulator) -> None:
    meter.faults.wrong_password = True
    with pytest.raises(AuthenticationFailed):
        client_for(meter).read_registers(["1.8.0"])


def test_nak_from_the_meter_makes_the_client_repeat_the_command(meter: MeterSimulator) -> None:
    with client_for(meter).session() as session:
        session.enter_programming(PASSWORD)
        meter.faults.nak = 2
        dataset = session.read_register("1.8.0")
        session.end()
    assert dataset.value.text == "001846.0"
    assert meter.received.count(command_frame("R1", "1.8.0()")) == 3


def test_nak_to_the_password_is_retried_too(meter: MeterSimulator) -> None:
    meter.faults.nak = 1
    result = client_for(meter).read_registers(["1.8.0"])
    assert result.readings[0].value == Decimal("1846.0")
    assert meter.received.count(command_frame("P1", f"({PASSWORD})")) == 2


def test_persistent_nak_gives_up_after_the_retries(meter: MeterSimulator) -> None:
    meter.faults.nak = -1
    with pytest.raises(ProtocolError, match="NAK"):
        client_for(meter, retries=2).read_registers(["1.8.0"])


def test_bad_bcc_once_is_repeated_after_our_nak(meter: MeterSimulator) -> None:
    client = client_for(meter)
    with client.session() as session:
        session.enter_programming(PASSWORD)
        meter.faults.bad_bcc = 1
        dataset = session.read_register("1.8.0")
        session.end()
    assert dataset.value.text == "001846.0"
    assert bytes([NAK]) in meter.received


def test_persistent_bad_bcc_raises_frame_error(meter: MeterSimulator) -> None:
    meter.faults.bad_bcc = -1
    with pytest.raises(FrameError, match=r"BCC mismatch: got 0x[0-9a-f]{2} expected 0x[0-9a-f]{2}"):
        client_for(meter).read_registers(["1.8.0"])


def test_bad_bcc_in_readout_raises_frame_error(meter: MeterSimulator) -> None:
    meter.faults.bad_bcc = 1
    with pytest.raises(FrameError, match="BCC mismatch"):
        client_for(meter).readout()


def test_silent_meter_raises_no_answer(meter: MeterSimulator) -> None:
    meter.faults.silent = True
    with pytest.raises(NoAnswer):
        client_for(meter, timeout=0.3).readout()


def test_closed_socket_raises_no_answer(meter: MeterSimulator) -> None:
    meter.faults.close_after_bytes = 40  # part way through the readout
    with pytest.raises(NoAnswer):
        client_for(meter).readout()


def test_connection_lost_after_a_register_keeps_what_was_read(meter: MeterSimulator) -> None:
    client = client_for(meter)
    original = meter.read_register

    def stop_on_second(address: str, parameter: str) -> str | None:
        if address == "2.8.0":
            meter.faults.close_after_bytes = 0
        return original(address, parameter)

    meter.read_register = stop_on_second  # type: ignore[method-assign]
    result = client.read_registers(["1.8.1", "2.8.0"])
    assert [r.series for r in result.readings] == ["1.8.1"]
    assert result.error is not None


def test_set_time_leaves_a_clock_within_the_allowed_drift(meter: MeterSimulator) -> None:
    meter.clock_offset = -20
    result = client_for(meter).set_time(allowed_drift_seconds=60)
    assert result.info["time_set"] is False
    assert -22 <= result.info["drift_seconds"] <= -18
    assert not any(frame[1:3] == b"W1" for frame in meter.received)
    assert abs(meter.clock_offset + 20) < 0.01


def test_set_time_corrects_a_clock_beyond_the_allowed_drift(meter: MeterSimulator) -> None:
    meter.clock_offset = -3600
    result = client_for(meter).set_time(allowed_drift_seconds=60)
    if result.error is not None:  # within two seconds of the meter's midnight: refused by design
        pytest.skip(result.error)
    assert result.info["time_set"] is True
    assert -3602 <= result.info["drift_seconds"] <= -3598
    assert abs((meter.meter_time() - datetime.now(UTC)).total_seconds()) < 3
    written = [frame for frame in meter.received if frame[1:3] == b"W1"]
    assert [frame[4:9] for frame in written] == [b"0.9.2", b"0.9.1"]


def test_meter_time_is_converted_from_the_meter_zone_to_utc(meter: MeterSimulator) -> None:
    # Etc/GMT-1 is UTC+1: a meter showing 12:00 local is at 11:00 UTC.
    local_noon = datetime.now(UTC).astimezone(meter.tz).replace(hour=12, minute=0, second=0, microsecond=0)
    meter.set_meter_local_time(local_noon.replace(tzinfo=None))
    result = client_for(meter).set_time(allowed_drift_seconds=10**9)
    meter_time = result.info["meter_time"]
    assert meter_time.tzinfo == UTC
    assert meter_time.hour == 11
    assert abs(meter_time - local_noon.astimezone(UTC)) < timedelta(seconds=3)


def test_format_like_keeps_the_meter_layout() -> None:
    assert format_like("17-03-18", "230101") == "23-01-01"
    assert format_like("0170318", "230101") == "0230101"
    assert format_like("20:14:55", "010203") == "01:02:03"
