"""Invocation counter stores: the client's outgoing GCM counter must never repeat under a key.

With AES-GCM the IV is ``system_title | invocation_counter``; sending two different APDUs under
the same key and IV leaks the keystream and lets anyone forge tags, and meters refuse a counter
that is not greater than the last one they saw. The counter therefore has to survive restarts
and be shared by every worker that talks to a meter with the same key.

The interface is deliberately two methods, so the Django-backed store (a row per key id, updated
with ``SELECT ... FOR UPDATE`` or an ``F()`` expression) is a few lines:

* ``next(meter_key_id)`` reserves and returns a counter strictly greater than any value returned
  or observed before for that key id; the client starts its session there;
* ``observe(meter_key_id, used)`` records that every counter up to ``used`` may have been sent.
  The client calls it *before* each ciphered APDU leaves, so a crash mid-session cannot make the
  next session reuse a counter. Values lower than the stored one are ignored.

``meter_key_id`` names the key, not the meter: two meters sharing a GUEK share a counter space.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from pathlib import Path
from typing import Protocol


class InvocationCounterStore(Protocol):
    def next(self, meter_key_id: str) -> int: ...

    def observe(self, meter_key_id: str, used: int) -> None: ...


class MemoryCounterStore:
    """Per-process store for tests, the inspector and demos (forgets everything at exit)."""

    def __init__(self, start: int = 0) -> None:
        self._start = start
        self._last: dict[str, int] = {}
        self._lock = threading.Lock()

    def next(self, meter_key_id: str) -> int:
        with self._lock:
            value = self._last.get(meter_key_id, self._start - 1) + 1
            self._last[meter_key_id] = value
            return value

    def observe(self, meter_key_id: str, used: int) -> None:
        with self._lock:
            if used > self._last.get(meter_key_id, -1):
                self._last[meter_key_id] = used

    def last(self, meter_key_id: str) -> int | None:
        return self._last.get(meter_key_id)


class FileCounterStore:
    """A JSON file of ``{key id: last used counter}``, for a single host (CLI, field laptop).

    Every update is written to a temporary file, fsync'ed and renamed over the old one, under an
    exclusive ``flock`` so that two processes on the host never hand out the same counter.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def _locked(self):
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, open(self.path.with_suffix(self.path.suffix + ".lock"), "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _load(self) -> dict[str, int]:
        try:
            return {k: int(v) for k, v in json.loads(self.path.read_text(encoding="utf-8")).items()}
        except FileNotFoundError:
            return {}

    def _save(self, data: dict[str, int]) -> None:
        tmp = self.path.with_suffix(self.path.suffix + ".tmp")
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.path)

    def next(self, meter_key_id: str) -> int:
        with self._locked():
            data = self._load()
            value = data.get(meter_key_id, -1) + 1
            data[meter_key_id] = value
            self._save(data)
            return value

    def observe(self, meter_key_id: str, used: int) -> None:
        with self._locked():
            data = self._load()
            if used > data.get(meter_key_id, -1):
                data[meter_key_id] = used
                self._save(data)
