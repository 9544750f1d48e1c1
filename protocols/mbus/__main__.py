"""Command line: the frame inspector, a simulator and a one-off read.

    python -m protocols.mbus decode "68 03 03 68 08 01 70 79 16"     # or a path to a .hex file
    python -m protocols.mbus simulate --port 10001 --baudrate 2400 a.hex b.hex
    python -m protocols.mbus read --host 127.0.0.1 --port 10001 --address 1

``decode`` prints the decoded frame as JSON and exits 0, or prints the reason the frame was
rejected and exits 1 (2 for usage errors), so it can be used in scripts.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from protocols.errors import ProtocolError
from protocols.results import dumps

from . import codec


def _hex_argument(value: str) -> str:
    path = Path(value)
    try:
        if path.is_file():
            return path.read_text()
    except OSError:  # pragma: no cover - e.g. a name too long to be a path
        pass
    return value


def _decode(args: argparse.Namespace) -> int:
    text = _hex_argument(" ".join(args.frame))
    try:
        raw = codec.parse_hex(text)
        frame = codec.decode_frame(raw)
        if frame.kind in ("long", "control"):
            output = codec.decode_telegram(frame).to_dict()
        else:
            output = {
                "frame": {
                    "kind": frame.kind,
                    "control": None if frame.control is None else f"{frame.control:02X}",
                    "address": frame.address,
                }
            }
    except ProtocolError as exc:
        print(dumps({"rejected": exc.reason}))
        return 1
    print(dumps(output))
    return 0


def _simulate(args: argparse.Namespace) -> int:
    from .simulator import MBusSimulator, SimulatedSlave

    slaves = [
        SimulatedSlave.from_hex_files([path], primary=args.first_address + index, identification=None)
        for index, path in enumerate(args.files)
    ]
    simulator = MBusSimulator(slaves, port=args.port, baudrate=args.baudrate)
    port = simulator.start()
    for slave in slaves:
        print(
            f"slave primary={slave.primary} secondary={slave.header.identification} {slave.header.manufacturer}"
        )
    print(f"M-Bus simulator listening on 127.0.0.1:{port} (Ctrl-C to stop)", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
    return 0


def _read(args: argparse.Namespace) -> int:
    from .client import MBusClient, open_mbus_transport

    transport = open_mbus_transport(
        host=args.host, port=args.port, serial_port=args.serial, timeout=args.timeout
    )
    try:
        transport.open()
        client = MBusClient(transport, timeout=args.timeout)
        result = client.read(address=args.address, secondary=args.secondary)
    except ProtocolError as exc:
        print(dumps({"error": exc.reason}))
        return 1
    finally:
        transport.close()
    print(dumps(result))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocols.mbus", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)

    decode = commands.add_parser("decode", help="decode a frame given as hex text or a file of hex")
    decode.add_argument("frame", nargs="+", help="hex bytes, or the path of a file holding them")
    decode.set_defaults(run=_decode)

    simulate = commands.add_parser("simulate", help="serve frames as M-Bus slaves over TCP")
    simulate.add_argument("--port", type=int, default=0)
    simulate.add_argument("--baudrate", type=int, default=None, help="emulate this line speed")
    simulate.add_argument("--first-address", type=int, default=1, help="primary address of the first slave")
    simulate.add_argument("files", nargs="+", help="one .hex file per slave")
    simulate.set_defaults(run=_simulate)

    read = commands.add_parser("read", help="read one meter")
    read.add_argument("--host")
    read.add_argument("--port", type=int)
    read.add_argument("--serial", help="serial port (2400 baud 8E1)")
    read.add_argument("--address", type=int)
    read.add_argument("--secondary")
    read.add_argument("--timeout", type=float, default=2.0)
    read.set_defaults(run=_read)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
