"""``python manage.py reread_period --organization "Utility A" --start 2025-03-01 --end 2025-03-08
--meter M1 --meter M2`` (or ``--task-group NAME``, ``--all-meters``): read a period again.

Sends one on-demand AMR job per meter and period task through ``amr.services.jobs_reread_period``
(the meter's profile/archive/event tasks turned into their by-date calls), or the call given with
``--execution-type``/``--call``/``--kwargs``. Workers of the on-demand queue run them; the jobs show
in the admin's AMR jobs list. A progress bar counts the meters.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from amr.services import jobs_reread_period
from meters.models import MeterDevice
from meters.services.imports import organization_lookup
from utilitarian.models import Organization


def _moment(value: str, *, end: bool = False) -> datetime:
    """ISO date or date-time; naive means UTC; a bare date as the end means the whole day."""
    try:
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise CommandError(f"not an ISO 8601 date or date-time: {value!r}") from exc
    if end and len(value) == 10:
        moment += timedelta(days=1)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class Command(BaseCommand):
    help = "Send on-demand AMR jobs that read a period again from a set of meters."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--organization", required=True, help="organization id or exact name")
        parser.add_argument("--start", required=True, help="ISO date or date-time (UTC when naive)")
        parser.add_argument("--end", required=True, help="ISO date (the whole day) or date-time")
        which = parser.add_mutually_exclusive_group(required=True)
        which.add_argument("--meter", action="append", help="meter device name (repeat for several)")
        which.add_argument("--task-group", help="every meter device of this AMR task group")
        which.add_argument("--all-meters", action="store_true", help="every meter device of the organization")
        parser.add_argument("--execution-type", help="with --call: the environment (e.g. generic_dlms)")
        parser.add_argument("--call", help="one call for every meter instead of each meter's period tasks")
        parser.add_argument("--kwargs", default="{}", help="with --call: JSON object of other kwargs")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **options) -> None:
        try:
            organization = organization_lookup(options["organization"])
        except Organization.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc
        start, end = _moment(options["start"]), _moment(options["end"], end=True)
        if start >= end:
            raise CommandError("--start must be before --end")
        if options["call"] and not options["execution_type"]:
            raise CommandError("--call needs --execution-type")
        try:
            kwargs = json.loads(options["kwargs"])
        except json.JSONDecodeError as exc:
            raise CommandError(f"--kwargs is not JSON: {exc}") from exc
        if not isinstance(kwargs, dict):
            raise CommandError("--kwargs must be a JSON object")

        meters = MeterDevice.objects.filter(organization=organization).order_by("name")
        if options["meter"]:
            meters = meters.filter(name__in=options["meter"])
            unknown = sorted(set(options["meter"]) - set(meters.values_list("name", flat=True)))
            if unknown:
                raise CommandError(
                    f"no meter device named {', '.join(map(repr, unknown))} in {organization.name}"
                )
        elif options["task_group"]:
            meters = meters.filter(task_groups__name=options["task_group"]).distinct()
        meters = list(meters)
        if not meters:
            raise CommandError("no meter device selected")

        with tqdm(
            total=len(meters), unit="meter", disable=options["no_progress"] or None, file=sys.stderr
        ) as bar:
            plan = jobs_reread_period(
                meter_devices=meters,
                start=start,
                end=end,
                meter_execution_type=options["execution_type"],
                task_call=options["call"],
                task_kwargs=kwargs if options["call"] else None,
                on_meter=lambda: bar.update(1),
            )
        for meter, reason in plan.skipped:
            self.stderr.write(f"{meter.name}: skipped: {reason}")
        self.stdout.write(
            f"{len(plan.jobs)} job(s) sent to the on-demand queue for {len(meters)} meter device(s) "
            f"({start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC); {len(plan.skipped)} skipped."
        )
