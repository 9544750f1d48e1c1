"""OpenAPI descriptions of our authentication classes, so /api/schema/ documents how to call us.

Loaded from ``UtilitarianConfig.ready()``; drf-spectacular picks extensions up by subclassing.
"""

from drf_spectacular.extensions import OpenApiAuthenticationExtension


class OrganizationJWTScheme(OpenApiAuthenticationExtension):
    target_class = "utilitarian.auth.OrganizationJWTAuthentication"
    name = "jwtAuth"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": (
                "Organization JWT from POST /api/v1/auth/jwt/token/, sent as `JWT <token>` "
                "(`Bearer <token>` is accepted too)."
            ),
        }


class ExternalBearerScheme(OpenApiAuthenticationExtension):
    """Bearer JWTs issued by an external identity provider (gateway portals, PowerBox customers)."""

    target_class = "utilitarian.bearer.BearerJWTAuthentication"
    match_subclasses = True
    optional = True

    @property
    def name(self) -> str:  # one scheme per identity provider (GATEWAY_*, POWERBOX_* settings)
        prefix = getattr(self.target, "settings_prefix", "") or "external"
        return f"{prefix.lower()}Bearer"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
