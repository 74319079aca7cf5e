"""FastAPI application factory: routers, error handlers, middleware, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import text

from polis import __version__
from polis.config import Settings, get_settings
from polis.db.session import Database
from polis.db.urls import primary_url, replica_url


def create_app(settings: Settings | None = None, database: Database | None = None) -> FastAPI:
    """Build the app; `database` lets tests hand in their own engine."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = database is None
        db = database or Database.connect(
            primary_url(settings), settings, replica_url(settings)
        )
        app.state.db = db
        try:
            yield
        finally:
            if owned:
                await db.dispose()

    app = FastAPI(
        title="Polis",
        version=__version__,
        description="Insurance core: Indonesian group health (seed 000) and Thai motor (seed 001).",
        lifespan=lifespan,
    )
    app.state.settings = settings

    @app.get("/healthz", tags=["ops"])
    async def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"])
    async def readyz() -> dict[str, str]:
        """Readiness: the database answers."""
        async with app.state.db.engine.connect() as conn:
            await conn.execute(text("select 1"))
        return {"status": "ok"}

    return app
