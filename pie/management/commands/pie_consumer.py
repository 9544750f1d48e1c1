"""``python manage.py pie_consumer``: reconcile recent tickets, then consume PiE notifications.

SIGTERM and SIGINT stop it cleanly: the message in hand is finished (stored, then accepted) and
everything else stays on the broker.
"""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from pie import services
from pie.client import PieClient
from pie.conf import pie_settings
from pie.consumer import PieConsumer


class Command(BaseCommand):
    help = "Consume Partners in Energie notifications (AMQP 1.0) and store tickets and comments."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--no-reconcile", action="store_true", help="skip the start-up catch-up over REST"
        )

    def handle(self, *args, **options) -> None:
        conf = pie_settings()
        organization_id = conf.require_organization()
        client = PieClient(conf)
        if not options["no_reconcile"]:
            counts = services.reconcile(
                organization_id=organization_id, client=client, days=conf.reconcile_days
            )
            self.stdout.write(f"reconciled {counts['tickets']} tickets ({counts['failed']} failed)")
        consumer = PieConsumer(conf=conf, client=client, organization_id=organization_id)

        def stop(signum, frame) -> None:
            consumer.stop()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        consumer.run()
        self.stdout.write("pie consumer stopped")
