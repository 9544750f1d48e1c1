from utilitarian.routers import Router

router = Router()

urlpatterns = [*router.urls]
