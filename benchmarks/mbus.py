"""M-Bus driver figures: decoding speed over the corpus, and meters read per minute at 2400 baud.

    python -m benchmarks.mbus [--seconds 3] [--baudrate 2400]

The read figure runs one client against the simulator with per-byte latency of an 8E1 line, so it
shows what one M-Bus segment (one master) can deliver: the wire, not the CPU, is the limit.
Never run by the test suite.
"""

from __future__ import annotations

import argparse
import time

from protocols.mbus import codec
from protocols.mbus.client import MBusClient
from protocols.mbus.simulator import MBusSimulator, SimulatedSlave
from protocols.transport import TcpTransport
from tests.support.corpus import CORPUS

FRAMES = CORPUS / "mbus" / "libmbus" / "test-frames"
METERS = ["ACW_Itron-BM-plus-m", "kamstrup_multical_601", "els_falcon", "tecson", "landis+gyr_ultraheat_t230"]


def decode_rate(seconds: float) -> tuple[float, int]:
    frames = [codec.parse_hex(p.read_text()) for p in sorted(FRAMES.glob("*.hex"))]
    count = 0
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    while time.perf_counter() < deadline:
        for raw in frames:
            codec.decode_telegram(raw)
        count += len(frames)
    return count / (time.perf_counter() - start), len(frames)


def read_rate(seconds: float, baudrate: int) -> tuple[float, int, int]:
    slaves = [
        SimulatedSlave([codec.parse_hex((FRAMES / f"{name}.hex").read_text())], primary=index + 1)
        for index, name in enumerate(METERS)
    ]
    with MBusSimulator(slaves, baudrate=baudrate) as simulator:
        transport = TcpTransport("127.0.0.1", simulator.port, timeout=5.0)
        with transport:
            client = MBusClient(transport, timeout=3.0)
            reads = readings = 0
            start = time.perf_counter()
            while time.perf_counter() - start < seconds:
                result = client.read(address=reads % len(slaves) + 1)
                reads += 1
                readings += len(result.readings)
            elapsed = time.perf_counter() - start
    return reads / elapsed * 60, reads, readings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--baudrate", type=int, default=2400)
    args = parser.parse_args()
    rate, frames = decode_rate(args.seconds)
    print(f"decode: {rate:,.0f} telegrams/s over {frames} corpus frames")
    per_minute, reads, readings = read_rate(args.seconds, args.baudrate)
    print(
        f"read:   {per_minute:,.1f} meters/min at {args.baudrate} baud "
        f"({reads} reads, {readings} readings, {len(METERS)} meters, SND_NKE + REQ_UD2 each)"
    )


if __name__ == "__main__":
    main()
