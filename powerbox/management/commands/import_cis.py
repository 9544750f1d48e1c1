"""``python manage.py import_cis FILE.csv``: load a CIS extract of customers, sites and meters.

The file is flat, one row per meter (or per site without meters, or per customer without sites),
with a header naming the contract's fields::

    organization,clientId,firstName,lastName,AcctStatus,externalSiteId,isPrimary,address1,city,
    state,postalCode,meterId,meterType,unitOfMeasure,isAMI,rateCode,billingCycleId

``organization`` (a uuid) may be left out when ``--organization`` gives it for every row. Rows
are grouped by (organization, clientId), and each customer is then synced exactly like a POST to
``/api/v1/powerbox/customers/``: what the file lists for a customer is its complete state, so its
sites and meters that the file leaves out are detached. Each customer is validated and written
on its own (in its own transaction): a customer with a bad row is reported and skipped as a whole
(part of a customer is not its state), the rest are imported, and the command exits non-zero
when anything failed. ``--dry-run`` validates only.
"""

from __future__ import annotations

import csv
import uuid
from collections import OrderedDict
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError
from rest_framework.exceptions import ValidationError
from tqdm import tqdm

from powerbox import services
from powerbox.api.serializers import CustomerSyncSerializer
from powerbox.models import Customer

CUSTOMER_COLUMNS = ("firstName", "lastName", "AcctStatus")
SITE_COLUMNS = ("isPrimary", "address1", "city", "state", "postalCode")
METER_COLUMNS = ("meterType", "unitOfMeasure", "isAMI", "rateCode", "billingCycleId")
REQUIRED_COLUMNS = ("clientId", "AcctStatus")
TRUE = {"1", "true", "t", "yes", "y"}
FALSE = {"0", "false", "f", "no", "n"}


class RowError(ValueError):
    pass


def _bool(value: str, column: str, line: int) -> bool | None:
    text = value.strip().lower()
    if not text:
        return None
    if text in TRUE:
        return True
    if text in FALSE:
        return False
    raise RowError(f"line {line}: {column} must be true or false, not {value!r}")


def _int(value: str, column: str, line: int) -> int | None:
    text = value.strip()
    if not text:
        return None
    try:
        return int(text)
    except ValueError as exc:
        raise RowError(f"line {line}: {column} must be an integer, not {value!r}") from exc


def _flatten_errors(detail: Any, prefix: str = "") -> list[str]:
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _flatten_errors(value, f"{prefix}{key}.")]
    if isinstance(detail, list):
        out: list[str] = []
        for index, value in enumerate(detail):
            nested = isinstance(value, dict | list)
            out.extend(_flatten_errors(value, f"{prefix}{index}." if nested else prefix))
        return out
    return [f"{prefix.rstrip('.')}: {detail}" if prefix else str(detail)]


