"""Shared plumbing of the gateway's long-running commands: stop cleanly on SIGTERM/SIGINT."""

from __future__ import annotations

import signal
import threading


def stop_flag() -> threading.Event:
    stop = threading.Event()

    def handler(signum, frame):
        stop.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        try:
            signal.signal(signum, handler)
        except ValueError:  # not the main thread (tests call the command directly)
            pass
    return stop
