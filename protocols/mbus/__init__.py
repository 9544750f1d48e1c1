"""Wired M-Bus (EN 13757-2/-3) driver: codec, master client, slave simulator and frame inspector.

``codec`` validates and decodes frames exactly (Decimal values, reasons for every rejection),
``client`` reads meters over a :mod:`protocols.transport` transport, ``simulator`` serves real
telegrams over loopback TCP, and ``python -m protocols.mbus decode ...`` inspects a frame.
"""

from .client import MBusApplicationError, MBusClient, open_mbus_transport
from .codec import Record, SlaveHeader, Telegram, decode_frame, decode_hex, decode_telegram

__all__ = [
    "MBusApplicationError",
    "MBusClient",
    "Record",
    "SlaveHeader",
    "Telegram",
    "decode_frame",
    "decode_hex",
    "decode_telegram",
    "open_mbus_transport",
]
