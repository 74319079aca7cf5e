"""Raw rows and the ORM objects they stand for (decision 0073).

The hot paths (a health claim; motor's quote, bind, pay, GET policy) send their fixed
statements with `polis.db.raw`, on the session's connection and in its transaction. The ORM
never sees them, so what it did for those statements is done here, cheaply:

- `flush_pending`: the autoflush an ORM-enabled statement did first (pending changes reach
  the database before a raw statement that may read them);
- `sync`: an object of the row that the session already holds takes the row's values as if
  loaded (what `populate_existing` did for a locking read, and what keeps an object in step
  with a raw UPDATE);
- `adopt`: the row as a persistent object of the session, as a query would have loaded it,
  without a statement; a caller that changes it and flushes gets an ordinary UPDATE of the
  changed columns (motor's renewals change the new policy, the gateway the paid payment);
- `Prefixed`: the columns of a joined row that carry a prefix, read by their own names.

`columns` gives the SELECT / RETURNING list of a model's table: every column, so that
adopted objects have every column attribute loaded, as the ORM statements loaded them.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import make_transient_to_detached
from sqlalchemy.orm.attributes import instance_state, set_committed_value
from sqlalchemy.orm.util import identity_key

from polis.db import raw
from polis.db.raw import Row, Statement

_M = TypeVar("_M")


_NAMES: dict[type[Any], tuple[str, ...]] = {}
_KEYS: dict[type[Any], tuple[str, ...]] = {}
_MANAGERS: dict[type[Any], Any] = {}


def column_names(model: type[Any]) -> tuple[str, ...]:
    """The model's table columns in table order (each mapped under its column name)."""
    names = _NAMES.get(model)
    if names is None:
        names = tuple(c.name for c in model.__table__.columns)
        keys = {a.key for a in inspect(model).column_attrs}
        if set(names) != keys:  # pragma: no cover - a column mapped under another name
            raise TypeError(f"{model.__name__}: attribute names differ from column names")
        _NAMES[model] = names
    return names


def columns(model: type[Any], alias: str | None = None, prefix: str = "") -> str:
    """`a.id, a.policy_id, ...` (with `AS <prefix>id ...` when `prefix` is given)."""
    qualify = f"{alias}." if alias else ""
    return ", ".join(
        f"{qualify}{name}" + (f" AS {prefix}{name}" if prefix else "")
        for name in column_names(model)
    )


def _key_names(model: type[Any]) -> tuple[str, ...]:
    """The model's primary key columns (a partitioned table's include its partition key:
    payments are (id, created_at))."""
    names = _KEYS.get(model)
    if names is None:
        names = _KEYS[model] = tuple(c.name for c in inspect(model).primary_key)
    return names


def _manager(model: type[Any]) -> Any:
    manager = _MANAGERS.get(model)
    if manager is None:
        manager = _MANAGERS[model] = inspect(model).class_manager
    return manager


async def flush_pending(session: AsyncSession) -> None:
    """Flush the session's pending changes, if it has any (the autoflush of the ORM statement
    a raw one replaced)."""
    if session.new or session.dirty or session.deleted:
        await session.flush()


async def returned(session: AsyncSession, stmt: Statement, params: dict[str, Any]) -> Row:
    """The row of an `INSERT ... RETURNING` (or `UPDATE ... RETURNING`) of one row."""
    row = await raw.fetchrow(session, stmt, params)
    if row is None:  # pragma: no cover - the statement always returns its row
        raise LookupError(f"no row returned by {stmt!r}")
    return row


def sync(session: AsyncSession, model: type[_M], row: Row) -> _M | None:
    """The session's object of `row` (by its primary key) with the row's column values as
    loaded, None when the session holds none."""
    identity_map = session.sync_session.identity_map
    if not len(identity_map):
        return None
    key = identity_key(model, tuple(row[name] for name in _key_names(model)))
    held: _M | None = identity_map.get(key)
    if held is not None:
        for name in column_names(model):
            set_committed_value(held, name, row[name])
    return held


def adopt(session: AsyncSession, model: type[_M], row: Row) -> _M:
    """`row` (every column of the model's table, by name) as a persistent object of the
    session: the one it holds, refreshed, or a new one, as if a query had loaded it."""
    held = sync(session, model, row)
    if held is not None:
        return held
    obj: _M = _manager(model).new_instance()
    instance_state(obj).dict.update({name: row[name] for name in column_names(model)})
    make_transient_to_detached(obj)
    session.add(obj)
    return obj


class Prefixed:
    """The columns of a joined row that carry a prefix (`m_id`, `m_amount` ...), read by
    their own names (`id`, `amount` ...), as attributes."""

    __slots__ = ("_prefix", "_row")

    def __init__(self, row: Row, prefix: str) -> None:
        self._row = row
        self._prefix = prefix

    def __getattr__(self, name: str) -> Any:
        try:
            return self._row[self._prefix + name]
        except KeyError:
            raise AttributeError(name) from None
