"""``generic_mbus``: wired M-Bus meters behind a transparent TCP gateway or a serial converter.

The meter's ``mbus_secondary_address`` wins over ``mbus_primary_address`` (secondary addressing
is unambiguous on a shared bus). The gateway usually serves many meters: that is what the
network interface block serializes.
"""

from __future__ import annotations

from protocols.errors import ProtocolError
from protocols.results import ReadResult

from .base import Call, ExecutionEnvironment, Kwarg


class MbusEnvironment(ExecutionEnvironment):
    name = "generic_mbus"
    description = "Wired M-Bus meters: read every telegram of one slave."
    calls = (
        Call(
            "read",
            (Kwarg("reset", "bool", required=False, help="send SND_NKE first (primary addressing)"),),
            help="REQ_UD2 until the slave has no more telegrams",
        ),
    )

    def read(self, *, reset: bool = True) -> ReadResult:
        from protocols.mbus.client import MBusClient, open_mbus_transport

        meter = self.meter
        if meter.mbus_secondary_address is None and meter.mbus_primary_address is None:
            raise ProtocolError("the meter has neither an M-Bus primary nor a secondary address")
        transport = open_mbus_transport(
            host=meter.host,
            port=meter.port,
            serial_port=meter.serial_port,
            baudrate=meter.serial_baudrate or 2400,
            timeout=min(meter.timeout, 2.0),
        )
        transport.open()
        try:
            client = MBusClient(transport, timeout=min(meter.timeout, 2.0))
            if meter.mbus_secondary_address:
                return client.read(secondary=meter.mbus_secondary_address[:8])
            return client.read(address=meter.mbus_primary_address, reset=reset)
        finally:
            transport.close()
