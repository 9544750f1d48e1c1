"""The LIS-200 client against the simulated volume corrector over loopback TCP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from protocols.errors import AuthenticationFailed, NoAnswer, ProtocolError
from protocols.iec62056_21.codec import command_frame
from protocols.lis200.client import Lis200Client
from protocols.lis200.simulator import Lis200Simulator, hourly_archive
from protocols.transport import TcpTransport

ZONE = "Etc/GMT-1"
LOCK_CODE = "12345"
ARCHIVE_END = datetime(2024, 1, 20, 12, 0)  # device local time of the newest archive row


@pytest.fixture
def device() -> Iterator[Lis200Simulator]:
    simulator = Lis200Simulator(
        timezone=ZONE, password=LOCK_CODE, archives={3: hourly_archive(300, end=ARCHIVE_END)}
    )
    simulator.start()
    yield simulator
    simulator.stop()


def client_for(device: Lis200Simulator, **kwargs) -> Lis200Client:
    options = {"timezone": ZONE, "password": LOCK_CODE, "timeout": 2.0}
    options.update(kwargs)
    return Lis200Client(TcpTransport("127.0.0.1", device.port, timeout=2.0), **options)


def test_single_value_uses_the_instance_address_attribute_form(device: Lis200Simulator) -> None:
    result = client_for(device).read_single_value("2.300")
    (reading,) = result.readings
    assert (reading.series, reading.value, reading.unit) == ("2.300", Decimal("12345.6789"), "m3")
    assert command_frame("R1", "2:300.0(1)") in device.received
    assert result.info["identification"]["manufacturer"] == "ELS"


def test_unknown_object_raises_with_the_device_error_code(device: Lis200Simulator) -> None:
    with pytest.raises(ProtocolError, match="#0002"):
        client_for(device).read_single_value("9.999")


def test_archive_by_date_returns_rows_in_the_range_as_utc_readings(device: Lis200Simulator) -> None:
    start = datetime(2024, 1, 19, 12, 0, tzinfo=UTC)  # 13:00 device local
    end = datetime(2024, 1, 20, 0, 0, tzinfo=UTC)  # 01:00 device local
    result = client_for(device).read_archive_by_date(start, end, archive_number=3, control_position=3)
    assert result.error is None
    assert result.info["rows"] == 13
    sent = command_frame("R3", "3:V.0(3;2024-01-19,13:00:00;2024-01-20,01:00:00;1)")
    assert sent in device.received
    stamps = sorted({r.timestamp for r in result.readings})
    assert stamps[0] == start and stamps[-1] == end
    volumes = [r for r in result.readings if r.series == "lis200:3:4"]
    assert len(volumes) == 13 and volumes[0].unit == "m3"
    assert all(r.series != "lis200:3:3" for r in result.readings)  # the time column is the timestamp
    expected_row = next(row for row in device.archives[3] if row[2][0] == "2024-01-19,13:00:00")
    assert volumes[0].value == Decimal(expected_row[3][0])


def test_archive_spanning_several_blocks_is_read_to_the_end(device: Lis200Simulator) -> None:
    result = client_for(device).read_archive_by_date(
        "2023-01-01T00:00:00", archive_number=3, control_position=3
    )
    assert result.error is None
    assert result.info["rows"] == 300  # 12 blocks of 25 rows, fetched with ACK


def test_archive_by_offset_asks_from_now_minus_the_offset(device: Lis200Simulator) -> None:
    device.archives[3] = hourly_archive(300, end=datetime.now(UTC).astimezone(device.tz).replace(tzinfo=None))
    result = client_for(device).read_archive_by_offset_seconds(6 * 3600, archive_number=3, control_position=3)
    assert result.error is None
    assert 6 <= result.info["rows"] <= 7
    oldest = min(r.timestamp for r in result.readings)
    assert datetime.now(UTC) - oldest <= timedelta(hours=6, seconds=5)


def test_partial_archive_keeps_the_rows_received_and_reports_the_error(device: Lis200Simulator) -> None:
    device.faults.close_after_blocks = 4
    result = client_for(device).read_archive_by_date(
        "2023-01-01T00:00:00", archive_number=3, control_position=3
    )
    assert result.info["rows"] == 100
    assert result.error is not None and "after 100 rows" in result.error
    assert len({r.timestamp for r in result.readings}) == 100


def test_empty_range_is_reported_not_raised(device: Lis200Simulator) -> None:
    result = client_for(device).read_archive_by_date(
        "2010-01-01T00:00:00", "2010-01-02T00:00:00", archive_number=3, control_position=3
    )
    assert result.readings == []
    assert result.error is not None and "#0013" in result.error


def test_set_time_opens_the_lock_and_writes_the_clock(device: Lis200Simulator) -> None:
    device.clock_offset = -600
    result = client_for(device).set_time()
    assert result.info["time_set"] is True
    assert -602 <= result.info["drift_seconds"] <= -598
    assert abs((device.meter_time() - datetime.now(UTC)).total_seconds()) < 3
    assert command_frame("W1", f"3:171.0({LOCK_CODE})") in device.received


def test_set_time_with_a_wrong_lock_code_fails_authentication(device: Lis200Simulator) -> None:
    with pytest.raises(AuthenticationFailed):
        client_for(device, password="99999").set_time()


def test_set_time_without_a_lock_code_is_refused_by_the_device(device: Lis200Simulator) -> None:
    with pytest.raises(ProtocolError, match="#0004"):
        client_for(device, password=None).set_time()


def test_silent_device_raises_no_answer(device: Lis200Simulator) -> None:
    device.faults.silent = True
    with pytest.raises(NoAnswer):
        client_for(device, timeout=0.3).read_single_value("2.300")


def test_archive_block_with_a_bad_bcc_is_asked_again(device: Lis200Simulator) -> None:
    original = device.read_blocks

    def corrupt_next(command: str, address: str, parameter: str) -> list[str] | None:
        device.faults.bad_bcc = 1
        return original(command, address, parameter)

    device.read_blocks = corrupt_next  # type: ignore[method-assign]
    result = client_for(device).read_archive_by_date(
        "2023-01-01T00:00:00", archive_number=3, control_position=3
    )
    assert result.error is None and result.info["rows"] == 300
