"""FastAPI application factory: routers, error handlers, middleware, lifespan."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi_offline import FastAPIOffline

from polis import __version__
from polis.config import Settings, get_settings
from polis.db.session import Database
from polis.db.urls import primary_url, replica_url
from polis.iam.auth import record_permissions
from polis.ops import health
from polis.ops.metrics import MetricsMiddleware, metrics_response
from polis.platform.errors import install_error_handlers
from polis.platform.idempotency import IdempotentReplay, replay_handler
from polis.platform.logging import RequestContextMiddleware, configure_logging
from polis.platform.openapi import install_openapi
from polis.platform.security import install_body_limit, install_security
from polis.web import install as install_web

API_PREFIX = "/api/v1"

# Each domain package that has an `endpoints` module contributes its `router` under /api/v1.
DOMAINS = ("iam", "audit", "reference", "documents", "health", "motor", "integrations", "ops")


def api_routers() -> list[APIRouter]:
    """The routers of the domain packages that define `polis.<domain>.endpoints.router`."""
    routers = []
    for domain in DOMAINS:
        name = f"polis.{domain}.endpoints"
        if importlib.util.find_spec(name) is None:
            continue
        routers.append(importlib.import_module(name).router)
    return routers


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app; `database` lets tests hand in their own engine."""
    settings = settings or get_settings()
    configure_logging(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database.connect(primary_url(settings), settings, replica_url(settings))
        app.state.db = db
        try:
            yield
        finally:
            if owned:
                await db.dispose()

    # FastAPIOffline serves Swagger UI and ReDoc from the installed wheel, not a CDN.
    app = FastAPIOffline(
        title="Polis",
        static_url="/static/docs",
        version=__version__,
        description="Insurance core: Indonesian group health (seed 000) and Thai motor (seed 001).",
        lifespan=lifespan,
    )
    app.state.settings = settings
    install_error_handlers(app)
    app.add_exception_handler(IdempotentReplay, replay_handler)
    # Innermost first (decision 0060): body limit, request context, CORS, security headers.
    install_body_limit(app, settings)
    app.add_middleware(RequestContextMiddleware)
    install_security(app, settings)
    app.add_middleware(MetricsMiddleware)  # added last: outermost, times everything

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> JSONResponse:
        """Readiness: check_database_health on the primary. 200 with each check's level
        (OK or WARNING) while the database answers; 503 (CRITICAL) when it does not. Sizes
        and names are for `ops:read` users at /api/v1/ops/health, not for anonymous probes."""
        report = await health.check(app.state.db.engine, settings)
        return JSONResponse(
            report.public(), status_code=503 if report.status == health.CRITICAL else 200
        )

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics(request: Request) -> Response:
        """Prometheus metrics (polis.ops.metrics): a bearer METRICS_TOKEN, or loopback only."""
        db = app.state.db
        engines = [("primary", db.engine)]
        if db.read_engine is not None:
            engines.append(("replica", db.read_engine))
        return await metrics_response(request, settings, engines, db.sessionmaker)

    for router in api_routers():
        app.include_router(router, prefix=API_PREFIX)
    install_web(app)  # the pages under /web (polis.web, decision 0065)
    record_permissions(app)
    install_openapi(app)
    return app
