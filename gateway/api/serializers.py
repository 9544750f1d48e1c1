from __future__ import annotations

import re
from typing import Any

from rest_framework import serializers

from gateway import conf
from gateway.models import EsnStatus, GatewayRequest

ESN_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")
CORRELATION_PATTERN = re.compile(r"^[A-Za-z0-9._:@{}-]{1,128}$")


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer: no booleans, no numeric strings, no floats."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class EsnField(serializers.CharField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_length=64, trim_whitespace=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("An ESN is a string.")
        value = super().to_internal_value(data)
        if not ESN_PATTERN.match(value):
            raise serializers.ValidationError("Not a valid ESN (letters, digits, '.', '_', ':', '-').")
        return value


class EsnListField(serializers.ListField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(child=EsnField(), allow_empty=False, **kwargs)

    def to_internal_value(self, data: Any) -> list[str]:
        limit = conf.get("GATEWAY_ESN_LIST_MAX")
        if isinstance(data, list) and len(data) > limit:
            raise serializers.ValidationError(f"At most {limit} ESNs per request.")
        values = super().to_internal_value(data)
        return list(dict.fromkeys(values))  # deduplicated, first occurrence order kept


class ApplicationRequestSerializer(serializers.Serializer):
    applicationId = StrictIntegerField(min_value=0)
    esnList = EsnListField()

    def to_internal_value(self, data: Any) -> Any:
        if not isinstance(data, dict):
            raise serializers.ValidationError({"non_field_errors": ["The body must be a JSON object."]})
        return super().to_internal_value(data)


class InstallRequestSerializer(ApplicationRequestSerializer):
    applicationVersion = serializers.CharField(max_length=64, required=False, allow_null=True)
    licenseSet = serializers.UUIDField(required=False, allow_null=True)

    def to_internal_value(self, data: Any) -> Any:
        # The seed's schema spells the key "applicationVersion " (trailing space); accept both.
        if isinstance(data, dict) and "applicationVersion " in data and "applicationVersion" not in data:
            data = {**data, "applicationVersion": data["applicationVersion "]}
        return super().to_internal_value(data)


class EsnStatusSerializer(serializers.ModelSerializer):
    statusCode = serializers.CharField(source="status_code")
    updatedAt = serializers.DateTimeField(source="updated_at")

    class Meta:
        model = EsnStatus
        fields = ("esn", "status", "statusCode", "reason", "updatedAt")


class RequestStatusSerializer(serializers.ModelSerializer):
    correlationId = serializers.CharField(source="correlation_id")
    tenantId = serializers.CharField(source="tenant_id")
    requestType = serializers.CharField(source="kind")
    appId = serializers.CharField(source="app_id")
    applicationId = serializers.IntegerField(source="application_id")
    applicationVersion = serializers.CharField(source="application_version")
    versionPolicy = serializers.CharField(source="version_policy")
    licenseSet = serializers.UUIDField(source="license_set")
    licensePolicy = serializers.CharField(source="license_policy")
    licenseMinRemainingDays = serializers.IntegerField(source="license_min_remaining_days")
    receivedAt = serializers.DateTimeField(source="received_at")
    esns = EsnStatusSerializer(many=True)

    class Meta:
        model = GatewayRequest
        fields = (
            "correlationId",
            "tenantId",
            "requestType",
            "appId",
            "applicationId",
            "applicationVersion",
            "versionPolicy",
            "licenseSet",
            "licensePolicy",
            "licenseMinRemainingDays",
            "receivedAt",
            "esns",
        )
