"""Waiting on a condition another thread or process brings about, instead of sleeping a guess."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def wait_until(
    predicate: Callable[[], object], timeout: float = 15.0, interval: float = 0.01, what: str = "condition"
) -> object:
    """Poll ``predicate`` until it is truthy and return its value; fail the test after ``timeout``
    seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not met within {timeout} s")
        time.sleep(interval)
