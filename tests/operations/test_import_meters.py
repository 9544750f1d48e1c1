"""``manage.py import_meters``: meter devices from CSV; bad lines are named, good lines kept."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from meters.models import MeterDevice, MeterReading, NetworkInterface, StagedMeterReading
from meters.services.readings import readings_ingest
from tests.meters.factories import AmrTaskGroupFactory, MeterDeviceTypeFactory
from tests.support.factories import OrganizationFactory


def run(path: Path, organization: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(
        "import_meters", str(path), "--organization", organization, "--no-progress", stdout=out, stderr=err
    )
    return out.getvalue(), err.getvalue()


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "meters.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_meters_with_interfaces_types_and_groups(tmp_path, organization) -> None:
    MeterDeviceTypeFactory(organization=organization, name="E350")
    AmrTaskGroupFactory(organization=organization, name="quarterly")
    AmrTaskGroupFactory(organization=organization, name="daily")
    path = write(
        tmp_path,
        "name,protocol,host,port,type,task_groups,manufacturer_serial\n"
        "M1,dlms-cosem,10.0.0.1,4059,E350,quarterly;daily,S1\n"
        "M2,iec62056-21,meter2.example.net,8000,,,\n"
        "M3,mbus,,,,,\n",
    )
    out, err = run(path, organization.name)
    assert "3 meter device(s) created" in out and err == ""
    m1 = MeterDevice.objects.select_related("network_interface", "type").get(name="M1")
    assert (m1.network_interface.static_ip_address, m1.network_interface.port) == ("10.0.0.1", 4059)
    assert m1.type.name == "E350" and m1.manufacturer_serial == "S1"
    assert set(m1.task_groups.values_list("name", flat=True)) == {"quarterly", "daily"}
    assert MeterDevice.objects.get(name="M2").network_interface.fqdn == "meter2.example.net"
    assert MeterDevice.objects.get(name="M3").network_interface is None
    assert MeterDevice.objects.filter(organization=organization).count() == 3


def test_bad_lines_are_reported_and_the_good_ones_kept(tmp_path, organization) -> None:
    foreign_group = AmrTaskGroupFactory(organization=OrganizationFactory(), name="theirs")
    path = write(
        tmp_path,
        "name,protocol,host,port,task_groups\n"
        "good-1,mbus,10.0.0.1,502,\n"
        "bad-protocol,smoke-signals,,,\n"
        ",mbus,,,\n"
        "bad-port,mbus,10.0.0.2,99999,\n"
        f"foreign-group,mbus,,,{foreign_group.name}\n"
        "good-2,modbus,,,\n",
    )
    with pytest.raises(CommandError, match="4 line"):
        run(path, str(organization.pk))
    assert set(MeterDevice.objects.values_list("name", flat=True)) == {"good-1", "good-2"}
    # The refused meter's interface (line 5) is not left behind.
    assert NetworkInterface.objects.count() == 1
    assert "good-1" not in err_of(path, organization)


def err_of(path: Path, organization) -> str:
    """Runs the import again and returns what it reported as errors."""
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError):
        call_command(
            "import_meters",
            str(path),
            "--organization",
            organization.name,
            "--no-progress",
            stdout=out,
            stderr=err,
        )
    text = err.getvalue()
    assert "line 3: protocol:" in text and "smoke-signals" in text
    assert "line 4: name:" in text
    assert "line 5: network interface port:" in text
    assert "line 6: task_groups: no object named 'theirs'" in text
    assert "2 already existed" in out.getvalue()
    return text


def test_importing_again_is_harmless(tmp_path, organization) -> None:
    path = write(tmp_path, "name,protocol\nM1,mbus\n")
    run(path, organization.name)
    out, _ = run(path, organization.name)
    assert "0 meter device(s) created, 1 already existed" in out
    assert MeterDevice.objects.count() == 1


def test_a_new_meter_receives_its_staged_readings(tmp_path, organization) -> None:
    readings_ingest(
        organization_id=organization.pk,
        items=[
            {
                "meter_device_name": "late",
                "series_name": "1.8.0",
                "timestamp": "2025-01-01T00:00:00Z",
                "value": "1",
            }
        ],
    )
    assert StagedMeterReading.objects.count() == 1
    run(write(tmp_path, "name,protocol\nlate,mbus\n"), organization.name)
    assert MeterReading.objects.filter(meter_device__name="late").count() == 1
    assert StagedMeterReading.objects.count() == 0


def test_missing_columns_and_unknown_organization_are_refused_whole(tmp_path, organization) -> None:
    with pytest.raises(CommandError, match="missing column.*protocol"):
        run(write(tmp_path, "name\nM1\n"), organization.name)
    with pytest.raises(CommandError, match="no organization named"):
        run(write(tmp_path, "name,protocol\nM1,mbus\n"), "Nobody")
    assert MeterDevice.objects.count() == 0
