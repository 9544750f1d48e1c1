from __future__ import annotations

from django.core.management.base import BaseCommand

from gateway.consumer import consume_status, run_consumer
from gateway.transports import get_transport

from ._loop import stop_flag


class Command(BaseCommand):
    help = "Consume EAC status messages: update per-ESN status and queue tenant notifications."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one receive, then exit")
        parser.add_argument("--max-seconds", type=float, default=None, help="exit after this long")

    def handle(self, *args, once: bool, max_seconds: float | None, **options):
        with get_transport() as transport:
            if once:
                result = consume_status(transport=transport)
                self.stdout.write(
                    f"received {result.received}, applied {result.applied}, duplicates {result.duplicates}, "
                    f"dead-lettered {result.dead_lettered}, abandoned {result.abandoned}"
                )
                return
            stop = stop_flag()
            applied = run_consumer(transport=transport, max_seconds=max_seconds, stop=stop.is_set)
            self.stdout.write(f"applied {applied}")
