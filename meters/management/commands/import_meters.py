"""``python manage.py import_meters meters.csv --organization "Utility A"``: create meter devices
from a CSV file, with a progress bar.

Columns: ``name`` and ``protocol`` (dlms-cosem, iec62056-21, i-flag, mbus, modbus, lis-200) are
required; optional columns are listed in :data:`meters.services.imports.METER_COLUMNS`: ``host``
and ``port`` create the meter's network interface, ``type`` names a meter device type,
``task_groups`` and ``meter_tasks`` name groups or tasks (several separated by ``;``), the rest
are the API's meter device fields. Rows naming an existing meter are skipped, so a corrected file
can be imported again. Exit status 1 (a CommandError) when some line was rejected (the others are saved).
"""

from __future__ import annotations

from django.core.management.base import CommandError

from meters.services.imports import CsvFormatError, meters_import, read_csv

from ._csv_command import CsvImportCommand


class Command(CsvImportCommand):
    help = "Create meter devices (and their network interfaces) from a CSV file."

    def handle(self, *args, csv_file: str, organization: str, **options) -> None:
        org = self.organization(organization)
        with self.open(csv_file) as stream, self.progress(self.count_rows(csv_file), "meter", options) as bar:
            try:
                summary = meters_import(
                    organization=org,
                    rows=read_csv(stream, required=("name", "protocol")),
                    on_row=lambda: bar.update(1),
                )
            except CsvFormatError as exc:
                raise CommandError(str(exc)) from exc
        self.report_errors(summary.errors)
        self.stdout.write(
            f"{org.name}: {summary.created} meter device(s) created, {summary.existing} already existed, "
            f"{len(summary.errors)} line(s) rejected."
        )
        if summary.errors:
            raise CommandError(f"{len(summary.errors)} line(s) rejected; the other rows were imported.")
