from django.apps import AppConfig


class AmrConfig(AppConfig):
    name = "amr"
