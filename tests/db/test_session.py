"""Engines: the seed's pool sizes, the replica for reads, commit-or-rollback units of work."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import QueuePool

from polis.config import Settings
from polis.db.session import Database


async def test_pool_uses_the_seed_sizes(db_url: str) -> None:
    db = Database.connect(db_url, Settings(database_url=db_url))
    try:
        pool = db.engine.pool
        assert isinstance(pool, QueuePool)
        assert (pool.size(), pool._max_overflow, pool._timeout) == (20, 40, 30)
        async with db.engine.connect() as conn:
            timeout = await conn.scalar(text("show statement_timeout"))
        assert timeout == "30s"
    finally:
        await db.dispose()


async def test_reads_go_to_the_replica_and_writes_to_the_primary(
    db_url: str, create_database: Callable[[], str]
) -> None:
    replica = create_database()  # a second database stands in for the replica's address
    db = Database.connect(db_url, Settings(database_url=db_url), replica)
    try:
        async with db.read_transaction() as s:
            read_from = await s.scalar(text("select current_database()"))
        async with db.transaction() as s:
            write_to = await s.scalar(text("select current_database()"))
    finally:
        await db.dispose()
    assert read_from == replica.rsplit("/", 1)[1].split("?")[0]
    assert write_to == db_url.rsplit("/", 1)[1].split("?")[0]


async def test_without_a_replica_reads_use_the_primary(db_url: str) -> None:
    db = Database.connect(db_url, Settings(database_url=db_url))
    try:
        async with db.read_transaction() as s:
            assert (
                await s.scalar(text("select current_database()"))
                == db_url.rsplit("/", 1)[1].split("?")[0]
            )
    finally:
        await db.dispose()


async def test_a_failed_unit_of_work_writes_nothing(create_database: Callable[[], str]) -> None:
    url = create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table t (n int primary key)")
    db = Database.connect(url, Settings(database_url=url))
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                await s.execute(text("insert into t values (1)"))
                raise RuntimeError("the endpoint failed after writing")
        async with db.transaction() as s:
            await s.execute(text("insert into t values (2)"))
    finally:
        await db.dispose()
    with psycopg.connect(url) as conn:
        assert conn.execute("select array_agg(n) from t").fetchone() == ([2],)


async def _backend_pid(db: Database) -> int:
    async with db.transaction() as s:
        return int(await s.scalar(text("select pg_backend_pid()")) or 0)


def _terminate(url: str, pid: int) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("select pg_terminate_backend(%s, 5000)", (pid,))


async def test_a_connection_idle_past_the_threshold_is_pinged_and_replaced_when_dead(
    db_url: str,
) -> None:
    # Threshold 0: every checkout of a used connection pings it first (as pool_pre_ping).
    db = Database.connect(db_url, Settings(database_url=db_url, db_ping_after_idle_seconds=0))
    try:
        first = await _backend_pid(db)
        _terminate(db_url, first)  # a server restart or failover, as the pool sees it
        second = await _backend_pid(db)  # the dead connection never reaches the request
    finally:
        await db.dispose()
    assert second not in (0, first)


async def test_a_connection_back_a_moment_ago_is_used_without_a_ping(db_url: str) -> None:
    # Threshold one hour: a connection returned a moment ago is not pinged, so one killed
    # meanwhile fails the request that takes it (what the threshold trades for two round
    # trips per request); the pool then replaces it for the next request.
    db = Database.connect(db_url, Settings(database_url=db_url, db_ping_after_idle_seconds=3600))
    try:
        first = await _backend_pid(db)
        _terminate(db_url, first)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(db)
        # A lost connection: the app answers 503 database-unavailable (polis.platform.errors).
        assert failed.value.connection_invalidated
        assert await _backend_pid(db) not in (0, first)
    finally:
        await db.dispose()
