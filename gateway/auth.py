"""The gateway's bearer authentication: the shared class with the ``GATEWAY_*`` settings."""

from __future__ import annotations

from utilitarian.bearer import BearerJWTAuthentication


class GatewayBearerAuthentication(BearerJWTAuthentication):
    settings_prefix = "GATEWAY"
