"""The one tenant-scoping mechanism every viewset and serializer of every app goes through.

Each model declares ``tenant_path``: the ORM path from the model to its organization
(``"organization"``, ``"meter_device__organization"``, ``"pk"`` for Organization itself, or
``None`` for models that belong to no tenant, like users). :func:`scope_queryset` filters by it.

* :class:`TenantScopedViewSet` applies the scope in ``get_queryset`` and refuses, at class
  creation, a subclass that overrides ``get_queryset`` (it implements ``safely_get_queryset``
  instead), so no viewset can forget or bypass the scope by accident (the PostHog pattern).
* :class:`TenantModelSerializer` scopes the queryset of every related field, so a foreign id in
  a request body fails validation like a missing one ("object does not exist"), and replaces any
  ``organization`` a JWT user sends by the token's (the contract: "it will be cleaned").
* :class:`TenantPermission` turns roles into HTTP verbs: viewers read, operators and admins
  write in their organization, staff tokens do everything.

A model without ``tenant_path`` makes the request fail loudly (ImproperlyConfigured), never leak.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db.models import Model, QuerySet
from rest_framework import serializers, viewsets
from rest_framework.relations import ManyRelatedField, RelatedField

from .auth import Tenant, request_tenant
from .permissions import TenantPermission  # noqa: F401  (re-exported: one place to look)

UUID_LOOKUP_REGEX = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
INT_LOOKUP_REGEX = r"[0-9]{1,18}"

_MISSING = object()


def tenant_path_of(model: type[Model]) -> str | None:
    path = getattr(model, "tenant_path", _MISSING)
    if path is _MISSING:
        raise ImproperlyConfigured(
            f"{model.__name__} has no tenant_path: declare the path to its organization (or None)."
        )
    return path


def scope_queryset(queryset: QuerySet, tenant: Tenant) -> QuerySet:
    """Restrict ``queryset`` to what ``tenant`` may see."""
    if tenant.is_global:
        return queryset
    path = tenant_path_of(queryset.model)
    if path is None:
        # Tenant-less models (users) are not listable by tenants through a scoped viewset.
        return queryset.none()
    return queryset.filter(**{path: tenant.organization_id})


class TenantScopedViewSet(viewsets.GenericViewSet):
    """Base of every API viewset. Implement ``safely_get_queryset`` to add filters or joins."""

    lookup_value_regex = UUID_LOOKUP_REGEX

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "get_queryset" in cls.__dict__:
            raise ImproperlyConfigured(
                f"{cls.__name__} overrides get_queryset(); implement safely_get_queryset() so the "
                "tenant scope cannot be bypassed."
            )

    @property
    def tenant(self) -> Tenant:
        return request_tenant(self.request)

    def safely_get_queryset(self, queryset: QuerySet) -> QuerySet:
        return queryset

    def get_queryset(self) -> QuerySet:
        queryset = super().get_queryset()
        if getattr(self, "swagger_fake_view", False):
            return queryset.none()
        return self.safely_get_queryset(scope_queryset(queryset, self.tenant))


class TenantModelSerializer(serializers.ModelSerializer):
    """ModelSerializer whose related fields only accept the request's organization's objects."""

    organization_field = "organization"

    def get_fields(self) -> dict[str, serializers.Field]:
        fields = super().get_fields()
        request = self.context.get("request")
        if request is None:
            return fields
        tenant = request_tenant(request)
        for field in fields.values():
            related = field.child_relation if isinstance(field, ManyRelatedField) else field
            if isinstance(related, RelatedField) and not related.read_only and related.queryset is not None:
                if tenant_path_of(related.queryset.model) is not None:
                    related.queryset = scope_queryset(related.queryset, tenant)
        return fields

    def to_internal_value(self, data: Any) -> Any:
        request = self.context.get("request")
        field = self.fields.get(self.organization_field) if self.organization_field else None
        if request is not None and field is not None and not field.read_only and isinstance(data, dict):
            tenant = request_tenant(request)
            if not tenant.is_global:
                data = {**data, self.organization_field: str(tenant.organization_id)}
        return super().to_internal_value(data)
