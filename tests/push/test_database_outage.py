"""Nothing is lost while the database is away: frames wait in the spool, or stay pending."""

from __future__ import annotations

import os
import time
from datetime import timedelta

import pytest
from django.db import OperationalError

from meters.models import MeterReading
from push import services
from push.models import FrameState, RawPushFrame

from .conftest import WHEN, ciphered, pump, push_udp

pytestmark = pytest.mark.django_db


def _fail_once(monkeypatch, name: str) -> list[int]:
    calls: list[int] = []
    real = getattr(services, name)

    def flaky(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")
        return real(**kwargs)

    monkeypatch.setattr(services, name, flaky)
    return calls


def _wait_spooled(spool_writer, count: int) -> None:
    assert spool_writer.wait_for_commit(count - 1, timeout=5) >= count


def test_frames_stay_spooled_while_the_import_fails(receiver, spool_writer, processor, meter, monkeypatch):
    calls = _fail_once(monkeypatch, "push_frames_import")
    for n in range(1, 4):
        push_udp(receiver, ciphered(n, when=WHEN + timedelta(minutes=15 * n)))
    _wait_spooled(spool_writer, 3)

    with pytest.raises(OperationalError):
        processor.run_once()
    assert not RawPushFrame.objects.exists()
    assert processor.reader.depth() > 0  # still on disk

    pump(processor, lambda: MeterReading.objects.count() == 9)
    assert len(calls) >= 2
    assert RawPushFrame.objects.filter(state=FrameState.PROCESSED).count() == 3


def test_pending_frames_are_parsed_after_the_database_comes_back(
    receiver, spool_writer, processor, meter, monkeypatch
):
    real_ingest = services.ingest_readings
    down = {"now": True}

    def ingest(**kwargs):
        if down["now"]:
            raise OperationalError("could not connect to server")
        return real_ingest(**kwargs)

    monkeypatch.setattr(services, "ingest_readings", ingest)
    push_udp(receiver, ciphered(1))
    push_udp(receiver, ciphered(2, when=WHEN + timedelta(minutes=15)))
    _wait_spooled(spool_writer, 2)

    with pytest.raises(OperationalError):
        processor.run_once()
    # imported, then the parse step failed: both frames pending, counter untouched (rolled back)
    assert list(RawPushFrame.objects.values_list("state", flat=True)) == [FrameState.PENDING] * 2
    assert not meter.dlms_counters.exists()

    down["now"] = False
    pump(processor, lambda: not RawPushFrame.objects.filter(state=FrameState.PENDING).exists())

    assert MeterReading.objects.count() == 6
    assert set(RawPushFrame.objects.values_list("state", flat=True)) == {FrameState.PROCESSED}
    assert meter.dlms_counters.get().counter == 2


def test_a_frame_that_always_fails_is_given_up_after_bounded_attempts(
    receiver, spool_writer, processor, meter, monkeypatch
):
    monkeypatch.setattr(
        services, "ingest_readings", lambda **kw: (_ for _ in ()).throw(OperationalError("boom"))
    )
    push_udp(receiver, ciphered(1))
    _wait_spooled(spool_writer, 1)

    for _ in range(services.MAX_ATTEMPTS + 1):
        try:
            processor.run_once()
        except OperationalError:
            pass

    frame = RawPushFrame.objects.get()
    assert frame.state == FrameState.REJECTED and frame.reason.startswith("gave up after")


def test_a_spool_left_by_a_dead_receiver_is_imported_once(tmp_path, meter):
    from protocols.dlms import wrapper
    from push.processor import PushProcessor
    from push.spool import SpoolReader, SpoolWriter

    directory = tmp_path / "spool"
    first = SpoolWriter(directory)
    first.start()
    for n in range(1, 3):
        first.append(
            wrapper.build(1, 1, ciphered(n, when=WHEN + timedelta(minutes=15 * n))), transport="udp", peer="x"
        )
    assert first.wait_for_commit(1, timeout=5) == 2
    # crash: the writer thread stops without sealing; its lock goes with its file descriptor
    first._queue.put(None)
    first._thread.join(5)
    os.close(first._fd)

    reader = PushProcessor(SpoolReader(directory))
    reader.run_until_idle(deadline=time.monotonic() + 10)
    again = PushProcessor(SpoolReader(directory))  # a restart re-reading whatever is left
    again.run_until_idle(deadline=time.monotonic() + 10)

    assert RawPushFrame.objects.count() == 2 and MeterReading.objects.count() == 6
    assert not list(directory.iterdir())
