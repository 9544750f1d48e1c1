"""``python manage.py run_demo``: the living demo of ``make run`` on whatever database and broker
the settings name (SQLite and the embedded filesystem broker by default).

It starts the API server, one Celery worker consuming every queue (``--pool=solo``: one process,
nothing to coordinate on SQLite), the beat (the AMR tick every minute), and the simulated field
(:class:`utilitarian.demo.DemoField`) in this process; seeds the demo inventory pointing at the
field, sends one immediate read of every demo meter so readings arrive within seconds, then
prints a status line now and then. SIGINT (Ctrl-C) or SIGTERM stops the beat, the worker and the
server (SIGTERM, then SIGKILL after a bounded wait) and the simulators, in that order. Children
also die with this process if it is killed outright (Linux parent-death signal).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand
from django.db import close_old_connections
from django.db.models import Count
from django.utils import timezone

from utilitarian.demo import DEMO_ORGANIZATION, DemoField, demo_seed

STOP_TIMEOUT_SECONDS = 20.0
ADVANCE_EVERY_SECONDS = 60.0


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Command(BaseCommand):
    help = "Run the demo: API server, a Celery worker, the beat and a simulated field of meters."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--field-only",
            action="store_true",
            help="only the simulated field (and the seed); run the server, worker and beat yourself",
        )
        parser.add_argument("--status-every", type=float, default=30.0, help="seconds between status lines")
        parser.add_argument("--max-seconds", type=float, default=None, help="stop after this long")
        parser.add_argument(
            "--verbose-children", action="store_true", help="worker and beat log to the console too"
        )

    def handle(self, *args, host: str, port: int, field_only: bool, status_every: float, **options) -> None:
        stop = threading.Event()
        received: list[int] = []

        def on_signal(signum, _frame) -> None:
            received.append(signum)
            stop.set()

        signal.signal(signal.SIGINT, on_signal)
        signal.signal(signal.SIGTERM, on_signal)

        log_dir = Path(settings.DATA_DIR) / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        children: list[tuple[str, subprocess.Popen, Path | None]] = []
        # Children first: forking after the simulators' threads exist is best avoided.
        if not field_only:
            children = self._start_children(host, port, log_dir, options["verbose_children"])
        field = DemoField()
        exit_code = 0
        try:
            field.start()
            seeded = demo_seed(ports=field.ports)
            self._banner(host, port, field, seeded, children, field_only)
            if not field_only:
                from amr.services import jobs_run_now

                jobs = jobs_run_now(meter_devices=seeded.meters)
                self.stdout.write(
                    f"Sent {len(jobs)} immediate read(s) of the demo meters; then every 15 min."
                )
            exit_code = self._watch(stop, field, children, status_every, options["max_seconds"])
        finally:
            self._stop_children(children)
            field.stop()
            close_old_connections()
        why = f" (signal {received[0]})" if received else ""
        self.stdout.write(f"Demo stopped{why}: every child process exited.")
        if exit_code:
            sys.exit(exit_code)

    # --- processes ----------------------------------------------------------------------------

    def _start_children(
        self, host: str, port: int, log_dir: Path, verbose: bool
    ) -> list[tuple[str, subprocess.Popen, Path | None]]:
        from utilitarian.celery import ALL_QUEUES

        python = sys.executable
        manage = str(Path(settings.BASE_DIR) / "manage.py")
        commands = [
            (
                "worker",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "utilitarian",
                    "worker",
                    "--pool=solo",
                    "--queues",
                    ",".join(ALL_QUEUES),
                    "--hostname",
                    f"demo-{os.getpid()}@%h",
                    "--without-mingle",
                    "--without-gossip",
                    "--without-heartbeat",
                    "--loglevel=INFO",
                ],
            ),
            (
                "beat",
                [
                    python,
                    "-m",
                    "celery",
                    "-A",
                    "utilitarian",
                    "beat",
                    "--schedule",
                    str(Path(settings.DATA_DIR) / "celerybeat-schedule"),
                    "--loglevel=INFO",
                ],
            ),
            ("server", [python, manage, "runserver", f"{host}:{port}", "--noreload"]),
        ]
        started = []
        for name, argv in commands:
            log_path = None if (name == "server" or verbose) else log_dir / f"{name}.log"
            output = open(log_path, "ab") if log_path else None  # closed below, once the child has it
            process = subprocess.Popen(
                argv,
                stdout=output,
                stderr=subprocess.STDOUT if output else None,
                cwd=settings.BASE_DIR,
                preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
            if output:
                output.close()  # the child has its own descriptor
            started.append((name, process, log_path))
        return started

    def _stop_children(self, children: list[tuple[str, subprocess.Popen, Path | None]]) -> None:
        """Beat first (no new jobs), then the worker (finishes the job in hand), then the server."""
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        for name in ("beat", "worker", "server"):
            for child_name, process, _log in children:
                if child_name != name or process.poll() is not None:
                    continue
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=max(deadline - time.monotonic(), 1.0))
                except subprocess.TimeoutExpired:
                    self.stderr.write(f"{name} did not stop within {STOP_TIMEOUT_SECONDS:.0f} s: killing it")
                    process.kill()
                    process.wait(timeout=5)

    # --- output -------------------------------------------------------------------------------

    def _banner(self, host, port, field: DemoField, seeded, children, field_only: bool) -> None:
        base = f"http://{host}:{port}"
        lines = [
            "",
            "Utilitarian demo",
            "================",
            "Simulated field (loopback meters, real drivers):",
        ]
        lines += [f"  {line}" for line in field.describe()]
        lines.append(f"Demo organization: {seeded.organization.name} ({seeded.organization.pk})")
        lines.append("Demo meters: " + ", ".join(m.name for m in seeded.meters))
        if not field_only:
            lines += [
                f"Admin:      {base}/admin/   (dashboard: {base}/admin/dashboard/)",
                f"API docs:   {base}/api/docs/",
                f"Readings:   {base}/api/v1/metering/meter-readings/  (Authorization: Token <API token above>)",
                f"Login:      {self._credentials()}",
            ]
            lines += [f"{name.capitalize()} log: {log}" for name, _p, log in children if log]
        lines.append("Ctrl-C stops everything.")
        self.stdout.write("\n".join(lines) + "\n")

    def _credentials(self) -> str:
        from django.contrib.auth import get_user_model

        username = os.environ.get("DEMO_USERNAME", "demo")
        password = os.environ.get("DEMO_PASSWORD", "")
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            return f"no user {username!r}: run `manage.py ensure_demo_user`"
        if password and user.check_password(password):
            return f"{username} / {password}"
        return f"{username} (password printed when it was created; `manage.py changepassword {username}`)"

    def _status(self, since) -> str:
        from amr.models import AmrJob
        from meters.models import MeterReading

        states = dict(
            AmrJob.objects.filter(created_at__gte=since).values_list("state").annotate(n=Count("id"))
        )
        readings = MeterReading.objects.filter(organization__name=DEMO_ORGANIZATION).count()
        jobs = ", ".join(f"{n} {state}" for state, n in sorted(states.items())) or "none yet"
        return f"[demo {timezone.now():%H:%M:%S}] jobs since start: {jobs}; demo readings stored: {readings}"

    # --- the loop -----------------------------------------------------------------------------

    def _watch(self, stop, field: DemoField, children, status_every: float, max_seconds) -> int:
        started = time.monotonic()
        since = timezone.now() - timedelta(seconds=5)
        next_status = started + min(status_every, 10.0)
        next_advance = started + ADVANCE_EVERY_SECONDS
        while not stop.wait(1.0):
            now = time.monotonic()
            for name, process, log in children:
                if process.poll() is not None:
                    self.stderr.write(f"the {name} exited with code {process.returncode}; stopping the demo")
                    if log is not None and log.exists():
                        tail = deque(log.read_text(errors="replace").splitlines(), maxlen=20)
                        self.stderr.write("\n".join(tail))
                    return 1
            if now >= next_advance:
                field.advance()
                next_advance = now + ADVANCE_EVERY_SECONDS
            if children and now >= next_status:
                try:
                    self.stdout.write(self._status(since))
                except Exception as exc:  # a locked SQLite file must not end the demo
                    self.stdout.write(f"[demo] status unavailable: {exc}")
                finally:
                    close_old_connections()
                next_status = now + status_every
            if max_seconds is not None and now - started >= max_seconds:
                break
        return 0
