"""DLMS throughput figures: ``python -m benchmarks.dlms`` (never run by the tests).

* frames/s decoding a 96-row load-profile GET response (HDLC segments reassembled, A-XDR rows);
* frames/s decoding and decrypting a ciphered DataNotification (general-glo-ciphering, suite 0);
* registers/s read by the gurux-based client from our simulator over loopback TCP (wrapper).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

from protocols.dlms import apdu, axdr, hdlc, security
from protocols.dlms.client import DlmsClient, DlmsSettings
from protocols.dlms.frames import decode_frame
from protocols.dlms.profile import capture_objects_from_data, rows_from_buffer
from protocols.dlms.simulator import DlmsSimulator, MeterModel
from protocols.dlms.simulator.objects import LOAD_PROFILE
from protocols.dlms.simulator.push import build_notification
from protocols.transport import TcpTransport


def _rate(label: str, func, seconds: float = 2.0, unit: str = "frames/s") -> None:
    count = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        func()
        count += 1
    print(f"{label:<60} {count / elapsed:>10.0f} {unit}")


def profile_response_frames() -> tuple[list[bytes], list]:
    model = MeterModel()
    profile = model.objects[(7, LOAD_PROFILE)]
    buffer = profile.attributes[2](None, None)
    columns = capture_objects_from_data(profile.attributes[3](None, None))
    payload = b"\xe6\xe7\x00" + apdu.get_response_normal(0xC1, buffer)
    chunks = [payload[i : i + 128] for i in range(0, len(payload), 128)]
    frames = [
        hdlc.build_frame(b"\x21", b"\x03", hdlc.i_control(n, 1), chunk, n < len(chunks) - 1)
        for n, chunk in enumerate(chunks)
    ]
    return frames, columns


def main() -> None:
    frames, columns = profile_response_frames()

    def decode_profile() -> None:
        info = b"".join(hdlc.parse_frame(f).info for f in frames)
        rows = rows_from_buffer(axdr.decode_all(info[3 + 4 :]), columns, 900)
        assert len(rows) == 96

    print(f"96-row profile response: {len(frames)} HDLC frames, {sum(map(len, frames))} bytes")
    _rate("96-row profile response decoded (whole responses)", decode_profile, unit="responses/s")

    keys = security.SecurityKeys(bytes(range(16)), bytes(range(16, 32)), b"UTL\x00\x00\x00\x00\x01")
    when = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=2)))
    push = build_notification(when=when, keys=keys, invocation_counter=5)
    receiver_keys = security.SecurityKeys(keys.encryption_key, keys.authentication_key)
    _rate("ciphered DataNotification decrypted and decoded", lambda: decode_frame(push, receiver_keys))

    with DlmsSimulator() as sim:
        settings = DlmsSettings(framing="wrapper", timeout=5)
        with DlmsClient(TcpTransport("127.0.0.1", sim.port, timeout=5), settings) as client:
            codes = ["1-0:1.8.0.255", "1-0:2.8.0.255", "1-0:32.7.0.255", "1-0:31.7.0.255"]
            client.read_registers(codes)  # scalers cached after the first pass, as in a session

            def read_four() -> None:
                result = client.read_registers(codes)
                assert result.error is None and len(result.readings) == 4, result.error

            count, start = 0, time.perf_counter()
            while time.perf_counter() - start < 2.0:
                read_four()
                count += 4
            rate = count / (time.perf_counter() - start)
            print(f"{'registers read from the simulator over TCP (wrapper)':<60} {rate:>10.0f} registers/s")


if __name__ == "__main__":
    main()
