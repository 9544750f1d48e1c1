from __future__ import annotations

from django.core.management.base import BaseCommand

from gateway.relay import relay_outbox, run_relay
from gateway.transports import get_transport

from ._loop import stop_flag


class Command(BaseCommand):
    help = "Publish the gateway's outbox to the broker (GATEWAY_TRANSPORT); run exactly one."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="one pass, then exit")
        parser.add_argument("--poll", type=float, default=0.5, help="seconds between passes when idle")
        parser.add_argument("--max-seconds", type=float, default=None, help="exit after this long")

    def handle(self, *args, once: bool, poll: float, max_seconds: float | None, **options):
        with get_transport() as transport:
            if once:
                result = relay_outbox(transport=transport)
                self.stdout.write(f"sent {result.sent}, failed {result.failed}, waiting {result.waiting}")
                return
            stop = stop_flag()
            sent = run_relay(
                transport=transport, poll_seconds=poll, max_seconds=max_seconds, stop=stop.is_set
            )
            self.stdout.write(f"sent {sent}")
