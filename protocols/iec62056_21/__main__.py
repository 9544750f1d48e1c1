"""Frame inspector: ``python -m protocols.iec62056_21 decode HEX_OR_FILE [--lenient]``.

Prints the decoded telegram(s) as JSON: identification, every data set with its address, OBIS
code (when the address is a full one), values as sent plus their exact decimal form, and the
checksum verdict. A rejected frame prints the reason and exits with status 1; ``--lenient`` decodes
a frame with a bad checksum anyway and shows the failing verdict, which is how one looks at a
capture from a noisy line.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from protocols.errors import ProtocolError
from protocols.results import dumps

from .codec import decode_capture


def load_input(arg: str) -> bytes:
    """A file (``.hex``: hex text; anything else: the raw bytes) or a hex string on the command line."""
    path = Path(arg)
    if path.is_file():
        data = path.read_bytes()
        if path.suffix.lower() == ".hex":
            return bytes.fromhex(data.decode("ascii"))
        return data
    return bytes.fromhex(arg)


def main(
    argv: list[str] | None = None,
    *,
    decoder: Callable[..., list[Any]] = decode_capture,
    render: Callable[[list[Any]], Any] | None = None,
    prog: str = "python -m protocols.iec62056_21",
) -> int:
    """Shared with the LIS-200 inspector, which passes its own decoder and rendering."""
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    decode = sub.add_parser("decode", help="decode a frame or capture and print it as JSON")
    decode.add_argument("frame", metavar="HEX_OR_FILE")
    decode.add_argument("--lenient", action="store_true", help="decode despite a bad checksum")
    args = parser.parse_args(argv)
    try:
        data = load_input(args.frame)
    except (ValueError, OSError) as exc:
        print(json.dumps({"ok": False, "reason": f"cannot read input: {exc}"}))
        return 2
    try:
        decoded = decoder(data, strict=not args.lenient)
    except ProtocolError as exc:
        print(json.dumps({"ok": False, "reason": exc.reason}))
        return 1
    if render is not None:
        print(dumps(render(decoded)))
    elif len(decoded) == 1:
        print(dumps(decoded[0].to_dict()))
    else:
        print(dumps({"telegrams": [t.to_dict() for t in decoded]}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
