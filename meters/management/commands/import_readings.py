"""``python manage.py import_readings readings.csv --organization "Utility A"``: load readings from
a CSV file through the readings ingestion service, with a progress bar.

Columns: ``meter_device_name``, ``series_name``, ``timestamp`` (ISO 8601 with an offset) and
``value`` (a decimal, kept exact). The rows are ingested in chunks by the same set-based service
as the API (meters/services/readings.py): unknown meters are staged, duplicates ignored, so a
file can be imported again safely. Exit status 1 (a CommandError) when some line was rejected (the others are
stored).
"""

from __future__ import annotations

from django.core.management.base import CommandError

from meters.services.imports import READING_COLUMNS, READINGS_CHUNK, CsvFormatError, read_csv, readings_import

from ._csv_command import CsvImportCommand


class Command(CsvImportCommand):
    help = "Import meter readings from a CSV file (meter_device_name, series_name, timestamp, value)."

    def add_arguments(self, parser) -> None:
        super().add_arguments(parser)
        parser.add_argument("--chunk-size", type=int, default=READINGS_CHUNK, help="rows per ingestion batch")

    def handle(self, *args, csv_file: str, organization: str, chunk_size: int, **options) -> None:
        if chunk_size < 1:
            raise CommandError("--chunk-size must be at least 1")
        org = self.organization(organization)
        with self.open(csv_file) as stream, self.progress(self.count_rows(csv_file), "row", options) as bar:
            try:
                summary = readings_import(
                    organization=org,
                    rows=read_csv(stream, required=READING_COLUMNS),
                    chunk_size=chunk_size,
                    on_chunk=bar.update,
                )
            except CsvFormatError as exc:
                raise CommandError(str(exc)) from exc
        self.report_errors(summary.errors)
        ingest = summary.ingest
        self.stdout.write(
            f"{org.name}: {summary.rows} row(s): {ingest.saved} saved, {ingest.duplicates} duplicate(s), "
            f"{ingest.staged} staged for unknown meter devices, {ingest.rejected} rejected."
        )
        if ingest.rejected:
            raise CommandError(f"{ingest.rejected} line(s) rejected; the other rows were imported.")
