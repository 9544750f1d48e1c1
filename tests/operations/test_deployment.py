"""The deployment files: docker-compose.yml is valid for Compose and runs every role of the one
image; RabbitMQ gets its AMQP 1.0 plugin from a file shipped in the repository."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from utilitarian.celery import ALL_QUEUES

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def test_docker_compose_config_accepts_the_file() -> None:
    binary = shutil.which("docker-compose")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("docker-compose is missing: .ci/run installs Debian's docker-compose package")
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    result = subprocess.run(
        [binary, "-f", str(COMPOSE), "config", "-q"],
        cwd=ROOT,
        env={**os.environ, "SECRET_KEY": "compose-config-check"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_role_runs_from_the_one_image(compose) -> None:
    services = compose["services"]
    for name in ("postgres", "redis", "rabbitmq"):
        assert name in services
    app = {name: s for name, s in services.items() if s.get("build") == "."}
    assert {s["image"] for s in app.values()} == {"utilitarian:latest"}
    commands = {name: " ".join(map(str, s["command"])) for name, s in app.items()}
    assert commands["api"].startswith("gunicorn utilitarian.wsgi:application")
    assert "celery -A utilitarian beat" in commands["beat"]
    assert "manage.py dlms_receiver" in commands["push-receiver"]
    assert "manage.py pie_consumer" in commands["pie-consumer"]
    assert "manage.py gateway_relay" in commands["gateway-relay"]
    assert "manage.py migrate" in commands["migrate"]


def test_workers_cover_every_queue_once(compose) -> None:
    consumed: list[str] = []
    workers = 0
    for service in compose["services"].values():
        args = [str(a) for a in service.get("command", [])]
        if args[:4] == ["celery", "-A", "utilitarian", "worker"]:
            workers += 1
            (queues,) = [a.split("=", 1)[1] for a in args if a.startswith("--queues=")]
            consumed += queues.split(",")
    assert workers >= 4  # scheduled, on-demand, commits, default
    assert sorted(consumed) == sorted(ALL_QUEUES)


def test_rabbitmq_enables_amqp_1_0(compose) -> None:
    rabbit = compose["services"]["rabbitmq"]
    (mount,) = [v for v in rabbit["volumes"] if v.endswith("/etc/rabbitmq/enabled_plugins:ro")]
    plugins = (ROOT / mount.split(":")[0]).read_text()
    assert "rabbitmq_amqp1_0" in plugins and plugins.strip().endswith("].")


def test_production_settings_are_demanded(compose) -> None:
    env = compose["x-app"]["environment"]
    assert env["SECRET_KEY"].startswith("${SECRET_KEY:?")
    assert env["UTILITARIAN_REQUIRE_PRODUCTION_SETTINGS"] == "1"
    assert env["LOG_FORMAT"] == "json"


def test_the_image_collects_static_files() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "collectstatic --noinput" in dockerfile


CHECK_STATIC = """
import re
from django.test import Client
client = Client()
for page in ("/admin/login/", "/api/docs/"):
    html = client.get(page).content.decode()
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    assert assets, page
    for url in assets:
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        b"".join(response.streaming_content)
    print(page, len(assets))
"""


def test_admin_and_api_docs_assets_are_served_without_debug(tmp_path) -> None:
    """What the image does (collectstatic, then DEBUG off): whitenoise serves the admin's and
    Swagger UI's hashed assets from STATIC_ROOT; no DEBUG, no CDN."""
    env = {
        **os.environ,
        "DEBUG": "0",
        "UTILITARIAN_TESTING": "0",
        "SECRET_KEY": "static-check",
        "ALLOWED_HOSTS": "testserver",
        "STATIC_ROOT": str(tmp_path / "static"),
        "UTILITARIAN_DATA_DIR": str(tmp_path / "data"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    for argv in (["collectstatic", "--noinput", "-v0"], ["shell", "-c", CHECK_STATIC]):
        result = subprocess.run(
            [sys.executable, "manage.py", *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=240,
        )
        assert result.returncode == 0, result.stderr[-3000:]
    assert "/admin/login/" in result.stdout and "/api/docs/" in result.stdout
