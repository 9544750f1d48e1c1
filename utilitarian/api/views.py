"""Organizations, memberships and the JWT endpoints of the contract."""

from __future__ import annotations

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..auth import OrganizationJWTAuthentication, default_organization, issue_jwt, request_tenant
from ..models import Organization, OrganizationMembership
from ..tenancy import INT_LOOKUP_REGEX, TenantScopedViewSet
from .serializers import (
    ChangeOrganizationSerializer,
    ObtainTokenSerializer,
    OrganizationMembershipSerializer,
    OrganizationSerializer,
    TokenResponseSerializer,
)


class CrudViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """List, create, retrieve, update, partial update and delete, tenant-scoped."""


class OrganizationViewSet(CrudViewSet):
    queryset = Organization.objects.prefetch_related("members").order_by("name", "id")
    serializer_class = OrganizationSerializer
    filterset_fields = ["name", "is_active"]

    @property
    def write_roles(self) -> set[str]:
        # Creating and deleting tenants is the platform operator's (staff) business; an
        # organization's own admin may rename it.
        if self.action in ("update", "partial_update"):
            return {"staff", "admin"}
        return {"staff"}


class OrganizationMembershipViewSet(CrudViewSet):
    queryset = OrganizationMembership.objects.select_related("organization", "user").order_by("id")
    serializer_class = OrganizationMembershipSerializer
    filterset_fields = ["organization", "user", "role"]
    lookup_value_regex = INT_LOOKUP_REGEX
    write_roles = {"staff", "admin"}


def _token_response(user, organization, http_status: int) -> Response:
    body = {"token": issue_jwt(user, organization), "organization": organization.pk}
    return Response(TokenResponseSerializer(body).data, status=http_status)


class ObtainJWTView(APIView):
    """Username and password → a JWT for the requested (or first) organization."""

    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(request=ObtainTokenSerializer, responses={201: TokenResponseSerializer})
    def post(self, request: Request) -> Response:
        serializer = ObtainTokenSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        user = authenticate(request._request, username=data["username"], password=data["password"])
        if user is None or not user.is_active:
            raise ValidationError({"non_field_errors": ["Unable to log in with the provided credentials."]})
        if data.get("organization"):
            membership = (
                OrganizationMembership.objects.filter(
                    user=user, organization_id=data["organization"], organization__is_active=True
                )
                .select_related("organization")
                .first()
            )
            if membership is None:
                raise PermissionDenied("You are not a member of that organization.")
            organization = membership.organization
        else:
            organization = default_organization(user)
            if organization is None:
                raise ValidationError({"organization": ["You are not a member of any active organization."]})
        return _token_response(user, organization, status.HTTP_201_CREATED)


class RenewJWTView(APIView):
    """A valid JWT → a fresh one for the same organization."""

    authentication_classes = [OrganizationJWTAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(responses={200: TokenResponseSerializer})
    def get(self, request: Request) -> Response:
        organization = Organization.objects.get(pk=request_tenant(request).organization_id)
        return _token_response(request.user, organization, status.HTTP_200_OK)


class ChangeOrganizationView(APIView):
    """A valid JWT → a JWT for another organization the user belongs to."""

    authentication_classes = [OrganizationJWTAuthentication]
    permission_classes = [IsAuthenticated]

    @extend_schema(request=ChangeOrganizationSerializer, responses={201: TokenResponseSerializer})
    def post(self, request: Request) -> Response:
        serializer = ChangeOrganizationSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = (
            OrganizationMembership.objects.filter(
                user=request.user,
                organization_id=serializer.validated_data["organization"],
                organization__is_active=True,
            )
            .select_related("organization")
            .first()
        )
        if membership is None:
            raise PermissionDenied("You are not a member of that organization.")
        return _token_response(request.user, membership.organization, status.HTTP_201_CREATED)
