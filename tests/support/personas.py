"""The cast every API test uses (the healthchecks Alice/Bob pattern):

* ``staff``: a staff user with an API token (sees and does everything);
* ``admin_a``, ``operator_a``, ``viewer_a``: members of organization A with those roles;
* ``operator_b``: an operator of organization B, the other tenant.

``personas.client(name)`` returns an APIClient authenticated as that persona (Token for staff,
a JWT for the organization's members); ``personas.anonymous()`` one without credentials.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from utilitarian.auth import issue_jwt
from utilitarian.models import Organization, Role, User

from .factories import MembershipFactory, OrganizationFactory, UserFactory


@dataclass
class Personas:
    org_a: Organization
    org_b: Organization
    staff: User
    admin_a: User
    operator_a: User
    viewer_a: User
    operator_b: User
    _clients: dict[str, APIClient] = field(default_factory=dict)

    def client(self, name: str) -> APIClient:
        if name not in self._clients:
            user: User = getattr(self, name)
            client = APIClient()
            if user.is_staff:
                client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get(user=user).key}")
            else:
                org = self.org_b if name.endswith("_b") else self.org_a
                client.credentials(HTTP_AUTHORIZATION=f"JWT {issue_jwt(user, org)}")
            self._clients[name] = client
        return self._clients[name]

    def anonymous(self) -> APIClient:
        return APIClient()

    def org_of(self, name: str) -> Organization:
        return self.org_b if name.endswith("_b") else self.org_a


def build_personas() -> Personas:
    org_a = OrganizationFactory(name="Utility A")
    org_b = OrganizationFactory(name="Utility B")
    staff = UserFactory(username="staff", is_staff=True)
    members = {}
    for name, org, role in (
        ("admin_a", org_a, Role.ADMIN),
        ("operator_a", org_a, Role.OPERATOR),
        ("viewer_a", org_a, Role.VIEWER),
        ("operator_b", org_b, Role.OPERATOR),
    ):
        user = UserFactory(username=name)
        MembershipFactory(organization=org, user=user, role=role)
        members[name] = user
    return Personas(org_a=org_a, org_b=org_b, staff=staff, **members)
