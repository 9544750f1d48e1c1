"""Readings at scale: ingestion throughput against the physical ceiling, and list latency.

``DATABASE_URL=postgres://... python -m benchmarks.readings --rows 200000 [--json] [--list-rows N]``

Runs against the PostgreSQL of ``DATABASE_URL`` (use a database of your own: it migrates it and
leaves benchmark organizations and rows behind for the next run). One run, the same N generated
readings (``--meters`` meters x ``--series`` series x 15-minute timestamps):

1. ``copy``: binary COPY of the rows (organization, meter id, series id, timestamp, value,
   created_at) into a scratch table with the readings table's columns and its unique index, no
   foreign keys: the physical ceiling.
2. ``service``: ``meters.services.readings.readings_ingest`` (what the endpoints call) on the same
   readings as items by name with ISO timestamps and decimal strings, in batches of 10,000.
3. ``http``: ``POST /api/v1/metering/new-meter-readings/`` in batches of 1,000 through gunicorn
   (started here, ``--workers`` processes, as many client threads) on loopback, with a staff token.
4. list latency, p50 and p95 of 50 requests through the same gunicorn for one meter and series on
   a table of at least ``--list-rows`` readings (default 10,000,000: building it takes minutes the
   first time, then it is reused): offset 0, offset 100,000 and the keyset cursor at that depth.

The ingestion phases delete the ingestion organization's rows first, so each starts from the same
state; the list table lives in another organization of the same readings table (a realistic index
size for the inserts once it exists). Never run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = datetime(2020, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
SERIES = ("energy-import", "energy-export", "power", "voltage", "current")
LIST_METERS = 25
LIST_SERIES = 2


def setup_django() -> None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database of your own (e.g. .../bench_readings)")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "utilitarian.settings")
    os.environ.setdefault("SECRET_KEY", "benchmark-" + secrets.token_hex(16))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def ensure_org(name: str, meters: int, series: int):
    from meters.models import MeterDevice, MeterReadingSeries, Protocol
    from utilitarian.models import Organization

    org, _ = Organization.objects.get_or_create(name=name)
    have = set(MeterDevice.objects.filter(organization=org).values_list("name", flat=True))
    MeterDevice.objects.bulk_create(
        [
            MeterDevice(organization=org, name=f"M{i:05d}", protocol=Protocol.DLMS)
            for i in range(meters)
            if f"M{i:05d}" not in have
        ]
    )
    for name in SERIES[:series]:
        MeterReadingSeries.objects.get_or_create(organization=org, name=name, defaults={"unit": "kWh"})
    meter_ids = dict(MeterDevice.objects.filter(organization=org).values_list("name", "pk"))
    series_ids = dict(MeterReadingSeries.objects.filter(organization=org).values_list("name", "pk"))
    return org, meter_ids, series_ids


def generate(n: int, meters: int, series: int) -> list[tuple[str, str, datetime, str]]:
    per_step = meters * series
    rows = []
    for i in range(n):
        step, rest = divmod(i, per_step)
        m, s = divmod(rest, series)
        rows.append((f"M{m:05d}", SERIES[s], BASE + step * STEP, f"{(i * 7919) % 100000}.{i % 1000:03d}"))
    return rows


def delete_org_readings(org_id) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM meters_meterreading WHERE organization_id = %s", [org_id])
        cursor.execute("VACUUM ANALYZE meters_meterreading")


def bench_copy(rows, org, meter_ids, series_ids) -> float:
    import psycopg
    from django.db import connection

    connection.ensure_connection()
    conn: psycopg.Connection = connection.connection
    typed = [
        (org.pk, meter_ids[m], series_ids[s], ts, Decimal(v), ts) for m, s, ts, v in rows
    ]  # built before timing: the ceiling measures the database, not our parsing
    with conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS bench_copy_scratch")
        cur.execute(
            "CREATE TABLE bench_copy_scratch (LIKE meters_meterreading INCLUDING DEFAULTS INCLUDING IDENTITY)"
        )
        cur.execute(
            "CREATE UNIQUE INDEX bench_copy_scratch_uniq ON bench_copy_scratch (meter_device_id, series_id, timestamp)"
        )
    conn.commit()
    start = time.perf_counter()
    with conn.cursor() as cur:
        with cur.copy(
            "COPY bench_copy_scratch (organization_id, meter_device_id, series_id, timestamp, value, created_at) "
            "FROM STDIN (FORMAT BINARY)"
        ) as copy:
            copy.set_types(["uuid", "uuid", "uuid", "timestamptz", "numeric", "timestamptz"])
            for row in typed:
                copy.write_row(row)
    conn.commit()
    elapsed = time.perf_counter() - start
    with conn.cursor() as cur:
        cur.execute("DROP TABLE bench_copy_scratch")
    conn.commit()
    return len(rows) / elapsed


def items_of(rows) -> list[dict]:
    return [
        {"meter_device_name": m, "series_name": s, "timestamp": ts.isoformat(), "value": v}
        for m, s, ts, v in rows
    ]


def bench_service(items, org) -> float:
    from meters.models import MeterReading
    from meters.services.readings import MAX_BATCH, readings_ingest

    saved = 0
    start = time.perf_counter()
    for i in range(0, len(items), MAX_BATCH):
        saved += readings_ingest(organization_id=org.pk, items=items[i : i + MAX_BATCH]).saved
    elapsed = time.perf_counter() - start
    assert saved == len(items) == MeterReading.objects.filter(organization=org).count(), saved
    return len(items) / elapsed


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_gunicorn(workers: int) -> tuple[subprocess.Popen, str]:
    import requests

    port = free_port()
    env = {**os.environ, "ALLOWED_HOSTS": "127.0.0.1", "DEBUG": "0", "LOG_LEVEL": "WARNING"}
    proc = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "gunicorn"),
            "utilitarian.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--timeout",
            "300",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    base = f"http://127.0.0.1:{port}"
    for _ in range(60):
        try:
            # Any answer will do (the health view also probes the broker, which may be slow).
            requests.get(f"{base}/api/v1/metering/meter-readings/", timeout=10)
            return proc, base
        except requests.RequestException:
            time.sleep(0.5)
    proc.terminate()
    proc.wait(30)
    sys.exit("gunicorn did not start")


def staff_token() -> str:
    from rest_framework.authtoken.models import Token

    from utilitarian.models import User

    user, _ = User.objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
    token, _ = Token.objects.get_or_create(user=user)
    return token.key


def bench_http(items, org, base: str, token: str, workers: int) -> float:
    import requests

    from meters.models import MeterReading

    url = f"{base}/api/v1/metering/new-meter-readings/?organization={org.pk}"
    bodies = [json.dumps(items[i : i + 1000]).encode() for i in range(0, len(items), 1000)]
    headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
    sessions = [requests.Session() for _ in range(workers)]

    def post(k: int) -> int:
        response = sessions[k % workers].post(url, data=bodies[k], headers=headers, timeout=300)
        assert response.status_code == 201, response.text[:300]
        return response.json()["saved"]

    start = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        saved = sum(pool.map(post, range(len(bodies))))
    elapsed = time.perf_counter() - start
    assert saved == len(items) == MeterReading.objects.filter(organization=org).count(), saved
    return len(items) / elapsed


def ensure_list_table(list_rows: int) -> tuple:
    """An organization with LIST_METERS x LIST_SERIES series of list_rows / 50 readings each."""
    from django.db import connection

    from meters.models import MeterReading

    org, meter_ids, series_ids = ensure_org("bench-list", LIST_METERS, LIST_SERIES)
    per_series = -(-list_rows // (LIST_METERS * LIST_SERIES))
    meter, series = meter_ids["M00000"], series_ids[SERIES[0]]
    have = MeterReading.objects.filter(meter_device_id=meter, series_id=series).count()
    if have < per_series:
        print(
            f"building the list table: {per_series * LIST_METERS * LIST_SERIES:,} rows (minutes)...",
            file=sys.stderr,
        )
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM meters_meterreading WHERE organization_id = %s", [org.pk])
            for m in meter_ids.values():
                for s in series_ids.values():
                    cursor.execute(
                        "INSERT INTO meters_meterreading (organization_id, meter_device_id, series_id, timestamp, "
                        "value, created_at) SELECT %s, %s, %s, %s + g * interval '15 minutes', "
                        "(g %% 100000)::numeric / 1000, now() FROM generate_series(0, %s - 1) AS g",
                        [org.pk, m, s, BASE, per_series],
                    )
            cursor.execute("VACUUM ANALYZE meters_meterreading")
    return org, "M00000", SERIES[0], per_series


def bench_list(base: str, token: str, meter: str, series: str, depth: int, count: int) -> dict:
    import requests

    from meters.models import MeterReading
    from meters.pagination import encode_cursor

    url = f"{base}/api/v1/metering/meter-readings/"
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    from meters.models import MeterDevice, MeterReadingSeries

    # UUIDs: a staff token sees every organization, where a name may be ambiguous.
    meter_id = MeterDevice.objects.get(name=meter, organization__name="bench-list").pk
    series_id = MeterReadingSeries.objects.get(name=series, organization__name="bench-list").pk
    filters = {"meter_device": str(meter_id), "series": str(series_id), "limit": 100}
    last = (
        MeterReading.objects.filter(meter_device_id=meter_id, series_id=series_id)
        .order_by("timestamp")
        .values_list("timestamp", "id")[depth - 1]
    )
    cases = {
        "offset_0": {**filters, "offset": 0},
        f"offset_{depth}": {**filters, "offset": depth},
        f"cursor_{depth}": {**filters, "cursor": encode_cursor(last[0], last[1], count)},
    }
    p50, p95 = {}, {}
    for name, params in cases.items():
        session.get(url, params=params, timeout=60).raise_for_status()  # warm up
        times = []
        for _ in range(50):
            start = time.perf_counter()
            response = session.get(url, params=params, timeout=60)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and len(response.json()["results"]) == 100, response.text[:200]
        times.sort()
        p50[name] = round(statistics.median(times), 2)
        p95[name] = round(times[int(len(times) * 0.95) - 1], 2)
    return {"p50": p50, "p95": p95}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--meters", type=int, default=300)
    parser.add_argument("--series", type=int, default=3, choices=range(1, len(SERIES) + 1))
    parser.add_argument("--list-rows", type=int, default=10_000_000, help="size of the list table (minutes)")
    parser.add_argument("--list-depth", type=int, default=100_000)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers = client threads")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    setup_django()

    org, meter_ids, series_ids = ensure_org(f"bench-ingest-{uuid.uuid4().hex[:6]}", args.meters, args.series)
    rows = generate(args.rows, args.meters, args.series)
    items = items_of(rows)
    results: dict = {"rows": args.rows, "meters": args.meters, "series": args.series}

    results["copy_rows_per_s"] = round(bench_copy(rows, org, meter_ids, series_ids))
    results["service_rows_per_s"] = round(bench_service(items, org))
    delete_org_readings(org.pk)
    token = staff_token()
    proc, base = start_gunicorn(args.workers)
    try:
        results["http_rows_per_s"] = round(bench_http(items, org, base, token, args.workers))
        delete_org_readings(org.pk)
        list_org, meter, series, per_series = ensure_list_table(args.list_rows)
        depth = min(args.list_depth, per_series - 100)
        latency = bench_list(base, token, meter, series, depth, per_series)
    finally:
        proc.terminate()
        proc.wait(30)
    org.delete()
    results["service_ratio"] = round(results["service_rows_per_s"] / results["copy_rows_per_s"], 3)
    results["http_ratio"] = round(results["http_rows_per_s"] / results["copy_rows_per_s"], 3)
    results["list_rows"] = per_series * LIST_METERS * LIST_SERIES
    results["list_p50_ms"] = latency["p50"]
    results["list_p95_ms"] = latency["p95"]

    if args.json:
        print(json.dumps(results))
        return
    print(f"{'measure':<28}{'value':>14}{'ratio to copy':>16}")
    print(f"{'copy rows/s':<28}{results['copy_rows_per_s']:>14,}{1:>16.3f}")
    print(f"{'service rows/s':<28}{results['service_rows_per_s']:>14,}{results['service_ratio']:>16.3f}")
    print(f"{'http rows/s':<28}{results['http_rows_per_s']:>14,}{results['http_ratio']:>16.3f}")
    for name in latency["p50"]:
        print(f"{'list ' + name + ' p50/p95 ms':<28}{latency['p50'][name]:>14}{latency['p95'][name]:>16}")
    print(f"(N={args.rows:,}, list table {results['list_rows']:,} rows)")


if __name__ == "__main__":
    main()
