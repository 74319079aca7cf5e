"""Account lockout (counted atomically: parallel guesses cannot pass MAX_LOGIN_ATTEMPTS), one
answer for every failed login, and the per-IP login rate limit held in PostgreSQL (0058)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.app import create_app
from polis.config import Settings
from polis.db.session import Database
from polis.db.urls import with_driver
from polis.iam import passwords
from tests.iam.factories import PASSWORD, create_user

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"


def _strip(body: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != "request_id"}


async def _failed(session: AsyncSession, user_id: uuid.UUID) -> tuple[int, datetime | None]:
    row = (
        await session.execute(
            text("select failed_login_attempts, locked_until from iam.users where id = :u"),
            {"u": user_id},
        )
    ).one()
    return row.failed_login_attempts, row.locked_until


@asynccontextmanager
async def _shared_client(
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
    ip: str = "127.0.0.1",
) -> AsyncIterator[AsyncClient]:
    """Like the `client` fixture (inside the test's transaction), with other settings."""
    app = create_app(settings, database=Database(connection.engine, sessionmaker))
    async with (
        LifespanManager(app),
        AsyncClient(
            transport=ASGITransport(app=app, client=(ip, 1234)), base_url="http://test"
        ) as c,
    ):
        yield c


class TestLockout:
    async def test_max_failures_lock_and_the_count_stops_there(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        for expected in range(1, 6):
            response = await client.post(
                LOGIN, json={"username": user.username, "password": f"wrong password {expected}"}
            )
            assert response.status_code == 401
            count, locked_until = await _failed(session, user.id)
            assert count == expected
            assert (locked_until is not None) is (expected == 5)
        # Locked: more wrong guesses are not counted, the right password is refused.
        for password in ("another wrong one", PASSWORD):
            response = await client.post(
                LOGIN, json={"username": user.username, "password": password}
            )
            assert response.status_code == 401
            assert response.json()["type"] == "urn:polis:problem:invalid-credentials"
        count, locked_until = await _failed(session, user.id)
        assert count == 5
        assert locked_until is not None
        assert timedelta(minutes=14) < locked_until - datetime.now(UTC) <= timedelta(minutes=15)
        sessions = await session.scalar(
            text("select count(*) from iam.user_sessions where user_id = :u"), {"u": user.id}
        )
        assert sessions == 0

    async def test_after_the_lock_expires_the_right_password_works(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(
            session, failed_login_attempts=5, locked_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert response.status_code == 200
        assert await _failed(session, user.id) == (0, None)

    async def test_a_failure_after_an_expired_lock_counts_from_one(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(
            session, failed_login_attempts=5, locked_until=datetime.now(UTC) - timedelta(seconds=1)
        )
        await client.post(LOGIN, json={"username": user.username, "password": "wrong wrong"})
        assert await _failed(session, user.id) == (1, None)

    async def test_unknown_wrong_locked_and_inactive_get_one_answer(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        locked = await create_user(session, locked_until=datetime.now(UTC) + timedelta(minutes=5))
        inactive = await create_user(session, account_status="SUSPENDED")
        answers = []
        for username, password in (
            ("nobody-by-this-name", PASSWORD),
            (user.username, "not the password"),
            (locked.username, PASSWORD),
            (inactive.username, PASSWORD),
        ):
            response = await client.post(LOGIN, json={"username": username, "password": password})
            assert response.status_code == 401
            assert response.headers["www-authenticate"] == "Bearer"
            answers.append((response.headers["content-type"], _strip(response.json())))
        assert len(set(map(str, answers))) == 1

    async def test_a_locked_account_burns_a_verification_too(
        self, client: AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        # Timing: an unknown or locked account still costs one argon2 verification.
        calls: list[str] = []
        real = passwords.verify_password

        def spy(password_hash: str, password: str) -> bool:
            calls.append(password_hash)
            return real(password_hash, password)

        monkeypatch.setattr(passwords, "verify_password", spy)
        locked = await create_user(session, locked_until=datetime.now(UTC) + timedelta(minutes=5))
        for username in (locked.username, "nobody-at-all"):
            calls.clear()
            await client.post(LOGIN, json={"username": username, "password": PASSWORD})
            assert calls == [passwords._dummy_hash()]

    async def test_max_login_attempts_comes_from_system_configurations(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '3'"
                " where config_key = 'MAX_LOGIN_ATTEMPTS'"
            )
        )
        user = await create_user(session)
        for _ in range(3):
            await client.post(LOGIN, json={"username": user.username, "password": "wrong guess"})
        count, locked_until = await _failed(session, user.id)
        assert (count, locked_until is not None) == (3, True)

    async def test_a_set_max_login_attempts_wins_over_the_table(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        db_url: str,
    ) -> None:
        settings = Settings(database_url=db_url, max_login_attempts=2)
        user = await create_user(session)
        async with _shared_client(connection, sessionmaker, settings) as c:
            for _ in range(2):
                await c.post(LOGIN, json={"username": user.username, "password": "wrong guess"})
        count, locked_until = await _failed(session, user.id)
        assert (count, locked_until is not None) == (2, True)


class TestRateLimit:
    async def test_failures_per_ip_are_limited_with_retry_after(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        db_url: str,
    ) -> None:
        settings = Settings(database_url=db_url, login_rate_limit=3)
        user = await create_user(session)
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.7") as c:
            for i in range(3):
                response = await c.post(
                    LOGIN, json={"username": f"nobody-{i}", "password": "wrong guess"}
                )
                assert response.status_code == 401
            # Even the right password of an existing account: the address is over its limit.
            response = await c.post(LOGIN, json={"username": user.username, "password": PASSWORD})
            assert response.status_code == 429
            assert response.headers["content-type"] == "application/problem+json"
            assert response.json()["type"] == "urn:polis:problem:too-many-login-attempts"
            retry_after = int(response.headers["retry-after"])
            assert 1 <= retry_after <= 60
            assert response.json()["retry_after"] == retry_after
        # Not counted against the account, and no session.
        assert await _failed(session, user.id) == (0, None)
        attempts = await session.scalar(
            text("select attempts from iam.login_rate_limits where ip_address = '198.51.100.7'")
        )
        assert attempts == 3
        # Another address is not affected.
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.8") as c:
            response = await c.post(LOGIN, json={"username": user.username, "password": PASSWORD})
            assert response.status_code == 200

    async def test_successful_logins_do_not_count(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        db_url: str,
    ) -> None:
        settings = Settings(database_url=db_url, login_rate_limit=2)
        user = await create_user(session)
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.9") as c:
            for _ in range(4):
                response = await c.post(
                    LOGIN, json={"username": user.username, "password": PASSWORD}
                )
                assert response.status_code == 200

    async def test_a_new_window_starts_afresh(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        db_url: str,
    ) -> None:
        await session.execute(
            text(
                "insert into iam.login_rate_limits (ip_address, window_start, attempts)"
                " values ('198.51.100.10', now() - interval '5 minutes', 99)"
            )
        )
        settings = Settings(database_url=db_url, login_rate_limit=2)
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.10") as c:
            response = await c.post(LOGIN, json={"username": "nobody", "password": "wrong one"})
            assert response.status_code == 401
        attempts = await session.scalar(
            text("select attempts from iam.login_rate_limits where ip_address = '198.51.100.10'")
        )
        assert attempts == 1

    async def test_guessed_refresh_tokens_count_like_failed_logins(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        session: AsyncSession,
        db_url: str,
    ) -> None:
        settings = Settings(database_url=db_url, login_rate_limit=3)
        user = await create_user(session)
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.11") as c:
            signed_in = await c.post(LOGIN, json={"username": user.username, "password": PASSWORD})
            assert signed_in.status_code == 200
            first = signed_in.json()["refresh_token"]
            # A real refresh takes nothing from the address, however often.
            renewed = await c.post(REFRESH, json={"refresh_token": first})
            assert renewed.status_code == 200, renewed.text
            current = renewed.json()["refresh_token"]
            assert await _attempts(session, "198.51.100.11") == 0
            # A spent token (an old cookie, a second tab) is a real one: not counted.
            assert (await c.post(REFRESH, json={"refresh_token": first})).status_code == 401
            assert await _attempts(session, "198.51.100.11") == 0
            # Tokens nobody issued are: three, then the window is full.
            for guess in ("x" * 43, "y" * 43, ""):
                response = await c.post(REFRESH, json={"refresh_token": guess})
                assert response.status_code in (401, 422), response.text
            assert await _attempts(session, "198.51.100.11") == 2  # "" is refused by the schema
            assert (await c.post(REFRESH, json={"refresh_token": "z" * 43})).status_code == 401
            assert await _attempts(session, "198.51.100.11") == 3
            refused = await c.post(REFRESH, json={"refresh_token": "w" * 43})
            assert refused.status_code == 429
            assert refused.json()["type"] == "urn:polis:problem:too-many-login-attempts"
            assert 1 <= int(refused.headers["retry-after"]) <= 60
            # The window is shared with logins, and nothing was looked up or written.
            login = await c.post(LOGIN, json={"username": user.username, "password": PASSWORD})
            assert login.status_code == 429
            assert await _attempts(session, "198.51.100.11") == 3
        # Another address is not affected (the family ended when the spent token came back).
        async with _shared_client(connection, sessionmaker, settings, ip="198.51.100.12") as c:
            assert (await c.post(REFRESH, json={"refresh_token": current})).status_code == 401
            assert await _attempts(session, "198.51.100.12") == 0


async def _attempts(session: AsyncSession, ip: str) -> int:
    """Failures counted for `ip` in its window (0: none, or a login's attempt given back)."""
    found = await session.scalar(
        text("select attempts from iam.login_rate_limits where ip_address = CAST(:ip AS inet)"),
        {"ip": ip},
    )
    return int(found or 0)


# --- Parallel requests against two app instances with their own connection pools ---------
# (two server processes in all that matters here: nothing shared but the database).


IPS = [f"192.0.2.{n}" for n in range(1, 41)]


@pytest.fixture
async def two_servers(db_url: str) -> AsyncIterator[Callable[[Settings], Any]]:
    """A factory of two apps, each with its own engine and pool, on the shared test database;
    what the test commits (its users, their sessions, the rate-limit rows of IPS) is deleted
    afterwards."""

    @asynccontextmanager
    async def make(settings: Settings) -> AsyncIterator[list[Any]]:
        async with AsyncExitStack() as stack:
            apps = []
            for _ in range(2):
                engine = create_async_engine(
                    with_driver(db_url, "asyncpg"), pool_size=12, max_overflow=0
                )
                stack.push_async_callback(engine.dispose)
                app = create_app(settings, database=Database.from_engine(engine))
                await stack.enter_async_context(LifespanManager(app))
                apps.append(app)
            yield apps

    yield make
    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    async with engine.begin() as conn:
        await conn.execute(
            text("delete from iam.login_rate_limits where host(ip_address) = any(:ips)"),
            {"ips": IPS},
        )
        await conn.execute(
            text(
                "delete from iam.user_sessions where user_id in"
                " (select id from iam.users where username like 'lockout-race-%')"
            )
        )
        await conn.execute(text("delete from iam.users where username like 'lockout-race-%'"))
    await engine.dispose()


async def _post_from(app: Any, ip: str, body: dict[str, str]) -> Response:
    """POST /auth/login to `app` as a client at `ip`."""
    transport = ASGITransport(app=app, client=(ip, 4321))
    async with AsyncClient(transport=transport, base_url="http://test") as c:
        return await c.post(LOGIN, json=body)


async def _committed_user(db_url: str) -> tuple[uuid.UUID, str]:
    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    try:
        async with AsyncSession(engine, expire_on_commit=False) as s:
            user = await create_user(s, username=f"lockout-race-{uuid.uuid4().hex[:8]}")
            await s.commit()
            return user.id, user.username
    finally:
        await engine.dispose()


async def _read_failed(db_url: str, user_id: uuid.UUID) -> tuple[int, datetime | None, int]:
    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    try:
        async with AsyncSession(engine) as s:
            count, locked_until = await _failed(s, user_id)
            sessions = await s.scalar(
                text("select count(*) from iam.user_sessions where user_id = :u"), {"u": user_id}
            )
            return count, locked_until, int(sessions or 0)
    finally:
        await engine.dispose()


class TestParallel:
    async def test_parallel_wrong_logins_cannot_pass_the_limit(
        self,
        db_url: str,
        two_servers: Callable[[Settings], Any],
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        user_id, username = await _committed_user(db_url)
        real_hash_checks: list[str] = []
        real = passwords.verify_password
        dummy = passwords._dummy_hash()

        def spy(password_hash: str, password: str) -> bool:
            if password_hash != dummy:
                real_hash_checks.append(password)
            return real(password_hash, password)

        monkeypatch.setattr(passwords, "verify_password", spy)
        settings = Settings(max_login_attempts=5, login_rate_limit=1000)
        async with two_servers(settings) as apps:
            # Each guess from another address (the rate limit is not what stops them).
            responses: list[Response] = await asyncio.gather(
                *(
                    _post_from(
                        apps[i % 2], IPS[i], {"username": username, "password": f"guess no. {i}"}
                    )
                    for i in range(20)
                )
            )
            assert [r.status_code for r in responses] == [401] * 20
            assert len({str(_strip(r.json())) for r in responses}) == 1
            count, locked_until, _ = await _read_failed(db_url, user_id)
            assert count == 5
            assert locked_until is not None and locked_until > datetime.now(UTC)
            # No more than MAX guesses were ever checked against the real hash.
            assert len(real_hash_checks) == 5
            # The right password now fails while locked, and opens no session.
            right = await _post_from(apps[0], IPS[25], {"username": username, "password": PASSWORD})
            assert right.status_code == 401
            assert _strip(right.json()) == _strip(responses[0].json())
        assert await _read_failed(db_url, user_id) == (5, locked_until, 0)

    async def test_parallel_logins_from_one_address_cannot_pass_the_rate_limit(
        self, db_url: str, two_servers: Callable[[Settings], Any]
    ) -> None:
        settings = Settings(login_rate_limit=5, login_rate_window_seconds=3600)
        async with two_servers(settings) as apps:
            responses: list[Response] = await asyncio.gather(
                *(
                    _post_from(
                        apps[i % 2], IPS[30], {"username": f"nobody-{i}", "password": "wrong"}
                    )
                    for i in range(20)
                )
            )
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [401] * 5 + [429] * 15
