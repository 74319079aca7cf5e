"""A client whose app has extra probe routes that raise each kind of error."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from fastapi import APIRouter, FastAPI
from httpx import ASGITransport, AsyncClient
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.db.session import DBSession
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.money import Money, NonNegativeMoney

probe = APIRouter(prefix="/probe")


class Item(BaseModel):
    sku: str
    quantity: int = Field(gt=0)


class Order(BaseModel):
    items: list[Item]
    total: NonNegativeMoney


@probe.post("/orders")
async def orders(order: Order) -> dict[str, Money]:
    """Echo the total (Money serialises as a string)."""
    return {"total": order.total}


@probe.get("/boom")
async def boom() -> None:
    """An unexpected exception."""
    raise RuntimeError("secret internals: password=hunter2 at 10.0.0.7")


@probe.get("/rule")
async def rule() -> None:
    """A business rule refusal."""
    raise BusinessRuleError("The claim is past its filing deadline.", type_="filing-deadline")


@probe.get("/conflict")
async def conflict() -> None:
    """A 409 from a rule about state."""
    raise Conflict("The policy is already cancelled.")


@probe.get("/missing")
async def missing() -> None:
    """A 404."""
    raise NotFound("Claim CLM-1 does not exist.")


_INSERT_USER = (
    "insert into iam.users (username, email, password_hash, first_name, last_name, role)"
    " values (:u, :e, 'x', 'A', 'B', :r)"
)


@probe.post("/unique")
async def unique(session: DBSession) -> None:
    """Insert the same username twice."""
    for _ in range(2):
        await session.execute(
            text(_INSERT_USER),
            {"u": "dup-secret-name", "e": f"{uuid.uuid4()}@x.test", "r": "AGENT"},
        )


@probe.post("/check")
async def check(session: DBSession) -> None:
    """Violate the role CHECK."""
    await session.execute(text(_INSERT_USER), {"u": "chk-secret", "e": "chk@x.test", "r": "PIRATE"})


@probe.post("/fk")
async def fk(session: DBSession) -> None:
    """A session for a user that does not exist."""
    await session.execute(
        text(
            "insert into iam.user_sessions (user_id, session_id, ip_address, expires_at)"
            " values (gen_random_uuid(), 'h', '127.0.0.1', now())"
        )
    )


@probe.post("/not-null")
async def not_null(session: DBSession) -> None:
    """A user without a username."""
    await session.execute(
        text(
            "insert into iam.users (email, password_hash, first_name, last_name, role)"
            " values ('nn@x.test', 'x', 'A', 'B', 'AGENT')"
        )
    )


@probe.post("/too-long")
async def too_long(session: DBSession) -> None:
    """A value longer than its column."""
    await session.execute(text(_INSERT_USER), {"u": "y" * 101, "e": "long@x.test", "r": "AGENT"})


@probe.get("/connection-lost")
async def connection_lost() -> None:
    """What SQLAlchemy raises when the server closed the connection mid-statement (asyncpg:
    a plain DBAPIError with connection_invalidated set; tests/db/test_session.py)."""
    raise DBAPIError(
        "select 1",
        None,
        Exception("connection was closed in the middle of operation"),
        connection_invalidated=True,
    )


def probe_app(app: FastAPI) -> FastAPI:
    """Add the probe routes to an app from create_app."""
    app.include_router(probe)
    return app


@pytest.fixture
async def probe_client(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[AsyncClient]:
    """Like `client`, with the probe routes."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    app = probe_app(create_app(Settings(database_url=db_url), database=database))
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c
