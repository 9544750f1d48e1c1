"""The readings endpoints: ingestion summary, list, cursor, ratios, CSV, tenant isolation."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from meters.models import MeterReading, MeterSystemEvent, StagedMeterReading
from meters.services.readings import readings_ingest
from tests.meters.factories import MeterDeviceFactory, MeterReadingSeriesFactory
from tests.support.personas import Personas

READINGS = "/api/v1/metering/meter-readings/"
NEW = "/api/v1/metering/new-meter-readings/"
STAGED = "/api/v1/metering/staged-meter-readings/"
EVENTS = "/api/v1/metering/meter-system-events/"


@pytest.fixture
def setup(personas: Personas):
    for org in (personas.org_a, personas.org_b):
        MeterDeviceFactory(
            organization=org, name="M1", has_current_transformer=True, current_transformer_ratio=40
        )
        MeterReadingSeriesFactory(organization=org, name="energy", affected_by_ct_ratio=True)
        MeterReadingSeriesFactory(organization=org, name="voltage", affected_by_vt_ratio=True)
    return personas


def post_json(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def reading(ts, value="1", meter="M1", series="energy"):
    return {"meter_device_name": meter, "series_name": series, "timestamp": ts, "value": value}


def quarter(i: int) -> str:
    return f"2024-01-{1 + i // 96:02d}T{(i % 96) // 4:02d}:{(i % 4) * 15:02d}:00Z"


@pytest.mark.django_db
class TestIngestion:
    @pytest.mark.parametrize("url", [READINGS, NEW, NEW.rstrip("/")])
    def test_post_answers_201_with_a_summary(self, setup, url) -> None:
        body = [
            reading(quarter(0)),
            reading(quarter(0)),
            reading("naive 2024-01-01"),
            reading(quarter(1), meter="X"),
        ]
        response = post_json(setup.client("operator_a"), url, body)
        assert response.status_code == 201, response.content
        assert response.json() == {
            "saved": 1,
            "duplicates": 1,
            "staged": 1,
            "rejected": 1,
            "errors": [{"index": 2, "reason": response.json()["errors"][0]["reason"]}],
        }

    def test_single_object_is_accepted(self, setup) -> None:
        response = post_json(setup.client("operator_a"), NEW, reading(quarter(0)))
        assert response.status_code == 201
        assert response.json()["saved"] == 1

    def test_json_numbers_arrive_as_exact_decimals(self, setup) -> None:
        raw = '[{"meter_device_name": "M1", "series_name": "energy", "timestamp": "2024-01-01T00:00Z", "value": 1.1},'
        raw += '{"meter_device_name": "M1", "series_name": "energy", "timestamp": "2024-01-01T00:15Z", "value": 123456789012345.678901234567890}]'
        response = setup.client("operator_a").post(NEW, raw, content_type="application/json")
        assert response.json()["saved"] == 2
        values = [r.value for r in MeterReading.objects.order_by("timestamp")]
        assert values == [Decimal("1.1"), Decimal("123456789012345.678901234567890")]

    def test_viewer_cannot_post(self, setup) -> None:
        assert post_json(setup.client("viewer_a"), NEW, [reading(quarter(0))]).status_code == 403

    def test_anonymous_is_401(self, setup) -> None:
        assert post_json(setup.anonymous(), NEW, [reading(quarter(0))]).status_code == 401

    def test_more_than_10000_items_is_400(self, setup) -> None:
        response = post_json(setup.client("operator_a"), NEW, [reading(quarter(0))] * 10_001)
        assert response.status_code == 400

    def test_non_list_body_is_400(self, setup) -> None:
        assert post_json(setup.client("operator_a"), NEW, "x").status_code == 400
        assert setup.client("operator_a").post(NEW, "[1,", content_type="application/json").status_code == 400

    def test_jwt_user_writes_only_its_organization(self, setup) -> None:
        body = [{**reading(quarter(0)), "organization": str(setup.org_b.pk)}]
        assert post_json(setup.client("operator_a"), NEW, body).json()["saved"] == 1
        assert MeterReading.objects.get().organization_id == setup.org_a.pk

    def test_staff_names_the_organization(self, setup) -> None:
        staff = setup.client("staff")
        body = [
            {**reading(quarter(0)), "organization": str(setup.org_b.pk)},
            reading(quarter(1)),
            {**reading(quarter(2)), "organization": "not-a-uuid"},
        ]
        summary = post_json(staff, NEW, body).json()
        assert (summary["saved"], summary["rejected"]) == (1, 2)
        assert [e["index"] for e in summary["errors"]] == [1, 2]
        assert MeterReading.objects.get().organization_id == setup.org_b.pk
        summary = post_json(staff, f"{NEW}?organization={setup.org_a.pk}", [reading(quarter(1))]).json()
        assert summary["saved"] == 1


@pytest.fixture
def series_a(setup):
    items = [reading(quarter(i), value=f"{i}.5") for i in range(30)]
    items += [reading(quarter(i), value="230.1", series="voltage") for i in range(5)]
    readings_ingest(organization_id=setup.org_a.pk, items=items)
    readings_ingest(
        organization_id=setup.org_b.pk, items=[reading(quarter(i), value="999") for i in range(30)]
    )
    return setup


@pytest.mark.django_db
class TestList:
    def test_list_one_series_ordered_by_timestamp(self, series_a) -> None:
        body = (
            series_a.client("viewer_a")
            .get(READINGS, {"meter_device": "M1", "series": "energy", "limit": 10})
            .json()
        )
        assert body["count"] == 30
        assert body["results"][0] == {"timestamp": "2024-01-01T00:00:00Z", "value": "0.5"}
        assert [r["value"] for r in body["results"]] == [f"{i}.5" for i in range(10)]
        assert body["next"] and body["previous"] is None

    def test_time_range_filters(self, series_a) -> None:
        params = {"meter_device": "M1", "series": "energy", "start_time": quarter(4), "end_time": quarter(7)}
        body = series_a.client("viewer_a").get(READINGS, params).json()
        assert [r["value"] for r in body["results"]] == ["4.5", "5.5", "6.5", "7.5"]
        assert body["count"] == 4

    def test_filters_accept_uuids(self, series_a) -> None:
        meter = series_a.org_a.meter_devices.get()
        series = series_a.org_a.series.get(name="voltage")
        body = (
            series_a.client("viewer_a")
            .get(READINGS, {"meter_device": str(meter.pk), "series": str(series.pk)})
            .json()
        )
        assert body["count"] == 5

    def test_cursor_walks_the_whole_series(self, series_a) -> None:
        client = series_a.client("viewer_a")
        response = client.get(READINGS, {"meter_device": "M1", "series": "energy", "limit": 7, "cursor": ""})
        seen = []
        while True:
            body = response.json()
            assert body["count"] == 30 and body["previous"] is None
            seen += [r["value"] for r in body["results"]]
            if not body["next"]:
                break
            response = client.get(body["next"])
        assert seen == [f"{i}.5" for i in range(30)]

    def test_cursor_across_series_uses_timestamp_and_id(self, series_a) -> None:
        client = series_a.client("viewer_a")
        response = client.get(READINGS, {"limit": 4, "cursor": ""})
        values = []
        while True:
            body = response.json()
            values += body["results"]
            if not body["next"]:
                break
            response = client.get(body["next"])
        assert len(values) == 35
        assert [v["timestamp"] for v in values] == sorted(v["timestamp"] for v in values)

    def test_invalid_cursor_is_400(self, series_a) -> None:
        assert series_a.client("viewer_a").get(READINGS, {"cursor": "garbage!"}).status_code == 400

    def test_list_shows_only_own_organization(self, series_a) -> None:
        body = series_a.client("viewer_a").get(READINGS, {"limit": 1000}).json()
        assert body["count"] == 35
        assert "999" not in {r["value"] for r in body["results"]}
        body = series_a.client("operator_b").get(READINGS, {"limit": 1000}).json()
        assert {r["value"] for r in body["results"]} == {"999"}

    def test_another_organizations_meter_uuid_filters_to_nothing(self, series_a) -> None:
        meter_b = series_a.org_b.meter_devices.get()
        body = series_a.client("viewer_a").get(READINGS, {"meter_device": str(meter_b.pk)}).json()
        assert body["count"] == 0 and body["results"] == []

    def test_apply_ratios_multiplies_affected_series(self, series_a) -> None:
        meter = series_a.org_a.meter_devices.get()
        meter.has_voltage_transformer, meter.voltage_transformer_ratio = True, 100
        meter.save()
        client = series_a.client("viewer_a")
        energy = client.get(
            READINGS, {"meter_device": "M1", "series": "energy", "apply_ratios": "true"}
        ).json()
        assert energy["results"][1]["value"] == "60.0"  # 1.5 x CT 40
        voltage = client.get(
            READINGS, {"meter_device": "M1", "series": "voltage", "apply_ratios": "true"}
        ).json()
        assert voltage["results"][0]["value"] == "23010.0"  # 230.1 x VT 100 (no CT: series not affected)
        raw = client.get(READINGS, {"meter_device": "M1", "series": "voltage"}).json()
        assert raw["results"][0]["value"] == "230.1"
        mixed = client.get(READINGS, {"apply_ratios": "true", "limit": 1000}).json()
        assert {"60.0", "23010.0"} <= {r["value"] for r in mixed["results"]}

    def test_apply_ratios_keeps_every_digit(self, setup) -> None:
        readings_ingest(
            organization_id=setup.org_a.pk,
            items=[reading(quarter(0), value="12345678901234567890.1234567891")],
        )
        body = setup.client("viewer_a").get(
            READINGS, {"meter_device": "M1", "series": "energy", "apply_ratios": "1"}
        )
        assert body.json()["results"][0]["value"] == "493827156049382715604.9382715640"

    def test_csv_export(self, series_a) -> None:
        client = series_a.client("viewer_a")
        for kwargs in (
            {"data": {"meter_device": "M1", "series": "voltage", "format": "csv"}},
            {"data": {"meter_device": "M1", "series": "voltage"}, "HTTP_ACCEPT": "text/csv"},
        ):
            response = client.get(READINGS, **kwargs)
            assert response.status_code == 200
            assert response["Content-Type"].startswith("text/csv")
            lines = b"".join(response.streaming_content).decode().splitlines()
            assert lines[0] == "timestamp,value"
            assert lines[1] == "2024-01-01T00:00:00Z,230.1"
            assert len(lines) == 6

    def test_csv_needs_meter_and_series(self, series_a) -> None:
        assert series_a.client("viewer_a").get(READINGS, {"format": "csv"}).status_code == 400

    def test_csv_of_another_organizations_meter_is_empty(self, series_a) -> None:
        meter_b = series_a.org_b.meter_devices.get()
        series_b = series_a.org_b.series.get(name="energy")
        response = series_a.client("viewer_a").get(
            READINGS, {"meter_device": str(meter_b.pk), "series": str(series_b.pk), "format": "csv"}
        )
        assert b"".join(response.streaming_content).decode().splitlines() == ["timestamp,value"]

    def test_retrieve_and_delete_are_tenant_scoped(self, series_a) -> None:
        own = MeterReading.objects.filter(organization=series_a.org_a).first()
        foreign = MeterReading.objects.filter(organization=series_a.org_b).first()
        body = series_a.client("viewer_a").get(f"{READINGS}{own.pk}/").json()
        assert body["value"] == format(own.value, "f") and body["meter_device"] == str(own.meter_device_id)
        assert series_a.client("operator_a").get(f"{READINGS}{foreign.pk}/").status_code == 404
        assert series_a.client("operator_a").delete(f"{READINGS}{foreign.pk}/").status_code == 404
        assert series_a.client("viewer_a").delete(f"{READINGS}{own.pk}/").status_code == 403
        assert series_a.client("operator_a").delete(f"{READINGS}{own.pk}/").status_code == 204

    def test_anonymous_list_is_401(self, setup) -> None:
        assert setup.anonymous().get(READINGS).status_code == 401


@pytest.mark.django_db
class TestStagedReadings:
    def test_list_and_filter_own_staged_readings(self, setup) -> None:
        post_json(setup.client("operator_a"), NEW, [reading(quarter(0), meter="future")])
        post_json(setup.client("operator_b"), NEW, [reading(quarter(0), meter="other")])
        body = setup.client("viewer_a").get(STAGED, {"meter_device_name": "future"}).json()
        assert body["count"] == 1
        assert body["results"][0]["meter_device_name"] == "future"
        assert body["results"][0]["value"] == "1"
        assert setup.client("viewer_a").get(STAGED).json()["count"] == 1
        foreign = StagedMeterReading.objects.get(organization=setup.org_b)
        assert setup.client("operator_a").get(f"{STAGED}{foreign.pk}/").status_code == 404
        assert setup.client("operator_a").delete(f"{STAGED}{foreign.pk}/").status_code == 404

    def test_create_refuses_naive_timestamps(self, setup) -> None:
        client = setup.client("operator_a")
        body = {"meter_device_name": "x", "series_name": "s", "timestamp": "2024-01-01T00:00", "value": "1"}
        assert post_json(client, STAGED, body).status_code == 400
        body["timestamp"] = "2024-01-01T00:00Z"
        response = post_json(client, STAGED, {**body, "organization": str(setup.org_b.pk)})
        assert response.status_code == 201, response.content
        assert StagedMeterReading.objects.get().organization == setup.org_a


@pytest.mark.django_db
class TestSystemEvents:
    def event(self, ts="2024-01-01T00:00:00Z", title="power down", meter="M1"):
        return {"meter_device_name": meter, "timestamp": ts, "title": title, "content": "phase L1 lost"}

    def test_events_ingest_by_name_and_ignore_duplicates(self, setup) -> None:
        client = setup.client("operator_a")
        body = [
            self.event(),
            self.event(),
            self.event(title="cover opened"),
            self.event(meter="nope"),
            {"x": 1},
        ]
        summary = post_json(client, EVENTS, body).json()
        assert (summary["saved"], summary["duplicates"], summary["rejected"]) == (2, 1, 2)
        assert post_json(client, EVENTS, self.event()).json()["duplicates"] == 1
        assert MeterSystemEvent.objects.filter(organization=setup.org_a).count() == 2

    def test_events_list_is_tenant_scoped_and_filtered(self, setup) -> None:
        post_json(setup.client("operator_a"), EVENTS, [self.event(), self.event(ts=quarter(5))])
        post_json(setup.client("operator_b"), EVENTS, [self.event()])
        body = setup.client("viewer_a").get(EVENTS, {"meter_device": "M1", "start_time": quarter(1)}).json()
        assert body["count"] == 1 and body["results"][0]["title"] == "power down"
        assert setup.client("viewer_a").get(EVENTS).json()["count"] == 2
        foreign = MeterSystemEvent.objects.get(organization=setup.org_b)
        assert setup.client("operator_a").get(f"{EVENTS}{foreign.pk}/").status_code == 404
        assert post_json(setup.client("viewer_a"), EVENTS, [self.event()]).status_code == 403
