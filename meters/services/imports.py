"""Bulk imports from CSV for the management commands (``import_meters``, ``import_readings``).

Both report every bad row by its line number in the file (the header is line 1) with the reason,
and keep the good rows: an operator fixes the few rejected lines and re-runs the same file, which
is safe because both imports are idempotent (an existing meter name is skipped, a reading already
stored is a duplicate).

**Readings** go through :func:`meters.services.readings.readings_ingest` in chunks, the same
set-based path as the API and AMR jobs (validation, staging of unknown meters, ``ON CONFLICT DO
NOTHING``), never one ORM call per row.

**Meters** are validated by the API's own serializer (same rules: names unique per organization,
references within it, field formats) and saved one by one on purpose: saving a meter device runs
its ``post_save`` signal, which promotes the staged readings waiting for its name
(meters/signals.py), and ``bulk_create`` sends no signal. A row is one savepoint, so its network
interface is not left behind when the meter is refused. Meter imports are thousands of rows,
not millions; the readings are the large side.
"""

from __future__ import annotations

import csv
import ipaddress
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any

from django.db import IntegrityError, transaction

from utilitarian.models import Organization

from ..models import MeterDevice, MeterDeviceType
from .readings import IngestSummary, readings_ingest

#: Columns of a meter CSV besides ``name`` and ``protocol``; every one is optional.
METER_COLUMNS = (
    "manufacturer_serial",
    "external_system_reference",
    "type",
    "task_groups",
    "meter_tasks",
    "host",
    "port",
    "iec62056_21_address",
    "dlms_logical_device_name",
    "dlms_system_title",
    "has_current_transformer",
    "current_transformer_ratio",
    "has_voltage_transformer",
    "voltage_transformer_ratio",
    "has_disconnector",
    *MeterDevice.DRIVER_FIELDS,
)
#: Columns holding names of other objects of the organization (several separated by ``;``).
_NAME_LISTS = {"task_groups": "amr.AmrTaskGroup", "meter_tasks": "amr.AmrTask"}

READING_COLUMNS = ("meter_device_name", "series_name", "timestamp", "value")
READINGS_CHUNK = 5_000


class CsvFormatError(ValueError):
    """The file as a whole cannot be imported (missing columns): nothing was written."""


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class MeterImportSummary:
    created: int = 0
    existing: int = 0
    errors: list[RowError] = field(default_factory=list)


@dataclass
class ReadingImportSummary:
    rows: int = 0
    ingest: IngestSummary = field(default_factory=IngestSummary)

    @property
    def errors(self) -> list[RowError]:
        return sorted((RowError(e["index"], e["reason"]) for e in self.ingest.errors), key=lambda e: e.line)


