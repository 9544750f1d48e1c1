from django.urls import re_path

from utilitarian.routers import Router

from . import views

router = Router()
# memberships first: "organizations/memberships" must not be read as an organization id.
router.register("organizations/memberships", views.OrganizationMembershipViewSet, basename="membership")
router.register("organizations", views.OrganizationViewSet, basename="organization")

urlpatterns = [
    re_path(r"^auth/jwt/token/?$", views.ObtainJWTView.as_view(), name="jwt-token"),
    re_path(r"^auth/jwt/renew/?$", views.RenewJWTView.as_view(), name="jwt-renew"),
    re_path(
        r"^auth/jwt/change-organization/?$", views.ChangeOrganizationView.as_view(), name="jwt-change-org"
    ),
    *router.urls,
]
