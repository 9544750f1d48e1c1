from utilitarian.routers import Router

from .jobs import AmrJobViewSet

router = Router()
router.register("jobs", AmrJobViewSet, basename="amr-job")

urlpatterns = [*router.urls]
