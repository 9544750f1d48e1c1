"""Roles → HTTP verbs. Kept apart from tenancy.py because DRF imports it while loading its settings."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from .auth import request_tenant


class TenantPermission(permissions.BasePermission):
    """Authenticated users only; writes need a role that may write.

    Viewsets may tighten writes with ``write_roles`` (e.g. ``{"staff"}`` or ``{"staff", "admin"}``).
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in permissions.SAFE_METHODS:
            return True
        tenant = request_tenant(request)
        write_roles = getattr(view, "write_roles", None)
        if write_roles is not None:
            if tenant.is_global:
                return "staff" in write_roles
            return tenant.role in write_roles
        return tenant.can_write
