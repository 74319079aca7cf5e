"""Async engines (primary and replica) and the request-scoped session (the unit of work)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.config import Settings
from polis.db.urls import with_driver


def make_engine(url: str, settings: Settings) -> AsyncEngine:
    """An asyncpg engine with the seed's pool sizes and a statement timeout."""
    return create_async_engine(
        with_driver(url, "asyncpg"),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout,
        pool_pre_ping=True,
        connect_args={
            "server_settings": {
                "statement_timeout": str(settings.db_statement_timeout_ms),
                "application_name": "polis",
                "timezone": "UTC",
            }
        },
    )


@dataclass
class Database:
    """The engines and session factories of one running app."""

    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    read_engine: AsyncEngine | None = None
    read_sessionmaker: async_sessionmaker[AsyncSession] | None = None

    @classmethod
    def connect(cls, url: str, settings: Settings, read_url: str | None = None) -> Database:
        """Engines for the primary and, when given, the replica."""
        db = cls.from_engine(make_engine(url, settings))
        if read_url:
            db.read_engine = make_engine(read_url, settings)
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

    @asynccontextmanager
    async def read_transaction(self) -> AsyncIterator[AsyncSession]:
        """A read-only session on the replica (the primary when there is none)."""
        maker = self.read_sessionmaker or self.sessionmaker
        async with maker() as session:
            try:
                yield session
            finally:
                await session.rollback()


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
