"""Helpers of the PowerBox tests.

:class:`AckHanEnvironment` is a tiny execution environment that acknowledges ``han_bind`` and
``han_unbind`` without a radio (or refuses them, when told to). It is registered in AMR's
environment registry for the tests that follow a bind request through a real AMR job: the job
is created by ``amr.services.job_invoke`` and run by ``amr.services.job_run`` exactly as a
worker would, only the meter at the far end is this stand-in instead of a DLMS meter.
"""

from __future__ import annotations

from typing import ClassVar

from amr.environments.base import Call, ExecutionEnvironment, Kwarg
from protocols.errors import ProtocolError
from protocols.results import ReadResult

ENVIRONMENT = "powerbox_test_han"


class MeterRefused(ProtocolError):
    permanent = True


class AckHanEnvironment(ExecutionEnvironment):
    name = ENVIRONMENT
    description = "Test stand-in: acknowledges HAN bind and unbind."
    calls = (
        Call("han_bind", (Kwarg("mac_address", "str"), Kwarg("install_code", "str"))),
        Call("han_unbind", (Kwarg("mac_address", "str"),)),
    )
    #: (call, meter name, mac) of every acknowledged call, in order.
    log: ClassVar[list[tuple[str, str, str]]] = []
    #: Devices joined per meter name, as the meter would keep them.
    joined: ClassVar[dict[str, set[str]]] = {}
    refuse: ClassVar[bool] = False

    @classmethod
    def reset(cls) -> None:
        cls.log = []
        cls.joined = {}
        cls.refuse = False

    def han_bind(self, *, mac_address: str, install_code: str) -> ReadResult:
        if self.refuse:
            raise MeterRefused("the meter refused the HAN join")
        self.log.append(("han_bind", self.meter.meter_name, mac_address))
        self.joined.setdefault(self.meter.meter_name, set()).add(mac_address)
        return ReadResult(info={"bound": mac_address.lower()})

    def han_unbind(self, *, mac_address: str) -> ReadResult:
        if self.refuse:
            raise MeterRefused("the meter refused the HAN leave")
        self.log.append(("han_unbind", self.meter.meter_name, mac_address))
        self.joined.get(self.meter.meter_name, set()).discard(mac_address)
        return ReadResult(info={"unbound": mac_address.lower()})


def dlms_han_environment() -> type[ExecutionEnvironment]:
    """``generic_dlms`` with ``han_bind``/``han_unbind`` declared, for as long as AMR's own
    declaration is missing: the calls go through the real DLMS client (protocols.dlms.client)
    to the meter, exactly as the AMR environment is expected to route them."""
    from amr.environments.dlms import DlmsEnvironment

    if DlmsEnvironment.call_named("han_bind") is not None:
        return DlmsEnvironment

    class DlmsHanEnvironment(DlmsEnvironment):
        calls = (*DlmsEnvironment.calls, *AckHanEnvironment.calls)

        def han_bind(self, *, mac_address: str, install_code: str) -> ReadResult:
            with self._client() as client:
                return client.han_bind(mac_address, install_code)

        def han_unbind(self, *, mac_address: str) -> ReadResult:
            with self._client() as client:
                return client.han_unbind(mac_address)

    return DlmsHanEnvironment
