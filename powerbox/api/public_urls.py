"""/v1/powerbox/: the PowerBox API that EnergyGrid calls (``customer`` and ``bind``).

Anything else under this prefix is a bare 404, like every PowerBox error."""

from django.http import HttpResponse
from django.urls import re_path

from utilitarian.routers import Router

from .views import BindView, CustomerView

router = Router()
router.register("customer", CustomerView, basename="powerbox-customer")
router.register("bind", BindView, basename="powerbox-bind")


def not_found(request, *args, **kwargs) -> HttpResponse:
    return HttpResponse(status=404)


urlpatterns = [*router.urls, re_path(r"^.*$", not_found)]
