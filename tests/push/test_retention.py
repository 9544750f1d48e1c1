"""Settled push frames are deleted after PUSH_FRAME_RETENTION_DAYS; pending ones never are."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from push.models import FrameState, RawPushFrame
from push.services import push_frames_apply_retention
from push.tasks import apply_retention
from utilitarian.celery import app

pytestmark = pytest.mark.django_db


def _frame(state: str, age_days: float, key: str) -> RawPushFrame:
    return RawPushFrame.objects.create(
        spool_key=key,
        received_at=timezone.now() - timedelta(days=age_days),
        transport="udp",
        raw=b"\x00\x01",
        state=state,
    )


def test_settled_frames_past_the_retention_are_deleted_in_batches() -> None:
    old = [_frame(FrameState.PROCESSED, 40, f"p{i}") for i in range(5)]
    old.append(_frame(FrameState.REJECTED, 31, "r"))
    recent = _frame(FrameState.PROCESSED, 29, "recent")
    stuck = _frame(FrameState.PENDING, 400, "pending")  # still holds readings to store

    assert push_frames_apply_retention(days=30, batch_size=2) == 6

    assert set(RawPushFrame.objects.values_list("pk", flat=True)) == {recent.pk, stuck.pk}


def test_the_setting_drives_the_daily_task(settings) -> None:
    _frame(FrameState.PROCESSED, 8, "a")
    settings.PUSH_FRAME_RETENTION_DAYS = None
    assert apply_retention() == 0
    settings.PUSH_FRAME_RETENTION_DAYS = 7
    assert apply_retention() == 1
    assert not RawPushFrame.objects.exists()


def test_the_beat_runs_it_on_the_cleanup_queue() -> None:
    entry = app.conf.beat_schedule["push.apply_retention"]
    assert entry["task"] == apply_retention.name
    assert app.amqp.router.route({}, apply_retention.name)["queue"].name == "utilitarian.tasks.cleanup"
