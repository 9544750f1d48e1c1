from django.apps import AppConfig


class PowerboxConfig(AppConfig):
    name = "powerbox"
