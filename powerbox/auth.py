"""The customer's bearer token: the shared ``utilitarian.bearer`` class under the POWERBOX prefix.

The token is issued by the utility's identity provider to a customer after their OIDC login; its
``POWERBOX_CUSTOMER_CLAIM`` claim (``sub`` by default) holds the customer's CIS ``clientId``.
That claim is what the shared class calls the tenant claim, so it is required like ``exp``,
``iss`` and ``aud``: a token without it is a 401, never an anonymous request.
"""

from __future__ import annotations

from rest_framework import exceptions

from utilitarian.bearer import BearerJWTAuthentication, BearerPrincipal

from . import conf


class PowerBoxBearerAuthentication(BearerJWTAuthentication):
    settings_prefix = "POWERBOX"

    @property
    def tenant_claim(self) -> str:
        return conf.customer_claim()

    def principal(self, claims: dict) -> BearerPrincipal:
        value = claims.get(self.tenant_claim)
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise exceptions.AuthenticationFailed("The token names no customer.")
        principal = super().principal(claims)
        client_id = str(principal.tenant_id or "").strip()
        if not client_id or len(client_id) > 64 or not client_id.isprintable():
            raise exceptions.AuthenticationFailed("The token names no customer.")
        return principal


def client_id_of(principal: BearerPrincipal) -> str:
    return str(principal.tenant_id).strip()
