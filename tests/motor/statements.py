"""Every statement sent on a test's connection, in the order sent: the ORM's and
`polis.db.raw`'s alike (a `before_cursor_execute` listener sees only the ORM's, decision
0073)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class _Recording:
    """An asyncpg connection's protocol that notes the SQL of each statement before sending
    it: extended protocol (prepared, as SQLAlchemy and raw send theirs) and simple query."""

    __slots__ = ("_protocol", "_seen")

    def __init__(self, protocol: Any, seen: list[str]) -> None:
        self._protocol = protocol
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)

    def bind_execute(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(state.query)
        return self._protocol.bind_execute(state, *args, **kwargs)

    def bind_execute_many(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(state.query)
        return self._protocol.bind_execute_many(state, *args, **kwargs)

    def query(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self._seen.append(query)
        return self._protocol.query(query, *args, **kwargs)


@asynccontextmanager
async def recorded(connection: AsyncConnection) -> AsyncIterator[list[str]]:
    """The SQL of every statement sent on `connection` while the block runs."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    protocol = driver._protocol
    seen: list[str] = []
    recording = _Recording(protocol, seen)
    driver._protocol = recording
    try:
        yield seen
    finally:
        if driver._protocol is recording:
            driver._protocol = protocol
