"""/api/v1/metering/: meter-readings, new-meter-readings, staged-meter-readings, meter-system-events.

* ``POST meter-readings`` and ``POST new-meter-readings`` are the same bulk ingestion: one object
  or a list of up to 10,000 ``{meter_device_name | meter_device, series_name | series, timestamp,
  value}``, answered 201 with a summary (saved, duplicates, staged, rejected, and index + reason
  per rejected item). The contract's 201 body for ``meter-readings`` is a single ``MeterReadings``;
  the summary replaces it because one request may hold thousands of items. The organization is
  the JWT's; staff name it per item (``organization``) or for the request (``?organization=``).
  ``new-meter-readings`` is processed synchronously (the contract's "background workers" are the
  ``meters.commit_readings`` task for producers that prefer a queue).
* ``GET meter-readings`` lists ``{timestamp, value}`` ordered by timestamp, filtered by
  ``meter_device`` and ``series`` (UUID or name), ``start_time`` and ``end_time`` (inclusive).
  ``apply_ratios=true`` multiplies by the meter's CT/VT ratios for affected series (exact Decimal
  arithmetic). ``?cursor=`` switches to keyset pagination (``meters/pagination.py``).
  ``Accept: text/csv`` or ``?format=csv`` streams one meter's series as CSV.
* ``meter-system-events``: list/retrieve/delete; POST ingests like readings (by name,
  duplicates ignored, unknown meters rejected).
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from decimal import Decimal, localcontext
from typing import Any

from django.http import StreamingHttpResponse
from django_filters import rest_framework as filters
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from utilitarian.auth import request_tenant
from utilitarian.models import Organization
from utilitarian.routers import Router
from utilitarian.tenancy import INT_LOOKUP_REGEX, TenantScopedViewSet, scope_queryset

from ..models import MeterDevice, MeterReading, MeterReadingSeries, MeterSystemEvent, StagedMeterReading
from ..pagination import ReadingsPagination
from ..services.readings import IngestSummary, events_ingest, readings_ingest
from .readings_serializers import (
    DecimalJSONParser,
    EventIngestItemSerializer,
    IngestSummarySerializer,
    MeterReadingOutSerializer,
    MeterReadingSerializer,
    MeterSystemEventSerializer,
    ReadingIngestItemSerializer,
    StagedMeterReadingSerializer,
    ingest_items,
)

router = Router()

RATIO_PRECISION = 120  # 40 significant digits times two int32 ratios: exact, never rounded


def format_timestamp(ts) -> str:
    value = ts.isoformat()
    return value[:-6] + "Z" if value.endswith("+00:00") else value


# --- filters ---------------------------------------------------------------------------------


def _scoped_ids(request, model, value: str) -> list:
    """Ids of the request's tenant's objects with this UUID or name (names are per organization)."""
    queryset = scope_queryset(model.objects.all(), request_tenant(request))
    try:
        ident = uuid.UUID(value)
    except ValueError:
        ident = None
    if ident is not None:
        ids = list(queryset.filter(pk=ident).values_list("pk", flat=True))
        if ids:
            return ids
    return list(queryset.filter(name=value).values_list("pk", flat=True))


class TimeRangeFilterSet(filters.FilterSet):
    start_time = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="gte")
    end_time = filters.IsoDateTimeFilter(field_name="timestamp", lookup_expr="lte")


class MeterReadingFilterSet(TimeRangeFilterSet):
    meter_device = filters.CharFilter(method="filter_meter_device", help_text="UUID or name")
    series = filters.CharFilter(method="filter_series", help_text="UUID or name")
    apply_ratios = filters.BooleanFilter(
        method="no_filter", help_text="Multiply by the meter's CT/VT ratios where the series is affected."
    )

    class Meta:
        model = MeterReading
        fields: list[str] = []

    def filter_meter_device(self, queryset, name, value):
        return queryset.filter(meter_device_id__in=_scoped_ids(self.request, MeterDevice, value))

    def filter_series(self, queryset, name, value):
        return queryset.filter(series_id__in=_scoped_ids(self.request, MeterReadingSeries, value))

    def no_filter(self, queryset, name, value):
        return queryset


class MeterSystemEventFilterSet(TimeRangeFilterSet):
    meter_device = filters.CharFilter(method="filter_meter_device", help_text="UUID or name")

    class Meta:
        model = MeterSystemEvent
        fields: list[str] = []

    def filter_meter_device(self, queryset, name, value):
        return queryset.filter(meter_device_id__in=_scoped_ids(self.request, MeterDevice, value))


class StagedMeterReadingFilterSet(TimeRangeFilterSet):
    class Meta:
        model = StagedMeterReading
        fields = ["meter_device_name"]


# --- ingestion ---------------------------------------------------------------------------------


class CSVRenderer(BaseRenderer):
    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None) -> bytes:
        """Error bodies (the list itself streams): one ``field,message`` row per message."""
        out = io.StringIO()
        writer = csv.writer(out)
        writer.writerow(["field", "message"])
        if isinstance(data, dict):
            for key, messages in data.items():
                for message in messages if isinstance(messages, list) else [messages]:
                    writer.writerow([key, message])
        return out.getvalue().encode()


def _ingest(request: Request, service) -> Response:
    """Split the items by organization (staff may name several), run the service per organization."""
    items = ingest_items(request.data)
    tenant = request_tenant(request)
    summary = IngestSummary()
    groups: dict[uuid.UUID, list[int]] = {}
    if not tenant.is_global:
        groups[tenant.organization_id] = list(range(len(items)))
    else:
        default = request.query_params.get("organization")
        known: dict[str, uuid.UUID | None] = {}
        for index, item in enumerate(items):
            ref = item.get("organization", default) if isinstance(item, dict) else default
            if ref is None:
                summary.reject(index, "organization is required for staff (per item or ?organization=)")
                continue
            ref = str(ref)
            if ref not in known:
                try:
                    known[ref] = (
                        Organization.objects.filter(pk=uuid.UUID(ref)).values_list("pk", flat=True).first()
                    )
                except ValueError:
                    known[ref] = None
            if known[ref] is None:
                summary.reject(index, f"unknown organization {ref!r}")
                continue
            groups.setdefault(known[ref], []).append(index)
    for org_id, indexes in groups.items():
        subset = items if len(indexes) == len(items) else [items[i] for i in indexes]
        summary.merge(service(organization_id=org_id, items=subset, indexes=indexes))
    return Response(summary.as_dict(), status=status.HTTP_201_CREATED)


_ingest_schema = extend_schema(
    request=ReadingIngestItemSerializer(many=True),
    responses={201: IngestSummarySerializer},
    description="One reading or a list of up to 10,000, by name within the organization. Unknown meter "
    "device names are staged; duplicates are counted, not errors; each rejected item is reported with "
    "its index and reason and never drops the others.",
)


@extend_schema_view(
    list=extend_schema(responses=MeterReadingOutSerializer(many=True)),
    create=_ingest_schema,
)
class MeterReadingViewSet(mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet):
    queryset = MeterReading.objects.all()
    serializer_class = MeterReadingSerializer
    filterset_class = MeterReadingFilterSet
    pagination_class = ReadingsPagination
    renderer_classes = [JSONRenderer, CSVRenderer]
    lookup_value_regex = INT_LOOKUP_REGEX

    def get_parsers(self):
        return [DecimalJSONParser()]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _ingest(request, readings_ingest)

    def list(self, request: Request, *args: Any, **kwargs: Any):
        params = request.query_params
        single_series = bool(params.get("meter_device")) and bool(params.get("series"))
        queryset = self.filter_queryset(self.get_queryset())
        queryset = queryset.order_by("timestamp") if single_series else queryset.order_by("timestamp", "id")
        apply_ratios = self.filterset_class(params, queryset=queryset, request=request).form
        apply_ratios = apply_ratios.is_valid() and bool(apply_ratios.cleaned_data.get("apply_ratios"))
        if getattr(request.accepted_renderer, "format", None) == "csv":
            if not single_series:
                raise serializers.ValidationError(
                    {
                        "non_field_errors": [
                            "CSV export is per meter and series: give meter_device and series."
                        ]
                    }
                )
            return self._csv(queryset, apply_ratios)
        fields = ("timestamp", "id", "value", "meter_device_id", "series_id")
        paginator: ReadingsPagination = self.paginator
        rows = paginator.paginate_rows(queryset, request, single_series=single_series, fields=fields)
        factors = _ratio_factors(rows) if apply_ratios else None
        results = [{"timestamp": format_timestamp(r[0]), "value": _value(r, factors)} for r in rows]
        return paginator.get_paginated_response(results)

    def _csv(self, queryset, apply_ratios: bool) -> StreamingHttpResponse:
        fields = ("timestamp", "id", "value", "meter_device_id", "series_id")

        def lines() -> Iterator[str]:
            yield "timestamp,value\r\n"
            factors = None
            batch: list[tuple] = []
            for row in queryset.values_list(*fields).iterator(chunk_size=5000):
                if apply_ratios and factors is None:
                    factors = _ratio_factors([row])
                batch.append(row)
                if len(batch) == 5000:
                    yield "".join(f"{format_timestamp(r[0])},{_value(r, factors)}\r\n" for r in batch)
                    batch = []
            yield "".join(f"{format_timestamp(r[0])},{_value(r, factors)}\r\n" for r in batch)

        response = StreamingHttpResponse(lines(), content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = 'attachment; filename="meter-readings.csv"'
        return response


def _ratio_factors(rows: list[tuple]) -> dict[tuple, int]:
    """(meter id, series id) → CT/VT factor for the pairs in ``rows`` (two small queries)."""
    meter_ids = {r[3] for r in rows}
    series_ids = {r[4] for r in rows}
    meters = {
        m[0]: m[1:]
        for m in MeterDevice.objects.filter(pk__in=meter_ids).values_list(
            "pk",
            "has_current_transformer",
            "current_transformer_ratio",
            "has_voltage_transformer",
            "voltage_transformer_ratio",
        )
    }
    series = {
        s[0]: s[1:]
        for s in MeterReadingSeries.objects.filter(pk__in=series_ids).values_list(
            "pk", "affected_by_ct_ratio", "affected_by_vt_ratio"
        )
    }
    factors = {}
    for m in meter_ids:
        has_ct, ct, has_vt, vt = meters.get(m, (False, 1, False, 1))
        for s in series_ids:
            by_ct, by_vt = series.get(s, (False, False))
            factor = 1
            if by_ct and has_ct:
                factor *= ct
            if by_vt and has_vt:
                factor *= vt
            factors[(m, s)] = factor
    return factors


def _value(row: tuple, factors: dict | None) -> str:
    value: Decimal = row[2]
    if factors is not None:
        factor = factors.get((row[3], row[4]), 1)
        if factor != 1:
            with localcontext(prec=RATIO_PRECISION):
                value = value * factor
    return format(value, "f")


@extend_schema_view(create=_ingest_schema)
class NewMeterReadingViewSet(TenantScopedViewSet):
    """``POST new-meter-readings``: the bulk ingestion endpoint (same as POST meter-readings)."""

    queryset = MeterReading.objects.all()
    serializer_class = IngestSummarySerializer

    def get_parsers(self):
        return [DecimalJSONParser()]

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _ingest(request, readings_ingest)


class StagedMeterReadingViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    queryset = StagedMeterReading.objects.all()
    serializer_class = StagedMeterReadingSerializer
    filterset_class = StagedMeterReadingFilterSet
    lookup_value_regex = INT_LOOKUP_REGEX

    def get_parsers(self):
        return [DecimalJSONParser()]


@extend_schema_view(
    create=extend_schema(
        request=EventIngestItemSerializer(many=True),
        responses={201: IngestSummarySerializer},
        parameters=[OpenApiParameter("organization", OpenApiTypes.UUID, description="staff only")],
    )
)
class MeterSystemEventViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, TenantScopedViewSet
):
    queryset = MeterSystemEvent.objects.all()
    serializer_class = MeterSystemEventSerializer
    filterset_class = MeterSystemEventFilterSet
    lookup_value_regex = INT_LOOKUP_REGEX

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return _ingest(request, events_ingest)


router.register("meter-readings", MeterReadingViewSet, basename="meter-readings")
router.register("new-meter-readings", NewMeterReadingViewSet, basename="new-meter-readings")
router.register("staged-meter-readings", StagedMeterReadingViewSet, basename="staged-meter-readings")
router.register("meter-system-events", MeterSystemEventViewSet, basename="meter-system-events")
