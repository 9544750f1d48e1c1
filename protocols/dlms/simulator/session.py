"""One client association with the simulated meter: ACSE, security and the GET/SET/ACTION services.

The session sees whole APDUs (the link layer below reassembles them) and answers with whole
APDUs, or ``None`` to stay silent. Security follows the standard's order: the AARQ fixes the
authentication mechanism and the client's system title; with HLS-GMAC the association stays
pending until the client answers our challenge through ``reply_to_HLS_authentication``; with a
ciphering context every request must arrive ciphered, and its invocation counter must be greater
than the last one seen from that client (replays are refused with an exception response).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ...errors import FrameError
from .. import apdu, axdr, security
from ..apdu import Aarq, Data, InitiateRequest
from .objects import ASSOCIATION_LN, MeterModel

# general-protection, block-transfer-with-get/set/action, multiple-references, get, set,
# selective-access, action (the 24-bit conformance block, bit 0 = most significant)
CONFORMANCE = 0x40_1E_1D


@dataclass
class ServerSecurity:
    authentication: str = "none"  # none | low | high-gmac
    password: bytes = b"12345678"
    ciphered: bool = False  # require glo-ciphered APDUs (security suite 0, auth + enc)
    system_title: bytes = b"UTL\x00\x00\x00\x00\x01"
    encryption_key: bytes = bytes(range(16))
    authentication_key: bytes = bytes(range(16, 32))


class Session:
    def __init__(self, model: MeterModel, sec: ServerSecurity, faults: set[str], max_pdu: int = 256) -> None:
        self.model = model
        self.sec = sec
        self.faults = faults
        self.max_pdu = max_pdu
        self.associated = False
        self.pending_hls = False
        self.client_title: bytes | None = None
        self.client_counter = -1
        self.server_counter = 0x100
        self.challenge = b""
        self.ciphered_context = False
        self.blocks: list[bytes] = []
        self.block_invoke = 0
        self.last_tag = 0

    # -- entry point -----------------------------------------------------------------------------

    def handle(self, request: bytes) -> bytes | None:
        tag = request[0]
        if tag == apdu.AARQ:
            return self._associate(request)
        if tag == apdu.RLRQ:
            self.associated = False
            return apdu.rlre()
        if not self.associated and not (self.pending_hls and tag in (apdu.ACTION_REQUEST, 0xCB, 0xD3)):
            return apdu.exception_response(1, 2)
        plain = request
        if security.is_ciphered(request):
            header = security.parse_ciphered(request)
            if header.invocation_counter <= self.client_counter:
                return apdu.exception_response(1, 6)  # invocation counter error: a replay
            try:
                _, plain = security.decrypt_apdu(
                    request,
                    security.SecurityKeys(
                        self.sec.encryption_key, self.sec.authentication_key, self.client_title
                    ),
                )
            except FrameError:
                return apdu.exception_response(1, 5)  # deciphering error
            self.client_counter = header.invocation_counter
        elif self.ciphered_context:
            return apdu.exception_response(1, 1)  # plain APDU in a ciphered association
        response = self._serve(plain)
        if response is None or not security.is_ciphered(request):
            return response
        return self._cipher(response)

    def _cipher(self, plain: bytes) -> bytes:
        self.server_counter += 1
        key = self.sec.encryption_key if "wrong-key" not in self.faults else bytes(16)
        protected = security.protect(
            0x30, self.sec.system_title, self.server_counter, key, self.sec.authentication_key, plain
        )
        return security.build_ciphered(security.GLO_TAG_FOR_PLAIN[plain[0]], protected)

    # -- association -----------------------------------------------------------------------------

    def _associate(self, request: bytes) -> bytes:
        aarq = Aarq.decode(request)
        self.client_title = aarq.calling_ap_title
        self.ciphered_context = aarq.ciphered_context
        wanted = {
            "none": apdu.MECHANISM_NONE,
            "low": apdu.MECHANISM_LOW,
            "high-gmac": apdu.MECHANISM_HLS_GMAC,
        }[self.sec.authentication]
        diagnostic = apdu.DIAG_NULL
        if aarq.mechanism != wanted:
            diagnostic = (
                apdu.DIAG_MECHANISM_NOT_RECOGNISED
                if aarq.mechanism > 7
                else apdu.DIAG_AUTHENTICATION_REQUIRED
            )
        elif wanted == apdu.MECHANISM_LOW and aarq.authentication_value != self.sec.password:
            diagnostic = apdu.DIAG_AUTHENTICATION_FAILURE
        elif self.sec.ciphered and not aarq.ciphered_context:
            diagnostic = apdu.DIAG_NO_REASON
        user_info = aarq.user_information
        initiate: InitiateRequest | None = None
        if diagnostic == apdu.DIAG_NULL:
            try:
                if user_info and security.is_ciphered(user_info):
                    header, plain = security.decrypt_apdu(
                        user_info,
                        security.SecurityKeys(
                            self.sec.encryption_key, self.sec.authentication_key, self.client_title
                        ),
                    )
                    self.client_counter = header.invocation_counter
                    user_info = plain
                initiate = InitiateRequest.decode(user_info)
            except FrameError:
                diagnostic = apdu.DIAG_NO_REASON
        if diagnostic != apdu.DIAG_NULL or initiate is None:
            return apdu.encode_aare(
                result=1,
                diagnostic=diagnostic or apdu.DIAG_NO_REASON,
                ciphered_context=aarq.ciphered_context,
                mechanism=aarq.mechanism,
                responding_ap_title=self.sec.system_title if aarq.ciphered_context else None,
                authentication_value=None,
                user_information=b"",
            )
        self.max_pdu = min(self.max_pdu, initiate.max_receive_pdu or self.max_pdu)
        response = apdu.initiate_response(initiate.conformance & CONFORMANCE, self.max_pdu)
        if aarq.ciphered_context:
            self.server_counter += 1
            response = security.build_ciphered(
                0x28,
                security.protect(
                    0x30,
                    self.sec.system_title,
                    self.server_counter,
                    self.sec.encryption_key,
                    self.sec.authentication_key,
                    response,
                ),
            )
        challenge = None
        if wanted == apdu.MECHANISM_HLS_GMAC:
            self.challenge = challenge = os.urandom(16)
            self.pending_hls = True
            self.client_challenge = aarq.authentication_value or b""
        else:
            self.associated = True
        return apdu.encode_aare(
            result=0,
            diagnostic=apdu.DIAG_NULL if wanted != apdu.MECHANISM_HLS_GMAC else 14,
            ciphered_context=aarq.ciphered_context,
            mechanism=aarq.mechanism,
            responding_ap_title=self.sec.system_title if aarq.ciphered_context or challenge else None,
            authentication_value=challenge,
            user_information=response,
        )

    def _reply_to_hls(self, params: Data | None) -> tuple[int, Data | None]:
        """Pass 3: check f(StoC) from the client; pass 4: return f(CtoS)."""
        if not self.pending_hls or params is None or params.tag != axdr.OCTET_STRING:
            return apdu.READ_WRITE_DENIED, None
        answer = params.value
        if len(answer) != 17 or self.client_title is None:
            return apdu.OTHER_REASON, None
        counter = int.from_bytes(answer[1:5], "big")
        expected = security.gmac(
            self.client_title, counter, self.sec.encryption_key, self.sec.authentication_key, self.challenge
        )
        if expected != answer:
            self.pending_hls = False
            return apdu.OTHER_REASON, None
        self.pending_hls = False
        self.associated = True
        self.server_counter += 1
        key = self.sec.encryption_key if "wrong-key" not in self.faults else bytes(16)
        proof = security.gmac(
            self.sec.system_title,
            self.server_counter,
            key,
            self.sec.authentication_key,
            self.client_challenge,
        )
        return apdu.SUCCESS, axdr.octets(proof)

    # -- services --------------------------------------------------------------------------------

    def _serve(self, plain: bytes) -> bytes | None:
        request = apdu.decode_request(plain)
        if request.kind == "get-next":
            return self._next_block(request)
        if "close" in self.faults:
            raise ConnectionAbortedError("fault: close the socket on the first request")
        if request.kind == "get":
            ref = request.refs[0]
            result = self._get(ref)
            if isinstance(result, int):
                return apdu.get_response_normal(request.invoke_id, None, result)
            whole = apdu.get_response_normal(request.invoke_id, result)
            if len(whole) + 32 <= self.max_pdu:
                return whole
            raw = axdr.encode(result)
            size = max(16, self.max_pdu - 32)
            self.blocks = [raw[i : i + size] for i in range(0, len(raw), size)]
            self.block_invoke = request.invoke_id
            return self._block(1)
        if request.kind == "get-list":
            results = []
            for ref in request.refs:
                value = self._get(ref)
                results.append((value, None) if isinstance(value, int) else (apdu.SUCCESS, value))
            return apdu.get_response_list(request.invoke_id, results)
        if request.kind == "set":
            ref = request.refs[0]
            obj = self.model.objects.get((ref.class_id, ref.instance))
            setter = obj.setters.get(ref.attribute) if obj else None
            result = (
                apdu.OBJECT_UNDEFINED
                if obj is None
                else (setter(request.value) if setter else apdu.READ_WRITE_DENIED)
            )
            return apdu.set_response(request.invoke_id, result)
        ref = request.refs[0]
        if ref.class_id == 15 and ref.instance == ASSOCIATION_LN and ref.attribute == 1:
            result, value = self._reply_to_hls(request.value)
            return apdu.action_response(request.invoke_id, result, value)
        obj = self.model.objects.get((ref.class_id, ref.instance))
        method = obj.methods.get(ref.attribute) if obj else None
        if method is None:
            return apdu.action_response(request.invoke_id, apdu.OBJECT_UNDEFINED)
        result, value = method(request.value)
        return apdu.action_response(request.invoke_id, result, value)

    def _get(self, ref: apdu.AttributeRef) -> Data | int:
        obj = self.model.objects.get((ref.class_id, ref.instance))
        if obj is None:
            return apdu.OBJECT_UNDEFINED
        getter = obj.attributes.get(ref.attribute)
        if getter is None:
            return apdu.OBJECT_UNAVAILABLE
        return getter(ref.parameters, ref.selector)

    def _block(self, number: int) -> bytes | None:
        if "silence-mid-block" in self.faults and number >= 3:
            return None
        last = number >= len(self.blocks)
        response = apdu.get_response_block(self.block_invoke, number, last, self.blocks[number - 1])
        if "truncate" in self.faults and number >= 2:
            raise TruncateFrame(response)
        return response

    def _next_block(self, request: apdu.Request) -> bytes | None:
        number = request.block_number + 1
        if not self.blocks or number > len(self.blocks):
            return apdu.get_response_block_error(
                request.invoke_id, number, apdu.NO_LONG_GET_OR_READ_IN_PROGRESS
            )
        return self._block(number)


class TruncateFrame(Exception):
    """Raised by a session to make the link layer send half of this APDU's frame and hang up."""

    def __init__(self, response: bytes) -> None:
        super().__init__("fault: truncated frame")
        self.response = response
