"""Frame inspector: ``python -m protocols.modbus decode HEX_OR_FILE [HEX_OR_FILE ...]``.

Each argument is a hex string (spaces and colons allowed) or a file holding hex text (one frame per
line) or raw bytes. ``--rtu``/``--tcp`` choose the framing; without either, a frame whose MBAP
header is consistent is read as TCP, anything else as RTU. A TCP file may hold back-to-back ADUs.

With ``--map FILE.json`` register values of read responses are also shown as the map's readings.
A response does not repeat the start address it answers, so it is taken from the request decoded
just before it (pass request and response together) or from ``--address``.

Output is JSON on stdout. A rejected frame prints ``{"valid": false, "reason": ...}`` and exits 1,
so a script can tell a bad capture from a good one without parsing text.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import FrameError
from ..results import dumps
from .codec import FUNCTION_CODES, decode_entry, decode_rtu, decode_tcp, split_tcp_stream
from .registers import RegisterMap, RegisterMapError

_HEX = re.compile(r"^[0-9a-fA-F\s:,]*$")


def _hex_to_bytes(text: str) -> bytes:
    cleaned = re.sub(r"[\s:,]", "", text)
    if cleaned.lower().startswith("0x"):
        cleaned = cleaned[2:]
    if len(cleaned) % 2:
        raise FrameError(f"hex input has an odd number of digits ({len(cleaned)})")
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise FrameError(f"not hex: {exc}") from exc


def load_frames(argument: str, *, framing: str | None) -> list[bytes]:
    """An argument -> frames: a hex string, a hex text file (one frame per line) or a binary file."""
    path = Path(argument)
    if path.is_file():
        data = path.read_bytes()
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            text = None
        if text is not None and _HEX.match(text) and text.strip():
            lines = [line for line in text.splitlines() if line.strip()]
            return [_hex_to_bytes(line) for line in lines]
        return split_tcp_stream(data) if framing == "tcp" else [data]
    if not argument.strip():
        raise FrameError("empty input")
    return [_hex_to_bytes(argument)]


def _looks_like_tcp(frame: bytes) -> bool:
    return (
        len(frame) >= 8 and frame[2:4] == b"\x00\x00" and int.from_bytes(frame[4:6], "big") == len(frame) - 6
    )


def decode_frame(frame: bytes, *, framing: str | None, direction: str) -> dict[str, Any]:
    if framing == "tcp" or (framing is None and _looks_like_tcp(frame)):
        return decode_tcp(frame, direction)
    return decode_rtu(frame, direction)


def _map_values(
    decoded: dict[str, Any], register_map: RegisterMap, function: str, address: int
) -> list[dict[str, Any]]:
    registers = decoded["registers"]
    values = []
    for entry in register_map.entries:
        if entry.function != function or entry.address < address or entry.end > address + len(registers):
            continue
        offset = entry.address - address
        item: dict[str, Any] = {"series": entry.series, "address": entry.address, "unit": entry.unit}
        try:
            item["value"] = decode_entry(entry, registers[offset : offset + entry.count])
        except ValueError as exc:
            item["error"] = str(exc)
        values.append(item)
    return values


def decode_command(args: argparse.Namespace) -> int:
    framing = "rtu" if args.rtu else "tcp" if args.tcp else None
    register_map = None
    if args.map:
        try:
            register_map = RegisterMap.from_dict(json.loads(Path(args.map).read_text()))
        except (OSError, json.JSONDecodeError, RegisterMapError) as exc:
            print(dumps({"valid": False, "reason": f"register map {args.map}: {exc}"}))
            return 2
    decoded_frames: list[dict[str, Any]] = []
    last_request: dict[str, Any] | None = None
    try:
        for argument in args.frames:
            for frame in load_frames(argument, framing=framing):
                decoded = decode_frame(frame, framing=framing, direction=args.direction)
                decoded["hex"] = frame.hex()
                if decoded["kind"] == "request" and "count" in decoded:
                    last_request = decoded
                if register_map is not None and decoded["kind"] == "response" and "registers" in decoded:
                    function = {v: k for k, v in FUNCTION_CODES.items()}.get(decoded["function"])
                    address = args.address
                    if address is None and last_request and last_request["function"] == decoded["function"]:
                        address = last_request["address"]
                    if function and address is not None:
                        decoded["start_address"] = address
                        decoded["values"] = _map_values(decoded, register_map, function, address)
                    else:
                        decoded["values_note"] = "start address unknown: give the request too, or --address"
                decoded_frames.append(decoded)
    except (FrameError, OSError) as exc:
        reason = exc.reason if isinstance(exc, FrameError) else str(exc)
        print(dumps({"valid": False, "reason": reason, "decoded": decoded_frames}))
        return 1
    print(dumps({"valid": True, "frames": decoded_frames}))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocols.modbus", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="decode Modbus RTU or TCP ADUs")
    decode.add_argument("frames", nargs="+", metavar="HEX_OR_FILE")
    which = decode.add_mutually_exclusive_group()
    which.add_argument("--rtu", action="store_true", help="RTU framing (address, PDU, CRC)")
    which.add_argument("--tcp", action="store_true", help="TCP framing (MBAP header, PDU)")
    decode.add_argument(
        "--direction",
        choices=("auto", "request", "response"),
        default="auto",
        help="resolve ambiguous frames",
    )
    decode.add_argument("--map", help="register map JSON to decode register values with")
    decode.add_argument("--address", type=int, help="start address of the response's registers")
    args = parser.parse_args(argv)
    return decode_command(args)


if __name__ == "__main__":
    sys.exit(main())
