"""Structured JSON logs (structlog) and the request middleware that feeds them.

`RequestContextMiddleware` accepts or generates `X-Request-ID`, returns it, binds it into the
structlog context, logs one `request` line per request (method, path, status, duration_ms,
request_id, user_id) and renders any exception nobody handled as a 500 problem.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import structlog
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polis.config import Settings
from polis.platform.context import (
    RequestContext,
    client_ip,
    parse_request_id,
    set_context,
)
from polis.platform.errors import internal_error

REQUEST_ID_HEADER = "X-Request-ID"

log = structlog.get_logger("polis.request")


def configure_logging(settings: Settings) -> None:
    """JSON lines on stderr (or a console renderer with LOG_JSON=false), stdlib included."""
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer()
        if settings.log_json
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                structlog.processors.format_exc_info,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_polis", False)]:
        root.removeHandler(old)
    handler._polis = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)


class RequestContextMiddleware:
    """Pure ASGI middleware: request id, request context, access log, last-resort 500."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        ctx = RequestContext(
            request_id=parse_request_id(request.headers.get(REQUEST_ID_HEADER)),
            ip_address=client_ip(request.client.host if request.client else None),
            user_agent=request.headers.get("user-agent"),
        )
        scope.setdefault("state", {})["context"] = ctx
        set_context(ctx)
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=str(ctx.request_id))
        header = (b"x-request-id", str(ctx.request_id).encode())
        status = 500
        started = False
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                message["headers"] = [*message.get("headers", []), header]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        except Exception:
            log.exception("unhandled_exception", method=scope["method"], path=scope["path"])
            if started:
                raise
            status = 500
            await internal_error(request)(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope["method"],
                path=scope["path"],
                status=status,
                duration_ms=round((time.perf_counter() - t0) * 1000, 2),
                request_id=str(ctx.request_id),
                user_id=str(ctx.user_id) if ctx.user_id else None,
            )
            set_context(None)
            structlog.contextvars.clear_contextvars()
