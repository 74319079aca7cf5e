"""Engines: the seed's pool sizes, the replica for reads, commit-or-rollback units of work."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import text
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
