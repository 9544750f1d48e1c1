"""The meter device admin page: a chart per series over the chosen period, and latest jobs."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from amr.models import AmrJob, JobKind, JobState
from meters.charts import chart_period, meter_series_charts
from meters.models import MeterReading
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.factories import UserFactory


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    return client


def add_readings(meter, series, *, count: int, every: timedelta, end: datetime) -> None:
    MeterReading.objects.bulk_create(
        MeterReading(
            organization_id=meter.organization_id,
            meter_device=meter,
            series=series,
            timestamp=end - every * i,
            value=Decimal(1000 + i),
        )
        for i in range(count)
    )


def page(client: Client, meter, query: str = "") -> str:
    response = client.get(f"/admin/meters/meterdevice/{meter.pk}/change/{query}")
    assert response.status_code == 200
    return response.content.decode()


def svgs(html: str) -> dict[str, str]:
    return {
        m.group(1): m.group(0) for m in re.finditer(r'<svg [^>]*data-series="([^"]+)".*?</svg>', html, re.S)
    }


def test_each_series_gets_a_chart_with_its_points(staff_client, organization) -> None:
    meter = MeterDeviceFactory(organization=organization)
    energy = MeterReadingSeriesFactory(organization=organization, name="1.8.0", unit="kWh")
    voltage = MeterReadingSeriesFactory(organization=organization, name="32.7.0", unit="V")
    now = timezone.now()
    add_readings(meter, energy, count=24, every=timedelta(hours=1), end=now - timedelta(minutes=1))
    add_readings(meter, voltage, count=3, every=timedelta(hours=1), end=now - timedelta(minutes=1))

    charts = svgs(page(staff_client, meter, "?chart_period=7d"))
    assert set(charts) == {"1.8.0", "32.7.0"}
    assert 'data-points="24"' in charts["1.8.0"] and 'data-points="3"' in charts["32.7.0"]
    polyline = re.search(r'<polyline class="line" points="([^"]+)"', charts["1.8.0"]).group(1)
    assert len(polyline.split()) == 24
    assert charts["1.8.0"].count("<circle") == 24


def test_the_period_selects_the_readings(staff_client, organization) -> None:
    meter = MeterDeviceFactory(organization=organization)
    series = MeterReadingSeriesFactory(organization=organization, name="1.8.0")
    add_readings(meter, series, count=10, every=timedelta(days=1), end=timezone.now() - timedelta(hours=1))
    assert 'data-points="1"' in svgs(page(staff_client, meter, "?chart_period=24h"))["1.8.0"]
    assert 'data-points="10"' in svgs(page(staff_client, meter, "?chart_period=30d"))["1.8.0"]
    day = (timezone.now() - timedelta(days=3)).date().isoformat()
    custom = page(staff_client, meter, f"?chart_start={day}&chart_end={day}")
    assert 'data-points="1"' in svgs(custom)["1.8.0"]
    assert f'value="{day}"' in custom


def test_a_long_period_is_downsampled_to_a_bounded_number_of_points(organization) -> None:
    meter = MeterDeviceFactory(organization=organization)
    series = MeterReadingSeriesFactory(organization=organization, name="1.8.0")
    end = datetime(2025, 1, 31, tzinfo=UTC)
    add_readings(meter, series, count=2000, every=timedelta(minutes=15), end=end)
    (chart,) = meter_series_charts(
        meter_device_id=meter.pk,
        start=end - timedelta(days=30),
        end=end + timedelta(seconds=1),
        max_points=100,
    )
    assert len(chart.points) == 100 and chart.readings == 2000 and chart.downsampled
    assert min(p.low for p in chart.points) == 1000 and max(p.high for p in chart.points) == 2999


def test_no_readings_and_bad_parameters_do_not_break_the_page(staff_client, organization) -> None:
    meter = MeterDeviceFactory(organization=organization)
    html = page(staff_client, meter, "?chart_period=bogus&chart_start=not-a-date")
    assert "No readings in this period." in html
    assert chart_period({"chart_period": "bogus"}).key == "7d"


def test_another_organizations_readings_never_appear(staff_client, organization) -> None:
    from tests.support.factories import OrganizationFactory

    meter = MeterDeviceFactory(organization=organization)
    other = MeterDeviceFactory(organization=OrganizationFactory())
    series = MeterReadingSeriesFactory(organization=other.organization, name="9.9.9")
    add_readings(other, series, count=5, every=timedelta(hours=1), end=timezone.now())
    assert svgs(page(staff_client, meter)) == {}


def test_latest_jobs_are_listed_with_their_errors(staff_client, organization) -> None:
    meter = MeterDeviceFactory(organization=organization)
    AmrJob.objects.create(
        organization=organization,
        meter_device=meter,
        kind=JobKind.ON_DEMAND,
        meter_execution_type="generic_dlms",
        task_call="read_clock",
        state=JobState.FAILED,
        error="association refused: wrong authentication key",
    )
    html = page(staff_client, meter)
    jobs = re.search(r'<table id="meter-latest-jobs">.*?</table>', html, re.S).group(0)
    assert "generic_dlms.read_clock" in jobs and "association refused" in jobs


def test_unknown_meter_id_is_not_a_server_error(staff_client) -> None:
    response = staff_client.get("/admin/meters/meterdevice/not-a-uuid/change/")
    assert response.status_code in (302, 404)
