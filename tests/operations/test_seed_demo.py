"""``manage.py seed_demo``: the demo inventory of ``make run``, complete and idempotent."""

from __future__ import annotations

from io import StringIO

from django.core.management import call_command

from amr.models import AmrTask, AmrTaskGroup, Schedule
from meters.models import MeterDevice, MeterReadingSeries, NetworkInterface, Protocol
from utilitarian.demo import DEFAULT_PORTS, DEMO_ORGANIZATION
from utilitarian.models import Organization


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


def test_one_meter_per_landed_protocol_with_interface_task_and_group(db) -> None:
    output = seed()
    organization = Organization.objects.get(name=DEMO_ORGANIZATION)
    meters = MeterDevice.objects.filter(organization=organization).select_related("network_interface")
    assert {m.protocol for m in meters} == {
        Protocol.DLMS,
        Protocol.IEC62056_21,
        Protocol.LIS200,
        Protocol.MBUS,
        Protocol.MODBUS,
    }
    assert {(m.network_interface.static_ip_address, m.network_interface.port) for m in meters} == {
        ("127.0.0.1", port) for port in DEFAULT_PORTS.values()
    }
    for meter in meters:
        (group,) = meter.task_groups.all()
        (task,) = group.tasks.all()
        assert task.schedule == Schedule.QUARTERLY and task.is_active
        assert task.organization_id == organization.pk
    assert MeterReadingSeries.objects.filter(organization=organization, name="1.8.0").exists()
    assert "created" in output and "demo-dlms-1" in output


def test_running_it_again_creates_nothing(db) -> None:
    seed()
    before = {
        model: model.objects.count()
        for model in (Organization, MeterDevice, NetworkInterface, MeterReadingSeries, AmrTask, AmrTaskGroup)
    }
    assert "already complete" in seed()
    assert {model: model.objects.count() for model in before} == before


def test_ports_option_repoints_the_existing_interface(db) -> None:
    seed()
    seed("--port-iec", "50123")
    meter = MeterDevice.objects.select_related("network_interface").get(name="demo-iec-1")
    assert meter.network_interface.port == 50123
    assert NetworkInterface.objects.filter(port=DEFAULT_PORTS["iec"]).count() == 0


def test_demo_user_organization_is_reused(db) -> None:
    """``make run`` creates the demo organization first (ensure_demo_user): seeding must fill
    that one, not a second organization of the same name."""
    call_command("ensure_demo_user", stdout=StringIO())
    seed()
    assert Organization.objects.filter(name=DEMO_ORGANIZATION).count() == 1
    assert MeterDevice.objects.filter(organization__name=DEMO_ORGANIZATION).count() == 5
