"""DataNotification sender: what a meter's push setup does, for push-receiver tests.

Builds the list the way many customer interfaces do (an array of ``structure{OBIS, value,
scaler_unit}``), optionally ciphers it in a general-glo-ciphering APDU (the receiver learns the
system title from it), wraps it in the IP wrapper and sends it by UDP or TCP.
"""

from __future__ import annotations

import socket
from datetime import datetime

from .. import apdu, axdr, security, wrapper
from ..axdr import CosemDateTime, Data
from ..obis import parse_obis

DEFAULT_VALUES: list[tuple[str, Data, int, int]] = [
    ("1-0:1.8.0.255", axdr.uint32(1234567), 1, 30),
    ("1-0:32.7.0.255", axdr.uint16(2301), -1, 35),
    ("1-0:31.7.0.255", Data(axdr.INT32, -7), -2, 33),
]


def build_notification(
    *,
    when: datetime,
    invoke_id: int = 1,
    values: list[tuple[str, Data, int, int]] | None = None,
    keys: security.SecurityKeys | None = None,
    invocation_counter: int = 1,
) -> bytes:
    """The APDU (plain, or general-glo-ciphering with auth + encryption when keys are given)."""
    body = axdr.array(
        [
            axdr.structure(
                axdr.octets(parse_obis(obis)), value, axdr.structure(axdr.int8(scaler), axdr.enum(unit))
            )
            for obis, value, scaler, unit in (values or DEFAULT_VALUES)
        ]
    )
    plain = apdu.encode_data_notification(invoke_id, CosemDateTime.from_datetime(when, clock_status=0), body)
    if keys is None:
        return plain
    if keys.encryption_key is None or keys.system_title is None:
        raise ValueError("ciphering needs the encryption key and the meter's system title")
    protected = security.protect(
        0x30, keys.system_title, invocation_counter, keys.encryption_key, keys.authentication_key, plain
    )
    return security.build_ciphered(security.GENERAL_GLO_CIPHERING, protected, keys.system_title)


def send_notification(
    host: str, port: int, message: bytes, *, protocol: str = "udp", timeout: float = 5.0
) -> None:
    """Send one APDU in an IP wrapper (source wPort 1 = management logical device, dest 1)."""
    frame = wrapper.build(1, 1, message)
    if protocol == "udp":
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.sendto(frame, (host, port))
        return
    if protocol != "tcp":
        raise ValueError("protocol is 'udp' or 'tcp'")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame)
