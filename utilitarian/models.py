"""Users, organizations (the tenants) and who belongs where.

The user has a UUID primary key because the contract's membership ``user`` is a uuid. A membership
carries a role: viewers read, operators also write inside their organization, admins also manage
the organization's memberships. Staff users are outside this: they use a Token and see everything.
"""

from __future__ import annotations

import uuid

from django.contrib.auth.models import AbstractUser
from django.core.validators import MinLengthValidator
from django.db import models


class User(AbstractUser):
    #: Users belong to no single tenant; memberships say where they act.
    tenant_path = None

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class Organization(TimestampedModel):
    #: Path from this model to the organization, used by the one scoping mechanism (tenancy.py).
    tenant_path = "pk"

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(max_length=64, validators=[MinLengthValidator(1)])
    is_active = models.BooleanField(default=True)
    #: Create reading series on first use (e.g. a DLMS OBIS code the organization has no series
    #: for). Off by default: unknown values are then reported by the job, not silently dropped.
    auto_create_series = models.BooleanField(default=False)
    members = models.ManyToManyField(
        User, through="OrganizationMembership", related_name="organizations", blank=True
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer (read only)"
    OPERATOR = "operator", "Operator (read and write)"
    ADMIN = "admin", "Admin (read, write, manage members)"


class OrganizationMembership(TimestampedModel):
    tenant_path = "organization"

    organization = models.ForeignKey(Organization, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.VIEWER)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["organization", "user"], name="unique_membership_per_pair")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.organization} ({self.role})"
