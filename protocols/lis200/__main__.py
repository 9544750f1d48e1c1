"""Frame inspector: ``python -m protocols.lis200 decode HEX_OR_FILE [--lenient]``.

Decodes LIS-200 blocks (R1/R3/W1 commands, answers, the EOT/ETX blocks of an archive answer) or a
whole sign-on capture, and prints them as JSON with the ``instance:address.attribute`` form of each
address, the values as sent with their exact decimal form, device error codes (``#0013``) and the
BCC verdict. A rejected frame prints the reason and exits with status 1.
"""

from __future__ import annotations

import sys

from protocols.iec62056_21.__main__ import main as _inspector_main

from .codec import decode_frames


def main(argv: list[str] | None = None) -> int:
    return _inspector_main(
        argv,
        decoder=decode_frames,
        render=lambda frames: {"frames": frames},
        prog="python -m protocols.lis200",
    )


if __name__ == "__main__":
    sys.exit(main())
