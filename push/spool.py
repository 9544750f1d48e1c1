"""The on-disk spool: every received frame is here, fsync'd, before anything else happens to it.

No Django in this module: the receiver's network side must keep accepting frames while the
database is down, so all it does is append to a file.

Layout (``settings.PUSH_SPOOL_DIR``, default ``DATA_DIR / "push-spool"``): segment files named
``<epoch ns>-<pid>.open`` while a writer appends to them and ``.seg`` once sealed (rotated or
closed). A writer holds an exclusive ``flock`` on its ``.open`` segment; a reader that can take
the lock knows the writer died, and treats that segment as sealed. Each record is::

    magic "PF" | version 1 | transport (0 udp, 1 tcp) | received_at (int64 µs) |
    peer length (u8) | payload length (u32) | CRC-32 of peer + payload (u32) | peer | payload

A record is only handed to readers after its bytes are fsync'd (group commit: the writer thread
drains whatever arrived meanwhile, writes it with one ``write`` and one ``fsync``). A torn tail
(crash mid-write) fails the length or CRC check; readers stop there, and skip it once the segment
is sealed. Records are identified by ``<segment stem>:<offset>``, which the database keeps
unique, so importing a segment twice (crash between import and deletion) stores nothing twice.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import queue
import struct
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

MAGIC = b"PF"
VERSION = 1
RECORD = struct.Struct(">2sBBqBII")
TRANSPORTS = ("udp", "tcp")
MAX_PAYLOAD = 1 << 20


@dataclass(frozen=True)
class SpoolRecord:
    key: str  # "<segment stem>:<offset>", unique for ever
    received_at_us: int
    transport: str
    peer: str
    payload: bytes


def encode_record(payload: bytes, *, transport: str, peer: str, received_at_us: int) -> bytes:
    peer_bytes = peer.encode("ascii", errors="replace")[:255]
    crc = zlib.crc32(peer_bytes + payload)
    head = RECORD.pack(
        MAGIC, VERSION, TRANSPORTS.index(transport), received_at_us, len(peer_bytes), len(payload), crc
    )
    return head + peer_bytes + payload


def read_records(path: Path, start: int = 0, end: int | None = None) -> Iterator[tuple[SpoolRecord, int]]:
    """Complete, valid records of a segment from ``start`` (up to ``end``): (record, next offset).
    Stops silently at a torn or corrupt tail."""
    stem = path.name.rsplit(".", 1)[0]
    with open(path, "rb") as handle:
        handle.seek(start)
        data = handle.read() if end is None else handle.read(max(0, end - start))
    pos = 0
    while pos + RECORD.size <= len(data):
        magic, version, transport, received, peer_len, size, crc = RECORD.unpack_from(data, pos)
        body = pos + RECORD.size
        if magic != MAGIC or version != VERSION or transport >= len(TRANSPORTS) or size > MAX_PAYLOAD:
            logger.warning("push spool %s: corrupt record at offset %d, rest skipped", path.name, start + pos)
            return
        if body + peer_len + size > len(data):
            return
        peer = data[body : body + peer_len]
        payload = data[body + peer_len : body + peer_len + size]
        if zlib.crc32(peer + payload) != crc:
            logger.warning("push spool %s: CRC mismatch at offset %d, rest skipped", path.name, start + pos)
            return
        nxt = body + peer_len + size
        record = SpoolRecord(
            f"{stem}:{start + pos}", received, TRANSPORTS[transport], peer.decode("ascii"), bytes(payload)
        )
        yield record, start + nxt
        pos = nxt


class SpoolWriter:
    """Appends records from any thread; one writer thread does the file work (group commit)."""

    def __init__(
        self,
        directory: Path,
        *,
        fsync: bool = True,
        segment_bytes: int = 8 << 20,
        segment_seconds: float = 60,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        self.segment_seconds = segment_seconds
        self._queue: queue.SimpleQueue[bytes | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._fd: int | None = None
        self._path: Path | None = None
        self._opened_at = 0.0
        self._size = 0
        self._lock = threading.Lock()
        self.committed = threading.Condition(self._lock)
        self.committed_count = 0
        self.errors = 0

    # --- public --------------------------------------------------------------------------------

    def start(self) -> None:
        self._open_segment()
        self._thread = threading.Thread(target=self._run, name="push-spool-writer", daemon=True)
        self._thread.start()

    def append(self, payload: bytes, *, transport: str, peer: str) -> None:
        """Queue one frame; it is on disk (fsync'd) when :attr:`committed_count` has moved past it."""
        self._queue.put(
            encode_record(payload, transport=transport, peer=peer, received_at_us=time.time_ns() // 1000)
        )

    def active_segment(self) -> tuple[Path | None, int]:
        """The segment being written and how many of its bytes are durable."""
        with self._lock:
            return self._path, self._size

    def wait_for_commit(self, seen: int, timeout: float) -> int:
        """Block until more records than ``seen`` are durable (or timeout); the new count."""
        with self.committed:
            self.committed.wait_for(lambda: self.committed_count > seen, timeout=timeout)
            return self.committed_count

    def close(self, timeout: float = 5.0) -> None:
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout)
            self._thread = None
        with self._lock:
            self._seal()

    # --- the writer thread -----------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            try:
                first = self._queue.get(timeout=1.0)
            except queue.Empty:
                self._maybe_rotate()
                continue
            batch = [first]
            while len(batch) < 10_000:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in batch
            records = [r for r in batch if r is not None]
            if records:
                self._write(records)
            if stop:
                return
            self._maybe_rotate()

    def _write(self, records: list[bytes]) -> None:
        blob = b"".join(records)
        while True:
            try:
                written = 0
                while written < len(blob):
                    written += os.write(self._fd, blob[written:])
                if self.fsync:
                    os.fsync(self._fd)
                break
            except OSError:
                # Disk full or similar: nothing is acknowledged to anyone, so keep the frames in
                # memory and retry rather than drop them; the log says why the spool stalls.
                self.errors += 1
                logger.exception("push spool: write failed, retrying in 1 s (%d records held)", len(records))
                time.sleep(1.0)
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._size)
                    os.lseek(self._fd, self._size, os.SEEK_SET)
        with self.committed:
            self._size += len(blob)
            self.committed_count += len(records)
            self.committed.notify_all()

    def _maybe_rotate(self) -> None:
        too_big = self._size >= self.segment_bytes
        too_old = self._size and time.monotonic() - self._opened_at >= self.segment_seconds
        if too_big or too_old:
            with self._lock:
                self._seal()
                self._open_segment_locked()

    def _open_segment(self) -> None:
        with self._lock:
            self._open_segment_locked()

    def _open_segment_locked(self) -> None:
        path = self.directory / f"{time.time_ns():020d}-{os.getpid()}.open"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        if self.fsync:
            _fsync_dir(self.directory)
        self._fd, self._path, self._size, self._opened_at = fd, path, 0, time.monotonic()

    def _seal(self) -> None:
        if self._fd is None or self._path is None:
            return
        sealed = self._path.with_suffix(".seg")
        os.rename(self._path, sealed)
        if self.fsync:
            _fsync_dir(self.directory)
        os.close(self._fd)
        self._fd, self._path = None, None


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class SpoolReader:
    """Walks the spool's segments in order: sealed ones whole, open ones up to what is durable.

    ``writer`` (the same process's writer, if any) tells how far its active segment is durable;
    ``.open`` segments of other writers are read only once their writer is gone (unlocked).
    """

    def __init__(self, directory: Path, writer: SpoolWriter | None = None) -> None:
        self.directory = Path(directory)
        self.writer = writer
        self._offsets: dict[str, int] = {}

    def segments(self) -> list[Path]:
        return sorted(
            (p for p in self.directory.iterdir() if p.suffix in (".seg", ".open")), key=lambda p: p.stem
        )

    def pending(self, limit: int = 1000) -> tuple[list[SpoolRecord], list[tuple[Path, int]]]:
        """Up to ``limit`` records not yet handed out, and the progress to :meth:`commit` after
        they are stored: [(segment, offset after the last record)]."""
        records: list[SpoolRecord] = []
        progress: list[tuple[Path, int]] = []
        active, durable = self.writer.active_segment() if self.writer else (None, 0)
        for path in self.segments():
            if len(records) >= limit:
                break
            end: int | None = None
            if path.suffix == ".open":
                if path == active:
                    end = durable
                elif not _writer_gone(path):
                    continue
            start = self._offsets.get(path.stem, 0)
            last = start
            try:
                for record, nxt in read_records(path, start, end):
                    records.append(record)
                    last = nxt
                    if len(records) >= limit:
                        break
            except FileNotFoundError:  # renamed .open -> .seg meanwhile: next round
                continue
            progress.append((path, last))
        return records, progress

    def commit(self, progress: list[tuple[Path, int]]) -> None:
        """The records up to these offsets are stored elsewhere: sealed, fully read segments go."""
        active = self.writer.active_segment()[0] if self.writer else None
        for path, offset in progress:
            self._offsets[path.stem] = offset  # by stem: the .open -> .seg rename keeps it
            if path == active:
                continue
            if path.suffix == ".open" and not _writer_gone(path):
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            finished = offset >= size or not any(True for _ in read_records(path, offset))
            if finished:
                path.unlink(missing_ok=True)
                self._offsets.pop(path.stem, None)

    def depth(self) -> int:
        """Bytes of spool on disk (for the log and the benchmark)."""
        return sum(p.stat().st_size for p in self.segments() if p.exists())


def _writer_gone(path: Path) -> bool:
    """Whether the process that wrote this ``.open`` segment no longer holds its lock."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)
