"""polis.db.raw: fixed statements on the session's asyncpg connection, in its transaction,
with SQLAlchemy's errors (decision 0073)."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from polis.config import Settings
from polis.db import raw
from polis.db.session import Database
from polis.platform.errors import pg_error

_INSERT = raw.Statement(text("INSERT INTO t (n, label) VALUES (:n, :label) RETURNING n * 10"))
_COUNT = raw.Statement("SELECT count(*) FROM t")


@pytest.fixture
def db_with_table(create_database: Callable[[], str]) -> str:
    url = create_database()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("create table t (n int primary key, label text not null)")
    return url


def _rows(url: str) -> list[tuple[int, str]]:
    with psycopg.connect(url) as conn:
        return [(n, label) for n, label in conn.execute("select n, label from t order by n")]


def test_a_statement_is_compiled_once_to_dollar_parameters() -> None:
    stmt = raw.Statement("SELECT :a + :b, :a, CAST(:c AS int[])")
    assert stmt.sql == "SELECT $1 + $2, $1, CAST($3 AS int[])"
    assert stmt.names == ("a", "b", "c")
    assert stmt.args({"c": [1], "b": 2, "a": 1, "unused": 9}) == [1, 2, [1]]
    with pytest.raises(KeyError):
        stmt.args({"a": 1})


async def test_statements_commit_and_roll_back_with_the_session(db_with_table: str) -> None:
    db = Database.connect(db_with_table, Settings(database_url=db_with_table))
    try:
        # The first statement of the session: raw begins the transaction itself, so the
        # rollback undoes it (not an autocommitted row).
        with pytest.raises(RuntimeError):
            async with db.transaction() as s:
                assert await raw.fetchval(s, _INSERT, {"n": 1, "label": "one"}) == 10
                raise RuntimeError("the endpoint failed after writing")
        async with db.transaction() as s:
            await s.execute(text("insert into t values (2, 'two')"))  # ORM first, then raw
            assert await raw.execute(s, _INSERT, {"n": 3, "label": "three"}) == "INSERT 0 1"
            assert await raw.fetchval(s, _COUNT, {}) == 2  # sees the ORM's row
            assert await s.scalar(text("select count(*) from t")) == 2  # and the ORM raw's
    finally:
        await db.dispose()
    assert _rows(db_with_table) == [(2, "two"), (3, "three")]


async def test_rows_read_as_attributes_by_name_or_position(db_with_table: str) -> None:
    db = Database.connect(db_with_table, Settings(database_url=db_with_table))
    try:
        async with db.transaction() as s:
            await raw.execute(s, _INSERT, {"n": 1, "label": "one"})
            rows = await raw.fetch(s, raw.Statement("SELECT n, label FROM t"), {})
            missing = await raw.fetchrow(s, raw.Statement("SELECT n FROM t WHERE n = :n"), {"n": 9})
    finally:
        await db.dispose()
    assert len(rows) == 1
    row = rows[0]
    assert (row.n, row.label, row["label"], row[0], len(row), list(row)) == (
        1,
        "one",
        "one",
        1,
        2,
        [1, "one"],
    )
    assert row._asdict() == {"n": 1, "label": "one"}
    with pytest.raises(AttributeError):
        _ = row.nothing
    assert missing is None


async def test_errors_are_sqlalchemys_and_the_transaction_writes_nothing(
    db_with_table: str,
) -> None:
    db = Database.connect(db_with_table, Settings(database_url=db_with_table))
    try:
        with pytest.raises(IntegrityError) as duplicate:
            async with db.transaction() as s:
                await raw.execute(s, _INSERT, {"n": 1, "label": "one"})
                await raw.execute(s, _INSERT, {"n": 1, "label": "again"})
        assert pg_error(duplicate.value)[:2] == ("23505", "t_pkey")
        assert not duplicate.value.connection_invalidated

        with pytest.raises(IntegrityError) as missing:
            async with db.transaction() as s:
                await raw.execute(s, _INSERT, {"n": 2, "label": None})
        assert pg_error(missing.value)[0] == "23502"  # not-null: a 422 for the app

        with pytest.raises(DBAPIError) as zero:
            async with db.transaction() as s:
                await raw.fetchval(s, raw.Statement("SELECT 1 / :d"), {"d": 0})
        assert pg_error(zero.value)[0] == "22012"
    finally:
        await db.dispose()
    assert _rows(db_with_table) == []


async def test_a_lost_connection_is_an_invalidated_dbapi_error(db_with_table: str) -> None:
    db = Database.connect(
        db_with_table, Settings(database_url=db_with_table, db_ping_after_idle_seconds=3600)
    )
    try:
        async with db.transaction() as s:
            pid = await raw.fetchval(s, raw.Statement("SELECT pg_backend_pid()"), {})
        with psycopg.connect(db_with_table, autocommit=True) as conn:
            conn.execute("select pg_terminate_backend(%s, 5000)", (pid,))
        with pytest.raises(DBAPIError) as lost:
            async with db.transaction() as s:
                await raw.fetchval(s, _COUNT, {})
        # What polis.platform.errors answers 503 database-unavailable.
        assert lost.value.connection_invalidated
        async with db.transaction() as s:  # the pool gave the next request a new connection
            assert await raw.fetchval(s, raw.Statement("SELECT pg_backend_pid()"), {}) != pid
    finally:
        await db.dispose()
