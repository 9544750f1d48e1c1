"""What every execution environment is: declared calls, kwarg validation, and a run method.

An environment adapts one driver of ``protocols/`` to AMR jobs. It declares its calls as data
(:class:`Call` with :class:`Kwarg`), so invoke validation, task validation, the API schema and the
admin all read one declaration, and a call or kwarg that is not declared is refused before any
job exists (a 400, never a 500 in a worker). At run time it receives a :class:`MeterContext`
(plain values the job runner resolved from the database: address, keys, time zone) and returns a
``protocols.results.ReadResult``; it raises ``protocols.errors.ProtocolError`` (with
``permanent``) for failures, so the runner decides retry or fail without knowing the protocol.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

from protocols.errors import ProtocolError
from protocols.results import ReadResult
from protocols.transport import DEFAULT_TIMEOUT, Transport, open_transport

KWARG_TYPES = ("str", "int", "number", "bool", "datetime", "str_list", "object_list", "object")


class InvalidCall(ValueError):
    """A call or its kwargs do not match the environment's declaration. ``field`` names the
    request field at fault (``task_call`` or ``task_kwargs``)."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name
        self.message = message


class DriverNotAvailable(ProtocolError):
    """The environment is declared but its driver is not installed or not written yet."""

    permanent = True


@dataclass(frozen=True)
class Kwarg:
    name: str
    type: str
    required: bool = True
    help: str = ""
    choices: tuple[str, ...] | None = None
    minimum: int | None = None

    def clean(self, value: Any) -> Any:
        """The value in canonical JSON form, or ValueError with the reason."""
        if self.type == "str":
            if not isinstance(value, str) or not value.strip():
                raise ValueError("must be a non-empty string")
            if self.choices and value not in self.choices:
                raise ValueError(f"must be one of {', '.join(self.choices)}")
            return value
        if self.type == "int":
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError("must be an integer")
            if self.minimum is not None and value < self.minimum:
                raise ValueError(f"must be at least {self.minimum}")
            return value
        if self.type == "number":
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError("must be a number")
            try:
                number = Decimal(str(value))
            except InvalidOperation as exc:
                raise ValueError("must be a number") from exc
            if not number.is_finite() or (self.minimum is not None and number < self.minimum):
                raise ValueError(f"must be a finite number of at least {self.minimum or 0}")
            return value
        if self.type == "bool":
            if not isinstance(value, bool):
                raise ValueError("must be true or false")
            return value
        if self.type == "datetime":
            if not isinstance(value, str):
                raise ValueError("must be an ISO 8601 date or date-time string")
            try:
                moment = datetime.fromisoformat(value)
            except ValueError:
                try:
                    moment = datetime.combine(date.fromisoformat(value), datetime.min.time())
                except ValueError as exc:
                    raise ValueError("must be an ISO 8601 date or date-time string") from exc
            if moment.tzinfo is None:  # naive means UTC, the platform's time
                moment = moment.replace(tzinfo=UTC)
            return moment.isoformat()
        if self.type == "str_list":
            if not isinstance(value, list) or not value or not all(isinstance(v, str) and v for v in value):
                raise ValueError("must be a non-empty list of strings")
            return value
        if self.type == "object_list":
            if (
                not isinstance(value, list)
                or not value
                or not all(isinstance(v, dict | str | int) for v in value)
            ):
                raise ValueError("must be a non-empty list")
            return value
        if self.type == "object":
            if not isinstance(value, dict):
                raise ValueError("must be a JSON object")
            return value
        raise AssertionError(f"unknown kwarg type {self.type}")  # pragma: no cover - declaration bug

    def describe(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "type": self.type, "required": self.required}
        if self.help:
            out["help"] = self.help
        if self.choices:
            out["choices"] = list(self.choices)
        return out


@dataclass(frozen=True)
class Call:
    name: str
    kwargs: tuple[Kwarg, ...] = ()
    help: str = ""

    def signature(self) -> str:
        parts = [k.name if k.required else f"{k.name}?" for k in self.kwargs]
        return f"{self.name}({', '.join(parts)})"

    def describe(self) -> dict[str, Any]:
        return {"name": self.name, "help": self.help, "kwargs": [k.describe() for k in self.kwargs]}


