from django.apps import AppConfig


class PieConfig(AppConfig):
    name = "pie"
