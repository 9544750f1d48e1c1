"""``POST /api/v1/metering/amr-tasks/invoke/``: run a call on one meter device now (or after
``run_offset_seconds``), without saving a task. The job goes to the on-demand queue.

Everything is checked before a job exists, so a client mistake is a 400 with a reason and never
a failed job or a 500: the meter device must be the caller's organization's (another tenant's
id is "does not exist", like a missing one), the execution type must be registered, and the call
and its kwargs must match the environment's declared signature. ``run_offset_seconds`` delays
the run (0 .. 86,400 seconds; an on-demand job has no schedule period, so a day bounds it).
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from meters.models import MeterDevice
from utilitarian.auth import request_tenant
from utilitarian.tenancy import scope_queryset

from ..environments import ENVIRONMENTS
from ..environments.base import InvalidCall
from ..models import AmrJob
from ..services import job_invoke, validate_task_call

MAX_INVOKE_OFFSET_SECONDS = 86400


class InvokeSerializer(serializers.Serializer):
    meter_device = serializers.PrimaryKeyRelatedField(queryset=MeterDevice.objects.all())
    task_call = serializers.CharField(min_length=1, max_length=50)
    task_kwargs = serializers.JSONField(required=False, allow_null=True, default=None)
    run_offset_seconds = serializers.IntegerField(
        required=False, default=0, min_value=0, max_value=MAX_INVOKE_OFFSET_SECONDS
    )
    meter_execution_type = serializers.ChoiceField(choices=[(name, name) for name in ENVIRONMENTS])

    def get_fields(self):
        fields = super().get_fields()
        request = self.context.get("request")
        if request is not None:
            field = fields["meter_device"]
            field.queryset = scope_queryset(field.queryset, request_tenant(request))
        return fields

    def validate_task_kwargs(self, value):
        if value is not None and not isinstance(value, dict):
            raise ValidationError("task_kwargs must be a JSON object.")
        return value

    def validate(self, attrs):
        try:
            attrs["task_kwargs"] = validate_task_call(
                meter_execution_type=attrs["meter_execution_type"],
                task_call=attrs["task_call"],
                task_kwargs=attrs.get("task_kwargs"),
            )
        except InvalidCall as exc:
            raise ValidationError({exc.field: [exc.message]}) from exc
        return attrs


class InvokedJobSerializer(serializers.ModelSerializer):
    class Meta:
        model = AmrJob
        fields = ["id", "state", "meter_device", "meter_execution_type", "task_call", "task_kwargs", "due_at"]


class InvokeView(APIView):
    """Invokes a task."""

    @extend_schema(
        operation_id="metering_amr-tasks_invoke_create",
        request=InvokeSerializer,
        responses={201: InvokedJobSerializer},
        tags=["metering"],
    )
    def post(self, request: Request) -> Response:
        serializer = InvokeSerializer(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        job = job_invoke(
            meter_device=data["meter_device"],
            meter_execution_type=data["meter_execution_type"],
            task_call=data["task_call"],
            task_kwargs=data["task_kwargs"],
            run_offset_seconds=data["run_offset_seconds"],
        )
        return Response(InvokedJobSerializer(job).data, status=status.HTTP_201_CREATED)
