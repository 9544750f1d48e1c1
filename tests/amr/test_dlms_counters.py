"""The Django-backed DLMS invocation counter store only ever moves forward."""

from __future__ import annotations

from amr.counters import DjangoCounterStore
from tests.meters.factories import MeterDeviceFactory


def test_next_is_strictly_increasing_and_observe_never_goes_back(organization) -> None:
    store = DjangoCounterStore(MeterDeviceFactory(organization=organization).pk)
    assert [store.next("key-a") for _ in range(3)] == [0, 1, 2]
    store.observe("key-a", 10)
    store.observe("key-a", 4)  # lower values are ignored
    assert store.last("key-a") == 10 and store.next("key-a") == 11
    store.observe("key-b", 7)  # first sight of a key
    assert store.next("key-b") == 8 and store.last("key-a") == 11
