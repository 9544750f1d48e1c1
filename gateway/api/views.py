"""Third-Party Gateway endpoints (the seed's paths under ``di/third-party-gateway/api/v1/``).

Authentication is the identity service's bearer JWT (``GATEWAY_*`` settings); the token's tenant
claim must equal the URL's ``tenantId`` (403 otherwise). Views validate and hand over to
:mod:`gateway.services`; nothing here talks to a broker.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway import services
from gateway.auth import GatewayBearerAuthentication
from gateway.models import RequestKind
from utilitarian.bearer import BearerPrincipal, BearerTenantPermission

from .serializers import (
    CORRELATION_PATTERN,
    ApplicationRequestSerializer,
    InstallRequestSerializer,
    RequestStatusSerializer,
)

CORRELATION_HEADER = "Itron-CorrelationId"
_CORRELATION_PARAMETER = OpenApiParameter(
    CORRELATION_HEADER, str, OpenApiParameter.HEADER, required=True, description="unique per request"
)


class AcceptedSerializer(serializers.Serializer):
    correlationId = serializers.CharField()
    tenantId = serializers.CharField()
    status = serializers.CharField()
    statusUrl = serializers.CharField()


class GatewayView(APIView):
    authentication_classes = [GatewayBearerAuthentication]
    permission_classes = [BearerTenantPermission]
    tenant_url_kwarg = "tenantId"

    def seed_uri(self, request: Request) -> str:
        """The request path as the seed's ``Itron-Request-Uri`` shows it (from ``api/v1/``)."""
        path = request.path.lstrip("/")
        marker = "third-party-gateway/"
        return path.split(marker, 1)[1] if marker in path else path

    def client_id(self, request: Request) -> str:
        return request.user.subject if isinstance(request.user, BearerPrincipal) else ""

    def correlation_id(
        self, request: Request, errors: dict[str, Any], *, required: bool = True
    ) -> str | None:
        value = request.headers.get(CORRELATION_HEADER, "").strip()
        if not value:
            if required:
                errors[CORRELATION_HEADER] = ["This header is required."]
            return None
        if not CORRELATION_PATTERN.match(value):
            errors[CORRELATION_HEADER] = ["At most 128 characters: letters, digits and ._:@{}-"]
            return None
        return value

    def accepted(self, request: Request, gateway_request: Any) -> Response:
        tenant = gateway_request.tenant_id
        body = {
            "correlationId": gateway_request.correlation_id,
            "tenantId": tenant,
            "status": "accepted",
            "statusUrl": f"/di/third-party-gateway/api/v1/tenants/{tenant}/requests/"
            f"{gateway_request.correlation_id}",
        }
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ApplicationRequestView(GatewayView):
    serializer_class: type[serializers.Serializer] = ApplicationRequestSerializer
    kind = RequestKind.INSTALL

    def accept(self, request: Request, **kwargs: Any) -> Response:
        errors: dict[str, Any] = {}
        correlation_id = self.correlation_id(request, errors)
        serializer = self.serializer_class(data=request.data)
        if not serializer.is_valid():
            errors.update(serializer.errors)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        data = serializer.validated_data
        gateway_request = services.application_request_accept(
            kind=self.kind,
            tenant_id=kwargs["tenantId"],
            correlation_id=correlation_id,
            app_id=kwargs.get("appId", ""),
            application_id=data["applicationId"],
            application_version=data.get("applicationVersion") or None,
            license_set=data.get("licenseSet"),
            esn_list=data["esnList"],
            request_uri=self.seed_uri(request),
            client_id=self.client_id(request),
            body=request.data,
        )
        return self.accepted(request, gateway_request)


class InstallView(ApplicationRequestView):
    serializer_class = InstallRequestSerializer
    kind = RequestKind.INSTALL

    @extend_schema(
        operation_id="gateway_install_application",
        parameters=[_CORRELATION_PARAMETER],
        request=InstallRequestSerializer,
        responses={202: AcceptedSerializer},
    )
    def post(self, request: Request, tenantId: str, appId: str) -> Response:
        return self.accept(request, tenantId=tenantId, appId=appId)


class UninstallView(ApplicationRequestView):
    serializer_class = ApplicationRequestSerializer
    kind = RequestKind.UNINSTALL

    @extend_schema(
        operation_id="gateway_uninstall_application",
        parameters=[_CORRELATION_PARAMETER],
        request=ApplicationRequestSerializer,
        responses={202: AcceptedSerializer},
    )
    def post(self, request: Request, tenantId: str) -> Response:
        return self.accept(request, tenantId=tenantId)


class AppStorePingView(GatewayView):
    @extend_schema(operation_id="gateway_ping_appstore", responses={202: AcceptedSerializer})
    def get(self, request: Request, tenantId: str) -> Response:
        errors: dict[str, Any] = {}
        correlation_id = self.correlation_id(request, errors, required=False)
        if errors:
            return Response(errors, status=status.HTTP_400_BAD_REQUEST)
        ping = services.appstore_ping(
            tenant_id=tenantId,
            correlation_id=correlation_id,
            request_uri=self.seed_uri(request),
            client_id=self.client_id(request),
        )
        response = self.accepted(request, ping)
        response.data["receivedTime"] = ping.received_at.isoformat()
        return response


class RequestStatusView(GatewayView):
    @extend_schema(operation_id="gateway_request_status", responses={200: RequestStatusSerializer})
    def get(self, request: Request, tenantId: str, correlationId: str) -> Response:
        found = services.request_status(tenant_id=tenantId, correlation_id=correlationId)
        if found is None:
            return Response({"detail": "No such request for this tenant."}, status=status.HTTP_404_NOT_FOUND)
        return Response(RequestStatusSerializer(found).data)
