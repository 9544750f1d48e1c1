"""Modbus client for the ``generic_modbus`` execution environment, on pymodbus's sync clients.

pymodbus does the framing and the transaction bookkeeping (TCP, RTU on a serial line, RTU carried
over TCP by a serial gateway); this module adds what an AMR job needs around it: reading a whole
register map in as few requests as the protocol allows, exact Decimal values (see ``codec``), and
failures translated into the shared error types so the job runner can tell a retry from a fault:

* exception response (illegal address, ...)  -> :class:`ProtocolError` naming the decoded reason;
  busy/acknowledge/gateway-no-response are marked non-permanent, the rest permanent (a map that
  points at a missing register stays wrong until someone fixes it);
* no answer within ``timeout`` (or a unit id nobody answers to) -> :class:`NoAnswer`;
* connection refused / serial port missing -> :class:`TransportUnavailable`.

pymodbus retries a silent request ``retries`` times itself; we default to 0 so a silent meter costs
one timeout, and leave retrying to the job runner, which backs off between attempts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse, ModbusPDU

from ..errors import NoAnswer, ProtocolError, TransportUnavailable
from ..results import Reading, ReadResult
from .codec import decode_entry, exception_reason
from .registers import MAX_REGISTERS_PER_READ, ReadBlock, RegisterMap, plan_reads

log = logging.getLogger(__name__)

# Exception codes that describe a passing condition rather than a wrong request.
_TRANSIENT_EXCEPTIONS = {0x05, 0x06, 0x0A, 0x0B}
FRAMINGS = ("tcp", "rtu-over-tcp", "rtu")


@dataclass
class ModbusClient:
    """One Modbus device (unit) behind one connection.

    ``framing``: ``tcp`` (Modbus TCP/MBAP), ``rtu-over-tcp`` (RTU frames through a transparent
    gateway), ``rtu`` (a serial port; ``serial_port`` may be any pyserial URL, e.g.
    ``socket://host:port`` or ``rfc2217://...``).
    """

    host: str | None = None
    port: int = 502
    serial_port: str | None = None
    framing: str = "tcp"
    unit_id: int = 1
    timeout: float = 3.0
    retries: int = 0
    baudrate: int = 9600
    bytesize: int = 8
    parity: str = "N"
    stopbits: int = 1
    register_map: RegisterMap | None = None
    max_registers_per_read: int = MAX_REGISTERS_PER_READ
    max_gap: int = 0

    def __post_init__(self) -> None:
        if self.framing not in FRAMINGS:
            raise ValueError(f"framing must be one of {', '.join(FRAMINGS)}, got {self.framing!r}")
        if not 0 <= self.unit_id <= 247:
            raise ValueError(f"unit id {self.unit_id} is outside 0..247")
        self.requests_sent = 0
        self._client: ModbusTcpClient | ModbusSerialClient | None = None

    # -- connection ---------------------------------------------------------------------------

    def _count_requests(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU:
        if sending:
            self.requests_sent += 1
        return pdu

    def _build(self) -> ModbusTcpClient | ModbusSerialClient:
        common: dict[str, Any] = {
            "timeout": self.timeout,
            "retries": self.retries,
            "trace_pdu": self._count_requests,
        }
        if self.framing == "rtu":
            if not self.serial_port:
                raise TransportUnavailable("RTU framing needs a serial port")
            return ModbusSerialClient(
                self.serial_port,
                framer=FramerType.RTU,
                baudrate=self.baudrate,
                bytesize=self.bytesize,
                parity=self.parity,
                stopbits=self.stopbits,
                **common,
            )
        if not self.host:
            raise TransportUnavailable("the meter has no network address")
        framer = FramerType.SOCKET if self.framing == "tcp" else FramerType.RTU
        return ModbusTcpClient(self.host, port=int(self.port), framer=framer, **common)

    def open(self) -> None:
        if self._client is not None:
            return
        client = self._build()
        if not client.connect():
            client.close()
            where = self.serial_port if self.framing == "rtu" else f"{self.host}:{self.port}"
            raise TransportUnavailable(f"cannot connect to {where}")
        self._client = client

    def close(self) -> None:
        if self._client is not None:
            try:
                self._client.close()
            finally:
                self._client = None

    def __enter__(self) -> ModbusClient:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- reading ------------------------------------------------------------------------------

    def read_block(self, function: str, address: int, count: int) -> list[int]:
        """Raw registers of one request, errors translated."""
        if self._client is None:
            raise TransportUnavailable("client is not open")
        reader = (
            self._client.read_holding_registers
            if function == "holding"
            else self._client.read_input_registers
        )
        try:
            response = reader(address, count=count, device_id=self.unit_id)
        except ModbusIOException as exc:
            raise NoAnswer(f"unit {self.unit_id} did not answer {function} {address}+{count}: {exc}") from exc
        except ConnectionException as exc:
            self.close()
            raise NoAnswer(f"connection lost reading {function} {address}+{count}: {exc}") from exc
        except ModbusException as exc:
            raise ProtocolError(f"{function} {address}+{count}: {exc}") from exc
        if isinstance(response, ExceptionResponse) or response.isError():
            code = getattr(response, "exception_code", 0)
            reason = exception_reason(code)
            raise ProtocolError(
                f"unit {self.unit_id} answered {function} registers {address}..{address + count - 1} "
                f"with exception {code}: {reason}",
                permanent=code not in _TRANSIENT_EXCEPTIONS,
            )
        registers = list(response.registers)
        if len(registers) != count:
            raise ProtocolError(f"asked for {count} registers at {address}, got {len(registers)}")
        return registers

    def read_registers(self, register_map: RegisterMap | dict | list | None = None) -> ReadResult:
        """Read every entry of the map (the argument, else the client's own) into exact readings."""
        if register_map is None:
            register_map = self.register_map
        if register_map is None:
            raise ValueError("no register map given")
        if not isinstance(register_map, RegisterMap):
            register_map = RegisterMap.from_dict(register_map)
        blocks = plan_reads(register_map, max_registers=self.max_registers_per_read, max_gap=self.max_gap)
        before = self.requests_sent
        opened_here = self._client is None
        if opened_here:
            self.open()
        try:
            result = ReadResult(info={"unit_id": self.unit_id, "framing": self.framing})
            for block in blocks:
                registers = self.read_block(block.function, block.address, block.count)
                result.readings.extend(self._decode_block(block, registers, result))
            result.info["requests"] = self.requests_sent - before
            return result
        finally:
            if opened_here:
                self.close()

    @staticmethod
    def _decode_block(block: ReadBlock, registers: list[int], result: ReadResult) -> list[Reading]:
        readings = []
        for entry in block.entries:
            offset = entry.address - block.address
            try:
                value = decode_entry(entry, registers[offset : offset + entry.count])
            except ValueError as exc:
                # NaN/Inf is the usual "no value" marker of float registers: skip it, say so.
                result.info.setdefault("skipped", {})[entry.series] = str(exc)
                continue
            readings.append(
                Reading(
                    series=entry.series,
                    value=value,
                    unit=entry.unit,
                    extra={
                        "address": entry.address,
                        "function": entry.function,
                        "data_type": entry.data_type,
                    },
                )
            )
        return readings