class Command(BaseCommand):
    help = "Import customers, sites and meters from a CIS CSV extract (one row per meter)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="CSV file with a header row")
        parser.add_argument(
            "--organization", help="organization uuid for rows without an organization column"
        )
        parser.add_argument("--delimiter", default=",", help="field delimiter (default ,)")
        parser.add_argument("--dry-run", action="store_true", help="validate only, write nothing")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        default_org = options["organization"]
        if default_org:
            try:
                default_org = str(uuid.UUID(default_org))
            except ValueError as exc:
                raise CommandError(f"--organization must be a uuid, not {default_org!r}") from exc
        customers, errors = self.read(options["file"], options["delimiter"], default_org)

        counts = {"created": 0, "updated": 0, "failed": 0, "sites_detached": 0, "meters_detached": 0}
        progress = tqdm(
            total=len(customers),
            unit="customer",
            desc="import_cis",
            disable=options["no_progress"],
            file=self.stderr._out,
        )
        with progress:
            for (org, client_id), payload in customers.items():
                if payload.get("_broken"):
                    counts["failed"] += 1
                    progress.update(1)
                    continue
                problem = self.import_one(payload, dry_run=options["dry_run"], counts=counts)
                if problem:
                    counts["failed"] += 1
                    errors.append(f"customer {client_id} ({org}): {problem}")
                progress.update(1)

        for message in errors:
            self.stderr.write(message)
        verb = "would be" if options["dry_run"] else "were"
        self.stdout.write(
            f"{len(customers)} customers read: {counts['created']} {verb} created, {counts['updated']} "
            f"{verb} updated, {counts['failed']} failed; {counts['sites_detached']} sites and "
            f"{counts['meters_detached']} meters detached."
        )
        if errors:
            raise CommandError(f"{len(errors)} problem(s); see above")

    # --- reading ---------------------------------------------------------------------------

    def read(self, path: Path, delimiter: str, default_org: str | None):
        try:
            handle = path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise CommandError(f"cannot open {path}: {exc}") from exc
        customers: OrderedDict[tuple[str, str], dict[str, Any]] = OrderedDict()
        errors: list[str] = []
        with handle:
            reader = csv.DictReader(handle, delimiter=delimiter)
            columns = set(reader.fieldnames or ())
            missing = [c for c in REQUIRED_COLUMNS if c not in columns]
            if "organization" not in columns and not default_org:
                missing.append("organization (or --organization)")
            if missing:
                raise CommandError(f"{path}: missing column(s): {', '.join(missing)}")
            for row in reader:
                line = reader.line_num
                row = {key: (value or "").strip() for key, value in row.items() if key is not None}
                try:
                    self.add_row(customers, row, line, default_org)
                except RowError as exc:
                    errors.append(str(exc))
                    key = (row.get("organization") or default_org, row.get("clientId", ""))
                    if key in customers:
                        customers[key]["_broken"] = True  # half a customer is not its state
        return customers, errors

    def add_row(self, customers: dict, row: dict[str, str], line: int, default_org: str | None) -> None:
        org = row.get("organization") or default_org
        client_id = row.get("clientId", "")
        if not org or not client_id:
            raise RowError(f"line {line}: organization and clientId are required")
        customer = customers.get((org, client_id))
        values = {c: row.get(c, "") for c in CUSTOMER_COLUMNS}
        if customer is None:
            customer = {"organization": org, "clientId": client_id, **values, "customerSites": []}
            customer["_sites"] = {}
            customers[(org, client_id)] = customer
        elif any(customer[c] != values[c] for c in CUSTOMER_COLUMNS):
            raise RowError(
                f"line {line}: customer {client_id} has different names or status than on an earlier line"
            )

        site_id = row.get("externalSiteId", "")
        if not site_id:
            if row.get("meterId"):
                raise RowError(f"line {line}: a meter needs an externalSiteId")
            return
        site = customer["_sites"].get(site_id)
        site_values: dict[str, Any] = {
            "isPrimary": _bool(row.get("isPrimary", ""), "isPrimary", line) or False,
            **{c: row.get(c, "") for c in ("address1", "city", "state", "postalCode")},
        }
        if site is None:
            site = {"externalSiteId": site_id, **site_values, "meters": []}
            customer["_sites"][site_id] = site
            customer["customerSites"].append(site)
        elif any(site[c] != site_values[c] for c in SITE_COLUMNS):
            raise RowError(f"line {line}: site {site_id} has a different address than on an earlier line")

        if row.get("meterId"):
            site["meters"].append(
                {
                    "meterId": row["meterId"],
                    "meterType": row.get("meterType", ""),
                    "unitOfMeasure": row.get("unitOfMeasure", ""),
                    "isAMI": _bool(row.get("isAMI", ""), "isAMI", line) or False,
                    "rateCode": row.get("rateCode", ""),
                    "billingCycleId": _int(row.get("billingCycleId", ""), "billingCycleId", line),
                }
            )

    # --- writing ---------------------------------------------------------------------------

    def import_one(self, payload: dict[str, Any], *, dry_run: bool, counts: dict[str, int]) -> str:
        data = {key: value for key, value in payload.items() if not key.startswith("_")}
        serializer = CustomerSyncSerializer(data=data)
        try:
            serializer.is_valid(raise_exception=True)
            if dry_run:
                exists = Customer.objects.filter(
                    organization=serializer.validated_data["organization"], client_id=data["clientId"]
                ).exists()
                counts["updated" if exists else "created"] += 1
                return ""
            result = services.customer_sync(**serializer.validated_data)
        except ValidationError as exc:
            return "; ".join(_flatten_errors(exc.detail))
        except DjangoValidationError as exc:
            return "; ".join(
                _flatten_errors(exc.message_dict if hasattr(exc, "error_dict") else exc.messages)
            )
        except DatabaseError as exc:
            return f"database error: {exc}"
        counts["created" if result.created else "updated"] += 1
        counts["sites_detached"] += result.sites_detached
        counts["meters_detached"] += result.meters_detached
        return ""
