"""What the CSV import commands share: the organization and file arguments, the progress bar and
the report of rejected lines."""

from __future__ import annotations

import sys
from typing import IO, Any

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from meters.services.imports import RowError, organization_lookup
from utilitarian.models import Organization

#: Rejected lines printed in full; the rest are counted (a bad export can have millions).
ERRORS_SHOWN = 50


class CsvImportCommand(BaseCommand):
    def add_arguments(self, parser) -> None:
        parser.add_argument("csv_file", help="path of the CSV file (UTF-8, header on line 1), or - for stdin")
        parser.add_argument("--organization", required=True, help="organization id or exact name")
        parser.add_argument("--no-progress", action="store_true", help="no progress bar")

    def organization(self, value: str) -> Organization:
        try:
            return organization_lookup(value)
        except Organization.DoesNotExist as exc:
            raise CommandError(str(exc)) from exc

    def open(self, path: str) -> IO[str]:
        if path == "-":
            return sys.stdin
        try:
            return open(path, newline="", encoding="utf-8-sig")  # tolerate a spreadsheet's BOM
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc

    @staticmethod
    def count_rows(path: str) -> int | None:
        """Data lines of the file, for the progress bar's total (one fast pass; None for stdin)."""
        if path == "-":
            return None
        with open(path, "rb") as stream:
            return max(sum(1 for _ in stream) - 1, 0)

    def progress(self, total: int | None, unit: str, options: dict[str, Any]) -> tqdm:
        # tqdm draws on stderr, and only on a terminal unless asked: logs stay clean.
        return tqdm(total=total, unit=unit, disable=options["no_progress"] or None, file=sys.stderr)

    def report_errors(self, errors: list[RowError]) -> None:
        for error in errors[:ERRORS_SHOWN]:
            self.stderr.write(str(error))
        if len(errors) > ERRORS_SHOWN:
            self.stderr.write(f"... and {len(errors) - ERRORS_SHOWN} more rejected line(s)")
