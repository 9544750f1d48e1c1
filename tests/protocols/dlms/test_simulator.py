"""Simulator behaviour the client tests do not reach: replay refusal and the push sender."""

from __future__ import annotations

import socket
from datetime import datetime, timedelta, timezone

import pytest

from protocols.dlms import apdu, security
from protocols.dlms.apdu import AttributeRef, InitiateRequest
from protocols.dlms.frames import decode_frame
from protocols.dlms.obis import parse_obis
from protocols.dlms.simulator import MeterModel, ServerSecurity, send_notification
from protocols.dlms.simulator.push import build_notification
from protocols.dlms.simulator.session import Session

CLIENT_TITLE = b"CLIENT01"
SEC = ServerSecurity(ciphered=True)


def _ciphered(plain: bytes, counter: int) -> bytes:
    protected = security.protect(
        0x30, CLIENT_TITLE, counter, SEC.encryption_key, SEC.authentication_key, plain
    )
    return security.build_ciphered(security.GENERAL_GLO_CIPHERING, protected, CLIENT_TITLE)


def _aarq() -> bytes:
    initiate = _ciphered(InitiateRequest(conformance=0x401E1D, max_receive_pdu=1024).encode(), 1)
    body = apdu.ber(0xA1, apdu.ber(0x06, bytes.fromhex("60857405080103")))
    body += apdu.ber(0xA6, apdu.ber(0x04, CLIENT_TITLE))
    body += apdu.ber(0xBE, apdu.ber(0x04, initiate))
    return apdu.ber(apdu.AARQ, body)


def test_replayed_request_is_refused_with_an_invocation_counter_error():
    session = Session(MeterModel(), SEC, set())
    aare = session.handle(_aarq())
    assert aare[0] == apdu.AARE and session.associated
    request = _ciphered(apdu.get_request(0xC1, AttributeRef(3, parse_obis("1-0:32.7.0.255"), 2)), 2)
    answer = session.handle(request)
    assert security.is_ciphered(answer)
    assert session.handle(request) == apdu.exception_response(1, 6)


def test_plain_request_in_a_ciphered_association_is_refused():
    session = Session(MeterModel(), SEC, set())
    session.handle(_aarq())
    plain = apdu.get_request(0xC1, AttributeRef(3, parse_obis("1-0:32.7.0.255"), 2))
    assert session.handle(plain)[0] == apdu.EXCEPTION_RESPONSE


@pytest.mark.parametrize("protocol", ["udp", "tcp"])
def test_data_notification_reaches_a_receiver_and_decodes(protocol: str):
    keys = security.SecurityKeys(SEC.encryption_key, SEC.authentication_key, SEC.system_title)
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    message = build_notification(when=when, keys=keys, invocation_counter=77)
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    with socket.socket(socket.AF_INET, kind) as receiver:
        receiver.bind(("127.0.0.1", 0))
        receiver.settimeout(5)
        if protocol == "tcp":
            receiver.listen(1)
        send_notification("127.0.0.1", receiver.getsockname()[1], message, protocol=protocol)
        if protocol == "udp":
            data = receiver.recv(4096)
        else:
            conn, _ = receiver.accept()
            with conn:
                conn.settimeout(5)
                data = b""
                while chunk := conn.recv(4096):
                    data += chunk
    decoded = decode_frame(data, security.SecurityKeys(SEC.encryption_key, SEC.authentication_key))
    (push,) = decoded.apdus
    assert push.ciphered.invocation_counter == 77
    readings = {r.series: (str(r.value), r.unit, r.timestamp) for r in push.to_read_result().readings}
    assert readings["1.0.1.8.0.255"] == ("12345670", "Wh", when)
    assert readings["1.0.31.7.0.255"][:2] == ("-0.07", "A")
