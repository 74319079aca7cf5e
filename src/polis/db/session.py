"""Async engines (primary and replica) and the request-scoped session (the unit of work)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

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
        engine = make_engine(url, settings)
        db = cls(engine, async_sessionmaker(engine, expire_on_commit=False))
        if read_url:
            db.read_engine = make_engine(read_url, settings)
            db.read_sessionmaker = async_sessionmaker(db.read_engine, expire_on_commit=False)
        return db

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()
        if self.read_engine is not None:
            await self.read_engine.dispose()

    async def session(self) -> AsyncIterator[AsyncSession]:
        """One session per request: commit on success, roll back on any error."""
        async with self.sessionmaker() as session:
            try:
                yield session
                await session.commit()
            except BaseException:
                await session.rollback()
                raise
