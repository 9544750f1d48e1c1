"""``generic_dlms``: DLMS/COSEM meters over the TCP wrapper or HDLC (protocols.dlms.client).

Association settings come from the meter: ``dlms_transport`` (wrapper by default),
``dlms_client_address`` (16, the public client, by default), ``dlms_server_address`` (logical
device, 1), ``dlms_authentication`` (none | low | high-gmac). APDUs are ciphered (security suite 0)
when the meter's key collection has both the global unicast encryption key and the
authentication key. The low-level-security password is the key collection's
``iec62056_21_password`` (the one "meter password" the model has). Invocation counters are kept
in the database (amr/counters.py), per meter and key.
"""

from __future__ import annotations

from protocols.results import ReadResult

from .base import Call, DriverNotAvailable, ExecutionEnvironment, Kwarg, as_datetime

_OBIS = Kwarg("obis_code", "str", help="profile object, e.g. 1.0.99.1.0.255")


class DlmsEnvironment(ExecutionEnvironment):
    name = "generic_dlms"
    description = "DLMS/COSEM meters: registers, load profiles, event logs, clock, disconnector."
    calls = (
        Call("read_registers", (Kwarg("obis_codes", "str_list", help='e.g. ["1.0.1.8.0.255"]'),)),
        Call("read_clock", ()),
        Call("set_time", (Kwarg("allowed_drift_seconds", "number", required=False, minimum=0),)),
        Call(
            "read_profile_by_date",
            (
                _OBIS,
                Kwarg("start_date", "datetime", required=False),
                Kwarg("end_date", "datetime", required=False),
            ),
        ),
        Call("read_profile_by_offset_seconds", (_OBIS, Kwarg("offset_seconds", "int", minimum=1))),
        Call(
            "read_events",
            (
                Kwarg("obis_code", "str", help="event log profile, e.g. 0.0.99.98.0.255"),
                Kwarg("start_date", "datetime", required=False),
                Kwarg("end_date", "datetime", required=False),
            ),
        ),
        Call("disconnect_control", (Kwarg("action", "str", choices=("connect", "disconnect")),)),
        # HAN pairing for PowerBox: EUI-64 MAC (16 hex digits) and the device's install code (hex).
        Call("han_bind", (Kwarg("mac_address", "str"), Kwarg("install_code", "str"))),
        Call("han_unbind", (Kwarg("mac_address", "str"),)),
    )

    def _client(self):
        try:
            from protocols.dlms.client import DlmsClient, DlmsSettings
        except ImportError as exc:
            raise DriverNotAvailable(f"driver not available: generic_dlms ({exc})") from exc
        from protocols.iec62056_21.client import as_tzinfo

        meter = self.meter
        keys = meter.dlms_keys
        encryption = keys.get("dlms_global_unicast_encryption_key")
        authentication = keys.get("dlms_global_authentication_key")
        password = meter.iec62056_21_password or ""
        settings = DlmsSettings(
            framing=meter.dlms_transport or "wrapper",
            client_address=meter.dlms_client_address or 16,
            logical_device=meter.dlms_server_address or 1,
            authentication=meter.dlms_authentication or "none",
            password=password.encode("latin-1"),
            ciphered=bool(encryption and authentication),
            encryption_key=bytes.fromhex(encryption) if encryption else None,
            authentication_key=bytes.fromhex(authentication) if authentication else None,
            timezone=as_tzinfo(meter.timezone),
            timeout=meter.timeout,
        )
        return DlmsClient(meter.transport(), settings, meter.counter_store)

    def read_registers(self, *, obis_codes: list[str]) -> ReadResult:
        with self._client() as client:
            return client.read_registers(obis_codes)

    def read_clock(self) -> ReadResult:
        with self._client() as client:
            return client.read_clock()

    def set_time(self, *, allowed_drift_seconds: float = 0) -> ReadResult:
        with self._client() as client:
            return client.set_time(float(allowed_drift_seconds))

    def read_profile_by_date(
        self, *, obis_code: str, start_date: str | None = None, end_date: str | None = None
    ) -> ReadResult:
        with self._client() as client:
            return client.read_profile(obis_code, as_datetime(start_date), as_datetime(end_date))

    def read_profile_by_offset_seconds(self, *, obis_code: str, offset_seconds: int) -> ReadResult:
        with self._client() as client:
            return client.read_profile_by_offset_seconds(obis_code, offset_seconds)

    def read_events(
        self, *, obis_code: str, start_date: str | None = None, end_date: str | None = None
    ) -> ReadResult:
        with self._client() as client:
            return client.read_events(obis_code, as_datetime(start_date), as_datetime(end_date))

    def disconnect_control(self, *, action: str) -> ReadResult:
        with self._client() as client:
            return client.disconnect_control(action)

    def han_bind(self, *, mac_address: str, install_code: str) -> ReadResult:
        with self._client() as client:
            return client.han_bind(mac_address, install_code)

    def han_unbind(self, *, mac_address: str) -> ReadResult:
        with self._client() as client:
            return client.han_unbind(mac_address)
