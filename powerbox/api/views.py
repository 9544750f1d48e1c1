"""PowerBox views: the public API EnergyGrid calls, and the staff API the CIS feeds.

Public (``/v1/powerbox/``), authenticated by the customer's bearer token only:

* ``POST customer`` (no body): the token's customer as a ``CustomerResponse``.
* ``POST bind``: a bind (``actionCode`` 1) or unbind (0) request for one of its meters; 200 with
  no body once accepted (pairing is asynchronous).

Every error is a bare status code (powerbox/exceptions.py). The order of the checks: the token
(401), the customer it names (404), the account status (403), the payload (400), the meter (404),
the meter's bind state (400).

Staff (``/api/v1/powerbox/``), with the project's usual auth and tenant scoping:
``customers`` (list, retrieve, and POST one object or a list to upsert), ``meters`` and
``bind-requests`` (read only).
"""

from __future__ import annotations

from typing import Any

from django.db.models import Prefetch
from django_filters import rest_framework as filters
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from utilitarian.tenancy import TenantScopedViewSet

from .. import services
from ..auth import PowerBoxBearerAuthentication, client_id_of
from ..exceptions import empty_body_exception_handler
from ..models import BindRequest, BindState, Customer, CustomerMeter, CustomerSite
from .serializers import (
    MAX_BULK,
    BindPayloadSerializer,
    BindRequestSerializer,
    CustomerMeterSerializer,
    CustomerSyncSerializer,
)

# --- public ------------------------------------------------------------------------------------


class PowerBoxPublicViewSet(viewsets.ViewSet):
    authentication_classes = [PowerBoxBearerAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes: list = []

    def get_exception_handler(self):
        return empty_body_exception_handler

    def customer(self, request: Request):
        return services.customer_active_for_client_id(client_id_of(request.user))


class CustomerView(PowerBoxPublicViewSet):
    @extend_schema(
        operation_id="syncCustomer",
        request=None,
        responses={200: OpenApiResponse(description="CustomerResponse"), 401: None, 403: None, 404: None},
        tags=["PowerBox"],
    )
    def create(self, request: Request) -> Response:
        customer = self.customer(request)
        return Response(services.customer_response(customer))


class BindView(PowerBoxPublicViewSet):
    @extend_schema(
        operation_id="bindDevice",
        request=BindPayloadSerializer,
        responses={200: None, 400: None, 401: None, 403: None, 404: None},
        tags=["PowerBox"],
    )
    def create(self, request: Request) -> Response:
        customer = self.customer(request)
        if not isinstance(request.data, dict):
            return Response(status=status.HTTP_400_BAD_REQUEST)
        payload = BindPayloadSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        data = payload.validated_data
        services.bind_request_submit(
            customer=customer,
            meter_id=data["meterId"],
            hem_profile_id=data["hemProfileId"],
            mac_address=data["macAddress"],
            install_code=data["installCode"],
            action=data["actionCode"],
        )
        return Response(status=status.HTTP_200_OK)


# --- staff -------------------------------------------------------------------------------------


class CustomerFilter(filters.FilterSet):
    clientId = filters.CharFilter(field_name="client_id")
    AcctStatus = filters.CharFilter(field_name="acct_status")
    organization = filters.UUIDFilter(field_name="organization_id")

    class Meta:
        model = Customer
        fields: list[str] = []


class CustomerViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """CIS customers. POST one object or a list: an upsert on (organization, clientId)."""

    queryset = Customer.objects.all()
    serializer_class = CustomerSyncSerializer
    filterset_class = CustomerFilter

    def safely_get_queryset(self, queryset):
        return queryset.prefetch_related(
            Prefetch("sites", queryset=CustomerSite.objects.prefetch_related("meters"))
        )

    @extend_schema(request=CustomerSyncSerializer(many=True), responses=CustomerSyncSerializer(many=True))
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        many = isinstance(request.data, list)
        if many and len(request.data) > MAX_BULK:
            return Response(
                {"non_field_errors": [f"at most {MAX_BULK} customers per request"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        serializer = self.get_serializer(data=request.data, many=many)
        serializer.is_valid(raise_exception=True)
        items = serializer.validated_data if many else [serializer.validated_data]
        summary = services.customers_sync(items=items)
        customers = [result.customer for result in summary.results]
        body = [CustomerSyncSerializer(c, context=self.get_serializer_context()).data for c in customers]
        if many:
            return Response(body, status=status.HTTP_200_OK)
        created = summary.results[0].created
        return Response(body[0], status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


class CustomerMeterFilter(filters.FilterSet):
    meterId = filters.CharFilter(field_name="meter_id")
    clientId = filters.CharFilter(field_name="site__customer__client_id")
    bind_state = filters.ChoiceFilter(choices=BindState.choices)
    detached = filters.BooleanFilter(field_name="site", lookup_expr="isnull")

    class Meta:
        model = CustomerMeter
        fields = ["meter_device", "organization"]


class CustomerMeterViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """PowerBox meters with their current bind state (read only: the CIS sync writes them)."""

    queryset = CustomerMeter.objects.all()
    serializer_class = CustomerMeterSerializer
    filterset_class = CustomerMeterFilter

    def safely_get_queryset(self, queryset):
        return queryset.select_related("site__customer")


class BindRequestFilter(filters.FilterSet):
    meterId = filters.CharFilter(field_name="meter__meter_id")
    clientId = filters.CharFilter(field_name="client_id")
    state = filters.ChoiceFilter(choices=BindState.choices)

    class Meta:
        model = BindRequest
        fields = ["meter", "customer", "organization", "action", "mac_address"]


class BindRequestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, TenantScopedViewSet):
    """Bind and unbind requests, newest first: the binding history."""

    queryset = BindRequest.objects.all()
    serializer_class = BindRequestSerializer
    filterset_class = BindRequestFilter

    def safely_get_queryset(self, queryset):
        return queryset.select_related("meter")
