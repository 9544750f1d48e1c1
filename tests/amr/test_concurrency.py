"""Network interface blocking under real concurrency (PostgreSQL, threads with their own
connections): never two conversations with one modem at a time."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections

from amr.models import AmrJob, JobState
from amr.services import job_run
from meters.models import NetworkInterface
from meters.services.network import network_interface_block, network_interface_unblock
from tests.support.factories import OrganizationFactory

from .support import Forwarder, free_port, meter_at, on_demand_job, postgres_only

pytestmark = [pytest.mark.postgres, pytest.mark.skipif(**postgres_only)]


def in_threads(count: int, target) -> list:
    """Run ``target(i)`` in ``count`` threads released at once; returns their results."""
    barrier = threading.Barrier(count)
    results: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait()
            results[i] = target(i)
        except BaseException as exc:  # surfaced by the assertion below
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


@pytest.mark.django_db(transaction=True)
def test_only_one_of_many_racing_workers_gets_the_block() -> None:
    interface = NetworkInterface.objects.create(
        organization=OrganizationFactory(), static_ip_address="127.0.0.1", port=1
    )
    for round_ in range(10):
        won = in_threads(
            8, lambda i, r=round_: network_interface_block(interface_id=interface.pk, holder=f"w{r}-{i}")
        )
        assert won.count(True) == 1, won
        assert network_interface_unblock(interface_id=interface.pk)


class SlowForwarder(Forwarder):
    """Holds each connection open a little longer, so overlapping jobs would be visible."""

    def start(self) -> None:
        super().start()
        handler = self.server.RequestHandlerClass
        original = handler.handle

        def slow(handler_self) -> None:
            time.sleep(0.3)
            original(handler_self)

        handler.handle = slow


@pytest.mark.django_db(transaction=True)
def test_two_workers_on_one_interface_never_talk_to_the_meter_at_once(iec_simulator, settings) -> None:
    settings.AMR_BLOCK_WAIT_SECONDS = 20
    settings.AMR_METER_TIMEOUT_SECONDS = 5
    organization = OrganizationFactory(auto_create_series=True)
    forwarder = SlowForwarder(free_port(), iec_simulator.port)
    forwarder.start()
    try:
        first = meter_at(organization, forwarder.port)
        second = meter_at(organization, forwarder.port, interface=first.network_interface)
        jobs = [on_demand_job(first), on_demand_job(second)]
        outcomes = in_threads(2, lambda i: job_run(job_id=jobs[i].pk, worker=f"worker-{i}"))
    finally:
        forwarder.stop()
    assert [getattr(o, "state", o) for o in outcomes] == [JobState.SUCCEEDED, JobState.SUCCEEDED]
    assert forwarder.connections == 2 and forwarder.max_active == 1
    assert AmrJob.objects.filter(busy_waits=0, attempts=1).count() == 2  # the second waited, in process
    assert not NetworkInterface.objects.get(pk=first.network_interface_id).is_blocked
    assert connection.vendor == "postgresql"
