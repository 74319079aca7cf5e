"""Every statement sent on an asyncpg connection, in the order sent: the ORM's and
`polis.db.raw`'s alike (SQLAlchemy's `before_cursor_execute` sees only the ORM's, decision
0073). For tests that check statement order and for the benches' statement counts; nothing
in the app uses it.

It wraps the connection's protocol object, a private attribute of asyncpg (0.32): if that
changes, the recorder sees nothing and the tests that rely on it fail rather than pass.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection


class StatementRecorder:
    """An asyncpg connection's protocol that notes the SQL of each statement before sending
    it: extended protocol (prepared, as SQLAlchemy and raw send theirs) and simple query
    (BEGIN, COMMIT ...)."""

    __slots__ = ("_protocol", "seen")

    def __init__(self, protocol: Any, seen: list[str]) -> None:
        self._protocol = protocol
        self.seen = seen

    def __getattr__(self, name: str) -> Any:
        return getattr(self._protocol, name)

    def bind_execute(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(state.query)
        return self._protocol.bind_execute(state, *args, **kwargs)

    def bind_execute_many(self, state: Any, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(state.query)
        return self._protocol.bind_execute_many(state, *args, **kwargs)

    def query(self, query: str, *args: Any, **kwargs: Any) -> Any:
        self.seen.append(query)
        return self._protocol.query(query, *args, **kwargs)

    @classmethod
    def install(cls, driver: Any, seen: list[str]) -> StatementRecorder:
        """Record what `driver` (an asyncpg connection) sends into `seen`, from now on;
        a connection already recording keeps its recorder."""
        if isinstance(driver._protocol, cls):
            return driver._protocol
        recorder = cls(driver._protocol, seen)
        driver._protocol = recorder
        return recorder


@asynccontextmanager
async def recorded(connection: AsyncConnection) -> AsyncIterator[list[str]]:
    """The SQL of every statement sent on `connection` while the block runs."""
    driver = (await connection.get_raw_connection()).driver_connection
    assert driver is not None
    protocol = driver._protocol
    seen: list[str] = []
    recorder = StatementRecorder(protocol, seen)
    driver._protocol = recorder
    try:
        yield seen
    finally:
        if driver._protocol is recorder:
            driver._protocol = protocol