def read_csv(stream: IO[str], *, required: Iterable[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, row) of a CSV with a header; raises :class:`CsvFormatError` before the first
    row when a required column is missing. Cells are stripped; empty cells are left out."""
    reader = csv.DictReader(stream)
    header = [name.strip() for name in reader.fieldnames or []]
    missing = [name for name in required if name not in header]
    if missing:
        raise CsvFormatError(
            f"missing column(s): {', '.join(missing)} (the header has: {', '.join(header) or 'nothing'})"
        )
    reader.fieldnames = header
    for row in reader:
        cells = {
            key: value.strip()
            for key, value in row.items()
            if key is not None and isinstance(value, str) and value.strip()
        }
        if None in row:  # more cells than header columns
            cells["__extra__"] = "x"
        yield reader.line_num, cells


def _names(value: str) -> list[str]:
    return [name.strip() for name in value.split(";") if name.strip()]


def _flatten(detail: Any, prefix: str = "") -> list[str]:
    """A serializer's error dict as ``field: message`` strings."""
    if isinstance(detail, Mapping):
        return [m for key, value in detail.items() for m in _flatten(value, f"{key}: ")]
    if isinstance(detail, list):
        return [m for value in detail for m in _flatten(value, prefix)]
    return [f"{prefix}{detail}"]


class _Names:
    """Name → pk of the organization's device types, task groups and tasks (one query each)."""

    def __init__(self, organization: Organization) -> None:
        from django.apps import apps

        self.maps = {
            "type": dict(MeterDeviceType.objects.filter(organization=organization).values_list("name", "pk"))
        }
        for column, label in _NAME_LISTS.items():
            model = apps.get_model(label)
            self.maps[column] = dict(
                model.objects.filter(organization=organization).values_list("name", "pk")
            )

    def resolve(self, column: str, names: list[str]) -> tuple[list, list[str]]:
        known = self.maps[column]
        return [known[n] for n in names if n in known], [n for n in names if n not in known]


def _interface_data(cells: dict[str, str], organization: Organization) -> dict[str, Any] | None:
    host = cells.pop("host", None)
    port = cells.pop("port", None)
    if host is None and port is None:
        return None
    data: dict[str, Any] = {"organization": str(organization.pk), "port": port}
    if host is not None:
        try:
            ipaddress.ip_address(host)
        except ValueError:
            data["fqdn"] = host
        else:
            data["static_ip_address"] = host
    return data


def meters_import(
    *,
    organization: Organization,
    rows: Iterable[tuple[int, dict[str, str]]],
    on_row: Callable[[], None] | None = None,
) -> MeterImportSummary:
    """Create the meter devices of ``rows`` (from :func:`read_csv`) in ``organization``; a row
    naming an existing meter device is counted in ``existing`` and left untouched."""
    summary = MeterImportSummary()
    names = _Names(organization)
    existing = set(MeterDevice.objects.filter(organization=organization).values_list("name", flat=True))
    for line, cells in rows:
        try:
            if cells.pop("__extra__", None):
                summary.errors.append(RowError(line, "more cells than the header has columns"))
                continue
            name = cells.get("name", "")
            if name in existing:
                summary.existing += 1
                continue
            unknown_columns = set(cells) - {"name", "protocol", *METER_COLUMNS}
            if unknown_columns:
                summary.errors.append(
                    RowError(line, f"unknown column(s): {', '.join(sorted(unknown_columns))}")
                )
                continue
            interface = _interface_data(cells, organization)
            data: dict[str, Any] = {**cells, "organization": str(organization.pk)}
            problems = []
            if "type" in cells:
                found, unknown = names.resolve("type", [cells["type"]])
                data["type"] = str(found[0]) if found else None
                problems += [f"type: no meter device type named {n!r}" for n in unknown]
            for column in _NAME_LISTS:
                if column in cells:
                    found, unknown = names.resolve(column, _names(cells[column]))
                    data[column] = [str(pk) for pk in found]
                    problems += [f"{column}: no object named {n!r} in the organization" for n in unknown]
            if problems:
                summary.errors.append(RowError(line, "; ".join(problems)))
                continue
            try:
                created = _create_meter(data, interface)
            except IntegrityError as exc:  # a name taken concurrently by the API
                created = [f"not saved: {exc}"]
            if created:
                summary.errors.append(RowError(line, "; ".join(created)))
                continue
            existing.add(name)
            summary.created += 1
        finally:
            if on_row is not None:
                on_row()
    return summary


def _create_meter(data: dict[str, Any], interface: dict[str, Any] | None) -> list[str]:
    """Save one row's interface and meter in a savepoint; the problems, or [] when saved."""
    from meters.api.serializers import MeterDeviceSerializer, NetworkInterfaceSerializer

    with transaction.atomic():
        if interface is not None:
            interface_serializer = NetworkInterfaceSerializer(data=interface)
            if not interface_serializer.is_valid():
                return [f"network interface {m}" for m in _flatten(interface_serializer.errors)]
            data["network_interface"] = str(interface_serializer.save().pk)
        serializer = MeterDeviceSerializer(data=data)
        if not serializer.is_valid():
            transaction.set_rollback(True)  # drop the interface created for this row
            return _flatten(serializer.errors)
        serializer.save()
    return []


def readings_import(
    *,
    organization: Organization,
    rows: Iterable[tuple[int, dict[str, str]]],
    chunk_size: int = READINGS_CHUNK,
    on_chunk: Callable[[int], None] | None = None,
) -> ReadingImportSummary:
    """Ingest the readings of ``rows`` (from :func:`read_csv`) in chunks of ``chunk_size``;
    rejected rows are reported by line number, the others stored (or staged, or counted as
    duplicates) exactly as the API would."""
    summary = ReadingImportSummary()
    items: list[dict[str, str]] = []
    lines: list[int] = []

    def flush() -> None:
        if items:
            summary.ingest.merge(readings_ingest(organization_id=organization.pk, items=items, indexes=lines))
            if on_chunk is not None:
                on_chunk(len(items))
            items.clear()
            lines.clear()

    for line, cells in rows:
        summary.rows += 1
        if cells.pop("__extra__", None):
            summary.ingest.reject(line, "more cells than the header has columns")
            continue
        items.append({key: cells[key] for key in READING_COLUMNS if key in cells})
        lines.append(line)
        if len(items) >= chunk_size:
            flush()
    flush()
    return summary


def organization_lookup(value: str) -> Organization:
    """An organization by id or exact name (commands take either)."""
    import uuid

    try:
        return Organization.objects.get(pk=uuid.UUID(value))
    except (ValueError, Organization.DoesNotExist):
        pass
    matches = list(Organization.objects.filter(name=value)[:2])
    if len(matches) != 1:
        raise Organization.DoesNotExist(
            f"no organization named {value!r}"
            if not matches
            else f"several organizations are named {value!r}"
        )
    return matches[0]
