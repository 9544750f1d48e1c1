"""Model fields with guarantees the stock ones lack.

``ExactDecimalField``: meter values must reach the database digit for digit. Django's
DecimalField needs a fixed precision and, on SQLite, is stored with NUMERIC affinity, which turns
"0.1" into a binary float. This field is PostgreSQL's unconstrained ``numeric`` (exact, keeps the
scale as sent) and TEXT on SQLite (the decimal string itself), and never accepts NaN or infinity.

``EncryptedTextField``: key material (DLMS keys, meter passwords) is stored Fernet-encrypted,
so a database dump does not reveal it. The key is ``FIELD_ENCRYPTION_KEY`` (any string; it is
stretched to a Fernet key) or, in development, derived from ``SECRET_KEY``.
"""

from __future__ import annotations

import base64
import hashlib
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.core import checks, exceptions
from django.db import models

MAX_DECIMAL_DIGITS = 40


def parse_exact_decimal(value: Any) -> Decimal:
    """A finite Decimal from a str/int/Decimal, refusing floats (they are already inexact)."""
    if isinstance(value, bool) or isinstance(value, float):
        raise ValueError("send decimal values as strings or integers, not binary floats")
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{value!r} is not a decimal number") from exc
    if not result.is_finite():
        raise ValueError("the value must be a finite number")
    if len(result.as_tuple().digits) > MAX_DECIMAL_DIGITS:
        raise ValueError(f"more than {MAX_DECIMAL_DIGITS} significant digits")
    return result


class ExactDecimalField(models.Field):
    description = "Exact decimal number (unconstrained numeric)"

    def db_type(self, connection) -> str:
        return "numeric" if connection.vendor == "postgresql" else "text"

    def get_internal_type(self) -> str:
        return "ExactDecimalField"

    def check(self, **kwargs):
        return [*super().check(**kwargs), *self._check_no_float_default()]

    def _check_no_float_default(self):
        if isinstance(self.default, float):
            return [checks.Error("ExactDecimalField default must not be a float", obj=self)]
        return []

    def to_python(self, value: Any) -> Decimal | None:
        if value is None or isinstance(value, Decimal):
            return value
        try:
            return parse_exact_decimal(value)
        except ValueError as exc:
            raise exceptions.ValidationError(str(exc), code="invalid") from exc

    def from_db_value(self, value: Any, expression, connection) -> Decimal | None:
        if value is None:
            return None
        if isinstance(value, Decimal):
            return value
        return Decimal(value)

    def get_db_prep_value(self, value: Any, connection, prepared: bool = False) -> Any:
        value = self.to_python(value)
        if value is None:
            return None
        if connection.vendor == "postgresql":
            return value
        return format(value, "f")

    def formfield(self, **kwargs):
        from django import forms

        return super().formfield(**{"form_class": forms.CharField, **kwargs})


@lru_cache(maxsize=4)
def _fernet(secret: str) -> Fernet:
    digest = hashlib.sha256(f"utilitarian-field-encryption:{secret}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def field_cipher() -> Fernet:
    return _fernet(settings.FIELD_ENCRYPTION_KEY or settings.SECRET_KEY)


class EncryptedTextField(models.TextField):
    """Text encrypted at rest. Values are plain strings in Python; ciphertext in the database."""

    prefix = "fernet:"

    def from_db_value(self, value: Any, expression, connection) -> str | None:
        if value is None or value == "":
            return value
        if not value.startswith(self.prefix):
            return value  # written before encryption was enabled
        try:
            return field_cipher().decrypt(value[len(self.prefix) :].encode()).decode()
        except InvalidToken as exc:
            raise exceptions.ImproperlyConfigured(
                "stored key material cannot be decrypted: FIELD_ENCRYPTION_KEY changed?"
            ) from exc

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        if value is None or value == "":
            return value
        return self.prefix + field_cipher().encrypt(str(value).encode()).decode()
