"""Fixed statements of a hot path, run on the session's own asyncpg connection.

A statement executed through `AsyncSession.execute` costs about 0.25 ms of Python CPU before
and after the database's own work (the ORM's execution path, the cache key, the execution
context, the result object, a greenlet switch); the same statement sent by asyncpg itself
costs about 0.07 ms (`bench/`, decision 0073). For the few statements every claim or policy
runs, `Statement` compiles a `text()` once, at import, to asyncpg's `$n` SQL and the order
of its named parameters, and `fetch` / `fetchrow` / `fetchval` / `execute` send it on the
connection the session already holds, **inside the session's transaction** (begun here if
the session has not begun it yet), so that it commits or rolls back with everything else.

What stays the same as `session.execute`:
- errors: asyncpg's exceptions are raised as SQLAlchemy's (`IntegrityError`, `DBAPIError`
  with `connection_invalidated` ...), so the problem+json mapping of
  `polis.platform.errors` and the callers' `except IntegrityError` see what they saw;
- values: the engine's codecs (JSON and JSONB parameters are JSON *text*, results come back
  decoded; UUID, numeric, date and timestamp as asyncpg gives them);
- rows: `Row` reads a column as an attribute (`row.member_id`) or by name or position.

What the caller gives up: the ORM never sees these statements. Objects the session holds
are not refreshed (the callers keep them in step by hand, or hold none), and SQLAlchemy's
`before_cursor_execute` events do not fire.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import asyncpg as asyncpg_dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.elements import TextClause

_DIALECT = asyncpg_dialect.dialect()
_HELD = "polis.db.raw.connection"


class Statement:
    """A `text()` statement compiled once: asyncpg SQL (`$1`, `$2` ...; a name used twice is
    one parameter) and the names of its parameters in that order."""

    __slots__ = ("names", "sql")

    def __init__(self, clause: TextClause | str) -> None:
        compiled = (TextClause(clause) if isinstance(clause, str) else clause).compile(
            dialect=_DIALECT
        )
        self.sql: str = compiled.string
        self.names: tuple[str, ...] = tuple(compiled.positiontup or ())

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        """The positional arguments for `params` (every name must be given)."""
        return [params[name] for name in self.names]

    def __repr__(self) -> str:
        return f"Statement({self.sql!r})"


def unnest_insert(
    table: str, columns: Sequence[tuple[str, str]], returning: str | None = None
) -> Statement:
    """An INSERT of one row per array element, one statement whatever the number of rows
    (an executemany runs the INSERT, and its triggers' setup, per row): `columns` are
    (name, SQL type) pairs, each given as an array parameter of its name (`arrays`)."""
    names = ", ".join(name for name, _ in columns)
    values = ", ".join(f"CAST(:{name} AS {type_}[])" for name, type_ in columns)
    tail = f" RETURNING {returning}" if returning else ""
    return Statement(f"INSERT INTO {table} ({names}) SELECT * FROM unnest({values}){tail}")


def arrays(
    columns: Sequence[tuple[str, str]], items: Sequence[Mapping[str, Any]]
) -> dict[str, list[Any]]:
    """The parameters of an `unnest_insert`: one list per column, an element per item."""
    return {name: [item[name] for item in items] for name, _ in columns}


class Row:
    """A result row: columns as attributes, or by name or position (an asyncpg Record)."""

    __slots__ = ("_record",)

    def __init__(self, record: Any) -> None:
        self._record = record

    def __getattr__(self, name: str) -> Any:
        try:
            return self._record[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, key: int | str) -> Any:
        return self._record[key]

    def __len__(self) -> int:
        return len(self._record)

    def __iter__(self) -> Any:
        return iter(self._record.values())

    def _asdict(self) -> dict[str, Any]:
        return dict(self._record.items())

    def __repr__(self) -> str:
        return f"Row({dict(self._record.items())!r})"


async def _driver(session: AsyncSession) -> tuple[AsyncConnection, Any, Any]:
    """(the session's connection, its adapted DBAPI connection, the asyncpg connection), with
    the DBAPI-level transaction begun: SQLAlchemy's asyncpg adapter sends BEGIN lazily, on
    its first statement, and commits only a transaction it began. Kept in `session.info`
    for the rest of the session's transaction (one connection per transaction)."""
    transaction = session.sync_session.get_transaction()
    held = session.info.get(_HELD)
    if held is not None and held[0] is transaction and transaction is not None:
        return held[1], held[2], held[3]
    connection = await session.connection()
    fairy = await connection.get_raw_connection()
    adapted: Any = fairy.dbapi_connection
    if adapted._transaction is None:
        try:
            await adapted._start_transaction()
        except Exception as error:
            raise await _translated(session, connection, adapted, "BEGIN", error) from error
    driver = fairy.driver_connection
    session.info[_HELD] = (session.sync_session.get_transaction(), connection, adapted, driver)
    return connection, adapted, driver


async def _translated(
    session: AsyncSession, connection: AsyncConnection, adapted: Any, sql: str, error: Exception
) -> Exception:
    """`error` (asyncpg's) as SQLAlchemy would have raised it from `session.execute`: a
    DBAPIError subclass by SQLSTATE class; a lost connection is invalidated (the pool
    replaces it) and the error says so (`connection_invalidated`)."""
    dialect = connection.dialect
    dbapi = dialect.loaded_dbapi
    try:
        adapted._handle_exception(error)  # raises the DBAPI-level error
    except dbapi.Error as dbapi_error:
        invalidated = bool(dialect.is_disconnect(dbapi_error, adapted, None))
        if invalidated:
            session.info.pop(_HELD, None)
            await connection.invalidate(dbapi_error)
        return sa_exc.DBAPIError.instance(
            sql,
            None,
            dbapi_error,
            dbapi.Error,
            connection_invalidated=invalidated,
            dialect=dialect,
        )
    except Exception as other:  # not a database error: raise it as it is
        return other
    return error  # pragma: no cover - _handle_exception always raises


async def _run(
    session: AsyncSession, stmt: Statement, params: Mapping[str, Any], method: str
) -> Any:
    connection, adapted, driver = await _driver(session)
    args = stmt.args(params)
    try:
        return await getattr(driver, method)(stmt.sql, *args)
    except Exception as error:
        raise await _translated(session, connection, adapted, stmt.sql, error) from error


async def fetch(session: AsyncSession, stmt: Statement, params: Mapping[str, Any]) -> list[Row]:
    """Every row of `stmt`."""
    return [Row(r) for r in await _run(session, stmt, params, "fetch")]


async def fetchrow(session: AsyncSession, stmt: Statement, params: Mapping[str, Any]) -> Row | None:
    """The first row of `stmt`, None when there is none."""
    record = await _run(session, stmt, params, "fetchrow")
    return None if record is None else Row(record)


async def fetchval(session: AsyncSession, stmt: Statement, params: Mapping[str, Any]) -> Any:
    """The first column of the first row of `stmt`, None when there is no row."""
    return await _run(session, stmt, params, "fetchval")


async def execute(session: AsyncSession, stmt: Statement, params: Mapping[str, Any]) -> str:
    """Run `stmt` for its effect; asyncpg's status ("INSERT 0 1", "UPDATE 3" ...)."""
    return str(await _run(session, stmt, params, "execute"))
