"""Utilitarian: the Django project, its tenancy and authentication, and the Celery app."""

from .celery import app as celery_app

__all__ = ["celery_app"]
