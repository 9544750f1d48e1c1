"""Staff users get their API token as soon as they exist (the contract: every staff user has one)."""

from django.conf import settings
from django.db.models.signals import post_save
from django.dispatch import receiver
from rest_framework.authtoken.models import Token


@receiver(post_save, sender=settings.AUTH_USER_MODEL)
def ensure_staff_token(sender, instance, **kwargs) -> None:
    if instance.is_staff:
        Token.objects.get_or_create(user=instance)
    else:
        # A user who loses staff status loses the all-access token with it.
        Token.objects.filter(user=instance).delete()
