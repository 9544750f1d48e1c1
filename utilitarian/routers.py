"""The API router: every route answers with and without its trailing slash (no redirects)."""

from rest_framework.routers import SimpleRouter


class Router(SimpleRouter):
    def __init__(self) -> None:
        super().__init__()
        # DRF >= 3.15 normalises the constructor's trailing_slash to "/" or "", so the optional
        # slash is set after construction; the route regexes then end in "/?$".
        self.trailing_slash = "/?"
