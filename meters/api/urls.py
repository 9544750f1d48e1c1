"""/api/v1/metering/: inventory routes (views.py), readings routes (readings.py) and the AMR
task routes the contract places here (amr/api/views.py)."""

from .readings import router as readings_router
from .views import router as inventory_router

urlpatterns = [*readings_router.urls, *inventory_router.urls]
