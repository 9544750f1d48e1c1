"""Staff see received frames in the admin: state filter, reason, system title, raw hex, no keys."""

from __future__ import annotations

import pytest
from django.utils import timezone

from push.models import FrameState, RawPushFrame

from .conftest import GUEK

pytestmark = pytest.mark.django_db


def _frame(state: str, reason: str = "", key: str = "seg:0") -> RawPushFrame:
    return RawPushFrame.objects.create(
        spool_key=key,
        received_at=timezone.now(),
        transport="udp",
        raw=bytes.fromhex("0001000100010003db0102"),
        state=state,
        reason=reason,
        system_title="4c475a0012345678",
    )


def test_changelist_filters_by_state_and_shows_the_reason(admin_client):
    _frame(FrameState.REJECTED, "unknown system title 4c475a0012345678")
    _frame(FrameState.PROCESSED, key="seg:40")

    page = admin_client.get("/admin/push/rawpushframe/", {"state__exact": "rejected"})

    assert page.status_code == 200
    assert page.context["cl"].result_count == 1
    assert b"unknown system title 4c475a0012345678" in page.content


def test_detail_shows_the_raw_hex_and_no_key_material(admin_client, meter):
    frame = _frame(FrameState.PROCESSED)
    frame.meter = meter
    frame.save()

    page = admin_client.get(f"/admin/push/rawpushframe/{frame.pk}/change/")

    assert page.status_code == 200
    assert b"00 01 00 01 00 01 00 03 db 01 02" in page.content
    assert GUEK.hex().encode() not in page.content
