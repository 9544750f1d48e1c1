"""python manage.py import_cis FILE.csv: the same sync as the API, fed from a flat extract."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from powerbox.models import Customer, CustomerMeter, CustomerSite
from powerbox.services import customer_response
from tests.meters.factories import MeterDeviceFactory

HEADER = (
    "clientId,firstName,lastName,AcctStatus,externalSiteId,isPrimary,address1,city,state,postalCode,"
    "meterId,meterType,unitOfMeasure,isAMI,rateCode,billingCycleId"
)
ROWS = [
    "123456789,John,Doe,A,5113305555,true,123 Main St.,Detroit,MI,48067,E-1001,Electric,kWh,true,RES1,1",
    "123456789,John,Doe,A,5113305555,true,123 Main St.,Detroit,MI,48067,G-2001,Gas,CCF,false,GAS1,1",
    "123456789,John,Doe,A,5113305556,false,9 Lake Rd.,Ann Arbor,MI,48104,E-1002,Electric,kWh,yes,RES1,2",
    "987654321,Jane,Roe,S,5113309999,1,1 Elm St.,Flint,MI,48502,,,,,,",
    "555000111,Max,Moe,C,,,,,,,,,,,,",
]


@pytest.fixture
def meters(utility):
    for name in ("E-1001", "G-2001", "E-1002"):
        MeterDeviceFactory(organization=utility, name=name)


def write(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "cis.csv"
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def run(path: Path, *args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("import_cis", str(path), *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_import_groups_rows_into_customers_sites_and_meters(tmp_path, utility, meters) -> None:
    out, err = run(write(tmp_path, *ROWS), "--organization", str(utility.pk))
    assert "3 customers read: 3 were created, 0 were updated, 0 failed" in out
    assert "import_cis" in err  # the progress bar
    john = Customer.objects.get(client_id="123456789")
    body = customer_response(john)
    assert [s["externalSiteId"] for s in body["customerSites"]] == ["5113305555", "5113305556"]
    assert [m["meterId"] for m in body["customerSites"][0]["meters"]] == ["E-1001", "G-2001"]
    assert body["customerSites"][0]["meters"][1]["isAMI"] is False
    assert body["customerSites"][1]["meters"][0]["billingCycleId"] == 2
    jane = customer_response(Customer.objects.get(client_id="987654321"))
    assert jane["AcctStatus"] == "S" and jane["customerSites"][0]["meters"] == []
    assert customer_response(Customer.objects.get(client_id="555000111"))["customerSites"] == []


def test_reimport_is_idempotent_and_detaches_what_the_file_drops(tmp_path, utility, meters) -> None:
    path = write(tmp_path, *ROWS)
    run(path, "--organization", str(utility.pk))
    before = customer_response(Customer.objects.get(client_id="123456789"))
    out, _ = run(path, "--organization", str(utility.pk))
    assert "0 were created, 3 were updated" in out and "0 sites and 0 meters detached" in out
    assert customer_response(Customer.objects.get(client_id="123456789")) == before

    out, _ = run(write(tmp_path, ROWS[0], *ROWS[3:]), "--organization", str(utility.pk))
    assert "1 sites and 1 meters detached" in out
    assert CustomerSite.objects.get(external_site_id="5113305556").customer is None
    assert CustomerMeter.objects.get(meter_id="G-2001").site is None
    assert CustomerMeter.objects.count() == 3


def test_organization_column(tmp_path, utility, meters) -> None:
    rows = [f"{utility.pk},{row}" for row in ROWS]
    out, _ = run(write(tmp_path, *rows, header=f"organization,{HEADER}"), "--no-progress")
    assert "3 were created" in out


def test_bad_customers_are_reported_and_the_rest_imported(tmp_path, utility, meters) -> None:
    rows = [
        *ROWS,
        "111,Bad,Meter,A,S-1,true,x,y,z,1,NO-SUCH-METER,Electric,kWh,true,R,1",
        "222,Bad,Type,A,S-2,true,x,y,z,1,E-1002,Water,kWh,true,R,1",
        "333,Bad,Bool,A,S-3,maybe,x,y,z,1,,,,,,",
    ]
    with pytest.raises(CommandError, match="3 problem"):
        run(write(tmp_path, *rows), "--organization", str(utility.pk), "--no-progress")
    assert set(Customer.objects.values_list("client_id", flat=True)) == {
        "123456789",
        "987654321",
        "555000111",
    }


def test_report_names_the_problems(tmp_path, utility, meters) -> None:
    err = StringIO()
    rows = ["111,Bad,Meter,A,S-1,true,x,y,z,1,NO-SUCH-METER,Electric,kWh,true,R,1"]
    with pytest.raises(CommandError):
        call_command(
            "import_cis",
            str(write(tmp_path, *rows)),
            "--organization",
            str(utility.pk),
            "--no-progress",
            stdout=StringIO(),
            stderr=err,
        )
    assert "customer 111" in err.getvalue() and "NO-SUCH-METER" in err.getvalue()


def test_conflicting_rows_for_one_customer_are_refused(tmp_path, utility, meters) -> None:
    rows = [ROWS[0], ROWS[1].replace("John,Doe", "Jon,Doe")]
    with pytest.raises(CommandError):
        run(write(tmp_path, *rows), "--organization", str(utility.pk), "--no-progress")


def test_dry_run_writes_nothing(tmp_path, utility, meters) -> None:
    out, _ = run(write(tmp_path, *ROWS), "--organization", str(utility.pk), "--dry-run", "--no-progress")
    assert "3 would be created" in out
    assert not Customer.objects.exists()


def test_missing_columns_or_organization_fail_loudly(tmp_path, utility) -> None:
    with pytest.raises(CommandError, match="organization"):
        run(write(tmp_path, *ROWS))
    with pytest.raises(CommandError, match="AcctStatus"):
        run(write(tmp_path, "1,a", header="clientId,firstName"), "--organization", str(utility.pk))
    with pytest.raises(CommandError, match="cannot open"):
        run(tmp_path / "missing.csv", "--organization", str(utility.pk))
    with pytest.raises(CommandError, match="uuid"):
        run(write(tmp_path, *ROWS), "--organization", "not-a-uuid")


def test_excel_bom_and_semicolons(tmp_path, utility, meters) -> None:
    path = tmp_path / "cis.csv"
    text = "\n".join([HEADER.replace(",", ";"), ROWS[4].replace(",", ";")]) + "\n"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    out, _ = run(path, "--organization", str(utility.pk), "--delimiter", ";", "--no-progress")
    assert "1 were created" in out
