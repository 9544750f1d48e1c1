"""The client reads parameters and databases from the simulator through the library, exactly."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from protocols.errors import FrameError, NoAnswer, ProtocolError, TransportUnavailable
from protocols.iflag.client import CorusMeter
from protocols.iflag.simulator import CorusSimulator, free_port

from .conftest import LAYOUT, NEWEST


def meter(sim: CorusSimulator, **kwargs) -> CorusMeter:
    kwargs.setdefault("timeout", 2.0)
    kwargs.setdefault("timezone", "Etc/GMT-1")
    return CorusMeter(host="127.0.0.1", port=sim.port, database_layout=LAYOUT, **kwargs)


def test_parameters_are_exact_readings(corus):
    result = meter(corus).read_parameters(
        [
            {"id": 48, "data_type": "index", "series": "7.0.3.0.0.255", "unit": "m3"},
            {"id": 20, "data_type": "float"},
            {"id": 21, "data_type": "eulong"},
            {"id": 300, "data_type": "word"},
            {"id": 0x5E, "data_type": "string"},
        ]
    )
    values = {r.series: r.value for r in result.readings}
    assert values == {
        "7.0.3.0.0.255": Decimal("123456.987"),
        "corus.20": Decimal("123456.7"),
        "corus.21": Decimal(2**40 - 2),
        "corus.300": Decimal(513),
    }
    assert result.info["parameters"] == {"94": "FL_b0040"}
    assert corus.requests == [0xBF]


def test_many_parameters_are_split_to_fit_255_byte_answers(corus):
    result = meter(corus).read_parameters([{"id": 48, "data_type": "index"}] * 40)
    assert len(result.readings) == 40
    assert corus.requests == [0xBF, 0xBF]  # 320 bytes of answer need two requests


def test_database_by_date_gives_utc_timestamped_readings(corus):
    # The meter keeps UTC+1: 07:00..10:00 UTC are its 08:00..11:00 records.
    result = meter(corus).read_database_by_date(
        "hourly", datetime(2024, 5, 1, 7, tzinfo=UTC), datetime(2024, 5, 1, 10, tzinfo=UTC)
    )
    assert result.info["records"] == 4
    assert result.info["pulse_weight"] == Decimal("0.1")
    stamps = sorted({r.timestamp for r in result.readings})
    assert stamps == [datetime(2024, 5, 1, h, tzinfo=UTC) for h in (7, 8, 9, 10)]
    newest = {r.series: r for r in result.readings if r.timestamp == stamps[-1]}
    # record at meter 11:00 is NEWEST - 1h: volume 101 pulses * 0.1, converted (10107 * 0.1) / 10
    assert newest["hourly.volume"].value == Decimal("10.1")
    assert newest["hourly.volume"].unit == "m3"
    assert newest["hourly.converted"].value == Decimal("101.07")
    assert newest["hourly.temperature"].value == Decimal("-16.12")
    assert newest["hourly.pressure"].value == Decimal("1.013")
    assert newest["hourly.volume"].extra["status"] == 3
    assert "hourly.status" not in newest


def test_multi_frame_database_answer_is_acknowledged_and_joined(corus):
    result = meter(corus).read_database_by_date("hourly")
    assert result.info["records"] == 24  # 384 bytes in 40-byte frames


def test_a_corrupted_frame_is_resent_after_nak(corus):
    corus.corrupt_next_crc = False
    m = meter(corus, input_pulse_weight="0.1")
    corus.corrupt_next_crc = True
    result = m.read_database_by_date("hourly")
    assert result.info["records"] == 24


def test_empty_range_is_an_empty_result(corus):
    result = meter(corus).read_database_by_date(
        "hourly", datetime(2030, 1, 1, tzinfo=UTC), datetime(2030, 1, 2, tzinfo=UTC)
    )
    assert result.readings == [] and result.info["records"] == 0


def test_offset_seconds_reads_up_to_now(corus):
    now = (NEWEST - timedelta(hours=1)).replace(tzinfo=UTC)  # meter 12:00 local
    result = meter(corus, now=lambda: now).read_database_by_offset_seconds(7200, "hourly")
    assert result.info["records"] == 3  # meter 10:00, 11:00, 12:00


def test_naive_dates_and_unknown_databases_are_refused(corus):
    with pytest.raises(ValueError, match="timezone"):
        meter(corus).read_database_by_date("hourly", datetime(2024, 5, 1))
    with pytest.raises(ValueError, match="unknown database"):
        meter(corus).read_database_by_date("weekly")
    with pytest.raises(ValueError, match="no record layout"):
        meter(corus).read_database_by_date("daily")


def test_set_time_leaves_a_clock_within_the_allowance(corus):
    corus.clock_offset = timedelta(seconds=3)
    fixed = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    corus.clock = lambda: datetime(2024, 5, 1, 12, 0)  # meter local (UTC+1) before the offset
    result = meter(corus, now=lambda: fixed).set_time(allowed_drift_seconds=10)
    assert result.info["adjusted"] is False
    assert result.info["drift_seconds"] == Decimal("3")
    assert corus.written == []


def test_set_time_writes_our_clock_when_drift_is_too_large(corus):
    corus.clock_offset = timedelta(minutes=-5)
    fixed = datetime(2024, 5, 1, 11, 0, tzinfo=UTC)
    corus.clock = lambda: datetime(2024, 5, 1, 12, 0)
    result = meter(corus, now=lambda: fixed).set_time(allowed_drift_seconds=10)
    assert result.info["adjusted"] is True
    assert result.info["drift_seconds"] == Decimal("-300")
    assert corus.meter_time() == datetime(2024, 5, 1, 12, 0)  # meter local time = our UTC + 1 h


def test_refused_write_is_a_protocol_error(corus):
    corus.refuse_writes = True
    corus.clock_offset = timedelta(hours=1)
    with pytest.raises(ProtocolError, match="refused to write parameter 106"):
        meter(corus).set_time(allowed_drift_seconds=0)


def test_corrupted_parameter_answer_is_a_frame_error(corus):
    corus.corrupt_next_crc = True
    with pytest.raises(FrameError, match="CRC"):
        meter(corus).read_parameters([{"id": 1, "data_type": "float"}])


def test_silent_meter_is_no_answer(corus):
    corus.silent = True
    with pytest.raises(NoAnswer):
        meter(corus, timeout=0.2).read_parameters([{"id": 1, "data_type": "float"}])


def test_closed_port_is_transport_unavailable():
    m = CorusMeter(host="127.0.0.1", port=free_port(), timeout=0.5)
    with pytest.raises(TransportUnavailable):
        m.read_parameters([{"id": 1, "data_type": "float"}])


def test_layouts_are_validated():
    bad = {"hourly": {"17": LAYOUT["hourly"]["16"]}}
    with pytest.raises(ValueError, match="adds up to 16 bytes"):
        CorusMeter(host="127.0.0.1", port=1, database_layout=bad)


@pytest.mark.parametrize("frame_data_size", [40, 48])
def test_a_nakd_frame_is_not_counted_twice(frame_data_size):
    from .conftest import PARAMETERS, RECORDS

    # 48 bytes = 3 whole records: the library's own reader would silently duplicate them.
    with CorusSimulator(PARAMETERS, {"hourly": RECORDS}, frame_data_size=frame_data_size) as sim:
        m = meter(sim, input_pulse_weight="0.1")
        sim.corrupt_next_crc = True
        result = m.read_database_by_date("hourly")
    assert result.info["records"] == 24
    stamps = [r.timestamp for r in result.readings if r.series == "hourly.volume"]
    assert len(stamps) == len(set(stamps)) == 24