@dataclass
class MeterContext:
    """Everything an environment needs about one meter, resolved by the job runner (no ORM)."""

    meter_id: str
    meter_name: str
    organization_id: str
    protocol: str = ""
    host: str | None = None
    port: int | None = None
    serial_port: str | None = None
    serial_baudrate: int | None = None
    timezone: str = "UTC"
    timeout: float = DEFAULT_TIMEOUT
    iec62056_21_address: str | None = None
    iec62056_21_password: str | None = None
    mbus_primary_address: int | None = None
    mbus_secondary_address: str | None = None
    modbus_unit_id: int | None = None
    modbus_register_map: Any = None
    dlms_client_address: int | None = None
    dlms_server_address: int | None = None
    dlms_authentication: str | None = None
    dlms_transport: str | None = None
    dlms_system_title: str | None = None
    dlms_logical_device_name: str | None = None
    dlms_keys: dict[str, str] = field(default_factory=dict, repr=False)
    #: Hook to keep the network interface block alive during long reads (set by the runner).
    keep_alive: Callable[[], bool] | None = None
    #: DLMS invocation counter store (see amr/counters.py), set by the runner.
    counter_store: Any = None

    def transport(self, **overrides: Any) -> Transport:
        """The meter's transport, built but not opened: serial when configured, else TCP."""
        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "serial_port": self.serial_port,
            "timeout": self.timeout,
        }
        if self.serial_baudrate:
            options["baudrate"] = self.serial_baudrate
        options.update(overrides)
        return open_transport(**options)


class ExecutionEnvironment:
    """Base class: subclasses set ``name``, ``calls`` and implement one method per call.

    The method of a call has the call's name and receives the cleaned kwargs as keyword
    arguments; ``self.meter`` is the :class:`MeterContext`."""

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    calls: ClassVar[tuple[Call, ...]] = ()

    def __init__(self, meter: MeterContext) -> None:
        self.meter = meter

    @classmethod
    def call_named(cls, name: str) -> Call | None:
        return next((c for c in cls.calls if c.name == name), None)

    @classmethod
    def validate(cls, task_call: str, task_kwargs: Mapping[str, Any] | None) -> dict[str, Any]:
        """The cleaned kwargs of ``task_call``, or :class:`InvalidCall` saying what is wrong."""
        call = cls.call_named(task_call)
        if call is None:
            known = ", ".join(c.signature() for c in cls.calls)
            raise InvalidCall("task_call", f"{cls.name} has no call {task_call!r}; its calls are: {known}.")
        kwargs = dict(task_kwargs or {})
        if not isinstance(task_kwargs, Mapping | None):
            raise InvalidCall("task_kwargs", "task_kwargs must be a JSON object.")
        declared = {k.name: k for k in call.kwargs}
        unknown = sorted(set(kwargs) - set(declared))
        if unknown:
            raise InvalidCall(
                "task_kwargs",
                f"{call.name} takes no argument {', '.join(map(repr, unknown))}; "
                f"its signature is {call.signature()}.",
            )
        cleaned: dict[str, Any] = {}
        for kwarg in call.kwargs:
            if kwarg.name not in kwargs or kwargs[kwarg.name] is None:
                if kwarg.required:
                    raise InvalidCall(
                        "task_kwargs",
                        f"{call.name} needs {kwarg.name!r}; its signature is {call.signature()}.",
                    )
                continue
            try:
                cleaned[kwarg.name] = kwarg.clean(kwargs[kwarg.name])
            except ValueError as exc:
                raise InvalidCall("task_kwargs", f"{kwarg.name}: {exc}.") from exc
        return cleaned

    @classmethod
    def describe(cls) -> dict[str, Any]:
        return {"name": cls.name, "description": cls.description, "calls": [c.describe() for c in cls.calls]}

    def run(self, task_call: str, task_kwargs: Mapping[str, Any] | None) -> ReadResult:
        cleaned = self.validate(task_call, task_kwargs)
        return getattr(self, task_call)(**cleaned)


def as_datetime(value: str | datetime | None) -> datetime | None:
    """Cleaned datetime kwargs are ISO strings; drivers want aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
