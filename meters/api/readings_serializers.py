"""Serializers of the readings endpoints: the request envelope, single objects, staged readings.

Bulk ingestion does NOT validate items with a serializer (see ``meters/services/readings.py``):
``IngestEnvelope`` only checks the body's shape, and the service validates the items column-wise.
"""

from __future__ import annotations

import codecs
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

from utilitarian.fields import parse_exact_decimal
from utilitarian.tenancy import TenantModelSerializer

from ..models import MeterReading, MeterSystemEvent, StagedMeterReading
from ..services.readings import MAX_BATCH, ItemError, parse_timestamp


class DecimalJSONParser(JSONParser):
    """JSON with numbers parsed as Decimal, so ``1.1`` arrives exactly (never a binary float)."""

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            return json.load(decoded, parse_float=Decimal, parse_constant=_refuse_constant)
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not a number")


def ingest_items(data: Any) -> list[Any]:
    """The items of a POST body: one object or a list of at most MAX_BATCH."""
    if isinstance(data, dict):
        return [data]
    if isinstance(data, list):
        if len(data) > MAX_BATCH:
            raise serializers.ValidationError(
                {"non_field_errors": [f"At most {MAX_BATCH} items per request."]}
            )
        return data
    raise serializers.ValidationError({"non_field_errors": ["Send one object or a list of objects."]})


class IngestErrorSerializer(serializers.Serializer):
    index = serializers.IntegerField()
    reason = serializers.CharField()


class IngestSummarySerializer(serializers.Serializer):
    """The answer to a bulk POST (201)."""

    saved = serializers.IntegerField(help_text="Readings stored now.")
    duplicates = serializers.IntegerField(help_text="Items already stored (or repeated in the request).")
    staged = serializers.IntegerField(help_text="Items for unknown meter devices, kept as staged readings.")
    rejected = serializers.IntegerField()
    errors = IngestErrorSerializer(many=True, help_text="Index and reason of each rejected item.")


class ReadingIngestItemSerializer(serializers.Serializer):
    """Documentation of one POSTed reading (the service validates; see the module docstring)."""

    organization = serializers.UUIDField(required=False, help_text="Staff only; ignored for JWT users.")
    meter_device_name = serializers.CharField(required=False)
    meter_device = serializers.CharField(required=False, help_text="UUID or name of the meter device.")
    series_name = serializers.CharField(required=False)
    series = serializers.CharField(required=False, help_text="UUID or name of the series.")
    timestamp = serializers.DateTimeField(help_text="ISO 8601 with an offset; naive timestamps are refused.")
    value = serializers.CharField(help_text="Decimal string or JSON number (parsed exactly).")


class EventIngestItemSerializer(serializers.Serializer):
    organization = serializers.UUIDField(required=False)
    meter_device_name = serializers.CharField(required=False)
    meter_device = serializers.CharField(required=False)
    timestamp = serializers.DateTimeField()
    title = serializers.CharField(max_length=50)
    content = serializers.CharField(max_length=500)


@extend_schema_field({"type": "string", "format": "decimal"})
class ExactDecimalField(serializers.Field):
    default_error_messages = {"invalid": "{reason}"}

    def to_internal_value(self, data: Any) -> Decimal:
        try:
            return parse_exact_decimal(data)
        except ValueError as exc:
            self.fail("invalid", reason=str(exc))

    def to_representation(self, value: Decimal) -> str:
        return format(value, "f")


class AwareDateTimeField(serializers.DateTimeField):
    """A date-time that must carry an offset (naive ones are refused, not guessed)."""

    def to_internal_value(self, value: Any):
        try:
            return parse_timestamp(value)
        except ItemError as exc:
            raise serializers.ValidationError(str(exc)) from None


class MeterReadingSerializer(TenantModelSerializer):
    value = ExactDecimalField()

    class Meta:
        model = MeterReading
        fields = ["id", "organization", "meter_device", "series", "timestamp", "value", "created_at"]
        read_only_fields = fields


class MeterReadingOutSerializer(serializers.Serializer):
    """Contract ``MeterReadingsOut`` (the list renders rows directly; this documents them)."""

    timestamp = serializers.DateTimeField()
    value = ExactDecimalField()


class StagedMeterReadingSerializer(TenantModelSerializer):
    timestamp = AwareDateTimeField()
    value = ExactDecimalField()

    class Meta:
        model = StagedMeterReading
        fields = [
            "id",
            "organization",
            "meter_device_name",
            "series_name",
            "timestamp",
            "value",
            "created_at",
            "updated_at",
        ]
        read_only_fields = ["id", "created_at", "updated_at"]
        extra_kwargs = {"organization": {"required": False}}

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        if self.instance is None and not attrs.get("organization"):
            raise serializers.ValidationError({"organization": ["Staff must name the organization."]})
        if self.instance is not None and "organization" in attrs:
            attrs.pop("organization")  # write-once
        return attrs


class MeterSystemEventSerializer(TenantModelSerializer):
    class Meta:
        model = MeterSystemEvent
        fields = [
            "id",
            "organization",
            "meter_device",
            "timestamp",
            "title",
            "content",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields
