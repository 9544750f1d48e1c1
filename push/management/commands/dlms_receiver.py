"""``python manage.py dlms_receiver --udp 4059 --tcp 4059``: receive DLMS pushes.

The asyncio servers spool every frame (``PUSH_SPOOL_DIR``) and a processor thread moves spooled
frames into the database and parses them (see ``push/__init__.py``). ``--no-processor`` only
spools and imports nothing: run the processor elsewhere on the same spool (``--processor-only``).
"""

from __future__ import annotations

import asyncio
import logging
import signal

from django.core.management.base import BaseCommand, CommandError

from push import conf
from push.processor import PushProcessor
from push.receiver import PushReceiver
from push.spool import SpoolReader, SpoolWriter

logger = logging.getLogger("push.receiver")


class Command(BaseCommand):
    help = "Receive DLMS DataNotifications over UDP/TCP, spool them and ingest their readings."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--udp", type=int, help="UDP port (one wrapper frame or APDU per datagram)")
        parser.add_argument("--tcp", type=int, help="TCP port (IEC 62056-47 wrapper frames)")
        parser.add_argument("--host", default="0.0.0.0", help="address to bind (default all)")
        parser.add_argument("--spool-dir", help="spool directory (default PUSH_SPOOL_DIR)")
        parser.add_argument("--idle-timeout", type=float, default=300.0, help="close idle TCP after s")
        mode = parser.add_mutually_exclusive_group()
        mode.add_argument("--no-processor", action="store_true", help="spool only")
        mode.add_argument("--processor-only", action="store_true", help="process the spool, no sockets")

    def handle(self, *args, **options) -> None:
        if options["udp"] is None and options["tcp"] is None and not options["processor_only"]:
            raise CommandError("give --udp PORT and/or --tcp PORT")
        directory = conf.spool_dir() if not options["spool_dir"] else options["spool_dir"]
        asyncio.run(self._serve(options, directory))

    async def _serve(self, options, directory) -> None:
        writer = None
        receiver = None
        if not options["processor_only"]:
            writer = SpoolWriter(directory, fsync=conf.spool_fsync())
            writer.start()
            receiver = PushReceiver(
                writer,
                host=options["host"],
                udp_port=options["udp"],
                tcp_port=options["tcp"],
                idle_timeout=options["idle_timeout"],
            )
            await receiver.start()
        processor = None
        if not options["no_processor"]:
            processor = PushProcessor(SpoolReader(directory, writer), batch=conf.batch_size())
            processor.start()
        self.stdout.write(
            f"dlms_receiver: udp={receiver.udp_port if receiver else '-'} "
            f"tcp={receiver.tcp_port if receiver else '-'} spool={directory}"
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        logger.info("dlms_receiver: stopping")
        if receiver is not None:
            await receiver.close()
        if writer is not None:
            writer.close()  # everything received is on disk before the processor stops
        if processor is not None:
            processor.stop()
