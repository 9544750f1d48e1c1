"""Mounted at ``di/third-party-gateway/api/v1/``; every path answers with and without a trailing slash."""

from django.urls import re_path

from .views import AppStorePingView, InstallView, RequestStatusView, UninstallView

TENANT = r"^tenants/(?P<tenantId>[^/]+)"

urlpatterns = [
    re_path(rf"{TENANT}/applications/uninstall/?$", UninstallView.as_view(), name="gateway-uninstall"),
    re_path(
        rf"{TENANT}/applications/(?P<appId>[^/]+)/install/?$", InstallView.as_view(), name="gateway-install"
    ),
    re_path(
        rf"{TENANT}/requests/(?P<correlationId>[^/]+)/?$", RequestStatusView.as_view(), name="gateway-request"
    ),
    re_path(
        rf"{TENANT}/health-check/ping/appstore/?$", AppStorePingView.as_view(), name="gateway-ping-appstore"
    ),
]
