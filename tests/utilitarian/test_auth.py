"""The authentication matrix of the contract: staff tokens, organization JWTs, and refusals."""

from __future__ import annotations

from datetime import timedelta

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import AccessToken

from tests.support.factories import PASSWORD, MembershipFactory, UserFactory
from tests.support.personas import Personas
from utilitarian.auth import issue_jwt
from utilitarian.models import Role

ORGS = "/api/v1/organizations/"
TOKEN = "/api/v1/auth/jwt/token/"


def with_header(value: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=value)
    return client


@pytest.mark.django_db
def test_staff_user_gets_a_token_automatically() -> None:
    user = UserFactory(is_staff=True)
    assert Token.objects.filter(user=user).exists()


@pytest.mark.django_db
def test_non_staff_user_gets_no_token_and_loses_it_when_demoted() -> None:
    user = UserFactory(is_staff=True)
    user.is_staff = False
    user.save()
    assert not Token.objects.filter(user=user).exists()
    assert not Token.objects.filter(user=UserFactory()).exists()


def test_staff_token_sees_every_organization(personas: Personas) -> None:
    body = personas.client("staff").get(ORGS).json()
    assert body["count"] == 2


def test_token_of_a_non_staff_user_is_refused(personas: Personas) -> None:
    token = Token.objects.create(user=personas.viewer_a)
    assert with_header(f"Token {token.key}").get(ORGS).status_code == 401


def test_no_credentials_is_401_with_www_authenticate(personas: Personas) -> None:
    response = APIClient().get(ORGS)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Token"


@pytest.mark.parametrize(
    "header",
    ["Token 0000000000000000000000000000000000000000", "JWT not.a.jwt", "Bearer garbage", "JWT"],
)
def test_bad_credentials_are_401(personas: Personas, header: str) -> None:
    assert with_header(header).get(ORGS).status_code == 401


def test_wrong_prefix_is_401(personas: Personas) -> None:
    jwt = issue_jwt(personas.viewer_a, personas.org_a)
    assert with_header(f"Basic {jwt}").get(ORGS).status_code == 401
    assert with_header(f"Bearer {jwt}").get(ORGS).status_code == 200


def test_expired_jwt_is_401(personas: Personas) -> None:
    token = AccessToken.for_user(personas.viewer_a)
    token["organization"] = str(personas.org_a.pk)
    token.set_exp(lifetime=-timedelta(seconds=1))
    assert with_header(f"JWT {token}").get(ORGS).status_code == 401


def test_jwt_whose_membership_was_removed_is_401(personas: Personas) -> None:
    client = personas.client("viewer_a")
    personas.viewer_a.memberships.all().delete()
    assert client.get(ORGS).status_code == 401


def test_viewer_jwt_is_read_only(personas: Personas) -> None:
    client = personas.client("viewer_a")
    assert client.get(ORGS).status_code == 200
    assert client.patch(f"{ORGS}{personas.org_a.pk}/", {"name": "x"}).status_code == 403


def test_obtain_jwt_for_first_organization(personas: Personas) -> None:
    response = APIClient().post(TOKEN, {"username": "viewer_a", "password": PASSWORD})
    assert response.status_code == 201, response.content
    assert response.json()["organization"] == str(personas.org_a.pk)
    assert with_header(f"JWT {response.json()['token']}").get(ORGS).json()["count"] == 1


def test_obtain_jwt_wrong_password_is_400(personas: Personas) -> None:
    response = APIClient().post(TOKEN, {"username": "viewer_a", "password": "nope"})
    assert response.status_code == 400


def test_obtain_jwt_without_membership_is_400(db) -> None:
    UserFactory(username="loner")
    response = APIClient().post(TOKEN, {"username": "loner", "password": PASSWORD})
    assert response.status_code == 400
    assert "organization" in response.json()


def test_obtain_jwt_for_foreign_organization_is_403(personas: Personas) -> None:
    response = APIClient().post(
        TOKEN, {"username": "viewer_a", "password": PASSWORD, "organization": str(personas.org_b.pk)}
    )
    assert response.status_code == 403


def test_obtain_jwt_with_missing_fields_is_400(db) -> None:
    response = APIClient().post(TOKEN, {"username": ""})
    assert response.status_code == 400
    assert set(response.json()) >= {"username", "password"}


def test_renew_gives_a_working_token_for_the_same_organization(personas: Personas) -> None:
    response = personas.client("operator_b").get("/api/v1/auth/jwt/renew/")
    assert response.status_code == 200
    assert response.json()["organization"] == str(personas.org_b.pk)
    assert with_header(f"JWT {response.json()['token']}").get(ORGS).status_code == 200


def test_renew_without_jwt_is_401(personas: Personas) -> None:
    assert personas.client("staff").get("/api/v1/auth/jwt/renew").status_code == 401


def test_change_organization(personas: Personas) -> None:
    MembershipFactory(organization=personas.org_b, user=personas.viewer_a, role=Role.VIEWER)
    response = personas.client("viewer_a").post(
        "/api/v1/auth/jwt/change-organization/", {"organization": str(personas.org_b.pk)}
    )
    assert response.status_code == 201, response.content
    client = with_header(f"JWT {response.json()['token']}")
    results = client.get(ORGS).json()["results"]
    assert [r["id"] for r in results] == [str(personas.org_b.pk)]


def test_change_to_organization_without_membership_is_403(personas: Personas) -> None:
    response = personas.client("viewer_a").post(
        "/api/v1/auth/jwt/change-organization", {"organization": str(personas.org_b.pk)}
    )
    assert response.status_code == 403


def test_change_organization_bad_uuid_is_400(personas: Personas) -> None:
    response = personas.client("viewer_a").post(
        "/api/v1/auth/jwt/change-organization/", {"organization": "x"}
    )
    assert response.status_code == 400


def test_inactive_organization_cannot_be_used(personas: Personas) -> None:
    personas.org_a.is_active = False
    personas.org_a.save()
    assert personas.client("viewer_a").get(ORGS).status_code == 401
