"""An operator's first minutes, in a real browser against a live server and the simulated field:
log in to the admin, read the dashboard, open a meter whose chart has points, run a task now
and see its job appear (and succeed through the real driver), then open the API docs."""

from __future__ import annotations

import re

import pytest

from amr.models import AmrJob, JobState
from amr.services import job_run, jobs_run_now
from meters.models import MeterDevice, MeterReading
from utilitarian.celery import app as celery_app
from utilitarian.demo import DemoField, demo_seed
from utilitarian.models import User

PASSWORD = "browser-test-password"


@pytest.fixture
def field():
    simulated = DemoField()
    simulated.start()
    yield simulated
    simulated.stop()


@pytest.fixture
def eager_celery():
    """Celery's own in-process execution: "run now" runs the job in the request that sent it,
    so the test sees it finish without a worker process."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def demo(transactional_db, field, settings):
    settings.AMR_BLOCK_WAIT_SECONDS = 0
    settings.AMR_METER_TIMEOUT_SECONDS = 5
    seeded = demo_seed(ports=field.ports)
    User.objects.create_superuser(username="operator", email="", password=PASSWORD)
    dlms = MeterDevice.objects.get(name="demo-dlms-1")
    (job,) = jobs_run_now(meter_devices=[dlms])
    assert job_run(job_id=job.pk).state == JobState.SUCCEEDED
    return seeded


def test_operator_journey(live_server, page, screenshot, demo, eager_celery) -> None:
    base = live_server.url

    page.goto(f"{base}/admin/login/?next=/admin/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#ops-dashboard-link")
    screenshot(page, "01-admin-index")

    page.click("#ops-dashboard-link a")
    page.wait_for_selector("#ops-dashboard")
    meters_card = page.inner_text("#ops-meters")
    assert "DLMS/COSEM" in meters_card and "M-Bus" in meters_card
    assert page.inner_text("#ops-jobs [data-state=succeeded]") == "1"
    screenshot(page, "02-dashboard")

    dlms = MeterDevice.objects.get(name="demo-dlms-1")
    page.goto(f"{base}/admin/meters/meterdevice/{dlms.pk}/change/?chart_period=7d")
    chart = page.locator('svg[data-series="1.0.1.8.0.255"]')
    assert int(chart.get_attribute("data-points")) >= 96
    points = chart.locator("polyline.line").get_attribute("points").split()
    assert len(points) == int(chart.get_attribute("data-points"))
    assert chart.bounding_box()["width"] > 300  # drawn, not just present in the markup
    screenshot(page, "03-meter-chart")

    # Run a task now: the changelist action on the IEC meter.
    iec = MeterDevice.objects.get(name="demo-iec-1")
    page.goto(f"{base}/admin/meters/meterdevice/?q=demo-iec-1")
    page.check(f'input[name=_selected_action][value="{iec.pk}"]')
    page.select_option("select[name=action]", "run_meter_tasks_now")
    page.click("button[name=index]")
    page.wait_for_selector(".messagelist")
    assert "1 job(s) sent to the on-demand queue" in page.inner_text(".messagelist")
    screenshot(page, "04-run-now")

    page.goto(f"{base}/admin/amr/amrjob/?q=demo-iec-1")
    row = page.locator("#result_list tbody tr").first
    assert "demo-iec-1" in row.inner_text() and "Succeeded" in row.inner_text()
    screenshot(page, "05-job-list")
    job = AmrJob.objects.get(meter_device=iec)
    assert job.state == JobState.SUCCEEDED and MeterReading.objects.filter(meter_device=iec).count() > 0

    page.goto(f"{base}/admin/meters/meterdevice/{iec.pk}/change/")
    assert "Succeeded" in page.inner_text("#meter-latest-jobs")
    assert int(page.locator('svg[data-series="1.8.0"]').get_attribute("data-points")) >= 1
    screenshot(page, "06-iec-meter")

    page.goto(f"{base}/api/docs/")
    page.wait_for_selector(".swagger-ui .info .title")
    assert re.search(r"Utilitarian API", page.inner_text(".swagger-ui .info .title"))
    page.wait_for_selector(".opblock-tag")
    assert page.locator(".opblock").count() > 10
    screenshot(page, "07-api-docs")
