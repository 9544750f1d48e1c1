from utilitarian.routers import Router

from .views import CommentViewSet, TicketViewSet

router = Router()
router.register("tickets", TicketViewSet, basename="pie-ticket")
router.register("comments", CommentViewSet, basename="pie-comment")

urlpatterns = [*router.urls]
