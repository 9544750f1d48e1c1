"""POST /v1/powerbox/bind: validation, ownership and the per-meter bind state machine, followed
through real AMR jobs (``amr.services.job_invoke`` and ``job_run``) to an acknowledging meter."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from amr.models import AmrJob, JobState
from powerbox import services
from powerbox.models import BindRequest, BindState, CustomerMeter

from .conftest import INSTALL_CODE, MAC, MAC_NORMALIZED, OTHER_MAC, meter, site, sync

URL = "/v1/powerbox/bind"


def payload(**overrides) -> dict:
    body = {
        "hemProfileId": "0f8fad5b-d9cb-469f-a165-70867728950e",
        "macAddress": MAC,
        "installCode": INSTALL_CODE,
        "meterId": "E-1001",
        "actionCode": 1,
    }
    body.update(overrides)
    return {k: v for k, v in body.items() if v is not ...}


@pytest.fixture
def bind(bearer, django_capture_on_commit_callbacks):
    """``bind(**payload overrides)`` → the response; after-commit work (the dispatch) runs."""

    def call(client_id: str = "123456789", **overrides):
        with django_capture_on_commit_callbacks(execute=True):
            return bearer(client_id).post(URL, payload(**overrides), format="json")

    return call


def meter_state(meter_id: str = "E-1001") -> tuple[str, str]:
    row = CustomerMeter.objects.get(meter_id=meter_id)
    return row.bind_state, row.bound_mac_address


def assert_bare(response, code: int) -> None:
    assert response.status_code == code, response.content
    assert response.content == b""


# --- the whole way to bound ----------------------------------------------------------------------


def test_bind_runs_an_amr_pairing_job_to_bound(bind, john, pairing) -> None:
    assert_bare(bind(), 200)
    request = BindRequest.objects.get()
    assert request.state == BindState.REQUESTED
    assert request.mac_address == MAC_NORMALIZED
    assert meter_state() == (BindState.REQUESTED, MAC_NORMALIZED)

    job = AmrJob.objects.get(pk=request.amr_job_id)
    assert (job.task_call, job.task_kwargs) == (
        "han_bind",
        {"mac_address": MAC_NORMALIZED, "install_code": INSTALL_CODE},
    )
    assert job.meter_device.name == "E-1001"
    assert pairing.sent == [str(job.pk)]

    assert pairing.run() == [JobState.SUCCEEDED]
    request.refresh_from_db()
    assert request.state == BindState.BOUND
    assert request.started_at is not None and request.finished_at is not None
    assert request.install_code == ""  # the join secret is dropped once decided
    assert meter_state() == (BindState.BOUND, MAC_NORMALIZED)
    assert pairing.environment.joined == {"E-1001": {MAC_NORMALIZED}}


def test_pending_while_the_job_runs(bind, john, pairing) -> None:
    bind()
    request = BindRequest.objects.get()
    AmrJob.objects.filter(pk=request.amr_job_id).update(state=JobState.RUNNING)
    assert services.bind_requests_reconcile() == 1
    request.refresh_from_db()
    assert request.state == BindState.PENDING
    assert meter_state()[0] == BindState.PENDING


def test_bind_then_unbind_then_rebind(bind, john, pairing) -> None:
    bind()
    pairing.run()
    assert_bare(bind(actionCode=0, installCode=INSTALL_CODE), 200)
    unbind = BindRequest.objects.order_by("-created_at").first()
    assert unbind.state == BindState.UNBIND_REQUESTED and unbind.install_code == ""
    assert meter_state()[0] == BindState.UNBIND_REQUESTED
    assert AmrJob.objects.get(pk=unbind.amr_job_id).task_call == "han_unbind"
    pairing.run()
    assert meter_state() == (BindState.UNBOUND, "")
    assert pairing.environment.joined["E-1001"] == set()

    assert_bare(bind(macAddress=OTHER_MAC), 200)
    pairing.run()
    assert meter_state() == (BindState.BOUND, OTHER_MAC)
    assert [call for call, _, _ in pairing.environment.log] == ["han_bind", "han_unbind", "han_bind"]
    assert list(BindRequest.objects.order_by("created_at").values_list("state", flat=True)) == [
        BindState.BOUND,
        BindState.UNBOUND,
        BindState.BOUND,
    ]


def test_binding_again_to_the_same_device_is_200_without_a_new_job(bind, john, pairing) -> None:
    bind()
    pairing.run()
    assert_bare(bind(macAddress=MAC_NORMALIZED.lower()), 200)
    assert pairing.sent == []
    assert BindRequest.objects.count() == 1
    assert meter_state() == (BindState.BOUND, MAC_NORMALIZED)


def test_repeated_bind_while_the_first_is_under_way_starts_no_second_job(bind, john, pairing) -> None:
    bind()
    assert_bare(bind(), 200)
    assert len(pairing.sent) == 1 and BindRequest.objects.count() == 1


def test_binding_a_meter_bound_to_another_device_is_400(bind, john, pairing) -> None:
    bind()
    pairing.run()
    assert_bare(bind(macAddress=OTHER_MAC), 400)
    assert meter_state() == (BindState.BOUND, MAC_NORMALIZED)
    assert pairing.sent == []


def test_binding_another_device_while_a_bind_is_under_way_is_400(bind, john, pairing) -> None:
    bind()
    assert_bare(bind(macAddress=OTHER_MAC), 400)
    assert BindRequest.objects.count() == 1


def test_unbinding_a_device_that_is_not_the_bound_one_is_400(bind, john, pairing) -> None:
    bind()
    pairing.run()
    assert_bare(bind(actionCode=0, macAddress=OTHER_MAC), 400)
    assert meter_state()[0] == BindState.BOUND


def test_unbinding_during_a_bind_is_400(bind, john, pairing) -> None:
    bind()
    assert_bare(bind(actionCode=0), 400)


def test_unbinding_a_meter_with_nothing_bound_is_200_without_a_job(bind, john, pairing) -> None:
    assert_bare(bind(actionCode=0), 200)
    assert pairing.sent == [] and not BindRequest.objects.exists()
    assert meter_state()[0] == BindState.UNBOUND


def test_failed_pairing_fails_the_request_and_allows_a_new_bind(bind, john, pairing) -> None:
    pairing.environment.refuse = True
    bind()
    assert pairing.run() == [JobState.FAILED]
    request = BindRequest.objects.get()
    assert request.state == BindState.FAILED
    assert "refused" in request.detail
    assert meter_state()[0] == BindState.FAILED

    pairing.environment.refuse = False
    assert_bare(bind(macAddress=OTHER_MAC), 200)
    pairing.run()
    assert meter_state() == (BindState.BOUND, OTHER_MAC)


def test_failed_unbind_leaves_the_meter_bound(bind, john, pairing) -> None:
    bind()
    pairing.run()
    pairing.environment.refuse = True
    bind(actionCode=0)
    pairing.run()
    assert BindRequest.objects.order_by("-created_at").first().state == BindState.FAILED
    assert meter_state() == (BindState.BOUND, MAC_NORMALIZED)


def test_pairing_refused_by_amr_fails_at_once(bind, john, pairing, settings) -> None:
    settings.POWERBOX_EXECUTION_TYPE = "generic_iec6205621"  # has no han_bind
    assert_bare(bind(), 200)  # accepted: the outcome is the request's state
    request = BindRequest.objects.get()
    assert request.state == BindState.FAILED
    assert "han_bind" in request.detail
    assert meter_state()[0] == BindState.FAILED


def test_lost_hook_is_caught_up_by_the_periodic_task(bind, john, pairing) -> None:
    from amr.services import job_run
    from powerbox.tasks import expire_bind_requests

    bind()
    job_id = pairing.sent.pop()
    job_run(job_id=job_id, worker="test")  # no hook call
    assert meter_state()[0] == BindState.REQUESTED
    assert expire_bind_requests() == {"reconciled": 1, "expired": 0}
    assert meter_state()[0] == BindState.BOUND


def test_undispatched_request_is_dispatched_by_the_periodic_task(
    bearer, john, pairing, django_capture_on_commit_callbacks
) -> None:
    # the after-commit dispatch never ran (e.g. the process died right after the commit)
    assert_bare(bearer().post(URL, payload(), format="json"), 200)
    request = BindRequest.objects.get()
    assert request.amr_job_id is None
    services.bind_requests_reconcile(now=timezone.now() + timedelta(seconds=30))
    request.refresh_from_db()
    assert request.amr_job_id is None  # within the grace period the dispatch may still come
    with django_capture_on_commit_callbacks(execute=True):
        services.bind_requests_reconcile(now=timezone.now() + timedelta(minutes=5))
    request.refresh_from_db()
    assert request.amr_job_id is not None and len(pairing.sent) == 1
    pairing.run()
    assert meter_state()[0] == BindState.BOUND


# --- the 48 hour timeout -------------------------------------------------------------------------


def test_bind_without_an_outcome_times_out_after_48_hours(bind, john, pairing) -> None:
    bind()
    request = BindRequest.objects.get()
    assert request.expires_at - request.created_at == timedelta(hours=48)
    assert services.bind_requests_expire(now=request.created_at + timedelta(hours=47, minutes=59)) == 0
    assert services.bind_requests_expire(now=request.created_at + timedelta(hours=48)) == 1
    request.refresh_from_db()
    assert request.state == BindState.TIMED_OUT and request.install_code == ""
    assert meter_state()[0] == BindState.TIMED_OUT

    # the job finishing late does not resurrect it
    pairing.run()
    request.refresh_from_db()
    assert request.state == BindState.TIMED_OUT
    assert "late pairing outcome" in request.detail


def test_timeout_through_the_periodic_task_with_time_travel(bind, john, pairing, monkeypatch) -> None:
    from powerbox.tasks import expire_bind_requests

    bind()
    later = timezone.now() + timedelta(hours=49)
    monkeypatch.setattr(timezone, "now", lambda: later)
    assert expire_bind_requests()["expired"] == 1
    assert meter_state()[0] == BindState.TIMED_OUT
    # after a timeout the customer may try again, and the same device may be bound
    monkeypatch.undo()


def test_rebind_after_a_timeout(bind, john, pairing) -> None:
    bind()
    pairing.sent.clear()
    services.bind_requests_expire(now=timezone.now() + timedelta(hours=48, seconds=1))
    assert_bare(bind(), 200)
    pairing.run()
    assert meter_state() == (BindState.BOUND, MAC_NORMALIZED)


def test_unbind_after_a_timed_out_bind_cleans_the_device_up(bind, john, pairing) -> None:
    bind()
    pairing.sent.clear()
    services.bind_requests_expire(now=timezone.now() + timedelta(hours=49))
    assert_bare(bind(actionCode=0), 200)
    assert pairing.run() == [JobState.SUCCEEDED]
    assert meter_state() == (BindState.UNBOUND, "")


def test_timeout_hours_are_configurable(bind, john, pairing, settings) -> None:
    settings.POWERBOX_BIND_TIMEOUT_HOURS = 1
    bind()
    assert services.bind_requests_expire(now=timezone.now() + timedelta(minutes=61)) == 1


# --- who may bind what --------------------------------------------------------------------------


def test_another_customers_meter_is_404(bind, john, jane, pairing) -> None:
    assert_bare(bind(client_id="987654321", meterId="E-1001"), 404)
    assert_bare(bind(client_id="123456789", meterId="E-9001"), 404)
    assert not BindRequest.objects.exists() and pairing.sent == []


def test_unknown_meter_is_404(bind, john, pairing) -> None:
    assert_bare(bind(meterId="E-0000"), 404)


def test_meter_detached_by_the_cis_is_404(bind, john, utility, pairing) -> None:
    sync(utility, "123456789", [site("5113305556", [meter("E-1002")], primary=True)])
    assert_bare(bind(meterId="E-1001"), 404)


def test_meter_of_another_organization_with_the_same_id_is_404(bind, john, pairing) -> None:
    from tests.support.factories import OrganizationFactory

    other = OrganizationFactory()
    sync(other, "999", [site("X-1", [meter("E-5555")])])
    assert_bare(bind(meterId="E-5555"), 404)


def test_non_ami_meter_cannot_be_bound(bind, john, pairing) -> None:
    assert_bare(bind(meterId="G-2001"), 400)


def test_unknown_customer_is_404(bind, john, pairing) -> None:
    assert_bare(bind(client_id="000"), 404)


@pytest.mark.parametrize("status", ["C", "S"])
def test_closed_or_suspended_account_cannot_bind(bind, utility, pairing, status) -> None:
    sync(utility, "777", [site("777-1", [meter("E-7771")])], status=status)
    assert_bare(bind(client_id="777", meterId="E-7771"), 403)
    # checked before the payload: a locked account learns nothing about its payload
    assert_bare(bind(client_id="777", meterId="E-7771", macAddress="nonsense"), 403)
    assert not BindRequest.objects.exists()


def test_account_suspended_after_binding_cannot_unbind(bind, john, utility, pairing) -> None:
    bind()
    pairing.run()
    john.acct_status = "S"
    john.save()
    assert_bare(bind(actionCode=0), 403)


# --- payload validation -------------------------------------------------------------------------

INVALID = {
    "missing hemProfileId": {"hemProfileId": ...},
    "missing macAddress": {"macAddress": ...},
    "missing installCode": {"installCode": ...},
    "missing meterId": {"meterId": ...},
    "missing actionCode": {"actionCode": ...},
    "blank hemProfileId": {"hemProfileId": ""},
    "blank meterId": {"meterId": ""},
    "null meterId": {"meterId": None},
    "numeric meterId": {"meterId": 1001},
    "numeric hemProfileId": {"hemProfileId": 5},
    "actionCode 2": {"actionCode": 2},
    "actionCode -1": {"actionCode": -1},
    "actionCode as string": {"actionCode": "1"},
    "actionCode as bool": {"actionCode": True},
    "actionCode as float": {"actionCode": 1.0},
    "actionCode null": {"actionCode": None},
    "sample MAC placeholder": {"macAddress": "EB_MAC_Address"},
    "EUI-48 MAC": {"macAddress": "00:0D:6F:00:0A:90"},
    "MAC as number": {"macAddress": 1234},
    "sample install code placeholder": {"installCode": "EB_Install_Code"},
    "install code with a wrong CRC": {"installCode": INSTALL_CODE[:-1] + "6"},
    "install code as list": {"installCode": [INSTALL_CODE]},
    "overlong hemProfileId": {"hemProfileId": "x" * 129},
}


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_payload_is_400_with_an_empty_body(bind, john, pairing, case) -> None:
    assert_bare(bind(**INVALID[case]), 400)
    assert not BindRequest.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("[1, 2]", "application/json"),
        ('"a string"', "application/json"),
        ("null", "application/json"),
        ("", "application/json"),
        ("hemProfileId=x&actionCode=1", "application/x-www-form-urlencoded"),
        ("<bind/>", "application/xml"),
    ],
)
def test_body_that_is_not_a_json_object_is_400(bearer, john, pairing, body, content_type) -> None:
    response = bearer().generic("POST", URL, body, content_type=content_type)
    assert_bare(response, 400)


def test_unknown_extra_fields_are_ignored(bind, john, pairing) -> None:
    assert_bare(bind(deviceType="DataBridge"), 200)


def test_unbind_needs_the_install_code_field_too(bind, john, pairing) -> None:
    # all five fields are required whatever the action (the contract's BindRequest)
    bind()
    pairing.run()
    assert_bare(bind(actionCode=0, installCode=...), 400)


def test_meter_no_longer_ami_can_still_be_unbound(bind, john, pairing) -> None:
    bind()
    pairing.run()
    CustomerMeter.objects.filter(meter_id="E-1001").update(is_ami=False)
    assert_bare(bind(actionCode=0), 200)
    assert pairing.run() == [JobState.SUCCEEDED]
    assert meter_state() == (BindState.UNBOUND, "")


def test_staff_sees_the_history_but_never_the_install_code(bind, john, pairing, personas) -> None:
    bind()
    pairing.run()
    body = personas.client("staff").get("/api/v1/powerbox/bind-requests/", {"meterId": "E-1001"}).json()
    assert body["count"] == 1
    item = body["results"][0]
    assert item["state"] == "bound" and item["mac_address"] == MAC_NORMALIZED
    assert "install_code" not in item and INSTALL_CODE not in str(body)
    meters = personas.client("staff").get("/api/v1/powerbox/meters/", {"bind_state": "bound"}).json()
    assert [m["meterId"] for m in meters["results"]] == ["E-1001"]


@pytest.mark.parametrize("field", ["meterId", "hemProfileId", "macAddress", "installCode"])
def test_nul_characters_are_400_not_a_database_error(bind, john, pairing, field) -> None:
    assert_bare(bind(**{field: "E-10\x0001"}), 400)
