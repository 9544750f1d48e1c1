"""Frame inspector: ``python -m protocols.iflag decode HEX_OR_FILE [HEX_OR_FILE ...]``.

Each argument is a hex string or a file of hex text or raw bytes; a captured session (several frames
back to back) is cut into frames first. Prints JSON; a rejected frame prints
``{"valid": false, "reason": ...}`` and exits 1. ``--parameters ID:TYPE,...`` decodes the data of a
read response as those parameters (exact values, see ``codec``).
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path
from typing import Any

from ..errors import FrameError
from ..results import dumps
from .codec import data_class, decode_frame, split_frames


def _load(argument: str) -> bytes:
    path = Path(argument)
    if path.is_file():
        raw = path.read_bytes()
        try:
            text = raw.decode("ascii")
        except UnicodeDecodeError:
            return raw
        cleaned = re.sub(r"[\s:,]", "", text)
        if cleaned and re.fullmatch(r"[0-9a-fA-F]*", cleaned) and len(cleaned) % 2 == 0:
            return bytes.fromhex(cleaned)
        return raw
    cleaned = re.sub(r"[\s:,]", "", argument)
    try:
        return bytes.fromhex(cleaned)
    except ValueError as exc:
        raise FrameError(f"not hex: {exc}") from exc


def _parameters(spec: str) -> list[tuple[int, str]]:
    parameters = []
    for item in spec.split(","):
        ident, _, type_name = item.partition(":")
        parameters.append((int(ident, 0), type_name))
        data_class(type_name)
    return parameters


def _decode_parameters(data: bytes, parameters: list[tuple[int, str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    index = 0
    for ident, type_name in parameters:
        cls = data_class(type_name)
        chunk = data[index : index + cls.LENGTH]
        if len(chunk) != cls.LENGTH:
            raise FrameError(f"response data ends before parameter {ident} ({type_name})")
        values[str(ident)] = cls.from_bytes(chunk).value
        index += cls.LENGTH
    if index != len(data):
        raise FrameError(f"{len(data) - index} response bytes left over after the parameters")
    return values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocols.iflag", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser("decode", help="decode Corus (I-FLAG) frames")
    decode.add_argument("frames", nargs="+", metavar="HEX_OR_FILE")
    decode.add_argument("--parameters", help="decode read responses as ID:TYPE,... (e.g. 48:index,1:float)")
    args = parser.parse_args(argv)
    decoded: list[dict[str, Any]] = []
    try:
        parameters = _parameters(args.parameters) if args.parameters else None
        for argument in args.frames:
            for frame in split_frames(_load(argument)):
                item = decode_frame(frame)
                item["hex"] = frame.hex()
                if parameters and item["kind"] == "response":
                    item["parameters"] = _decode_parameters(bytes.fromhex(item["data"]), parameters)
                decoded.append(item)
    except (FrameError, ValueError, OSError) as exc:
        reason = exc.reason if isinstance(exc, FrameError) else str(exc)
        print(dumps({"valid": False, "reason": reason, "decoded": decoded}))
        return 1
    print(dumps({"valid": True, "frames": decoded}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
