"""A Modbus device to test against: pymodbus's own server, filled from a register map.

Tests (and the benchmark) describe the device the way the driver does, a :class:`RegisterMap`
plus the values each series should read as, and the simulator encodes those values with the same
codec rules. A test thus writes "energy = 1234.567 kWh" and reads it back through the real client,
framing and all, over loopback.

It runs pymodbus's asyncio TCP server in a background thread with its own event loop, because the
client under test is the synchronous one. Modbus TCP framing by default; ``framing="rtu"`` serves
RTU frames over TCP, which is what a serial gateway does and what the client's ``rtu-over-tcp``
and ``rtu`` (through a ``socket://`` pyserial URL) framings talk to.

Faults, where pymodbus lets us inject them:

* a unit id the simulator is not configured for, or one listed in ``silent_unit_ids``, gets no
  answer at all (as on an RS-485 bus where nobody has that address);
* ``exceptions={("holding", 100): 2}`` answers any read touching that register with exception 2;
* holes between mapped registers answer "illegal data address", as most real devices do.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Mapping
from decimal import Decimal

from pymodbus import FramerType
from pymodbus.constants import ExcCodes
from pymodbus.pdu import ModbusPDU
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from .codec import FUNCTION_CODES, encode_entry
from .registers import RegisterMap


class ModbusSimulator:
    """Start with :meth:`start` (returns the port), stop with :meth:`stop`, or use as a context."""

    def __init__(
        self,
        register_map: RegisterMap,
        values: Mapping[str, Decimal | int | str],
        *,
        unit_id: int = 1,
        framing: str = "tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        silent_unit_ids: set[int] | None = None,
        exceptions: Mapping[tuple[str, int], int] | None = None,
    ) -> None:
        if framing not in ("tcp", "rtu"):
            raise ValueError("framing must be tcp or rtu")
        self.register_map = register_map
        self.unit_id = unit_id
        self.framing = framing
        self.host = host
        self.port = port
        self.silent_unit_ids = set(silent_unit_ids or ())
        self.exceptions: dict[tuple[int, int], int] = {
            (FUNCTION_CODES[function], address): code
            for (function, address), code in (exceptions or {}).items()
        }
        self.requests_received = 0
        self._registers = self._encode(values)
        self._pending: dict[tuple[int, int], int] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Future | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    # -- data ---------------------------------------------------------------------------------

    def _encode(self, values: Mapping[str, Decimal | int | str]) -> dict[tuple[int, int], int]:
        """(function code, address) -> register value, for every entry that has a value."""
        registers: dict[tuple[int, int], int] = {}
        by_series = {entry.series: entry for entry in self.register_map.entries}
        unknown = set(values) - set(by_series)
        if unknown:
            raise ValueError(f"values for series not in the map: {', '.join(sorted(unknown))}")
        for entry in self.register_map.entries:
            words = encode_entry(entry, values.get(entry.series, 0))
            for offset, word in enumerate(words):
                registers[(FUNCTION_CODES[entry.function], entry.address + offset)] = word
        return registers

    def set_values(self, values: Mapping[str, Decimal | int | str]) -> None:
        """Change values while running; applied on the next request."""
        with self._lock:
            self._pending.update(self._encode(values))

    def _blocks(self, function_code: int) -> list[SimData]:
        addresses = sorted(a for (fc, a) in self._registers if fc == function_code)
        if not addresses:
            return [SimData(0, datatype=DataType.INVALID)]
        blocks: list[SimData] = []
        run: list[int] = []
        for address in addresses:
            if run and address != run[-1] + 1:
                blocks.append(self._block(function_code, run))
                run = []
            run.append(address)
        blocks.append(self._block(function_code, run))
        return blocks

    def _block(self, function_code: int, run: list[int]) -> SimData:
        return SimData(
            run[0], values=[self._registers[(function_code, a)] for a in run], datatype=DataType.REGISTERS
        )

    # -- hooks --------------------------------------------------------------------------------

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        """pymodbus calls this on every access: inject exceptions, apply pending value changes."""
        for offset in range(count):
            code = self.exceptions.get((function_code, address + offset))
            if code is not None:
                return ExcCodes(code)
        with self._lock:
            pending = [(a, v) for (fc, a), v in self._pending.items() if fc == function_code]
            for key in [(function_code, a) for a, _ in pending]:
                del self._pending[key]
        for register_address, value in pending:
            registers[register_address - start_address] = value
        return None

    def _trace_pdu(self, sending: bool, pdu: ModbusPDU) -> ModbusPDU | None:
        """Drop requests for unit ids nobody answers to; count the others."""
        if sending:
            return pdu
        if pdu.dev_id != self.unit_id or pdu.dev_id in self.silent_unit_ids:
            return None
        self.requests_received += 1
        return pdu

    # -- lifecycle ----------------------------------------------------------------------------

    async def _serve(self) -> None:
        device = SimDevice(
            id=self.unit_id,
            simdata=(
                [SimData(0, values=False, datatype=DataType.BITS)],
                [SimData(0, values=False, datatype=DataType.BITS)],
                self._blocks(FUNCTION_CODES["holding"]),
                self._blocks(FUNCTION_CODES["input"]),
            ),
            action=self._action,
        )
        server = ModbusTcpServer(
            device,
            framer=FramerType.SOCKET if self.framing == "tcp" else FramerType.RTU,
            address=(self.host, self.port),
            trace_pdu=self._trace_pdu,  # type: ignore[arg-type]
        )
        await server.serve_forever(background=True)
        self.port = server.transport.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._stop = asyncio.get_running_loop().create_future()
        self._ready.set()
        try:
            await self._stop
        finally:
            await server.shutdown()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as exc:  # surfaced to start()
            self._error = exc
            self._ready.set()
        finally:
            loop.close()

    def start(self, timeout: float = 5.0) -> int:
        """Start serving on ``host`` (port 0 picks a free one); returns the port."""
        if self._thread is not None:
            return self.port
        self._thread = threading.Thread(target=self._run, name="modbus-simulator", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            raise RuntimeError("Modbus simulator did not start")
        if self._error is not None:
            raise RuntimeError(f"Modbus simulator failed to start: {self._error}") from self._error
        return self.port

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread is None:
            return
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(lambda: self._stop.done() or self._stop.set_result(None))  # type: ignore[union-attr]
        self._thread.join(timeout)
        self._thread = None

    def __enter__(self) -> ModbusSimulator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
