"""The processor loop: spool → database → readings, in a background thread of the receiver.

It runs beside the receiver because the spool is a local directory. Each round imports what the
spool holds (then lets the spool forget it) and settles pending frames; when the database fails,
the round stops, the connection is dropped, and the loop waits (0.2 s doubling to 5 s) and tries
again. Frames meanwhile accumulate in the spool, so an outage costs latency, never frames.
"""

from __future__ import annotations

import logging
import threading
import time

from django.db import DatabaseError, close_old_connections, connection

from . import services
from .spool import SpoolReader

logger = logging.getLogger(__name__)


class PushProcessor:
    def __init__(
        self, reader: SpoolReader, *, batch: int = 500, idle_wait: float = 0.5, drain_seconds: float = 5.0
    ) -> None:
        self.reader = reader
        self.drain_seconds = drain_seconds
        self.batch = batch
        self.idle_wait = idle_wait
        self.frames_imported = 0
        self.frames_settled = 0
        self.readings = 0
        self.database_errors = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def run_once(self) -> int:
        """One round; returns how much was done (0 = idle). Raises ``DatabaseError``."""
        records, progress = self.reader.pending(self.batch)
        if records:
            services.push_frames_import(records=records)
            self.frames_imported += len(records)
        if progress:
            self.reader.commit(progress)  # also removes sealed segments already read to their end
        summary = services.push_frames_process(limit=self.batch)
        self.frames_settled += summary.frames
        self.readings += summary.readings
        return len(records) + summary.frames

    def run_until_idle(self, deadline: float) -> None:
        """Rounds until nothing is left or ``time.monotonic()`` passes ``deadline``."""
        while time.monotonic() < deadline and self.run_once():
            pass

    def run_forever(self) -> None:
        backoff = 0.0
        try:
            while not self._stop.is_set():
                try:
                    done = self.run_once()
                except DatabaseError as exc:
                    self.database_errors += 1
                    backoff = min(5.0, backoff * 2 or 0.2)
                    logger.warning(
                        "push processor: database error (%s); frames stay spooled, retry in %.1f s",
                        exc,
                        backoff,
                    )
                    _drop_connection()
                    self._stop.wait(backoff)
                    continue
                except Exception:
                    logger.exception("push processor: unexpected error; retrying in 1 s")
                    self._stop.wait(1.0)
                    continue
                if backoff:
                    logger.info("push processor: database back")
                    backoff = 0.0
                if not done:
                    writer = self.reader.writer
                    if writer is not None:
                        writer.wait_for_commit(writer.committed_count, self.idle_wait)
                    else:
                        self._stop.wait(self.idle_wait)
            # Stopping: whatever the writer sealed on its way out is imported now, not next start.
            try:
                self.run_until_idle(time.monotonic() + self.drain_seconds)
            except DatabaseError as exc:
                logger.warning("push processor: stopped with frames left in the spool (%s)", exc)
        finally:
            connection.close()

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="push-processor", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        writer = self.reader.writer
        if writer is not None:
            with writer.committed:
                writer.committed.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)


def _drop_connection() -> None:
    try:
        connection.close()
    except DatabaseError:
        pass
    close_old_connections()
