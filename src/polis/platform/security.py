"""HTTP hardening: security headers, the CORS allow-list and request body limits (decision 0060).

- `SecurityHeadersMiddleware` puts a Content-Security-Policy, nosniff, frame denial,
  `Referrer-Policy: no-referrer` (and HSTS in production) on every response, and
  `Cache-Control: no-store` on API and JSON responses. JSON and files get a policy that
  allows nothing; HTML pages (the vendored Swagger UI at /docs, ReDoc at /redoc) get a
  same-origin policy whose `script-src` lists the SHA-256 of each inline script of that very
  page, so no inline script runs unless the server wrote it.
- CORS is off unless `CORS_ORIGINS` lists origins: then Starlette's `CORSMiddleware` answers
  for exactly those.
- `BodyLimitMiddleware` refuses a body over `MAX_BODY_BYTES` (multipart uploads to an
  operation that takes them: `UPLOAD_MAX_BYTES`) with a 413 problem: before reading anything
  when Content-Length says so, and while streaming when it is absent or understated.
Headers an endpoint sets itself (its own Cache-Control or CSP) are left alone.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any

from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polis.config import Settings
from polis.platform.errors import problem

# JSON, files and error bodies: nothing may load, nothing may frame them.
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
# HTML pages (Swagger UI, ReDoc): same-origin assets, inline scripts only by hash. Both UIs
# inject style attributes at run time ('unsafe-inline' for styles only), use data: images,
# and ReDoc runs its search index in a blob: worker.
HTML_CSP = (
    "default-src 'self'; script-src 'self'{hashes}; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; object-src 'none'; base-uri 'self'; form-action 'self'; "
    "frame-ancestors 'none'"
)
STATIC_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("cross-origin-opener-policy", "same-origin"),
    ("permissions-policy", "camera=(), microphone=(), geolocation=(), payment=()"),
)
NO_STORE = "no-store"

_INLINE_SCRIPT = re.compile(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script\s*>", re.I | re.S)
_SRC_ATTR = re.compile(r"\bsrc\s*=", re.I)

# CORS: the methods and headers the API uses; bearer tokens, so no credentials mode.
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
CORS_REQUEST_HEADERS = (
    "Authorization",
    "Content-Type",
    "Idempotency-Key",
    "If-Match",
    "X-Request-ID",
)
CORS_EXPOSED_HEADERS = ("X-Request-ID", "ETag", "Location", "Retry-After", "Content-Disposition")
CORS_MAX_AGE = 600

# Multipart framing (boundaries, part headers, the form fields beside the file).
MULTIPART_OVERHEAD = 64 * 1024


def inline_script_hashes(html: str) -> list[str]:
    """CSP source expressions ('sha256-...') of every inline <script> of a page."""
    hashes = []
    for match in _INLINE_SCRIPT.finditer(html):
        if _SRC_ATTR.search(match.group("attrs")):
            continue
        digest = hashlib.sha256(match.group("body").encode()).digest()
        hashes.append(f"'sha256-{base64.b64encode(digest).decode()}'")
    return sorted(set(hashes))


def html_csp(html: str) -> str:
    """The Content-Security-Policy of one HTML page."""
    hashes = inline_script_hashes(html)
    return HTML_CSP.format(hashes="".join(" " + h for h in hashes))


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or media.endswith("+json")


class SecurityHeadersMiddleware:
    """Pure ASGI middleware adding the security headers to every HTTP response."""

    def __init__(self, app: ASGIApp, *, hsts: str | None = None) -> None:
        self.app = app
        self.hsts = hsts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope.get("path", "")
        start: Message | None = None
        chunks: list[bytes] = []

        async def send_wrapper(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                content_type = headers.get("content-type", "")
                self._add(headers, path, content_type)
                if content_type.lower().startswith("text/html") and (
                    "content-security-policy" not in headers
                ):
                    start = message  # held back until the page is complete (hashes)
                    return
                headers.setdefault("content-security-policy", API_CSP)
                await send(message)
                return
            if start is not None and message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                body = b"".join(chunks)
                headers = MutableHeaders(scope=start)
                headers["content-security-policy"] = html_csp(body.decode("utf-8", "replace"))
                held, start = start, None
                await send(held)
                await send({"type": "http.response.body", "body": body, "more_body": False})
                return
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _add(self, headers: MutableHeaders, path: str, content_type: str) -> None:
        for name, value in STATIC_HEADERS:
            headers.setdefault(name, value)
        if self.hsts:
            headers.setdefault("strict-transport-security", self.hsts)
        if "cache-control" not in headers and (path.startswith("/api/") or _is_json(content_type)):
            headers["cache-control"] = NO_STORE


def cors_origins(settings: Settings) -> list[str]:
    """The CORS allow-list of CORS_ORIGINS (comma-separated); empty = CORS off."""
    origins = [o.strip().rstrip("/") for o in settings.cors_origins.split(",")]
    return [o for o in origins if o]


def install_security(app: FastAPI, settings: Settings) -> None:
    """Add CORS (when configured) and, outside it, the security headers. Call after the
    request-context middleware so that even its last-resort 500 carries both."""
    origins = cors_origins(settings)
    if origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS),
            expose_headers=list(CORS_EXPOSED_HEADERS),
            allow_credentials=False,
            max_age=CORS_MAX_AGE,
        )
    hsts = None
    if settings.environment.upper() == "PRODUCTION":
        hsts = f"max-age={settings.hsts_max_age_seconds}; includeSubDomains"
    app.add_middleware(SecurityHeadersMiddleware, hsts=hsts)


# --- request body limits --------------------------------------------------------------------


class _BodyTooLarge(Exception):
    """Raised into the app from receive() once the body passes the limit."""


def upload_limit(settings: Settings) -> int:
    """The body limit of uploads: UPLOAD_MAX_BYTES, never below DOCUMENT_MAX_BYTES + framing."""
    return max(settings.upload_max_bytes, settings.document_max_bytes + MULTIPART_OVERHEAD)


def _template_regex(path: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^/{}]+\})", path)
    pattern = "".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"^{pattern}$")


def upload_operations(openapi: dict[str, Any]) -> list[tuple[str, re.Pattern[str]]]:
    """(METHOD, path regex) of every operation whose request body is multipart/form-data."""
    found = []
    for path, item in openapi.get("paths", {}).items():
        for method, op in item.items():
            if not isinstance(op, dict):
                continue
            content = op.get("requestBody", {}).get("content", {})
            if any(media.startswith("multipart/") for media in content):
                found.append((method.upper(), _template_regex(path)))
    return found


def too_large(request: Request, limit: int) -> Any:
    """The 413 problem."""
    return problem(
        request,
        413,
        type_="content-too-large",
        title="Content Too Large",
        detail=f"The request body is larger than the limit of {limit} bytes.",
        extra={"max_bytes": limit},
    )


class BodyLimitMiddleware:
    """Pure ASGI middleware enforcing the request body limits (see the module docstring)."""

    def __init__(self, app: ASGIApp, *, settings: Settings, owner: FastAPI) -> None:
        self.app = app
        self.max_body = settings.max_body_bytes
        self.max_upload = upload_limit(settings)
        self.owner = owner
        self._uploads: list[tuple[str, re.Pattern[str]]] | None = None

    def limit_for(self, scope: Scope, headers: Headers) -> int:
        """MAX_BODY_BYTES, or the upload limit for multipart bodies to upload operations."""
        media = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if media != "multipart/form-data":
            return self.max_body
        if self._uploads is None:
            self._uploads = upload_operations(self.owner.openapi())
        method, path = scope["method"], scope["path"]
        if any(m == method and rx.match(path) for m, rx in self._uploads):
            return self.max_upload
        return self.max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope, headers)
        declared = _content_length(headers)
        if declared is not None and declared > limit:
            await too_large(Request(scope), limit)(scope, receive, send)
            return
        received = 0
        exceeded = False
        started = False

        async def limited_receive() -> Message:
            nonlocal received, exceeded
            if exceeded:
                raise _BodyTooLarge
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    exceeded = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded:
                return  # whatever the app makes of a cut-off body, the answer is the 413
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except Exception:
            if not exceeded:
                raise
        if exceeded and not started:
            await too_large(Request(scope), limit)(scope, receive, send)


def _content_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    if value is None or not value.strip().isdigit():
        return None
    return int(value)


def install_body_limit(app: FastAPI, settings: Settings) -> None:
    """Add the body limit; call before the request-context middleware (which then wraps it,
    so a 413 carries the request id and is logged)."""
    app.add_middleware(BodyLimitMiddleware, settings=settings, owner=app)
