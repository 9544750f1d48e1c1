"""The metering and AMR admin: every page renders for staff, the master key never shows, the
unblock action works and admin forms keep references within the organization."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.apps import apps
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from amr.models import AmrTask, AmrTaskGroup
from meters.models import (
    DlmsInvocationCounter,
    MeterDevice,
    MeterReading,
    MeterSecurityKeyCollection,
    MeterSystemEvent,
    NetworkInterface,
    StagedMeterReading,
)
from meters.services.network import network_interface_block
from tests.support.factories import OrganizationFactory, UserFactory

from .factories import (
    AmrTaskFactory,
    AmrTaskGroupFactory,
    MeterDeviceConfigFactory,
    MeterDeviceFactory,
    MeterDeviceTypeFactory,
    MeterReadingSeriesFactory,
    MeterSecurityKeyCollectionFactory,
    NetworkInterfaceFactory,
    SimCardFactory,
)

MASTER = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90"


@pytest.fixture
def staff_client(db) -> Client:
    client = Client()
    client.force_login(UserFactory(username="root", is_staff=True, is_superuser=True))
    return client


@pytest.fixture
def inventory(db) -> dict:
    org = OrganizationFactory()
    series = MeterReadingSeriesFactory(organization=org)
    config = MeterDeviceConfigFactory(organization=org, series=[series])
    task = AmrTaskFactory(organization=org)
    group = AmrTaskGroupFactory(organization=org, tasks=[task])
    meter = MeterDeviceFactory(
        organization=org,
        type=MeterDeviceTypeFactory(organization=org, config=config),
        network_interface=NetworkInterfaceFactory(organization=org, sim=SimCardFactory(organization=org)),
        task_groups=[group],
        meter_tasks=[task],
    )
    keys = MeterSecurityKeyCollectionFactory(meter=meter, dlms_master_key=MASTER)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    MeterReading.objects.bulk_create(
        MeterReading(
            organization=org,
            meter_device=meter,
            series=series,
            timestamp=start + timedelta(hours=i),
            value=str(i),
        )
        for i in range(30)
    )
    MeterSystemEvent.objects.create(
        organization=org, meter_device=meter, timestamp=start, title="power", content="down"
    )
    StagedMeterReading.objects.create(
        organization=org, meter_device_name="future", series_name=series.name, timestamp=start, value="1"
    )
    DlmsInvocationCounter.objects.create(meter=meter, key_name="guek", counter=42)
    return {"org": org, "meter": meter, "keys": keys, "task": task, "group": group}


METERS_AND_AMR_MODELS = [*apps.get_app_config("meters").get_models(), AmrTask, AmrTaskGroup]


def test_every_meters_model_and_the_amr_task_models_are_registered() -> None:
    missing = set(METERS_AND_AMR_MODELS) - set(admin.site._registry)
    assert not missing, missing


@pytest.mark.parametrize("model", METERS_AND_AMR_MODELS, ids=lambda m: m.__name__)
def test_changelist_search_and_change_page_render(staff_client: Client, inventory, model) -> None:
    opts = model._meta
    changelist = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    response = staff_client.get(changelist)
    assert response.status_code == 200
    assert staff_client.get(changelist, {"q": "meter"}).status_code == 200
    obj = model.objects.first()
    assert obj is not None, model
    response = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[obj.pk]))
    assert response.status_code == 200
    assert MASTER.encode() not in response.content
    add = staff_client.get(reverse(f"admin:{opts.app_label}_{opts.model_name}_add"))
    assert add.status_code in (200, 403)  # 403: read-only lists (readings, events, counters)


def test_meter_device_page_shows_keys_without_the_master_key_and_the_latest_readings(
    staff_client: Client, inventory
) -> None:
    meter = inventory["meter"]
    response = staff_client.get(reverse("admin:meters_meterdevice_change", args=[meter.pk]))
    content = response.content.decode()
    assert MASTER not in content and MASTER.upper() not in content
    assert "master key set" in content.lower()
    assert "new_dlms_master_key" in content
    assert "latest 20 meter readings" in content.lower()
    assert len(response.context["inline_admin_formsets"][1].formset.forms) == 20
    assert "2024-01-02 05:00" in content or "Jan. 2, 2024, 5 a.m." in content  # the newest reading


def test_security_key_page_never_contains_the_master_key(staff_client: Client, inventory) -> None:
    keys = inventory["keys"]
    for url in (
        reverse("admin:meters_metersecuritykeycollection_change", args=[keys.pk]),
        reverse("admin:meters_metersecuritykeycollection_changelist"),
        reverse("admin:meters_metersecuritykeycollection_history", args=[keys.pk]),
    ):
        content = staff_client.get(url).content.decode()
        assert MASTER not in content and MASTER.upper() not in content, url


def _key_form(keys: MeterSecurityKeyCollection, **changes) -> dict:
    data = {
        "meter": str(keys.meter_id),
        "iec62056_21_password": "",
        "dlms_global_unicast_encryption_key": keys.dlms_global_unicast_encryption_key or "",
        "dlms_global_broadcast_encryption_key": "",
        "dlms_global_authentication_key": keys.dlms_global_authentication_key or "",
        "new_dlms_master_key": "",
    }
    return {**data, **changes}


def test_saving_the_key_form_keeps_replaces_or_clears_the_master_key(staff_client: Client, inventory) -> None:
    keys = inventory["keys"]
    url = reverse("admin:meters_metersecuritykeycollection_change", args=[keys.pk])
    assert staff_client.post(url, _key_form(keys)).status_code == 302
    keys.refresh_from_db()
    assert keys.dlms_master_key == MASTER  # an empty field keeps it
    new = "ff" * 16
    assert staff_client.post(url, _key_form(keys, new_dlms_master_key=new)).status_code == 302
    keys.refresh_from_db()
    assert keys.dlms_master_key == new
    assert staff_client.post(url, _key_form(keys, clear_dlms_master_key="on")).status_code == 302
    keys.refresh_from_db()
    assert keys.dlms_master_key is None


def test_an_invalid_master_key_in_the_admin_is_not_echoed(staff_client: Client, inventory) -> None:
    keys = inventory["keys"]
    bad = "0123456789abcdef" * 2 + "zz"
    response = staff_client.post(
        reverse("admin:meters_metersecuritykeycollection_change", args=[keys.pk]),
        _key_form(keys, new_dlms_master_key=bad),
    )
    assert response.status_code == 200
    assert "new_dlms_master_key" in response.context["adminform"].form.errors
    assert bad not in response.content.decode()
    keys.refresh_from_db()
    assert keys.dlms_master_key == MASTER


def test_unblock_action(staff_client: Client, inventory) -> None:
    interface = inventory["meter"].network_interface
    assert network_interface_block(interface_id=interface.pk, holder="job-1")
    response = staff_client.post(
        reverse("admin:meters_networkinterface_changelist"),
        {"action": "unblock", "_selected_action": [str(interface.pk)]},
    )
    assert response.status_code == 302
    assert NetworkInterface.objects.get(pk=interface.pk).is_blocked is False


def test_admin_refuses_a_task_group_with_another_organizations_task(staff_client: Client, inventory) -> None:
    foreign = AmrTaskFactory(organization=OrganizationFactory())
    group = inventory["group"]
    response = staff_client.post(
        reverse("admin:amr_amrtaskgroup_change", args=[group.pk]),
        {
            "organization": str(group.organization_id),
            "name": group.name,
            "description": "",
            "tasks": [str(foreign.pk)],
            "meterdevice_task_groups-TOTAL_FORMS": "0",
            "meterdevice_task_groups-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 200
    assert "tasks" in response.context["adminform"].form.errors
    assert list(AmrTaskGroup.objects.get(pk=group.pk).tasks.all()) == [inventory["task"]]


def test_admin_refuses_an_offset_beyond_the_schedule(staff_client: Client, inventory) -> None:
    task: AmrTask = inventory["task"]
    response = staff_client.post(
        reverse("admin:amr_amrtask_change", args=[task.pk]),
        {
            "organization": str(task.organization_id),
            "name": task.name,
            "description": "",
            "is_active": "on",
            "schedule": "quarterly",
            "run_offset_seconds": "901",
            "meter_execution_type": task.meter_execution_type,
            "task_call": task.task_call,
            "task_kwargs": "null",
        },
    )
    assert response.status_code == 200
    assert "run_offset_seconds" in response.context["adminform"].form.errors


def test_admin_refuses_a_meter_type_of_another_organization(staff_client: Client, inventory) -> None:
    meter: MeterDevice = inventory["meter"]
    foreign_type = MeterDeviceTypeFactory(organization=OrganizationFactory())
    response = staff_client.get(reverse("admin:meters_meterdevice_change", args=[meter.pk]))
    form = response.context["adminform"].form
    data = {**form.initial, "type": str(foreign_type.pk)}
    from meters.admin import MeterDeviceAdmin

    bound = MeterDeviceAdmin(MeterDevice, admin.site).form(data=data, instance=meter)
    assert not bound.is_valid()
    assert "type" in bound.errors
