from __future__ import annotations

from django.core.management.base import BaseCommand

from gateway.simulator import run_simulator, simulate_once
from gateway.transports import get_transport

from ._loop import stop_flag


class Command(BaseCommand):
    help = "Simulate the EAC: consume the request queue and emit progress on the status queue."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="handle what is waiting, then exit")
        parser.add_argument("--max-seconds", type=float, default=None, help="exit after this long")
        parser.add_argument("--step-delay", type=float, default=0.0, help="seconds between progress steps")
        parser.add_argument("--compress", action="store_true", help="gzip bodies and set IsCompressed")

    def handle(self, *args, once: bool, max_seconds, step_delay: float, compress: bool, **options):
        with get_transport() as transport:
            if once:
                handled = simulate_once(transport=transport, step_delay=step_delay, compress=compress)
            else:
                stop = stop_flag()
                handled = run_simulator(
                    transport=transport,
                    max_seconds=max_seconds,
                    stop=stop.is_set,
                    step_delay=step_delay,
                    compress=compress,
                )
            self.stdout.write(f"handled {handled} request(s)")
