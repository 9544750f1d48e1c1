"""DLMS/COSEM client: gurux-dlms builds and parses the messages, we own the wire and the values.

What gurux does for us: the AARQ/AARE exchange with LN referencing, authentication none / low /
HLS-GMAC (the 4-pass with ``reply_to_HLS_authentication``), GET (with block transfer), SET and
ACTION requests, range selective access, HDLC and wrapper framing, and ciphering with security
suite 0. It has worked unchanged against our standard-conforming simulator over both framings.

What we do ourselves, and why:

* **I/O.** Every byte goes through a :class:`protocols.transport.Transport`, so each read has a
  timeout and a silent meter raises ``NoAnswer`` instead of hanging a worker.
* **Checking ciphered answers.** gurux 1.0.203 does not verify the GCM tag of
  authenticated-and-encrypted APDUs (``GXDLMSChippering.decryptAesGcm`` runs its GCM stream in
  encrypt mode, which computes a tag instead of comparing it), so a wrong key or a tampered APDU
  decrypts to garbage. We reassemble each answer APDU and verify it with our own
  :mod:`.security` before gurux sees it, and refuse a server invocation counter that does not
  increase (replay).
* **Values.** gurux scales register values through floats (``1234567`` with scaler 1 becomes
  ``12345670.0``). We decode the raw A-XDR of each answer with :mod:`.axdr` and build the
  ``Decimal`` from the integer and the scaler; timestamps come from our COSEM date-time codec.
* **Partial profiles.** When a meter stops mid-block, the blocks received so far are decoded row
  by row and returned with ``error`` set.
* **Invocation counters** come from an :class:`.counters.InvocationCounterStore`, recorded
  before each ciphered APDU leaves.
* **Noise.** gurux prints "Encryption is applied." to stdout for every ciphered APDU; its module
  level ``print`` is redirected to this module's debug log.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from ..errors import AuthenticationFailed, FrameError, NoAnswer, ProtocolError
from ..results import Event, Reading, ReadResult
from ..transport import Transport
from . import axdr, hdlc, security, wrapper
from .axdr import CosemDateTime, Data
from .counters import InvocationCounterStore, MemoryCounterStore
from .lists import scaled
from .obis import obis_dotted, obis_iec, parse_obis
from .profile import CaptureObject, ProfileRow, capture_objects_from_data, rows_from_buffer
from .units import unit_symbol

log = logging.getLogger(__name__)

CLOCK_OBIS = "0.0.1.0.0.255"
DISCONNECT_OBIS = "0.0.96.3.10.255"
HAN_BIND_OBIS = "0.0.128.0.1.255"
HAN_BIND_CLASS = 105
EVENT_DESCRIPTIONS = {
    1: "power down",
    2: "power up",
    4: "clock adjusted (old time)",
    5: "clock adjusted (new time)",
}


def _quiet_gurux() -> None:
    import importlib

    def to_log(*args: object, **_kwargs: object) -> None:
        log.debug("gurux: %s", " ".join(str(a) for a in args))

    # gurux_dlms/__init__ re-exports classes under the module names, so go through importlib
    for name in (
        "GXDLMS",
        "GXDLMSChippering",
        "GXDLMSChipperingStream",
        "GXDLMSClient",
        "GXDLMSSettings",
        "GXSecure",
    ):
        module = importlib.import_module(f"gurux_dlms.{name}")
        module.print = to_log  # type: ignore[attr-defined]


@dataclass
class DlmsSettings:
    """How to reach and associate with one meter."""

    framing: str = "wrapper"  # wrapper | hdlc
    client_address: int = 16  # 16 public client, 1 management (HLS), 17 reader (low)
    logical_device: int = 1  # server upper HDLC address / destination wPort
    physical_address: int | None = None  # server lower HDLC address (2- or 4-byte addressing)
    authentication: str = "none"  # none | low | high-gmac
    password: bytes = b""
    ciphered: bool = False  # authenticated + encrypted APDUs (security suite 0)
    system_title: bytes = b"UTL\x00\x00\x00\x00\x01"  # ours (the client's), 8 bytes
    encryption_key: bytes | None = None  # GUEK
    authentication_key: bytes | None = None  # GAK
    meter_key_id: str = ""  # invocation counter space; defaults to the key's fingerprint
    timezone: tzinfo = UTC  # for meter times whose deviation is "not specified"
    timeout: float = 10.0
    max_receive_pdu: int = 0xFFFF
    extra: dict[str, Any] = field(default_factory=dict)


class DlmsClient:
    """One session with one meter; use as a context manager (opens, associates, releases)."""

    def __init__(
        self, transport: Transport, settings: DlmsSettings, counters: InvocationCounterStore | None = None
    ) -> None:
        from gurux_dlms.enums import Authentication, InterfaceType, Security
        from gurux_dlms.secure import GXDLMSSecureClient

        _quiet_gurux()
        self.transport = transport
        self.settings = settings
        self.counters = counters or MemoryCounterStore()
        auth = {"none": Authentication.NONE, "low": Authentication.LOW, "high-gmac": Authentication.HIGH_GMAC}
        if settings.authentication not in auth:
            raise ValueError(f"unsupported authentication {settings.authentication!r}")
        if settings.framing not in ("wrapper", "hdlc"):
            raise ValueError("framing is 'wrapper' or 'hdlc'")
        server = settings.logical_device
        if settings.framing == "hdlc" and settings.physical_address is not None:
            server = GXDLMSSecureClient.getServerAddress(settings.logical_device, settings.physical_address)
        self._gx = GXDLMSSecureClient(
            True,
            settings.client_address,
            server,
            auth[settings.authentication],
            settings.password.decode("latin-1") if settings.authentication == "low" else None,
            InterfaceType.HDLC if settings.framing == "hdlc" else InterfaceType.WRAPPER,
        )
        self._gx.setMaxReceivePDUSize(settings.max_receive_pdu)
        self._secured = settings.ciphered or settings.authentication == "high-gmac"
        if self._secured:
            if (
                not (settings.encryption_key and settings.authentication_key)
                or len(settings.system_title) != 8
            ):
                raise ValueError("ciphering needs the GUEK, the GAK and an 8-byte client system title")
            self._gx.ciphering.security = Security.AUTHENTICATION_ENCRYPTION
            self._gx.ciphering.systemTitle = settings.system_title
            self._gx.ciphering.blockCipherKey = settings.encryption_key
            self._gx.ciphering.authenticationKey = settings.authentication_key
        self.key_id = settings.meter_key_id or (
            settings.encryption_key[:4].hex() + settings.system_title.hex() if settings.encryption_key else ""
        )
        self._server_counter = -1
        self._broken: str | None = None
        self._segments = b""
        self._scalers: dict[str, tuple[int, int]] = {}
        self.associated = False

    # -- session ---------------------------------------------------------------------------------

    def __enter__(self) -> DlmsClient:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def open(self) -> None:
        """Connect the transport, then SNRM/UA (HDLC), AARQ/AARE and the HLS passes 3-4."""
        self.transport.open()
        try:
            if self._secured:
                self._gx.ciphering.invocationCounter = self.counters.next(self.key_id)
            if self.settings.framing == "hdlc":
                reply = self._exchange(self._gx.snrmRequest())
                self._gx.parseUAResponse(reply.data)
            reply = self._exchange(self._gx.aarqRequest())
            try:
                self._gx.parseAareResponse(reply.data)
            except Exception as exc:
                raise AuthenticationFailed(f"association refused by the meter: {exc}") from exc
            if self._gx.getIsAuthenticationRequired():
                reply = self._exchange(self._gx.getApplicationAssociationRequest())
                try:
                    self._gx.parseApplicationAssociationResponse(reply.data)
                except Exception as exc:
                    raise AuthenticationFailed(f"HLS-GMAC authentication failed: {exc}") from exc
            self.associated = True
        except FrameError as exc:
            self.transport.close()
            if "authentication tag mismatch" in exc.reason:
                raise AuthenticationFailed(f"wrong key: {exc.reason}") from exc
            raise
        except BaseException:
            self.transport.close()
            raise

    def close(self) -> None:
        """Release and disconnect politely, but never let a dead meter block the close."""
        try:
            if self.associated and not self._broken:
                self._exchange(self._gx.releaseRequest(), timeout=min(self.settings.timeout, 3.0))
                if self.settings.framing == "hdlc":
                    self._exchange(self._gx.disconnectRequest(), timeout=min(self.settings.timeout, 3.0))
        except (ProtocolError, Exception) as exc:
            log.debug("release failed: %s", exc)
        finally:
            self.associated = False
            self.transport.close()

    # -- wire ------------------------------------------------------------------------------------

    def _read_frame(self, timeout: float | None) -> bytes:
        if self.settings.framing == "hdlc":
            return hdlc.read_frame(self.transport, timeout)
        return wrapper.read_frame(self.transport, timeout)

    def _verify(self, apdu_bytes: bytes) -> None:
        """Check a ciphered answer ourselves (gurux does not verify GCM tags)."""
        if not self._secured or not security.is_ciphered(apdu_bytes):
            return
        title = bytes(self._gx.settings.sourceSystemTitle or b"") or None
        header, _ = security.decrypt_apdu(
            apdu_bytes,
            security.SecurityKeys(
                self.settings.encryption_key, self.settings.authentication_key or b"", title
            ),
        )
        if header.invocation_counter <= self._server_counter:
            raise FrameError(
                f"meter invocation counter {header.invocation_counter} not above {self._server_counter} (replay)"
            )
        self._server_counter = header.invocation_counter

    def _send(self, frame: bytes) -> None:
        if self._secured:
            # the counter gurux will use next is already reserved; record it before it leaves
            self.counters.observe(self.key_id, int(self._gx.ciphering.invocationCounter) - 1)
        self.transport.write(bytes(frame))

    def _receive(self, reply, timeout: float | None) -> None:
        from gurux_dlms import GXByteBuffer, GXReplyData

        buffer = GXByteBuffer()
        notify = GXReplyData()
        while True:
            raw = self._read_frame(timeout)
            if self.settings.framing == "hdlc":
                frame = hdlc.parse_frame(raw)
                if hdlc.is_i_frame(frame.control):
                    # segments of one APDU span several _receive calls (an RR goes out between them)
                    self._segments += frame.info
                    if not frame.segmented:
                        whole, self._segments = self._segments, b""
                        self._verify(whole[3:] if whole[:3] == b"\xe6\xe7\x00" else whole)
            else:
                self._verify(wrapper.parse(raw).apdu)
            buffer.set(raw)
            try:
                done = self._gx.getData(buffer, reply, notify)
            except ProtocolError:
                raise
            except Exception as exc:
                raise FrameError(f"meter answer rejected: {exc}") from exc
            if done:
                return

    def _exchange(self, frames, reply=None, timeout: float | None = None):
        """Send each request frame and collect the answer, following block and HDLC segments."""
        from gurux_dlms import GXReplyData

        if self._broken:
            raise NoAnswer(f"session unusable after an earlier failure: {self._broken}")
        reply = reply if reply is not None else GXReplyData()
        if frames is None:
            return reply
        if isinstance(frames, (bytes, bytearray)):
            frames = [frames]
        try:
            for frame in frames:
                self._send(frame)
                self._receive(reply, timeout)
                while reply.isMoreData():
                    self._send(self._gx.receiverReady(reply))
                    self._receive(reply, timeout)
        except (NoAnswer, FrameError) as exc:
            # the stream may be cut mid-frame: nothing after this can be trusted to line up
            self._broken = exc.reason
            raise
        error = getattr(reply, "error", 0)
        if error:
            raise ProtocolError(f"meter refused the request: data-access-result {error}")
        return reply

    @staticmethod
    def _raw_data(reply) -> Data:
        size = reply.data.size
        return axdr.decode_all(bytes(reply.data.array()[:size])) if size else Data(axdr.NULL)

    def _get(self, item, attribute: int) -> Data:
        return self._raw_data(self._exchange(self._gx.read(item, attribute)))

    # -- calls -----------------------------------------------------------------------------------

    def _scaler_unit(self, obis: str, class_id: int = 3) -> tuple[int, int]:
        """Attribute 3 of a register, cached for the session (read before any value)."""
        from gurux_dlms.objects import GXDLMSRegister

        if obis not in self._scalers:
            item = GXDLMSRegister(obis_dotted(obis))
            item.objectType = class_id if class_id != 3 else item.objectType
            value = self._get(item, 3)
            if value.tag != axdr.STRUCTURE or len(value.value) != 2:
                raise FrameError(f"{obis} scaler_unit is not a structure of 2")
            self._scalers[obis] = (value.value[0].value, value.value[1].value)
        return self._scalers[obis]

    def read_registers(self, obis_codes: list[str]) -> ReadResult:
        """Register values as exact Decimals: scaler_unit (attr 3) first, then the value (attr 2)."""
        from gurux_dlms.objects import GXDLMSRegister

        result = ReadResult()
        now = datetime.now(UTC)
        for code in obis_codes:
            try:
                scaler, unit = self._scaler_unit(code)
                value = self._get(GXDLMSRegister(obis_dotted(code)), 2)
            except NoAnswer as exc:
                result.error = f"{obis_dotted(code)}: {exc.reason}"
                return result
            except ProtocolError as exc:
                result.error = f"{obis_dotted(code)}: {exc.reason}"
                continue
            if value.is_integer:
                number = scaled(value.value, scaler)
            elif isinstance(value.value, Decimal):
                number = value.value.scaleb(scaler)
            else:
                result.error = f"{obis_dotted(code)}: value of type {value.type_name} is not a number"
                continue
            result.readings.append(
                Reading(
                    obis_dotted(code), number, unit_symbol(unit), now, {"raw": value.value, "scaler": scaler}
                )
            )
        return result

    def read_clock(self) -> ReadResult:
        """The meter's time; ``info`` has the time, its clock status and our drift estimate."""
        from gurux_dlms.objects import GXDLMSClock

        before = datetime.now(UTC)
        value = self._get(GXDLMSClock(CLOCK_OBIS), 2)
        after = datetime.now(UTC)
        stamp = axdr.date_time_from_octets(value.value) if value.tag == axdr.OCTET_STRING else None
        if value.tag == axdr.DATE_TIME:
            stamp = value.value
        moment = stamp.to_datetime(self.settings.timezone) if stamp else None
        if moment is None:
            return ReadResult(error=f"clock value is not a date-time: {axdr.to_python(value)}")
        reference = before + (after - before) / 2
        drift = (moment - reference).total_seconds()
        info = {
            "meter_time": moment,
            "meter_time_utc": moment.astimezone(UTC),
            "clock_status": stamp.clock_status,
            "drift_seconds": round(drift, 3),
        }
        return ReadResult(info=info)

    def set_time(self, allowed_drift_seconds: float) -> ReadResult:
        """Set the clock to our time when it is off by more than ``allowed_drift_seconds``.

        The new time is written in the meter's own UTC offset (as read), so a meter that keeps
        local time is not moved to UTC by the synchronisation.
        """
        from gurux_dlms.enums import DataType
        from gurux_dlms.objects import GXDLMSClock

        current = self.read_clock()
        if current.error:
            return current
        info = dict(current.info, adjusted=False)
        if abs(current.info["drift_seconds"]) <= allowed_drift_seconds:
            return ReadResult(info=info)
        zone = current.info["meter_time"].tzinfo or self.settings.timezone
        target = datetime.now(UTC).astimezone(zone)
        clock = GXDLMSClock(CLOCK_OBIS)
        clock.setDataType(2, DataType.OCTET_STRING)
        clock.time = bytearray(CosemDateTime.from_datetime(target, clock_status=0).to_bytes())
        self._exchange(self._gx.write(clock, 2))
        info.update(adjusted=True, new_time=target)
        return ReadResult(info=info)

    def _profile_rows(
        self, obis: str, start: datetime | None, end: datetime | None
    ) -> tuple[list[CaptureObject], list[ProfileRow], str | None]:
        from gurux_dlms import GXReplyData
        from gurux_dlms.objects import GXDLMSProfileGeneric

        item = GXDLMSProfileGeneric(obis_dotted(obis))
        capture = self._exchange(self._gx.read(item, 3))
        columns = capture_objects_from_data(self._raw_data(capture))
        self._gx.updateValue(item, 3, capture.value)
        period = self._get(item, 4).value or 0
        if start is None and end is None:
            frames = self._gx.read(item, 2)
        else:
            low = start or datetime(2000, 1, 1, tzinfo=UTC)
            high = end or datetime.now(UTC) + timedelta(days=1)
            frames = self._gx.readRowsByRange(item, low, high)
        reply = GXReplyData()
        try:
            self._exchange(frames, reply)
        except NoAnswer as exc:
            partial = bytes(reply.data.array()[: reply.data.size])
            return (
                columns,
                self._partial_rows(partial, columns, period),
                f"meter stopped answering: {exc.reason}",
            )
        return columns, rows_from_buffer(self._raw_data(reply), columns, period, self.settings.timezone), None

    def _partial_rows(self, raw: bytes, columns: list[CaptureObject], period: int) -> list[ProfileRow]:
        """Rows decodable from the first blocks of a buffer (the last one may be cut)."""
        if len(raw) < 2 or raw[0] != axdr.ARRAY:
            return []
        _, pos = axdr.decode_length(raw, 1)
        entries = []
        while pos < len(raw):
            try:
                entry, pos = axdr.decode(raw, pos)
            except FrameError:
                break
            entries.append(entry)
        return rows_from_buffer(axdr.array(entries), columns, period, self.settings.timezone)

    def read_profile(
        self, obis_code: str, start: datetime | None = None, end: datetime | None = None
    ) -> ReadResult:
        """Load profile rows as readings named by OBIS, timestamps in UTC with the clock status."""
        try:
            columns, rows, error = self._profile_rows(obis_code, start, end)
        except NoAnswer as exc:
            return ReadResult(error=exc.reason)
        result = ReadResult(error=error)
        scalers = {}
        for column in columns:
            if column.class_id in (3, 4) and column.attribute == 2:
                try:
                    scalers[column.obis] = self._scaler_unit(column.obis, column.class_id)
                except ProtocolError as exc:
                    result.error = result.error or f"{column.obis} scaler: {exc.reason}"
        for row in rows:
            if row.timestamp is None:
                continue
            stamp = (
                row.timestamp
                if row.timestamp.tzinfo
                else row.timestamp.replace(tzinfo=self.settings.timezone)
            )
            extra = {} if row.clock_status is None else {"clock_status": row.clock_status}
            for obis, raw in row.values.items():
                if not isinstance(raw, int) or isinstance(raw, bool):
                    continue
                scaler, unit = scalers.get(obis, (0, 255))
                result.readings.append(
                    Reading(
                        obis_dotted(obis),
                        scaled(raw, scaler),
                        unit_symbol(unit),
                        stamp.astimezone(UTC),
                        extra,
                    )
                )
        result.info["rows"] = len(rows)
        return result

    def read_profile_by_offset_seconds(self, obis_code: str, offset_seconds: int) -> ReadResult:
        """Rows from ``offset_seconds`` ago up to now."""
        end = datetime.now(UTC)
        return self.read_profile(obis_code, end - timedelta(seconds=offset_seconds), end)

    def read_events(
        self, obis_code: str, start: datetime | None = None, end: datetime | None = None
    ) -> ReadResult:
        """Event log rows: the first integer column is the event code."""
        try:
            _columns, rows, error = self._profile_rows(obis_code, start, end)
        except NoAnswer as exc:
            return ReadResult(error=exc.reason)
        result = ReadResult(error=error)
        for row in rows:
            codes = [v for v in row.values.values() if isinstance(v, int) and not isinstance(v, bool)]
            if row.timestamp is None or not codes:
                continue
            stamp = (
                row.timestamp
                if row.timestamp.tzinfo
                else row.timestamp.replace(tzinfo=self.settings.timezone)
            )
            extra = {} if row.clock_status is None else {"clock_status": row.clock_status}
            result.events.append(
                Event(codes[0], stamp.astimezone(UTC), EVENT_DESCRIPTIONS.get(codes[0], ""), extra)
            )
        return result

    def _method(self, obis: str, class_id: int, method: int, value: Any, data_type) -> None:
        from gurux_dlms.objects import GXDLMSData

        item = GXDLMSData(obis_dotted(obis))
        item.objectType = class_id
        self._exchange(self._gx.method(item, method, value, data_type))

    def disconnect_control(self, action: str, obis_code: str = DISCONNECT_OBIS) -> ReadResult:
        """``connect`` (remote_reconnect, method 2) or ``disconnect`` (remote_disconnect, method 1);
        returns the output and control states read back after the action."""
        from gurux_dlms.enums import DataType, ObjectType
        from gurux_dlms.objects import GXDLMSDisconnectControl

        methods = {"disconnect": 1, "connect": 2}
        if action not in methods:
            raise ValueError("action is 'connect' or 'disconnect'")
        try:
            self._method(obis_code, int(ObjectType.DISCONNECT_CONTROL), methods[action], 0, DataType.INT8)
            item = GXDLMSDisconnectControl(obis_dotted(obis_code))
            output = self._get(item, 2).value
            control = self._get(item, 3).value
        except ProtocolError as exc:
            return ReadResult(error=exc.reason)
        states = {0: "disconnected", 1: "connected", 2: "ready_for_reconnection"}
        return ReadResult(info={"output_state": output, "control_state": states.get(control, str(control))})

    def han_bind(
        self, mac_address: bytes | str, install_code: bytes | str, obis_code: str = HAN_BIND_OBIS
    ) -> ReadResult:
        """Join a HAN device: method 1 of our HAN bind object with {EUI-64, install code}."""
        from gurux_dlms import GXStructure
        from gurux_dlms.enums import DataType

        mac = _mac(mac_address)
        code = bytes.fromhex(install_code) if isinstance(install_code, str) else bytes(install_code)
        params = GXStructure()
        params.extend([bytearray(mac), bytearray(code)])
        try:
            self._method(obis_code, HAN_BIND_CLASS, 1, params, DataType.STRUCTURE)
        except ProtocolError as exc:
            return ReadResult(error=exc.reason)
        return ReadResult(info={"bound": mac.hex()})

    def han_unbind(self, mac_address: bytes | str, obis_code: str = HAN_BIND_OBIS) -> ReadResult:
        from gurux_dlms.enums import DataType

        mac = _mac(mac_address)
        try:
            self._method(obis_code, HAN_BIND_CLASS, 2, bytearray(mac), DataType.OCTET_STRING)
        except ProtocolError as exc:
            return ReadResult(error=exc.reason)
        return ReadResult(info={"unbound": mac.hex()})


def _mac(value: bytes | str) -> bytes:
    raw = bytes.fromhex(value.replace(":", "").replace("-", "")) if isinstance(value, str) else bytes(value)
    if len(raw) != 8:
        raise ValueError("a HAN MAC address (EUI-64) is 8 bytes")
    return raw


__all__ = ["DlmsClient", "DlmsSettings", "obis_iec", "parse_obis"]
