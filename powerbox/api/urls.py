"""/api/v1/powerbox/: the staff side (CIS sync, meters and their bind state, bind history)."""

from utilitarian.routers import Router

from .views import BindRequestViewSet, CustomerMeterViewSet, CustomerViewSet

router = Router()
router.register("customers", CustomerViewSet, basename="powerbox-customers")
router.register("meters", CustomerMeterViewSet, basename="powerbox-meters")
router.register("bind-requests", BindRequestViewSet, basename="powerbox-bind-requests")

urlpatterns = [*router.urls]
