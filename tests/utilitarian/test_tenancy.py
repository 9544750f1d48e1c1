"""The scoping mechanism itself: it cannot be bypassed by a viewset, and unknown models fail loudly."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import models

from utilitarian.auth import Tenant
from utilitarian.models import Organization
from utilitarian.tenancy import TenantScopedViewSet, scope_queryset


def test_a_viewset_overriding_get_queryset_is_refused_at_import() -> None:
    with pytest.raises(ImproperlyConfigured, match="safely_get_queryset"):

        class Sneaky(TenantScopedViewSet):
            def get_queryset(self):
                return Organization.objects.all()


@pytest.mark.django_db
def test_model_without_tenant_path_fails_loudly() -> None:
    class Untagged(models.Model):  # noqa: DJ008
        class Meta:
            app_label = "utilitarian"
            managed = False

    with pytest.raises(ImproperlyConfigured, match="tenant_path"):
        scope_queryset(Untagged.objects.all(), Tenant(organization_id=Organization().pk, role="viewer"))


def test_scope_filters_by_the_declared_path(personas) -> None:
    tenant = Tenant(organization_id=personas.org_a.pk, role="viewer")
    assert list(scope_queryset(Organization.objects.all(), tenant)) == [personas.org_a]
    assert scope_queryset(Organization.objects.all(), Tenant(None, None)).count() == 2
