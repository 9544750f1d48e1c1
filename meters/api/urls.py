"""/api/v1/metering/: inventory routes (views.py), readings routes (readings.py) and the AMR
task routes the contract places here (amr/api/views.py)."""

from django.urls import re_path

from amr.api.invoke import InvokeView

from .readings import router as readings_router
from .views import router as inventory_router

urlpatterns = [
    re_path(r"^amr-tasks/invoke/?$", InvokeView.as_view(), name="amr-task-invoke"),  # AMR: before the router
    *readings_router.urls,
    *inventory_router.urls,
]
