"""Push reception throughput: ``python -m benchmarks.push [--frames 20000 --meters 100]``.

Ciphered DataNotifications (general-glo-ciphering, AES-128-GCM, three values each, built by the
DLMS simulator's push sender) are sent over UDP loopback to a running receiver; the figure is
notifications per second from the first datagram sent until the last frame is settled in the
database with its readings (spooled and fsync'd, imported, decrypted, counter-checked, ingested).
The sender keeps at most ``--window`` datagrams unreceived so the kernel never drops any.

It runs on a throw-away test database of the configured backend (``DATABASE_URL``; SQLite in a
temporary file by default) and a temporary spool; nothing else is touched. Never run by the tests.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.push")
    parser.add_argument("--frames", type=int, default=20_000)
    parser.add_argument("--meters", type=int, default=100)
    parser.add_argument("--window", type=int, default=500, help="datagrams in flight at most")
    parser.add_argument("--no-fsync", action="store_true", help="spool without fsync (not for production)")
    parser.add_argument("--timeout", type=float, default=300.0)
    args = parser.parse_args(argv)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "utilitarian.settings")
    os.environ.setdefault("UTILITARIAN_TESTING", "1")
    import django

    django.setup()
    from django.db import connection

    workdir = Path(tempfile.mkdtemp(prefix="push-bench-"))
    if connection.vendor == "sqlite":
        connection.settings_dict.setdefault("TEST", {})["NAME"] = str(workdir / "bench.sqlite3")
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        return _run(args, workdir)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        shutil.rmtree(workdir, ignore_errors=True)


def _run(args, workdir: Path) -> int:
    from django.db import connection

    from meters.models import MeterDevice, MeterReading, MeterReadingSeries, MeterSecurityKeyCollection
    from protocols.dlms import security, wrapper
    from protocols.dlms.simulator.push import DEFAULT_VALUES, build_notification
    from push.models import FrameState, RawPushFrame
    from push.processor import PushProcessor
    from push.receiver import PushReceiver, ReceiverThread
    from push.spool import SpoolReader, SpoolWriter
    from utilitarian.models import Organization

    org = Organization.objects.create(name="bench")
    for obis, *_ in DEFAULT_VALUES:
        name = obis.replace("-", ".").replace(":", ".")
        MeterReadingSeries.objects.create(organization=org, name=name, unit="?")
    keys = []
    for n in range(args.meters):
        title = b"BEN" + n.to_bytes(5, "big")
        guek, gak = os.urandom(16), os.urandom(16)
        meter = MeterDevice.objects.create(
            organization=org, name=f"bench-{n}", protocol="dlms", dlms_system_title=title.hex()
        )
        MeterSecurityKeyCollection.objects.create(
            meter=meter,
            dlms_global_unicast_encryption_key=guek.hex(),
            dlms_global_authentication_key=gak.hex(),
        )
        keys.append(security.SecurityKeys(guek, gak, title))

    start_time = datetime(2024, 1, 1, tzinfo=UTC)
    datagrams = []
    for i in range(args.frames):
        meter_index, round_ = i % args.meters, i // args.meters
        apdu = build_notification(
            when=start_time + timedelta(minutes=15 * round_),
            keys=keys[meter_index],
            invocation_counter=round_ + 1,
        )
        datagrams.append(wrapper.build(1, 1, apdu))
    print(
        f"database {connection.vendor}, {args.meters} meters, {args.frames} ciphered notifications "
        f"({len(datagrams[0])} bytes, 3 values each), spool fsync {'off' if args.no_fsync else 'on'}"
    )

    writer = SpoolWriter(workdir / "spool", fsync=not args.no_fsync)
    writer.start()
    thread = ReceiverThread(PushReceiver(writer, host="127.0.0.1", udp_port=0))
    receiver = thread.start()
    processor = PushProcessor(SpoolReader(writer.directory, writer), idle_wait=0.05)
    processor.start()
    deadline = time.monotonic() + args.timeout
    began = time.perf_counter()
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            target = ("127.0.0.1", receiver.udp_port)
            for sent, datagram in enumerate(datagrams):
                while sent - receiver.stats.udp_frames >= args.window:
                    time.sleep(0.0005)
                    if time.monotonic() > deadline:
                        raise TimeoutError("receiver stalled")
                sock.sendto(datagram, target)
        sent_at = time.perf_counter() - began
        while processor.frames_settled < args.frames:
            if time.monotonic() > deadline:
                raise TimeoutError(f"only {processor.frames_settled} of {args.frames} frames settled")
            time.sleep(0.005)
        elapsed = time.perf_counter() - began
    finally:
        processor.stop()
        thread.stop()
        writer.close()

    processed = RawPushFrame.objects.filter(state=FrameState.PROCESSED).count()
    readings = MeterReading.objects.count()
    print(
        f"sent in {sent_at:.2f} s; received {receiver.stats.udp_frames}, processed {processed}, "
        f"readings {readings}, database errors {processor.database_errors}"
    )
    print(
        f"{'pushed notifications ingested end to end (UDP loopback)':<60} {args.frames / elapsed:>10.0f} notifications/s"
    )
    print(f"{'readings stored':<60} {readings / elapsed:>10.0f} readings/s")
    return 0 if processed == args.frames and readings == 3 * args.frames else 1


if __name__ == "__main__":
    sys.exit(main())
