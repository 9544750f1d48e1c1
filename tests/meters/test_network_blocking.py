"""Network interface blocks are atomic leases (meters/services/network.py)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from meters.models import NetworkInterface
from meters.services.network import (
    network_interface_block,
    network_interface_extend,
    network_interface_unblock,
    release_expired_blocks,
)
from tests.support.factories import OrganizationFactory


@pytest.fixture
def interface(db) -> NetworkInterface:
    return NetworkInterface.objects.create(
        organization=OrganizationFactory(), static_ip_address="127.0.0.1", port=4059
    )


def test_second_holder_cannot_block_a_blocked_interface(interface) -> None:
    assert network_interface_block(interface_id=interface.pk, holder="job-1")
    assert not network_interface_block(interface_id=interface.pk, holder="job-2")
    interface.refresh_from_db()
    assert interface.is_blocked and interface.blocked_by == "job-1" and interface.block_time is not None


def test_only_the_holder_releases_its_block(interface) -> None:
    network_interface_block(interface_id=interface.pk, holder="job-1")
    assert not network_interface_unblock(interface_id=interface.pk, holder="job-2")
    assert network_interface_unblock(interface_id=interface.pk, holder="job-1")
    assert network_interface_block(interface_id=interface.pk, holder="job-2")


def test_operator_unblock_releases_any_block(interface) -> None:
    network_interface_block(interface_id=interface.pk, holder="job-1")
    assert network_interface_unblock(interface_id=interface.pk)
    interface.refresh_from_db()
    assert not interface.is_blocked and interface.block_time is None


def test_an_expired_lease_can_be_taken_over_and_is_cleaned_up(interface) -> None:
    network_interface_block(interface_id=interface.pk, holder="dead-worker", lease=60)
    NetworkInterface.objects.filter(pk=interface.pk).update(
        block_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert network_interface_block(interface_id=interface.pk, holder="job-2")
    NetworkInterface.objects.filter(pk=interface.pk).update(
        block_expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert release_expired_blocks() == 1
    interface.refresh_from_db()
    assert not interface.is_blocked


def test_extend_only_for_the_holder(interface) -> None:
    network_interface_block(interface_id=interface.pk, holder="job-1", lease=10)
    assert network_interface_extend(interface_id=interface.pk, holder="job-1", lease=600)
    assert not network_interface_extend(interface_id=interface.pk, holder="job-2")
    interface.refresh_from_db()
    assert interface.block_expires_at > timezone.now() + timedelta(seconds=500)


def test_interfaces_that_cannot_block_are_never_blocked(interface) -> None:
    NetworkInterface.objects.filter(pk=interface.pk).update(can_block=False)
    assert not network_interface_block(interface_id=interface.pk, holder="job-1")


def test_host_prefers_fqdn_then_static_ip_then_sim(interface) -> None:
    from meters.models import SimCard

    sim = SimCard.objects.create(
        organization=interface.organization, iccid="8946", imsi="2400", ip_address="10.0.0.9"
    )
    interface.sim = sim
    assert interface.host == "127.0.0.1"
    interface.static_ip_address = None
    assert interface.host == "10.0.0.9"
    interface.fqdn = "meter1.example.test"
    assert interface.host == "meter1.example.test"
