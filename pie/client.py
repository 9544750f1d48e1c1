"""REST client for PiE's three read endpoints: a ticket, a ticket's comments, a comment.

Paths are settings (PiE does not publish them) formatted with ``ticket_id``/``comment_id``.
Every call is bounded by a connect and a read timeout; 429 and 5xx are retried a few times by
urllib3 (honouring ``Retry-After``) before :class:`PieUnavailable` is raised, so the consumer can
release the message and try again later. A 401 invalidates the cached access token and the call
is repeated once with a fresh one (tokens may expire or be revoked mid-stream).
"""

from __future__ import annotations

import logging
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from .auth import TokenError, TokenService
from .conf import PieSettings, pie_settings

logger = logging.getLogger(__name__)


class PieError(Exception):
    """A PiE call failed. ``retryable`` says whether trying again later may succeed."""

    retryable = True

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class PieUnavailable(PieError):
    """Network trouble, 5xx, 429 or no token: PiE (or its identity provider) is not answering."""


class PieNotFound(PieError):
    """404: the object is not (yet) visible to this service account."""


class PieRejected(PieError):
    """Another 4xx, or a body that is not a JSON object."""


class PieClient:
    def __init__(self, conf: PieSettings | None = None, tokens: TokenService | None = None) -> None:
        self.conf = conf or pie_settings()
        self.tokens = tokens or TokenService(self.conf)
        self.session = requests.Session()
        retry = Retry(
            total=self.conf.http_retries,
            connect=self.conf.http_retries,
            read=self.conf.http_retries,
            status=self.conf.http_retries,
            backoff_factor=self.conf.http_backoff_factor,
            backoff_max=10,
            status_forcelist=(429, 500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)

    # --- the three endpoints ---------------------------------------------------------------
    def ticket(self, ticket_id: str) -> dict[str, Any]:
        return self._object(self.conf.ticket_path.format(ticket_id=ticket_id))

    def ticket_comments(self, ticket_id: str) -> list[dict[str, Any]]:
        body = self._get(self.conf.ticket_comments_path.format(ticket_id=ticket_id))
        # Tolerate a bare list or a wrapper such as {"items": [...]} / {"comments": [...]}.
        if isinstance(body, dict):
            for key in ("items", "comments", "results", "data", "content"):
                if isinstance(body.get(key), list):
                    body = body[key]
                    break
        if not isinstance(body, list) or not all(isinstance(item, dict) for item in body):
            raise PieRejected("comments of a ticket: expected a JSON list of objects")
        return body

    def comment(self, comment_id: str, ticket_id: str | None = None) -> dict[str, Any]:
        return self._object(self.conf.comment_path.format(comment_id=comment_id, ticket_id=ticket_id or ""))

    def recent_tickets(self, since_iso: str) -> list[dict[str, Any]]:
        """Tickets changed since a moment, when a list path is configured (else nothing)."""
        if not self.conf.tickets_list_path:
            return []
        body = self._get(self.conf.tickets_list_path, params={"since": since_iso})
        if isinstance(body, dict):
            body = next((v for k, v in body.items() if isinstance(v, list)), [])
        return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []

    # --- plumbing --------------------------------------------------------------------------
    def _object(self, path: str) -> dict[str, Any]:
        body = self._get(path)
        if isinstance(body, dict):
            for key in ("data", "ticket", "comment"):
                if isinstance(body.get(key), dict) and len(body) == 1:
                    return body[key]
            return body
        raise PieRejected(f"{path}: expected a JSON object")

    def _get(self, path: str, params: dict | None = None) -> Any:
        url = f"{self.conf.api_root}{path}"
        for attempt in (1, 2):
            try:
                token = self.tokens.get()
            except TokenError as exc:
                raise PieUnavailable(str(exc)) from exc
            try:
                response = self.session.get(
                    url,
                    params=params,
                    headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
                    timeout=(self.conf.http_connect_timeout, self.conf.http_read_timeout),
                    verify=self.conf.ca_bundle or True,
                )
            except requests.RequestException as exc:
                raise PieUnavailable(f"GET {url}: {type(exc).__name__}") from exc
            if response.status_code == 401 and attempt == 1:
                logger.info("pie: 401 from %s, refreshing the access token", url)
                self.tokens.invalidate(token)
                continue
            break
        status = response.status_code
        if status == 404:
            raise PieNotFound(f"GET {url}: 404", status=status)
        if status == 429 or status >= 500 or status == 401:
            raise PieUnavailable(f"GET {url}: {status}", status=status)
        if status >= 400:
            raise PieRejected(f"GET {url}: {status}", status=status)
        try:
            return response.json()
        except ValueError as exc:
            raise PieRejected(f"GET {url}: body is not JSON", status=status) from exc
