"""URL map of the spec README: the API under /api/v1/, integrations on their own paths."""

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .dashboard import dashboard_view
from .health import health

urlpatterns = [
    re_path(r"^_health/?$", health, name="health"),
    path("admin/dashboard/", admin.site.admin_view(dashboard_view), name="admin-dashboard"),
    path("admin/", admin.site.urls),
    re_path(r"^api/schema/?$", SpectacularAPIView.as_view(), name="schema"),
    re_path(r"^api/docs/?$", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("utilitarian.api.urls")),
    path("api/v1/metering/", include("meters.api.urls")),
    path("api/v1/amr/", include("amr.api.urls")),
    path("api/v1/pie/", include("pie.api.urls")),
    path("api/v1/powerbox/", include("powerbox.api.urls")),
    path("di/third-party-gateway/api/v1/", include("gateway.api.urls")),
    path("v1/powerbox/", include("powerbox.api.public_urls")),
]
