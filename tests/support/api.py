"""Generic API test cases, one base per operation (in the spirit of NetBox's ``APIViewTestCases``).

A resource's test module declares a class such as::

    class TestSimCards(APIViewTestCases.CRUD):
        url = "/api/v1/metering/sim-cards/"
        filters = {"iccid": lambda obj: obj.iccid}

        def make_object(self, organization): ...
        def create_payload(self, organization): ...
        def update_payload(self, obj): ...

and inherits tests for: 401 without credentials, pagination shape, staff seeing every tenant,
a JWT user seeing only its own organization, 404 (not 403) for the other tenant's object, 403
for a viewer's writes, an operator's create landing in its own organization whatever
``organization`` it sends, a foreign related id being rejected, 400 for a malformed payload,
and every declared filter narrowing the list. The bases are nested in a holder class so pytest
never collects them on their own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import Model

from .personas import Personas


def detail_url(base: str, pk: Any) -> str:
    return f"{base.rstrip('/')}/{pk}/"


class APIViewTestCases:
    class Base:
        url: str
        #: ORM path from the model to its organization, when it is not "organization".
        organization_path: str = "organization"
        #: Fields of a created object that the response must echo as sent.
        compare_fields: tuple[str, ...] = ()
        filters: dict[str, Callable[[Model], Any]] = {}

        def make_object(self, organization) -> Model:
            raise NotImplementedError

        def create_payload(self, organization) -> dict:
            raise NotImplementedError

        def update_payload(self, obj: Model) -> dict:
            raise NotImplementedError

        def invalid_payload(self, organization) -> dict:
            """A payload with wrong JSON types; the default suits most resources."""
            return {"name": ["not", "a", "string"], "organization": "not-a-uuid"}

        def organization_of(self, obj: Model):
            value: Any = obj
            for part in self.organization_path.split("__"):
                value = getattr(value, part)
            return value

    class List(Base):
        def test_list_without_credentials_is_401(self, personas: Personas) -> None:
            response = personas.anonymous().get(self.url)
            assert response.status_code == 401
            assert response.has_header("WWW-Authenticate")

        def test_list_has_pagination_shape(self, personas: Personas) -> None:
            self.make_object(personas.org_a)
            body = personas.client("staff").get(self.url, {"limit": 1}).json()
            assert set(body) >= {"count", "next", "previous", "results"}
            assert len(body["results"]) <= 1

        def test_staff_lists_every_organization(self, personas: Personas) -> None:
            a = self.make_object(personas.org_a)
            b = self.make_object(personas.org_b)
            ids = {
                str(item["id"])
                for item in personas.client("staff").get(self.url, {"limit": 1000}).json()["results"]
            }
            assert {str(a.pk), str(b.pk)} <= ids

        def test_jwt_user_lists_only_own_organization(self, personas: Personas) -> None:
            a = self.make_object(personas.org_a)
            b = self.make_object(personas.org_b)
            response = personas.client("viewer_a").get(self.url, {"limit": 1000})
            assert response.status_code == 200
            ids = {str(item["id"]) for item in response.json()["results"]}
            assert str(a.pk) in ids
            assert str(b.pk) not in ids

        def test_every_filter_narrows_the_list(self, personas: Personas) -> None:
            a = self.make_object(personas.org_a)
            self.make_object(personas.org_a)
            for param, value_of in self.filters.items():
                response = personas.client("staff").get(self.url, {param: value_of(a), "limit": 1000})
                assert response.status_code == 200, (param, response.content)
                ids = {str(item["id"]) for item in response.json()["results"]}
                assert str(a.pk) in ids, param
                assert len(ids) < 2 or param in getattr(self, "broad_filters", ()), param

    class Retrieve(Base):
        def test_retrieve_own(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            response = personas.client("viewer_a").get(detail_url(self.url, obj.pk))
            assert response.status_code == 200, response.content
            assert str(response.json()["id"]) == str(obj.pk)

        def test_other_organizations_object_is_404(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_b)
            assert personas.client("operator_a").get(detail_url(self.url, obj.pk)).status_code == 404

        def test_malformed_id_is_404(self, personas: Personas) -> None:
            assert personas.client("staff").get(detail_url(self.url, "not-an-id")).status_code == 404

        def test_retrieve_without_trailing_slash(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            response = personas.client("staff").get(detail_url(self.url, obj.pk).rstrip("/"))
            assert response.status_code == 200

    class Create(Base):
        def test_viewer_cannot_create(self, personas: Personas) -> None:
            response = personas.client("viewer_a").post(
                self.url, self.create_payload(personas.org_a), format="json"
            )
            assert response.status_code == 403

        def test_operator_creates_in_own_organization_whatever_it_sends(self, personas: Personas) -> None:
            payload = self.create_payload(personas.org_a)
            if "organization" in payload:
                payload["organization"] = str(personas.org_b.pk)
            response = personas.client("operator_a").post(self.url, payload, format="json")
            assert response.status_code == 201, response.content
            body = response.json()
            if "organization" in body:
                assert body["organization"] == str(personas.org_a.pk)

        def test_staff_creates(self, personas: Personas) -> None:
            payload = self.create_payload(personas.org_b)
            response = personas.client("staff").post(self.url, payload, format="json")
            assert response.status_code == 201, response.content
            body = response.json()
            for name in self.compare_fields:
                assert body[name] == payload[name], name

        def test_malformed_payload_is_400_with_field_errors(self, personas: Personas) -> None:
            response = personas.client("staff").post(
                self.url, self.invalid_payload(personas.org_a), format="json"
            )
            assert response.status_code == 400
            assert isinstance(response.json(), dict) and response.json()

        def test_non_object_body_is_400(self, personas: Personas) -> None:
            response = personas.client("staff").post(self.url, "[1, 2", content_type="application/json")
            assert response.status_code == 400

    class Update(Base):
        def test_operator_updates_own(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            response = personas.client("operator_a").put(
                detail_url(self.url, obj.pk), self.update_payload(obj), format="json"
            )
            assert response.status_code == 200, response.content

        def test_partial_update(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            payload = self.update_payload(obj)
            key = next(k for k in payload if k != "organization")
            response = personas.client("staff").patch(
                detail_url(self.url, obj.pk), {key: payload[key]}, format="json"
            )
            assert response.status_code == 200, response.content

        def test_viewer_cannot_update(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            response = personas.client("viewer_a").patch(detail_url(self.url, obj.pk), {}, format="json")
            assert response.status_code == 403

        def test_cannot_update_other_organizations_object(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_b)
            response = personas.client("operator_a").put(
                detail_url(self.url, obj.pk), self.update_payload(obj), format="json"
            )
            assert response.status_code == 404

    class Delete(Base):
        def test_operator_deletes_own(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            assert personas.client("operator_a").delete(detail_url(self.url, obj.pk)).status_code == 204
            assert not type(obj).objects.filter(pk=obj.pk).exists()

        def test_viewer_cannot_delete(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_a)
            assert personas.client("viewer_a").delete(detail_url(self.url, obj.pk)).status_code == 403

        def test_cannot_delete_other_organizations_object(self, personas: Personas) -> None:
            obj = self.make_object(personas.org_b)
            assert personas.client("operator_a").delete(detail_url(self.url, obj.pk)).status_code == 404
            assert type(obj).objects.filter(pk=obj.pk).exists()

    class CRUD(List, Retrieve, Create, Update, Delete):
        pass


def random_uuid() -> str:
    return str(uuid.uuid4())
