"""Push settings, each with its default (``utilitarian/settings.py`` may set them from the environment).

* ``PUSH_SPOOL_DIR``: where received frames are spooled (default ``DATA_DIR / "push-spool"``).
* ``PUSH_SPOOL_FSYNC``: fsync every group of spooled frames (default True; off only for tests
  and benchmarks that measure something else).
* ``PUSH_BATCH_SIZE``: frames per import/processing transaction (default 500).
* ``PUSH_FRAME_RETENTION_DAYS``: settled frames (processed or rejected) received longer ago than
  this are deleted daily (default 30; None keeps them). Their readings stay: they are readings.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def spool_dir() -> Path:
    return Path(getattr(settings, "PUSH_SPOOL_DIR", settings.DATA_DIR / "push-spool"))


def spool_fsync() -> bool:
    return bool(getattr(settings, "PUSH_SPOOL_FSYNC", True))


def batch_size() -> int:
    return int(getattr(settings, "PUSH_BATCH_SIZE", 500))


def frame_retention_days() -> int | None:
    value = getattr(settings, "PUSH_FRAME_RETENTION_DAYS", 30)
    return None if value is None else int(value)
