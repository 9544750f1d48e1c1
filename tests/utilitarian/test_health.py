"""/_health/ reports database and broker state, and 503 when either is down."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.test import Client


@pytest.mark.django_db
def test_health_ok() -> None:
    response = Client().get("/_health/")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["database"]["ok"] and body["broker"]["ok"]


def test_health_reports_database_down(tmp_path) -> None:
    """A server started with a DATABASE_URL that points nowhere answers 503, not 500."""
    script = (
        "import django, json; django.setup()\n"
        "from django.test import Client\n"
        "r = Client().get('/_health/')\n"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))\n"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nothing",
        "UTILITARIAN_DATA_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "utilitarian.settings",
    }
    env.pop("CELERY_BROKER_URL", None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    assert result["body"]["database"]["ok"] is False
    assert result["body"]["broker"]["ok"] is True


@pytest.mark.django_db
def test_health_reports_broker_down(settings) -> None:
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:1/0"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {}
    response = Client().get("/_health/")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False


@pytest.mark.django_db
def test_health_can_be_disabled(settings) -> None:
    settings.HEALTHCHECK_DISABLED = True
    assert Client().get("/_health/").status_code == 404
