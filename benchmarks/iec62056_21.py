"""IEC 62056-21 figures: readouts parsed per second, meters read per minute at 9600 Bd.

``python -m benchmarks.iec62056_21`` prints:

- how many corpus captures the codec decodes per second (all of them, round robin, for ~1 s);
- how many meters one client reads per minute from the simulator with baud-rate latency on
  (identification at 300 Bd, then the readout at 9600 Bd, 10 bit times per byte), i.e. what the
  wire costs for a typical 30-register readout, bounded to a few seconds of wall time.

Not run by the test suite.
"""

from __future__ import annotations

import time

from protocols.iec62056_21.client import Iec6205621Client
from protocols.iec62056_21.codec import decode_capture
from protocols.iec62056_21.simulator import DEFAULT_REGISTERS, MeterSimulator
from protocols.transport import TcpTransport
from tests.support.corpus import CORPUS


def corpus_captures() -> list[bytes]:
    captures = []
    for path in sorted((CORPUS / "iec62056_21").glob("*")):
        if path.suffix == ".txt":
            captures.append(path.read_bytes())
        elif path.suffix == ".hex":
            captures.append(bytes.fromhex(path.read_text()))
    return captures


def parse_rate(captures: list[bytes], seconds: float = 1.0) -> tuple[float, float]:
    """Captures decoded per second, and megabytes per second."""
    count = size = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for data in captures:
            decode_capture(data, strict=False)
            size += len(data)
        count += len(captures)
    elapsed = time.perf_counter() - start
    return count / elapsed, size / elapsed / 1e6


def readout_rate(seconds: float = 4.0, registers: int = 30) -> tuple[float, int, int]:
    """Meters per minute for one client reading the simulator back to back."""
    table = dict(DEFAULT_REGISTERS)
    for i in range(registers - len(table)):
        table[f"1.8.{i + 10}"] = (f"{i:06d}.{i:03d}", "kWh")
    simulator = MeterSimulator(registers=table, baud_latency=True)
    port = simulator.start()
    try:
        client = Iec6205621Client(TcpTransport("127.0.0.1", port, timeout=10.0), timeout=10.0)
        reads = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            result = client.readout()
            assert len(result.readings) >= registers - 1
            reads += 1
        elapsed = time.perf_counter() - start
    finally:
        simulator.stop()
    return reads / elapsed * 60, reads, len(simulator.readout_text())


def main() -> None:
    captures = corpus_captures()
    if not captures:
        raise SystemExit(f"no IEC 62056-21 corpus at {CORPUS / 'iec62056_21'}")
    per_second, mb = parse_rate(captures)
    total = sum(len(c) for c in captures)
    print(f"corpus: {len(captures)} captures, {total} bytes")
    print(f"codec: {per_second:,.0f} captures decoded per second ({mb:.2f} MB/s)")
    per_minute, reads, readout_bytes = readout_rate()
    print(
        f"client vs simulator at 9600 Bd (identification at 300 Bd), {readout_bytes}-byte readout: "
        f"{per_minute:.1f} meters per minute ({reads} reads)"
    )


if __name__ == "__main__":
    main()
