"""Real loopback peers for the PiE tests: an OAuth token endpoint and a PiE REST server.

* :class:`TokenServer` checks each client assertion the way PiE's identity provider must: RS256
  signature against the service account's public key, the ``kid`` header, ``iss`` = ``sub`` =
  client id, ``aud`` = its own URL, a short ``exp``, an ``iat``, and a ``jti`` never seen before.
  It issues opaque tokens with a configurable lifetime and can revoke them all (token expiry).
* :class:`PieRestServer` serves the three read endpoints, accepts only live bearer tokens of the
  token server, synthesises tickets and comments for any id, and fails on request
  (:meth:`PieRestServer.fail`) to drive redelivery and poison tests.

The broker outage proxy the consumer tests use is :class:`tests.support.tcp_proxy.FlakyTcpProxy`.
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class ServiceAccount:
    client_id: str
    key_id: str
    private_pem: bytes
    public_pem: bytes

    @classmethod
    def generate(cls) -> ServiceAccount:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return cls(f"svc-{uuid.uuid4().hex[:8]}", f"kid-{uuid.uuid4().hex[:8]}", private_pem, public_pem)

    def write_private_key(self, directory: Path) -> Path:
        path = directory / "pie-service-account.pem"
        path.write_bytes(self.private_pem)
        path.chmod(0o600)
        return path


class _Server:
    """A ThreadingHTTPServer on an ephemeral loopback port, run in a daemon thread."""

    def __init__(self, handler_class) -> None:
        owner = self

        class Handler(handler_class):
            server_owner = owner

            def log_message(self, *args) -> None:  # keep test output quiet
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self):
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


class _JsonHandler(BaseHTTPRequestHandler):
    server_owner: object

    def reply(self, status: int, body: object | None = None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)


class _TokenHandler(_JsonHandler):
    def do_POST(self) -> None:
        owner: TokenServer = self.server_owner  # type: ignore[assignment]
        length = int(self.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
        status, body = owner.exchange(form, self.headers.get("Authorization"))
        self.reply(status, body)


class TokenServer(_Server):
    def __init__(self, account: ServiceAccount, *, lifetime: int = 3600, scope: str = "") -> None:
        super().__init__(_TokenHandler)
        self.account = account
        self.lifetime = lifetime
        self.scope = scope
        self.lock = threading.Lock()
        self.seen_jti: set[str] = set()
        self.tokens: dict[str, float] = {}
        self.issued = 0
        self.refused: list[str] = []
        self.forms: list[dict] = []

    @property
    def url(self) -> str:
        return f"{self.base_url}/am/oauth2/access_token"

    def exchange(self, form: dict, authorization: str | None) -> tuple[int, dict]:
        with self.lock:
            self.forms.append(form)
            error = self._check(form, authorization)
            if error:
                self.refused.append(error)
                return 400, {"error": "invalid_client", "error_description": error}
            token = secrets.token_urlsafe(24)
            self.tokens[token] = time.time() + self.lifetime
            self.issued += 1
            return 200, {"access_token": token, "token_type": "Bearer", "expires_in": self.lifetime}

    def _check(self, form: dict, authorization: str | None) -> str | None:
        if authorization:
            return "client authentication must be the assertion alone"
        if form.get("grant_type") != "client_credentials":
            return "grant_type"
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            return "client_assertion_type"
        if self.scope and form.get("scope") != self.scope:
            return "scope"
        assertion = form.get("client_assertion", "")
        try:
            header = jwt.get_unverified_header(assertion)
            claims = jwt.decode(
                assertion,
                self.account.public_pem,
                algorithms=["RS256"],
                audience=self.url,
                issuer=self.account.client_id,
                options={"require": ["exp", "iat", "jti", "iss", "sub", "aud"]},
            )
        except jwt.PyJWTError as exc:
            return f"assertion: {exc}"
        if header.get("kid") != self.account.key_id:
            return "kid"
        if claims["sub"] != self.account.client_id:
            return "sub"
        if claims["exp"] - claims["iat"] > 300:
            return "assertion lives too long"
        if claims["jti"] in self.seen_jti:
            return "jti reused"
        self.seen_jti.add(claims["jti"])
        return None

    def valid(self, token: str) -> bool:
        with self.lock:
            return self.tokens.get(token, 0) > time.time()

    def revoke_all(self) -> None:
        """Every issued token expires now (as if their lifetime had passed)."""
        with self.lock:
            self.tokens.clear()


@dataclass
class _Rule:
    pattern: re.Pattern
    status: int
    remaining: int | None
    headers: dict = field(default_factory=dict)


class _PieHandler(_JsonHandler):
    def do_GET(self) -> None:
        owner: PieRestServer = self.server_owner  # type: ignore[assignment]
        status, body, headers = owner.answer(urlsplit(self.path).path, self.headers.get("Authorization", ""))
        self.reply(status, body, headers)


class PieRestServer(_Server):
    """Paths: ``/pie/v1/tickets/{id}``, ``/pie/v1/tickets/{id}/comments``, ``/pie/v1/comments/{id}``."""

    def __init__(self, tokens: TokenServer) -> None:
        super().__init__(_PieHandler)
        self.token_server = tokens
        self.lock = threading.Lock()
        self.rules: list[_Rule] = []
        self.requests: list[str] = []
        self.unauthorized = 0
        #: comment id → ticket id; also what the comments-of-a-ticket endpoint lists.
        self.comment_ticket: dict[str, str] = {}
        self.delay = 0.0

    def fail(self, pattern: str, status: int, times: int | None = None, headers: dict | None = None) -> None:
        """Answer ``status`` to paths matching ``pattern`` (regex), ``times`` times or forever."""
        with self.lock:
            self.rules.append(_Rule(re.compile(pattern), status, times, headers or {}))

    def heal(self) -> None:
        with self.lock:
            self.rules.clear()

    def count(self, pattern: str) -> int:
        with self.lock:
            return sum(1 for path in self.requests if re.search(pattern, path))

    def answer(self, path: str, authorization: str) -> tuple[int, object | None, dict]:
        if self.delay:
            time.sleep(self.delay)
        scheme, _, token = authorization.partition(" ")
        if scheme != "Bearer" or not self.token_server.valid(token):
            with self.lock:
                self.unauthorized += 1
            return 401, {"error": "invalid_token"}, {"WWW-Authenticate": "Bearer"}
        with self.lock:
            self.requests.append(path)
            for rule in self.rules:
                if rule.pattern.search(path) and (rule.remaining is None or rule.remaining > 0):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                    return rule.status, {"error": "injected"}, rule.headers
            comment_ticket = dict(self.comment_ticket)
        if match := re.fullmatch(r"/pie/v1/tickets/([^/]+)/comments", path):
            ticket_id = match.group(1)
            return (
                200,
                [self.comment(cid, tid) for cid, tid in comment_ticket.items() if tid == ticket_id],
                {},
            )
        if match := re.fullmatch(r"/pie/v1/tickets/([^/]+)", path):
            return 200, self.ticket(match.group(1)), {}
        if match := re.fullmatch(r"/pie/v1/comments/([^/]+)", path):
            comment_id = match.group(1)
            return 200, self.comment(comment_id, comment_ticket.get(comment_id, "T-1")), {}
        return 404, {"error": "no such path"}, {}

    @staticmethod
    def ticket(ticket_id: str) -> dict:
        return {
            "id": ticket_id,
            "subject": f"Ticket {ticket_id}",
            "status": "OPEN",
            "description": "Meter reading disputed",
            "createdAt": "2025-03-01T10:00:00Z",
            "customFields": {"ean": "871234567890123456"},
        }

    @staticmethod
    def comment(comment_id: str, ticket_id: str) -> dict:
        return {
            "id": comment_id,
            "ticketId": ticket_id,
            "author": {"name": "Grid operator"},
            "text": f"Comment {comment_id}",
            "createdAt": "2025-03-01T11:00:00Z",
        }
