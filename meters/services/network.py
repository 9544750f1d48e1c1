"""Blocking network interfaces: one conversation with a modem at a time, and never forever.

A block is an atomic conditional UPDATE (``... WHERE NOT is_blocked OR block_expires_at < now``),
so two workers racing for the same interface cannot both win, on PostgreSQL or SQLite, without
holding a lock across the meter conversation. The block is a lease: it carries an expiry, a worker
that dies mid-job leaves a block that simply lapses, and ``release_expired_blocks`` (a periodic
cleanup task) clears the flags so operators see the truth.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from ..models import NetworkInterface

DEFAULT_LEASE_SECONDS = 600


def lease_seconds() -> int:
    return int(getattr(settings, "AMR_BLOCK_LEASE_SECONDS", DEFAULT_LEASE_SECONDS))


def network_interface_block(*, interface_id, holder: str, lease: int | None = None) -> bool:
    """Try to block the interface for ``holder``. True when this call got it."""
    now = timezone.now()
    updated = (
        NetworkInterface.objects.filter(pk=interface_id, can_block=True)
        .filter(Q(is_blocked=False) | Q(block_expires_at__lt=now) | Q(block_expires_at__isnull=True))
        .update(
            is_blocked=True,
            block_time=now,
            block_expires_at=now + timedelta(seconds=lease or lease_seconds()),
            blocked_by=holder[:100],
        )
    )
    return updated == 1


def network_interface_extend(*, interface_id, holder: str, lease: int | None = None) -> bool:
    """Extend a block we hold (long archive reads). False when we no longer hold it."""
    now = timezone.now()
    return (
        NetworkInterface.objects.filter(pk=interface_id, is_blocked=True, blocked_by=holder[:100]).update(
            block_expires_at=now + timedelta(seconds=lease or lease_seconds())
        )
        == 1
    )


def network_interface_unblock(*, interface_id, holder: str | None = None) -> bool:
    """Release a block. With ``holder`` only that holder's block is released (workers); without,
    any block is released (operators)."""
    queryset = NetworkInterface.objects.filter(pk=interface_id, is_blocked=True)
    if holder is not None:
        queryset = queryset.filter(blocked_by=holder[:100])
    return queryset.update(is_blocked=False, block_time=None, block_expires_at=None, blocked_by="") == 1


def release_expired_blocks() -> int:
    """Clear blocks whose lease has lapsed; returns how many were released."""
    now = timezone.now()
    return NetworkInterface.objects.filter(is_blocked=True, block_expires_at__lt=now).update(
        is_blocked=False, block_time=None, block_expires_at=None, blocked_by=""
    )
