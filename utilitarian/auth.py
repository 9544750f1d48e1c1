"""Authentication: staff API tokens, organization-scoped JWTs for everyone else.

* ``Authorization: Token <key>``: staff only. A token that belongs to a non-staff user is refused,
  so a stray token row can never grant all-organization access.
* ``Authorization: JWT <token>`` (``Bearer`` accepted too): a simplejwt access token whose
  ``organization`` claim names the one organization the user acts in. The membership is checked
  on every request, so removing a member takes effect at once, and the role (viewer, operator,
  admin) is read from the membership, not trusted from the token.

The bearer-JWT validation for external identity providers (gateway, PowerBox) lives in
``utilitarian/bearer.py``; it is a different trust relationship (foreign issuer, JWKS).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from rest_framework import exceptions
from rest_framework.authentication import TokenAuthentication
from rest_framework.request import Request
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.tokens import AccessToken

from .models import Organization, OrganizationMembership, Role, User

ORGANIZATION_CLAIM = "organization"


@dataclass(frozen=True)
class Tenant:
    """Who is asking, as far as data scoping is concerned.

    ``organization_id`` is None for staff (they see every organization)."""

    organization_id: uuid.UUID | None
    role: str | None

    @property
    def is_global(self) -> bool:
        return self.organization_id is None

    @property
    def can_write(self) -> bool:
        return self.is_global or self.role in (Role.OPERATOR, Role.ADMIN)

    @property
    def is_org_admin(self) -> bool:
        return self.is_global or self.role == Role.ADMIN


class StaffTokenAuthentication(TokenAuthentication):
    def authenticate_credentials(self, key: str):
        user, token = super().authenticate_credentials(key)
        if not user.is_staff:
            raise exceptions.AuthenticationFailed("API tokens are for staff users; use a JWT.")
        return user, token


class OrganizationJWTAuthentication(JWTAuthentication):
    www_authenticate_realm = "api"

    def authenticate(self, request: Request):
        result = super().authenticate(request)
        if result is None:
            return None
        user, token = result
        org_id = token.get(ORGANIZATION_CLAIM)
        try:
            org_uuid = uuid.UUID(str(org_id))
        except (TypeError, ValueError) as exc:
            raise exceptions.AuthenticationFailed("Token has no organization.") from exc
        membership = (
            OrganizationMembership.objects.filter(
                user=user, organization_id=org_uuid, organization__is_active=True
            )
            .only("role")
            .first()
        )
        if membership is None:
            raise exceptions.AuthenticationFailed("Token's organization membership no longer exists.")
        request._utilitarian_tenant = Tenant(organization_id=org_uuid, role=membership.role)
        return user, token


def request_tenant(request: Request) -> Tenant:
    """The tenant of an authenticated request. Staff token → global; JWT → its organization."""
    tenant = getattr(request, "_utilitarian_tenant", None)
    if tenant is None:
        inner = getattr(request, "_request", None)
        tenant = getattr(inner, "_utilitarian_tenant", None)
    if tenant is not None:
        return tenant
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated and user.is_staff:
        return Tenant(organization_id=None, role=None)
    # Authenticated by some other means (e.g. a session in the browsable docs) but not staff:
    # no organization, so nothing is visible and nothing is writable.
    return Tenant(organization_id=uuid.UUID(int=0), role=Role.VIEWER)


def issue_jwt(user: User, organization: Organization) -> str:
    """A fresh access token for ``user`` acting in ``organization``."""
    token = AccessToken.for_user(user)
    token[ORGANIZATION_CLAIM] = str(organization.pk)
    return str(token)


def default_organization(user: User) -> Organization | None:
    """The user's first organization (oldest membership), as the contract describes."""
    membership = (
        OrganizationMembership.objects.filter(user=user, organization__is_active=True)
        .select_related("organization")
        .order_by("created_at", "id")
        .first()
    )
    return membership.organization if membership else None
