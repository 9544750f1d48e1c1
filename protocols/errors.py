"""Errors shared by every driver.

Each error says whether retrying could help (``permanent``), so the AMR job runner can decide
between a retry with backoff (no answer, connection refused) and a failed job (garbage, wrong key).
"""

from __future__ import annotations


class ProtocolError(Exception):
    """Base class for everything a driver raises about the meter or the wire."""

    permanent: bool = True

    def __init__(self, reason: str, *, permanent: bool | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        if permanent is not None:
            self.permanent = permanent


class FrameError(ProtocolError):
    """A frame was rejected: bad checksum, length, structure or authentication tag."""


class NoAnswer(ProtocolError):
    """The peer did not answer in time, or closed the connection. Worth a retry."""

    permanent = False


class TransportUnavailable(ProtocolError):
    """The transport could not be opened (connection refused, serial port missing)."""

    permanent = False


class AuthenticationFailed(ProtocolError):
    """The meter refused our credentials (wrong password or key)."""
