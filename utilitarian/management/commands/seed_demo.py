"""``python manage.py seed_demo``: the demo inventory of ``make run`` for any setup (idempotent).

The demo interfaces point at 127.0.0.1 on fixed ports (``--port-dlms`` ... to change them);
``make run`` starts the simulated field itself and re-points them at its simulators.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand

from utilitarian.demo import DEFAULT_PORTS, demo_seed


class Command(BaseCommand):
    help = "Create the demo organization's meters, interfaces, series, quarterly tasks and groups."

    def add_arguments(self, parser) -> None:
        for key, port in DEFAULT_PORTS.items():
            parser.add_argument(f"--port-{key}", type=int, default=None, help=f"default {port}")

    def handle(self, *args, **options) -> None:
        ports = {key: options[f"port_{key}"] for key in DEFAULT_PORTS if options[f"port_{key}"] is not None}
        result = demo_seed(ports=ports or None)
        verb = f"created {result.created} object(s)" if result.created else "already complete"
        self.stdout.write(f"Demo inventory of {result.organization.name} ({result.organization.pk}): {verb}.")
        for meter in result.meters:
            self.stdout.write(f"  {meter.name:<16} {meter.protocol:<12} {meter.network_interface}")
