"""``generic_corus_meter``: Itron/Actaris Corus volume correctors over I-FLAG.

Database reads need the firmware's record layout; there is no model field for it, so the
database calls take an optional ``database_layout`` kwarg (see protocols.iflag.client.DatabaseLayout);
without one the driver refuses the read and the job fails with that reason.
"""

from __future__ import annotations

from protocols.results import ReadResult

from .base import Call, ExecutionEnvironment, Kwarg, as_datetime

DATABASES = ("interval", "hourly", "daily", "monthly")
_DATABASE = Kwarg("database", "str", choices=DATABASES)
_LAYOUT = Kwarg("database_layout", "object", required=False, help="record layouts (firmware dependent)")


class CorusEnvironment(ExecutionEnvironment):
    name = "generic_corus_meter"
    description = "Corus volume correctors (I-FLAG): parameters, databases, clock setting."
    calls = (
        Call(
            "read_parameters",
            (Kwarg("parameters", "object_list", help='[{"id": 1, "data_type": "float", "series": "..."}]'),),
        ),
        Call(
            "read_database_by_date",
            (
                _DATABASE,
                Kwarg("start_date", "datetime", required=False),
                Kwarg("end_date", "datetime", required=False),
                _LAYOUT,
            ),
        ),
        Call(
            "read_database_by_offset_seconds",
            (Kwarg("offset_seconds", "int", minimum=1), _DATABASE, _LAYOUT),
        ),
        Call("set_time", (Kwarg("allowed_drift_seconds", "int", minimum=0),)),
    )

    def _meter(self, database_layout: dict | None = None):
        from protocols.iflag.client import CorusMeter

        return CorusMeter(
            transport=self.meter.transport(),
            timezone=self.meter.timezone,
            database_layout=database_layout,
        )

    def read_parameters(self, *, parameters: list) -> ReadResult:
        return self._meter().read_parameters(parameters)

    def read_database_by_date(
        self,
        *,
        database: str,
        start_date: str | None = None,
        end_date: str | None = None,
        database_layout: dict | None = None,
    ) -> ReadResult:
        return self._meter(database_layout).read_database_by_date(
            database, as_datetime(start_date), as_datetime(end_date)
        )

    def read_database_by_offset_seconds(
        self, *, offset_seconds: int, database: str, database_layout: dict | None = None
    ) -> ReadResult:
        return self._meter(database_layout).read_database_by_offset_seconds(offset_seconds, database)

    def set_time(self, *, allowed_drift_seconds: int) -> ReadResult:
        return self._meter().set_time(allowed_drift_seconds)
