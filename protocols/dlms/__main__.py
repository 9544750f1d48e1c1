"""Frame inspector: ``python -m protocols.dlms decode HEX_OR_FILE [--system-title HEX --key HEX --auth-key HEX]``.

Prints the decoded layers, security header, decrypted APDU and values (exact decimal strings with
units and OBIS codes) as JSON. A rejected frame prints the reason and exits non-zero, so the
inspector can be used in scripts to triage captures from the field.
"""

from __future__ import annotations

import argparse
import json
import string
import sys
from pathlib import Path

from ..errors import ProtocolError
from ..results import dumps
from .frames import decode_frame
from .security import SecurityKeys


def _read_input(source: str) -> bytes:
    path = Path(source)
    if path.is_file():
        data = path.read_bytes()
        text = data.decode("ascii", errors="replace")
        if data and all(c in string.hexdigits + string.whitespace + ":" for c in text):
            return bytes.fromhex("".join(c for c in text if c in string.hexdigits))
        return data
    cleaned = "".join(source.split()).replace(":", "")
    return bytes.fromhex(cleaned)


def _hex(value: str | None, name: str) -> bytes | None:
    if value is None:
        return None
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise SystemExit(f"--{name} is not hex: {value!r}") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m protocols.dlms", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    decode = commands.add_parser(
        "decode", help="decode a frame given as hex or as a file (hex text or binary)"
    )
    decode.add_argument("frame")
    decode.add_argument(
        "--system-title", help="sender's system title (8 bytes hex) for service-specific ciphering"
    )
    decode.add_argument("--key", help="block cipher key (GUEK / broadcast key), hex")
    decode.add_argument("--auth-key", default="", help="authentication key (GAK), hex")
    args = parser.parse_args(argv)
    try:
        raw = _read_input(args.frame)
    except ValueError as exc:
        print(json.dumps({"rejected": f"input is neither a file nor hex: {exc}"}), file=sys.stdout)
        return 2
    keys = None
    if args.key or args.system_title:
        keys = SecurityKeys(
            _hex(args.key, "key"),
            _hex(args.auth_key, "auth-key") or b"",
            _hex(args.system_title, "system-title"),
        )
    try:
        decoded = decode_frame(raw, keys)
    except ProtocolError as exc:
        print(json.dumps({"rejected": exc.reason}, indent=2))
        return 1
    print(dumps(decoded.to_jsonable()))
    return 1 if decoded.errors and not decoded.apdus else 0


if __name__ == "__main__":
    sys.exit(main())
