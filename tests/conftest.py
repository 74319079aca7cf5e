"""Test fixtures: a real PostgreSQL (embedded, or DATABASE_URL), migrated once per run;
each test runs inside a transaction that is rolled back."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from httpx import ASGITransport, AsyncClient
from hypothesis import HealthCheck, settings
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.db import migrate
from polis.db.embedded import EmbeddedPostgres
from polis.db.urls import libpq, with_driver

# Hypothesis's timing checks (the per-example deadline, "input generation is slow") fail on a
# loaded two-core CI machine without saying anything about the rules under test; examples and
# shrinking are unchanged. A test's own @settings still wins for what it sets.
settings.register_profile(
    "polis", deadline=None, suppress_health_check=[HealthCheck.too_slow], print_blob=True
)
settings.load_profile("polis")


def _replace_db(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    query = ""
    if "?" in url.rsplit("/", 1)[1]:
        query = "?" + url.rsplit("?", 1)[1]
    return f"{base}/{name}{query}"


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """libpq URL of the server's maintenance database (postgres)."""
    if os.environ.get("DATABASE_URL"):
        yield _replace_db(libpq(os.environ["DATABASE_URL"]), "postgres")
        return
    pg = EmbeddedPostgres(tmp_path_factory.mktemp("pg"))
    pg.start()
    try:
        yield pg.url("postgres")
    finally:
        pg.discard()


@pytest.fixture(scope="session")
def create_database(server_url: str) -> Iterator[Callable[[], str]]:
    """Factory of empty databases on the test server; all are dropped at the end."""
    made: list[str] = []

    def make() -> str:
        name = f"polis_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(server_url, autocommit=True) as conn:
            conn.execute(f'create database "{name}"')
        made.append(name)
        return _replace_db(server_url, name)

    yield make
    with psycopg.connect(server_url, autocommit=True) as conn:
        for name in made:
            conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.fixture(scope="session")
def db_url(create_database: Callable[[], str]) -> str:
    """libpq URL of the database migrated to head that most tests share."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
async def engine(db_url: str) -> AsyncIterator[AsyncEngine]:
    """Async engine on the shared test database."""
    eng = create_async_engine(with_driver(db_url, "asyncpg"), pool_size=5, max_overflow=5)
    yield eng
    await eng.dispose()


@pytest.fixture
async def connection(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection inside a transaction rolled back after the test."""
    async with engine.connect() as conn:
        trans = await conn.begin()
        try:
            yield conn
        finally:
            await trans.rollback()


@pytest.fixture
def sessionmaker(connection: AsyncConnection) -> async_sessionmaker[AsyncSession]:
    """Sessions bound to the test transaction; their commits become savepoints."""
    return async_sessionmaker(
        bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint"
    )


@pytest.fixture
async def session(sessionmaker: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """A session inside the test transaction."""
    async with sessionmaker() as s:
        yield s


@pytest.fixture
async def client(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[AsyncClient]:
    """HTTP client against the app, whose requests run inside the test transaction."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(Settings(database_url=db_url), database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared beside the checkout (seeds, inventory, tools)."""
    return Path(__file__).resolve().parents[1].parent / "shared"
