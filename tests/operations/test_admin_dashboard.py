"""The operations dashboard (/admin/dashboard/): staff only, and every figure counts what it says."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from amr.models import AmrJob, JobKind, JobState
from meters.models import NetworkInterface, Protocol, StagedMeterReading
from tests.meters.factories import MeterDeviceFactory, NetworkInterfaceFactory
from tests.support.factories import MembershipFactory, UserFactory
from utilitarian.models import Role

URL = "/admin/dashboard/"


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="ops", is_staff=True, is_superuser=True))
    return client


def job(meter, state: str, *, finished_minutes_ago: int | None = None, error: str = "", **kw) -> AmrJob:
    finished = timezone.now() - timedelta(minutes=finished_minutes_ago) if finished_minutes_ago else None
    return AmrJob.objects.create(
        organization_id=meter.organization_id,
        meter_device=meter,
        kind=JobKind.ON_DEMAND,
        meter_execution_type="generic_iec6205621",
        task_call="readout",
        state=state,
        finished_at=finished,
        error=error,
        **kw,
    )


def card(html: str, section_id: str) -> str:
    match = re.search(rf'<section[^>]*id="{section_id}".*?</section>', html, re.S)
    assert match, section_id
    return match.group(0)


def test_counts_by_protocol_state_failures_blocks_and_staging(staff_client, organization) -> None:
    dlms = [MeterDeviceFactory(organization=organization, protocol=Protocol.DLMS) for _ in range(3)]
    mbus = MeterDeviceFactory(organization=organization, protocol=Protocol.MBUS)
    job(dlms[0], JobState.SUCCEEDED, finished_minutes_ago=30)
    job(dlms[0], JobState.FAILED, finished_minutes_ago=5, error="no answer from 10.0.0.9:4059")
    job(dlms[1], JobState.FAILED, finished_minutes_ago=30)
    job(dlms[1], JobState.SUCCEEDED, finished_minutes_ago=5)  # recovered: not failing
    job(mbus, JobState.QUEUED)
    old = job(mbus, JobState.FAILED, finished_minutes_ago=60 * 30)
    AmrJob.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=30))
    interface = NetworkInterfaceFactory(organization=organization)
    NetworkInterface.objects.filter(pk=interface.pk).update(
        is_blocked=True, blocked_by="amr-job:x", block_expires_at=timezone.now() + timedelta(minutes=5)
    )
    StagedMeterReading.objects.create(
        organization=organization,
        meter_device_name="not-yet-known",
        series_name="1.8.0",
        timestamp=timezone.now(),
        value="1.5",
    )

    response = staff_client.get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    meters = card(html, "ops-meters")
    assert re.search(r"DLMS/COSEM</a></th>\s*<td class=\"ops-num\">3<", meters)
    assert re.search(r"M-Bus</a></th>\s*<td class=\"ops-num\">1<", meters)
    jobs = card(html, "ops-jobs")
    assert 'data-state="failed">2<' in jobs  # the 30-hour-old failure is outside the window
    assert 'data-state="succeeded">2<' in jobs and 'data-state="queued">1<' in jobs
    failing = card(html, "ops-failing")
    assert dlms[0].name in failing and "no answer from 10.0.0.9:4059" in failing
    assert dlms[1].name not in failing and mbus.name not in failing
    assert 'class="ops-big">1<' in failing
    assert "amr-job:x" in card(html, "ops-interfaces")
    assert 'stagedmeterreading/">1</a>' in card(html, "ops-staged")


def test_empty_installation_renders(staff_client) -> None:
    response = staff_client.get(URL)
    assert response.status_code == 200
    assert b"No meter devices yet." in response.content


def test_admin_index_links_the_dashboard(staff_client) -> None:
    assert b'href="/admin/dashboard/"' in staff_client.get("/admin/").content


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OPERATOR])
def test_organization_members_are_not_let_in(db, organization, role) -> None:
    """Organization members use the API scoped to their tenant; the admin and its dashboard
    show every organization, so only staff get in (a member is sent to the login page)."""
    user = UserFactory(username=f"member-{role}")
    MembershipFactory(organization=organization, user=user, role=role)
    client = Client()
    client.force_login(user)
    response = client.get(URL)
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_staff_without_view_permissions_is_refused(db) -> None:
    from django.contrib.auth.models import Permission

    user = UserFactory(username="helpdesk", is_staff=True)
    client = Client()
    client.force_login(user)
    assert client.get(URL).status_code == 403
    user.user_permissions.add(
        Permission.objects.get(codename="view_meterdevice"), Permission.objects.get(codename="view_amrjob")
    )
    client.force_login(user)  # a fresh user object, without the cached permissions
    assert client.get(URL).status_code == 200


def test_anonymous_is_sent_to_login(db) -> None:
    response = Client().get(URL)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
