"""IEC 62056-21 driver (``generic_iec6205621``): codec, mode C client, simulator, frame inspector.

See :mod:`protocols.iec62056_21.codec` for the wire format and why we keep our own codec, and
:mod:`protocols.iec62056_21.client` for the session rules (timeouts, NAK, passwords, clock).
"""

from .client import Iec6205621Client
from .codec import decode_capture
from .simulator import MeterSimulator

__all__ = ["Iec6205621Client", "MeterSimulator", "decode_capture"]
