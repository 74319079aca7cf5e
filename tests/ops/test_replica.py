"""Read replica (issue 7 item 5, decision 0055): reports come from a real streaming replica,
fall back to the primary when it is down, and go back to it afterwards; read sessions are
read-only; pool sizes and statement timeouts come from the settings."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
import structlog
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import QueuePool

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.embedded import EmbeddedPostgres
from polis.db.session import Database
from polis.db.urls import with_driver
from polis.ops.replica import StreamingReplica
from tests.health.test_adjudication_service import build_world
from tests.health.test_claims_api import claim_body
from tests.iam.factories import create_user, login

CLAIMS = "/api/v1/health/claims"


def _name(url: str) -> str:
    return url.rsplit("/", 1)[1].split("?")[0]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def primary(tmp_path: Path) -> Iterator[EmbeddedPostgres]:
    """A dedicated primary (wal_level replica, replication allowed from 127.0.0.1), migrated."""
    pg = EmbeddedPostgres(tmp_path / "primary")
    try:
        pg.start()
        migrate.upgrade(pg.url())
        yield pg
    finally:
        pg.discard()


@pytest.fixture
def replica(primary: EmbeddedPostgres, tmp_path: Path) -> Iterator[StreamingReplica]:
    """A hot standby of `primary` made by pg_basebackup -R, streaming from it."""
    standby = StreamingReplica(tmp_path / "replica", primary.url())
    try:
        standby.start()
        yield standby
    finally:
        standby.discard()


def _replay(replica: StreamingReplica, action: str) -> None:
    with psycopg.connect(replica.url(), autocommit=True) as conn:
        conn.execute(f"select pg_wal_replay_{action}()")


async def test_reports_come_from_the_replica_and_fall_back_to_the_primary(
    primary: EmbeddedPostgres, replica: StreamingReplica
) -> None:
    url = primary.url()
    assert replica.in_recovery()
    port = replica.pid_info()[1]  # type: ignore[index]
    engine = create_async_engine(with_driver(url, "asyncpg"))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s:
            world = await build_world(s)
            user = await create_user(s, role="CLAIMS_PROCESSOR")
            await s.commit()
    finally:
        await engine.dispose()

    settings = Settings(
        database_url=url, read_database_url=replica.url(), replica_fallback_seconds=3
    )
    app = create_app(settings)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        db: Database = app.state.db
        headers = {"Authorization": f"Bearer {await login(client, user.username)}"}

        async def submit() -> str:
            response = await client.post(CLAIMS, json=claim_body(world), headers=headers)
            assert response.status_code == 201, response.text
            return str(response.json()["claim_number"])

        async def listed() -> set[str]:
            response = await client.get(
                CLAIMS, params={"member_number": world.member.member_number}, headers=headers
            )
            assert response.status_code == 200, response.text
            return {item["claim_number"] for item in response.json()["items"]}

        async def read_from_standby() -> bool:
            async with db.read_transaction() as s:
                return bool(await s.scalar(text("select pg_is_in_recovery()")))

        first = await submit()  # written on the primary
        replica.catch_up()
        assert await listed() == {first}
        assert await read_from_standby()

        # With replay paused, a second claim exists on the primary only: a list without it
        # can only have come from the replica.
        _replay(replica, "pause")
        second = await submit()
        assert await listed() == {first}
        _replay(replica, "resume")
        replica.catch_up()
        assert await listed() == {first, second}

        # The replica stops: the same answer comes from the primary, and the fallback is
        # logged once; the next reads go straight to the primary.
        replica.stop()
        with structlog.testing.capture_logs() as logs:
            assert await listed() == {first, second}
            assert not await read_from_standby()
            assert await listed() == {first, second}
        fallbacks = [e for e in logs if e["event"] == "replica_fallback"]
        assert len(fallbacks) == 1, logs
        assert fallbacks[0]["reason"] == "unavailable"
        assert fallbacks[0]["log_level"] == "warning"
        assert not db.replica_in_use()

        # The replica comes back (paused, so a third claim stays on the primary): once the
        # fallback period is over, reads return to it.
        replica.start(port)
        with psycopg.connect(url, autocommit=True) as conn:  # a commit for it to replay,
            conn.execute("select pg_current_xact_id()")  # so its replay time is known
        replica.catch_up()
        _replay(replica, "pause")
        third = await submit()
        await asyncio.sleep(max(0.0, db.replica_down_until - time.monotonic()) + 0.05)
        assert db.replica_in_use()
        assert await listed() == {first, second}
        assert await read_from_standby()

        # A replica further behind than REPLICA_MAX_LAG_SECONDS is skipped as well.
        strict = Database.connect(
            url,
            Settings(database_url=url, replica_max_lag_seconds=0.5, replica_fallback_seconds=60),
            replica.url(),
        )
        try:
            await asyncio.sleep(0.6)  # the last transaction the paused replica replayed ages
            with structlog.testing.capture_logs() as logs:
                async with strict.read_transaction() as s:
                    assert not await s.scalar(text("select pg_is_in_recovery()"))
            assert [e["reason"] for e in logs if e["event"] == "replica_fallback"] == ["lagging"]
        finally:
            await strict.dispose()
        _replay(replica, "resume")
        replica.catch_up()
        assert await listed() == {first, second, third}


async def test_an_unreachable_replica_sends_reads_to_the_primary(db_url: str) -> None:
    dead = f"postgresql://polis:x@127.0.0.1:{_closed_port()}/polis"
    db = Database.connect(db_url, Settings(database_url=db_url, replica_fallback_seconds=60), dead)
    try:
        with structlog.testing.capture_logs() as logs:
            for _ in range(3):
                async with db.read_transaction() as s:
                    assert await s.scalar(text("select current_database()")) == _name(db_url)
        # One failed attempt, then the replica is left alone for the fallback period.
        assert [e["event"] for e in logs] == ["replica_fallback"]
        assert "ConnectionRefusedError" in logs[0]["error"]
        assert not db.replica_in_use()
    finally:
        await db.dispose()


@pytest.mark.parametrize("replica", [True, False], ids=["on-the-replica", "on-the-primary"])
async def test_a_write_through_a_read_session_fails(
    create_database: Callable[[], str], replica: bool
) -> None:
    url = create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table t (n int)")
    # The "replica" is the same database under a second engine: only read-only-ness differs.
    db = Database.connect(url, Settings(database_url=url), url if replica else None)
    try:
        with pytest.raises(DBAPIError, match="read-only transaction"):
            async with db.read_transaction() as s:
                await s.execute(text("insert into t values (1)"))
        async with db.transaction() as s:  # the primary's units of work still write
            await s.execute(text("insert into t values (2)"))
    finally:
        await db.dispose()
    with psycopg.connect(url) as conn:
        assert conn.execute("select array_agg(n) from t").fetchone() == ([2],)


async def test_read_only_ends_with_the_read_session(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """As in a request under the test fixtures: the unit of work and the read session share one
    connection (savepoints); after the read session, the unit of work writes again."""
    db = Database(engine=connection.engine, sessionmaker=sessionmaker)
    async with db.transaction() as s:
        await s.execute(text("create temporary table t (n int)"))
        async with db.read_transaction() as r:
            assert await r.scalar(text("show transaction_read_only")) == "on"
        await s.execute(text("insert into t values (1)"))
        assert await s.scalar(text("select count(*) from t")) == 1


async def test_pool_sizes_and_statement_timeout_come_from_the_settings(
    db_url: str, create_database: Callable[[], str]
) -> None:
    settings = Settings(
        database_url=db_url,
        db_pool_size=3,
        db_max_overflow=2,
        db_pool_timeout=7,
        db_statement_timeout_ms=300,
    )
    db = Database.connect(db_url, settings, create_database())
    try:
        assert db.read_engine is not None
        for engine in (db.engine, db.read_engine):
            pool = engine.pool
            assert isinstance(pool, QueuePool)
            assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 2, 7)
        for unit in (db.transaction, db.read_transaction):
            started = time.monotonic()
            with pytest.raises(DBAPIError, match="statement timeout"):
                async with unit() as s:
                    assert await s.scalar(text("show statement_timeout")) == "300ms"
                    await s.execute(text("select pg_sleep(5)"))
            assert time.monotonic() - started < 4
    finally:
        await db.dispose()
