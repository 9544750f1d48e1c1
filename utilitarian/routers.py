"""The API router: every route answers with and without its trailing slash (no redirects)."""

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    def __init__(self) -> None:
        super().__init__(trailing_slash="/?")
