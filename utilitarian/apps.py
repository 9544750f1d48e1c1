from django.apps import AppConfig


class UtilitarianConfig(AppConfig):
    name = "utilitarian"
    verbose_name = "Accounts and organizations"

    def ready(self) -> None:
        from . import signals  # noqa: F401  (staff tokens are created on save)
