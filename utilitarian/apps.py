from django.apps import AppConfig


class UtilitarianConfig(AppConfig):
    name = "utilitarian"
    verbose_name = "Accounts and organizations"

    def ready(self) -> None:
        from . import schema, signals  # noqa: F401  (OpenAPI auth extensions; staff tokens on save)
