"""Async engines (primary and replica) and the request-scoped session (the unit of work).

Reads that may be served from a streaming replica (`READ_DATABASE_URL`) take a `ReadSession`:
it is read-only wherever it runs, and falls back to the primary when the replica cannot be
reached (or lags more than `REPLICA_MAX_LAG_SECONDS`), marking the replica unavailable for
`REPLICA_FALLBACK_SECONDS` so that later reads go straight to the primary (decision 0055).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import event, text
from sqlalchemy.exc import DBAPIError, DisconnectionError, SQLAlchemyError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.config import Settings
from polis.db.urls import with_driver

log = structlog.get_logger("polis.db.replica")

# What opening a session on an unreachable, starting or broken replica raises: socket errors
# and connect timeouts (OSError), and SQLAlchemy's errors (asyncpg's server errors wrapped as
# DBAPIError, the pool's timeout).
_UNAVAILABLE: tuple[type[BaseException], ...] = (OSError, SQLAlchemyError)

_READ_ONLY = text("set transaction read only")

# Seconds the replica is behind: 0 when it has replayed all it received (or is no standby),
# else the age of the last transaction it replayed.
_LAG = text(
    "select case when not pg_is_in_recovery()"
    " or pg_last_wal_receive_lsn() is not distinct from pg_last_wal_replay_lsn() then 0"
    " else coalesce(extract(epoch from now() - pg_last_xact_replay_timestamp()), 0) end"
)


def make_engine(url: str, settings: Settings, *, replica: bool = False) -> AsyncEngine:
    """An asyncpg engine with the configured pool sizes and statement timeout.

    The replica's engine also makes every transaction read-only
    (`default_transaction_read_only`) and gives up connecting after
    `replica_connect_timeout_seconds`, so a dead replica costs a read little time.
    """
    server_settings = {
        "statement_timeout": str(settings.db_statement_timeout_ms),
        "application_name": "polis-read" if replica else "polis",
        "timezone": "UTC",
    }
    connect_args: dict[str, Any] = {"server_settings": server_settings}
    if replica:
        server_settings["default_transaction_read_only"] = "on"
        connect_args["timeout"] = settings.replica_connect_timeout_seconds
    engine = create_async_engine(
        with_driver(url, "asyncpg"),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        connect_args=connect_args,
    )
    # The replica's connections are pinged on every checkout: a read that meets a dead
    # replica connection is answered from the primary only if the failure shows at checkout
    # (decision 0055), and reports are not the hot path.
    ping_after_idle(engine, 0 if replica else settings.db_ping_after_idle_seconds)
    return engine


def ping_after_idle(engine: AsyncEngine, seconds: float) -> None:
    """Test a pooled connection before use only when it sat idle `seconds` or more.

    SQLAlchemy's `pool_pre_ping` pings on every checkout: two round trips (BEGIN, ROLLBACK
    around the ping) per request under load, where a connection returned a moment ago is
    known to be alive. A connection idle longer may have been closed by a server restart, a
    failover or an idle timeout on the way: it is pinged, and one that fails is replaced
    before the request sees it (the pool retries the checkout with a new connection).
    `seconds` = 0 pings every checkout, as `pool_pre_ping` would (decision 0071).
    """
    dialect = engine.sync_engine.dialect

    @event.listens_for(engine.sync_engine, "checkin")
    def _checked_in(dbapi_connection: Any, record: Any) -> None:
        record.info["polis_idle_since"] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        since = record.info.get("polis_idle_since")
        if since is None or time.monotonic() - since < seconds:
            return  # new, or back in the pool a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as exc:  # any failure means a dead connection
            raise DisconnectionError(f"pooled connection failed its ping: {exc}") from exc
        if not alive:
            raise DisconnectionError("pooled connection failed its ping")


@dataclass
class Database:
    """The engines and session factories of one running app."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine | None = None
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None
    replica_fallback_seconds: float = 30.0
    replica_max_lag_seconds: float | None = None
    replica_down_until: float = 0.0
    """time.monotonic() before which reads skip the replica (set when it failed)."""

    @classmethod
    def connect(cls, url: str, settings: Settings, read_url: str | None = None) -> Database:
        """Engines for the primary and, when given, the replica."""
        db = cls.from_engine(make_engine(url, settings))
        db.replica_fallback_seconds = settings.replica_fallback_seconds
        db.replica_max_lag_seconds = settings.replica_max_lag_seconds
        if read_url:
            db.read_engine = make_engine(read_url, settings, replica=True)
            db.read_sessionmaker = async_sessionmaker(db.read_engine, expire_on_commit=False)
        return db

    @classmethod
    def from_engine(cls, engine: AsyncEngine) -> Database:
        """A Database over an existing engine (the CLI, scripts)."""
        return cls(engine, async_sessionmaker(engine, expire_on_commit=False))

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: commit on success, roll back on any error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise

    async def session(self) -> AsyncIterator[AsyncSession]:
        """One session per request: commit on success, roll back on any error."""
        async with self.transaction() as session:
            yield session

    # -- the replica ------------------------------------------------------------------------
    def replica_in_use(self) -> bool:
        """Whether reads go to the replica now: one is configured and not marked down."""
        return self.read_sessionmaker is not None and time.monotonic() >= self.replica_down_until

    def mark_replica_down(self, reason: str, **details: Any) -> None:
        """Send reads to the primary for `replica_fallback_seconds`; logged as a warning."""
        self.replica_down_until = time.monotonic() + self.replica_fallback_seconds
        log.warning(
            "replica_fallback",
            reason=reason,
            retry_in_seconds=self.replica_fallback_seconds,
            **details,
        )

    async def _replica_session(self) -> AsyncSession | None:
        """A session holding a live replica connection, or None: read from the primary."""
        if self.read_sessionmaker is None or not self.replica_in_use():
            return None
        session = self.read_sessionmaker()
        try:
            connection = await session.connection()
            if self.replica_max_lag_seconds is not None:
                lag = float(await connection.scalar(_LAG) or 0)
                if lag > self.replica_max_lag_seconds:
                    await session.close()
                    self.mark_replica_down("lagging", lag_seconds=round(lag, 3))
                    return None
        except _UNAVAILABLE as exc:
            with suppress(*_UNAVAILABLE):
                await session.close()
            self.mark_replica_down("unavailable", error=f"{type(exc).__name__}: {exc}")
            return None
        return session

    @asynccontextmanager
    async def read_transaction(self) -> AsyncIterator[AsyncSession]:
        """A read-only session: on the replica when one is configured and answers, else on
        the primary. It is always rolled back; a write through it fails."""
        session = await self._replica_session()
        on_replica = session is not None
        if session is None:
            session = self.sessionmaker()
        async with session:
            try:
                if not on_replica:
                    await session.execute(_READ_ONLY)
                yield session
            except (DBAPIError, OSError) as exc:
                # The replica went away during the read: this request fails, later ones
                # go to the primary until the fallback period is over.
                lost = isinstance(exc, OSError) or exc.connection_invalidated
                if on_replica and lost:
                    self.mark_replica_down("connection lost", error=f"{type(exc).__name__}")
                raise
            finally:
                try:
                    await session.rollback()
                except _UNAVAILABLE:
                    if not on_replica:
                        raise


@asynccontextmanager
async def one_off_engine(url: str) -> AsyncIterator[AsyncEngine]:
    """An asyncpg engine without a pool for one command's work (the CLI, jobs run by hand,
    benches): each connection closes when released, and the engine is disposed on exit."""
    from sqlalchemy import pool

    from polis.db.urls import with_driver

    engine = create_async_engine(with_driver(url, "asyncpg"), poolclass=pool.NullPool)
    try:
        yield engine
    finally:
        await engine.dispose()


async def get_db_session(request: Request) -> AsyncIterator[AsyncSession]:
    """The request's unit of work: committed when the endpoint returns, rolled back on error."""
    database: Database = request.app.state.db
    async with database.transaction() as session:
        yield session


async def get_read_session(request: Request) -> AsyncIterator[AsyncSession]:
    """A session for reports and long reads, on the replica when one is configured."""
    database: Database = request.app.state.db
    async with database.read_transaction() as session:
        yield session


# scope="function": the commit runs before the response is sent, so a failed commit (a
# deferred constraint, a serialisation failure) reaches the client as a problem, not a 2xx.
DBSession = Annotated[AsyncSession, Depends(get_db_session, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(get_read_session, scope="function")]
