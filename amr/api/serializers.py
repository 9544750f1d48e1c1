"""AMR tasks and task groups as the contract shapes them (served under /api/v1/metering/).

``run_offset_seconds`` must lie within one period of the schedule (0..SCHEDULE_MAX_OFFSET_SECONDS),
``meter_execution_type`` is a name of the execution-environment registry (the contract's three
plus this server's extensions), and ``task_kwargs`` is a JSON object or null.
"""

from __future__ import annotations

from rest_framework import serializers

from meters.api.serializers import InventorySerializer, JSONObjectField, info_string

from ..environments import ENVIRONMENTS
from ..environments.base import InvalidCall
from ..models import SCHEDULE_MAX_OFFSET_SECONDS, AmrTask, AmrTaskGroup
from ..services import validate_task_call


class AmrTaskSerializer(InventorySerializer):
    meter_execution_type = serializers.ChoiceField(
        choices=[(name, name) for name in ENVIRONMENTS],
        help_text="The execution interface for this task",
    )
    task_kwargs = JSONObjectField(
        required=False, allow_null=True, help_text="Keyword arguments for task. In JSON"
    )

    class Meta:
        model = AmrTask
        fields = [
            "id",
            "organization",
            "name",
            "description",
            "is_active",
            "schedule",
            "run_offset_seconds",
            "meter_execution_type",
            "task_call",
            "task_kwargs",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {
            "schedule": {"help_text": "How often to run the task (UTC)"},
            "run_offset_seconds": {
                "min_value": -2147483648,
                "max_value": 2147483647,
                "help_text": "Value in seconds: delays each run; 0 up to one period of the schedule "
                "(quarterly 900, hourly 3600, daily 86400, weekly 604800, monthly 2419200, yearly 31536000).",
            },
            "task_call": {"help_text": "The function to call on the execution interface"},
        }

    def validate(self, attrs: dict) -> dict:
        attrs = super().validate(attrs)
        schedule = attrs.get("schedule", getattr(self.instance, "schedule", None))
        offset = attrs.get("run_offset_seconds", getattr(self.instance, "run_offset_seconds", 0))
        if schedule in SCHEDULE_MAX_OFFSET_SECONDS:
            limit = SCHEDULE_MAX_OFFSET_SECONDS[schedule]
            if not 0 <= offset <= limit:
                raise serializers.ValidationError(
                    {
                        "run_offset_seconds": [
                            f"Must be between 0 and {limit} seconds for a {schedule} schedule."
                        ]
                    }
                )
        execution_type = attrs.get(
            "meter_execution_type", getattr(self.instance, "meter_execution_type", None)
        )
        task_call = attrs.get("task_call", getattr(self.instance, "task_call", None))
        kwargs = (
            attrs["task_kwargs"] if "task_kwargs" in attrs else getattr(self.instance, "task_kwargs", None)
        )
        try:
            validate_task_call(meter_execution_type=execution_type, task_call=task_call, task_kwargs=kwargs)
        except InvalidCall as exc:
            raise serializers.ValidationError({exc.field: [exc.message]}) from exc
        return attrs


class AmrTaskGroupSerializer(InventorySerializer):
    same_organization_fields = ("tasks",)
    tasks_info = serializers.SerializerMethodField()

    class Meta:
        model = AmrTaskGroup
        fields = [
            "id",
            "name",
            "organization",
            "description",
            "tasks",
            "tasks_info",
            "created_at",
            "updated_at",
        ]
        extra_kwargs = {"tasks": {"help_text": "Choose AMR Tasks that should be a part of this group."}}

    def get_tasks_info(self, obj: AmrTaskGroup) -> str:
        return info_string(task.name for task in obj.tasks.all())
