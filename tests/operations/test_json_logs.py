"""Structured logs (LOG_FORMAT=json): a job's log lines carry its job id, meter and organization,
a Celery run adds the message id as correlation id, and HTTP requests get a correlation id."""

from __future__ import annotations

import io
import json
import logging

import pytest
from django.test import Client

from amr.services import job_run
from amr.tasks import run_on_demand_job
from tests.amr.support import free_port, meter_at, on_demand_job
from utilitarian.logging import JsonFormatter, current_log_context, log_context


@pytest.fixture
def json_lines():
    """Every record reaching the root logger, formatted as the console handler does with
    LOG_FORMAT=json; returns a function that parses what was logged so far."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_a_job_run_logs_its_job_and_meter(organization, iec_simulator, json_lines) -> None:
    meter = meter_at(organization, iec_simulator.port)
    job = on_demand_job(meter)
    job_run(job_id=job.pk)
    (line,) = [entry for entry in json_lines() if entry["logger"] == "amr.services"]
    assert line["job_id"] == str(job.pk)
    assert line["meter_device_id"] == str(meter.pk) and line["meter_device_name"] == meter.name
    assert line["organization_id"] == str(organization.pk)
    assert line["job_state"] == "succeeded" and line["readings"] == 10
    assert current_log_context() == {}  # nothing leaks past the job


def test_a_failing_job_names_the_meter_in_every_line(organization, json_lines, settings) -> None:
    settings.AMR_JOB_MAX_RETRIES = 0
    settings.AMR_METER_TIMEOUT_SECONDS = 2
    meter = meter_at(organization, free_port())  # nobody listens there
    job = on_demand_job(meter)
    job_run(job_id=job.pk)
    lines = [entry for entry in json_lines() if entry.get("job_id") == str(job.pk)]
    assert lines and all(entry["meter_device_id"] == str(meter.pk) for entry in lines)
    assert lines[-1]["job_state"] == "failed" and lines[-1]["error"]


def test_a_celery_run_adds_its_message_id(organization, iec_simulator, json_lines) -> None:
    meter = meter_at(organization, iec_simulator.port)
    job = on_demand_job(meter)
    result = run_on_demand_job.apply(args=[str(job.pk)], task_id="msg-42")
    assert result.get() == "succeeded"
    (line,) = [entry for entry in json_lines() if entry["logger"] == "amr.services"]
    assert line["correlation_id"] == "msg-42" and line["job_id"] == str(job.pk)


def test_http_requests_carry_a_correlation_id(db, json_lines) -> None:
    client = Client()
    response = client.get("/api/v1/no-such-thing/", HTTP_X_CORRELATION_ID="abc-123")
    assert response.status_code == 404 and response["X-Correlation-ID"] == "abc-123"
    (line,) = [entry for entry in json_lines() if entry["logger"] == "django.request"]
    assert line["correlation_id"] == "abc-123"
    generated = client.get("/_health/")["X-Correlation-ID"]
    assert len(generated) == 36  # a fresh UUID when the caller sent none


def test_extra_wins_over_the_context_and_contexts_nest(json_lines) -> None:
    log = logging.getLogger("tests.operations")
    with log_context(job_id="outer", meter_device_id="m1"):
        with log_context(job_id="inner"):
            log.info("one", extra={"meter_device_id": "explicit"})
        log.info("two")
    one, two = (entry for entry in json_lines() if entry["logger"] == "tests.operations")
    assert (one["job_id"], one["meter_device_id"]) == ("inner", "explicit")
    assert (two["job_id"], two["meter_device_id"]) == ("outer", "m1")
