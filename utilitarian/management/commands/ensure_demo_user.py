"""Create (once) the demo staff user and a demo organization, and print the staff API token.

Used by ``make run`` so a new user has a working token the moment the server starts. The
password comes from ``DEMO_PASSWORD`` or is generated and printed on first creation.
"""

from __future__ import annotations

import os
import secrets

from django.core.management.base import BaseCommand
from rest_framework.authtoken.models import Token

from utilitarian.models import Organization, OrganizationMembership, Role, User


class Command(BaseCommand):
    help = "Ensure the demo staff user and organization exist; print the API token."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--username", default=os.environ.get("DEMO_USERNAME", "demo"))

    def handle(self, *args, username: str, **options) -> None:
        user = User.objects.filter(username=username).first()
        password = None
        if user is None:
            password = os.environ.get("DEMO_PASSWORD") or secrets.token_urlsafe(12)
            user = User.objects.create_superuser(username=username, email="", password=password)
        elif not user.is_staff:
            user.is_staff = True
            user.save(update_fields=["is_staff"])
        organization, _ = Organization.objects.get_or_create(name="Demo Utility")
        OrganizationMembership.objects.get_or_create(
            organization=organization, user=user, defaults={"role": Role.ADMIN}
        )
        token, _ = Token.objects.get_or_create(user=user)
        port = os.environ.get("PORT", "8000")  # make run's port, so the example works as printed
        self.stdout.write(f"Demo staff user: {username}" + (f" / password: {password}" if password else ""))
        self.stdout.write(f"Demo organization: {organization.name} ({organization.pk})")
        self.stdout.write(f"API token: {token.key}")
        self.stdout.write(
            f'Try: curl -H "Authorization: Token {token.key}" http://127.0.0.1:{port}/api/v1/organizations/'
        )
