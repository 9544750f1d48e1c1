"""``generic_modbus``: Modbus TCP (or RTU through a gateway / serial port) meters.

The register map comes from the call's ``register_map`` kwarg, else from the meter device
type's ``modbus_register_map``; the unit id from the meter's ``modbus_unit_id`` (default 1).
"""

from __future__ import annotations

from protocols.errors import ProtocolError
from protocols.results import ReadResult

from .base import Call, ExecutionEnvironment, Kwarg


class ModbusEnvironment(ExecutionEnvironment):
    name = "generic_modbus"
    description = "Modbus meters: read a register map into exact readings."
    calls = (
        Call(
            "read_registers",
            (
                Kwarg("register_map", "object", required=False, help="overrides the device type's map"),
                Kwarg("framing", "str", required=False, choices=("tcp", "rtu-over-tcp", "rtu")),
            ),
        ),
    )

    def read_registers(self, *, register_map: dict | None = None, framing: str | None = None) -> ReadResult:
        from protocols.modbus.client import ModbusClient

        meter = self.meter
        register_map = register_map or meter.modbus_register_map
        if not register_map:
            raise ProtocolError("no Modbus register map: set one on the device type or pass register_map")
        if framing is None:
            framing = "rtu" if meter.serial_port else "tcp"
        client = ModbusClient(
            host=meter.host,
            port=int(meter.port or 502),
            serial_port=meter.serial_port,
            framing=framing,
            unit_id=meter.modbus_unit_id if meter.modbus_unit_id is not None else 1,
            timeout=meter.timeout,
            baudrate=meter.serial_baudrate or 9600,
        )
        return client.read_registers(register_map)
