"""PowerBox errors: a status code and nothing else.

The PowerBox contract answers every error with a bare 4xx: 400 invalid payload, 401 missing,
invalid or expired token, 403 account locked or closed, 404 unknown customer or meter. The
public views install :func:`empty_body_exception_handler` through ``get_exception_handler``
(the rest of the API keeps the project's JSON error bodies). Services raise the domain errors
below, which know nothing of HTTP beyond their status code.

Nothing a caller sends may end in a 500: database conflicts lost to a concurrent writer are a
400 (the state changed under the request, as for a device bound elsewhere), and an unavailable
database or a PowerBox without its identity-provider settings is a 503 (logged as an error),
which EnergyGrid retries.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ImproperlyConfigured
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DatabaseError, IntegrityError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class PowerBoxError(Exception):
    status_code = status.HTTP_400_BAD_REQUEST

    def __init__(self, reason: str = "") -> None:
        super().__init__(reason or type(self).__name__)
        self.reason = reason


class InvalidPayload(PowerBoxError):
    status_code = status.HTTP_400_BAD_REQUEST


class BindConflict(PowerBoxError):
    """The meter's bind state does not allow the request (e.g. bound to another device)."""

    status_code = status.HTTP_400_BAD_REQUEST


class AccountLocked(PowerBoxError):
    status_code = status.HTTP_403_FORBIDDEN


class UnknownCustomer(PowerBoxError):
    status_code = status.HTTP_404_NOT_FOUND


class UnknownMeter(PowerBoxError):
    status_code = status.HTTP_404_NOT_FOUND


_DRF_STATUS = (
    ((exceptions.NotAuthenticated, exceptions.AuthenticationFailed), status.HTTP_401_UNAUTHORIZED),
    ((exceptions.PermissionDenied, DjangoPermissionDenied), status.HTTP_403_FORBIDDEN),
    ((exceptions.NotFound, Http404), status.HTTP_404_NOT_FOUND),
    # A body that is not JSON, not an object, or sent as another media type: an invalid payload.
    ((exceptions.ParseError, exceptions.ValidationError, exceptions.UnsupportedMediaType), 400),
    ((exceptions.MethodNotAllowed,), status.HTTP_405_METHOD_NOT_ALLOWED),
    ((exceptions.NotAcceptable,), status.HTTP_406_NOT_ACCEPTABLE),
    ((exceptions.Throttled,), status.HTTP_429_TOO_MANY_REQUESTS),
)


def status_for(exc: Exception) -> int | None:
    if isinstance(exc, PowerBoxError):
        return exc.status_code
    for classes, code in _DRF_STATUS:
        if isinstance(exc, classes):
            return code
    if isinstance(exc, IntegrityError):
        return status.HTTP_400_BAD_REQUEST
    if isinstance(exc, OperationalError | DatabaseError | ImproperlyConfigured):
        return status.HTTP_503_SERVICE_UNAVAILABLE
    if isinstance(exc, exceptions.APIException):
        return exc.status_code if 400 <= exc.status_code < 500 else status.HTTP_503_SERVICE_UNAVAILABLE
    return None


def empty_body_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: the status code with an empty body (and the auth challenge)."""
    code = status_for(exc)
    if code is None:
        return None  # a bug: let it surface as one rather than dress it up as a client error
    view = context.get("view")
    if isinstance(exc, ImproperlyConfigured):
        logger.error("powerbox is not configured: %s", exc)
    elif code == status.HTTP_401_UNAUTHORIZED or code >= 500:
        logger.info("powerbox %s: %s", code, exc)
    else:
        logger.debug("powerbox %s: %s", code, exc)
    response = Response(status=code)
    if code == status.HTTP_401_UNAUTHORIZED:
        request = context.get("request")
        header = None
        if view is not None and request is not None:
            header = view.get_authenticate_header(request)
        response["WWW-Authenticate"] = header or 'Bearer realm="powerbox"'
    if isinstance(exc, exceptions.MethodNotAllowed) and view is not None:
        response["Allow"] = ", ".join(view.allowed_methods)
    if isinstance(exc, exceptions.Throttled) and exc.wait is not None:
        response["Retry-After"] = str(int(exc.wait))
    return response
