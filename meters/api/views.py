"""The metering inventory of the contract: meter devices, their types and configs, reading
series, network interfaces (with block/unblock), SIM cards and security key collections, plus the
AMR task and task-group CRUD the contract places under /api/v1/metering/.

Every viewset is a :class:`~utilitarian.tenancy.TenantScopedViewSet`: the organization scope is
applied in one place and related ids in bodies are resolved within it. Readings live in
``readings.py``.
"""

from __future__ import annotations

from django.db.models import Prefetch
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from amr.api.views import AmrTaskGroupViewSet, AmrTaskViewSet
from utilitarian.api.views import CrudViewSet
from utilitarian.exceptions import Conflict
from utilitarian.routers import Router
from utilitarian.tenancy import TenantScopedViewSet

from ..models import (
    MeterDevice,
    MeterDeviceConfig,
    MeterDeviceType,
    MeterReadingSeries,
    MeterSecurityKeyCollection,
    NetworkInterface,
    SimCard,
)
from ..services.network import network_interface_block, network_interface_unblock
from . import filters, serializers

router = Router()


class MeterDeviceViewSet(CrudViewSet):
    queryset = (
        MeterDevice.objects.select_related("network_interface__sim")
        .prefetch_related("task_groups", "meter_tasks")
        .order_by("name", "id")
    )
    serializer_class = serializers.MeterDeviceSerializer
    filterset_class = filters.MeterDeviceFilterSet


class MeterDeviceTypeViewSet(CrudViewSet):
    queryset = MeterDeviceType.objects.order_by("name", "id")
    serializer_class = serializers.MeterDeviceTypeSerializer


class MeterDeviceConfigViewSet(CrudViewSet):
    queryset = MeterDeviceConfig.objects.prefetch_related(
        Prefetch("series", queryset=MeterReadingSeries.objects.order_by("name", "id"))
    ).order_by("name", "id")
    serializer_class = serializers.MeterDeviceConfigSerializer


class MeterReadingSeriesViewSet(CrudViewSet):
    """Deleting a series that has readings is refused with 409 (the readings protect it)."""

    queryset = MeterReadingSeries.objects.order_by("name", "id")
    serializer_class = serializers.MeterReadingSeriesSerializer
    filterset_class = filters.MeterReadingSeriesFilterSet


class SimCardViewSet(CrudViewSet):
    """Deleting a SIM card detaches it from its network interfaces."""

    queryset = SimCard.objects.order_by("iccid", "id")
    serializer_class = serializers.SimCardSerializer
    filterset_class = filters.SimCardFilterSet


class NetworkInterfaceViewSet(CrudViewSet):
    queryset = NetworkInterface.objects.select_related("sim").order_by("created_at", "id")
    serializer_class = serializers.NetworkInterfaceSerializer

    def _holder(self, request: Request) -> str:
        role = "staff" if self.tenant.is_global else (self.tenant.role or "user")
        return f"{role}:{request.user.get_username()}"

    @extend_schema(
        request=serializers.NetworkInterfaceBlockSerializer,
        responses={200: serializers.NetworkInterfaceSerializer},
    )
    @action(detail=True, methods=["post"])
    def block(self, request: Request, pk: str | None = None) -> Response:
        """Block the interface (operators, admins, staff), e.g. during manual work on the modem.
        409 when it cannot be blocked or someone else holds a block that has not lapsed."""
        interface = self.get_object()
        body = serializers.NetworkInterfaceBlockSerializer(data=request.data or {})
        body.is_valid(raise_exception=True)
        if not interface.can_block:
            raise Conflict("This network interface cannot be blocked (can_block is false).")
        if not network_interface_block(
            interface_id=interface.pk,
            holder=self._holder(request),
            lease=body.validated_data.get("lease_seconds"),
        ):
            raise Conflict("This network interface is already blocked; unblock it first.")
        interface.refresh_from_db()
        return Response(self.get_serializer(interface).data, status=status.HTTP_200_OK)

    @extend_schema(request=None, responses={200: serializers.NetworkInterfaceSerializer})
    @action(detail=True, methods=["post"])
    def unblock(self, request: Request, pk: str | None = None) -> Response:
        """Release any block (operators, admins, staff). Unblocking an unblocked interface is a no-op."""
        interface = self.get_object()
        network_interface_unblock(interface_id=interface.pk)
        interface.refresh_from_db()
        return Response(self.get_serializer(interface).data, status=status.HTTP_200_OK)


class MeterSecurityKeyCollectionViewSet(
    mixins.ListModelMixin,
    mixins.CreateModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    TenantScopedViewSet,
):
    """The contract has no update: replace keys by deleting the collection and creating a new one.
    Key values are shown to staff only; the master key to nobody."""

    queryset = (
        MeterSecurityKeyCollection.objects.select_related("meter")
        .prefetch_related("meter__task_groups", "meter__meter_tasks")
        .order_by("created_at", "id")
    )
    filterset_class = filters.MeterSecurityKeyCollectionFilterSet

    def get_serializer_class(self):
        if self.action == "create":
            return serializers.MeterSecurityKeyCollectionInSerializer
        return serializers.MeterSecurityKeyCollectionOutSerializer


router.register("meter-devices", MeterDeviceViewSet, basename="meter-device")
router.register("meter-device-types", MeterDeviceTypeViewSet, basename="meter-device-type")
router.register("meter-device-configs", MeterDeviceConfigViewSet, basename="meter-device-config")
router.register("meter-reading-series", MeterReadingSeriesViewSet, basename="meter-reading-series")
router.register("network-interfaces", NetworkInterfaceViewSet, basename="network-interface")
router.register("sim-cards", SimCardViewSet, basename="sim-card")
router.register("meter-security-keys", MeterSecurityKeyCollectionViewSet, basename="meter-security-keys")
router.register("amr-tasks", AmrTaskViewSet, basename="amr-task")
router.register("amr-task-groups", AmrTaskGroupViewSet, basename="amr-task-group")
