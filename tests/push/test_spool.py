"""The spool keeps frames across crashes: fsync'd records, torn tails skipped, segments rotated."""

from __future__ import annotations

import os

from push.spool import SpoolReader, SpoolWriter, encode_record, read_records


def test_records_round_trip_with_their_metadata(tmp_path):
    writer = SpoolWriter(tmp_path)
    writer.start()
    writer.append(b"\x00\x01frame", transport="tcp", peer="10.0.0.7:4059")
    assert writer.wait_for_commit(0, timeout=5) == 1
    records, _ = SpoolReader(tmp_path, writer).pending()
    writer.close()

    assert [(r.payload, r.transport, r.peer) for r in records] == [(b"\x00\x01frame", "tcp", "10.0.0.7:4059")]
    assert records[0].key.endswith(":0")


def test_a_torn_tail_is_not_read_and_a_sealed_segment_is_then_removed(tmp_path):
    good = encode_record(b"one", transport="udp", peer="p", received_at_us=1)
    torn = encode_record(b"two", transport="udp", peer="p", received_at_us=2)[:-1]
    segment = tmp_path / "00000000000000000001-1.seg"
    segment.write_bytes(good + torn)

    assert [r.payload for r, _ in read_records(segment)] == [b"one"]
    reader = SpoolReader(tmp_path)
    records, progress = reader.pending()
    reader.commit(progress)
    assert [r.payload for r in records] == [b"one"] and not segment.exists()


def test_a_corrupt_record_stops_the_read(tmp_path):
    record = bytearray(encode_record(b"payload", transport="udp", peer="p", received_at_us=1))
    record[-1] ^= 0xFF
    segment = tmp_path / "00000000000000000001-1.seg"
    segment.write_bytes(bytes(record))
    assert list(read_records(segment)) == []


def test_rotation_seals_segments_and_nothing_is_read_twice(tmp_path):
    writer = SpoolWriter(tmp_path, segment_bytes=200)
    writer.start()
    reader = SpoolReader(tmp_path, writer)
    seen = []
    for n in range(30):
        writer.append(bytes([n]) * 40, transport="udp", peer="p")
        writer.wait_for_commit(n, timeout=5)
        records, progress = reader.pending(limit=7)
        reader.commit(progress)
        seen += [r.payload[0] for r in records]
    writer.close()
    while True:
        records, progress = reader.pending()
        reader.commit(progress)
        if not records:
            break
        seen += [r.payload[0] for r in records]
    assert seen == list(range(30))
    assert [p for p in os.listdir(tmp_path)] == []


def test_another_live_writers_open_segment_is_left_alone(tmp_path):
    writer = SpoolWriter(tmp_path)
    writer.start()
    writer.append(b"x", transport="udp", peer="p")
    writer.wait_for_commit(0, timeout=5)
    try:
        assert SpoolReader(tmp_path).pending() == ([], [])  # not this process's writer: locked
    finally:
        writer.close()
    assert [r.payload for r in SpoolReader(tmp_path).pending()[0]] == [b"x"]  # sealed on close
