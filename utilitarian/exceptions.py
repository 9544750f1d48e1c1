"""API error shapes: every failure the client can cause is a 4xx with a reason, never a 500.

DRF handles its own exceptions; this adds the Django ones that escape model code: deleting an
object that others depend on (409 with the reason), Django's ValidationError (400), and a unique
constraint lost to a concurrent writer (409) instead of an IntegrityError traceback.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError
from django.db.models import ProtectedError, RestrictedError
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class Conflict(Exception):
    """Raised by services when an operation conflicts with the current state (answered as 409)."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


def exception_handler(exc, context):
    response = drf_exception_handler(exc, context)
    if response is not None:
        return response
    if isinstance(exc, (ProtectedError, RestrictedError)):
        names = sorted(
            {
                obj._meta.verbose_name
                for obj in list(
                    exc.protected_objects if isinstance(exc, ProtectedError) else exc.restricted_objects
                )[:50]
            }
        )
        return Response(
            {"detail": f"This object is still used by: {', '.join(names)}. Remove those first."},
            status=status.HTTP_409_CONFLICT,
        )
    if isinstance(exc, Conflict):
        return Response({"detail": exc.detail}, status=status.HTTP_409_CONFLICT)
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return Response(detail, status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, IntegrityError):
        return Response(
            {"detail": "The request conflicts with existing data (a unique value is already taken)."},
            status=status.HTTP_409_CONFLICT,
        )
    return None
