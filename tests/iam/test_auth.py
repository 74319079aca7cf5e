"""Login, logout, me; tokens stored hashed; expired, revoked and unknown tokens refused."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import get_settings
from tests.iam.factories import PASSWORD, create_user, login, signed_in


def _strip(body: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in body.items() if k not in ("request_id",)}


class TestLogin:
    async def test_returns_a_bearer_token(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session)
        before = datetime.now(UTC)
        response = await client.post(
            "/api/v1/auth/login",
            json={"username": user.username, "password": PASSWORD},
            headers={"User-Agent": "pytest-agent"},
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["token_type"] == "bearer"
        assert len(body["access_token"]) >= 40
        # The access token lives ACCESS_TOKEN_MINUTES, the session (and its refresh token)
        # SESSION_TIMEOUT_HOURS (decision 0062).
        expires = datetime.fromisoformat(body["expires_at"])
        minutes = get_settings().access_token_minutes
        assert before + timedelta(minutes=minutes) <= expires
        assert expires <= datetime.now(UTC) + timedelta(minutes=minutes)
        refresh_expires = datetime.fromisoformat(body["refresh_expires_at"])
        hours = get_settings().session_timeout_hours
        assert before + timedelta(hours=hours) <= refresh_expires
        assert refresh_expires <= datetime.now(UTC) + timedelta(hours=hours)

    async def test_stores_only_the_sha256_of_the_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        token = await login(client, user.username)
        row = (
            await session.execute(
                text(
                    "select session_id, host(ip_address) as ip, user_agent, login_method,"
                    " is_active from iam.user_sessions where user_id = :u"
                ),
                {"u": user.id},
            )
        ).one()
        assert row.session_id == hashlib.sha256(token.encode()).hexdigest()
        assert row.ip == "127.0.0.1"
        assert row.login_method == "PASSWORD"
        assert row.is_active is True
        # The token itself appears nowhere: not in the sessions, users or the audit trail.
        for table in ("iam.user_sessions", "iam.users", "audit.audit_log"):
            found = await session.scalar(
                text(f"select count(*) from {table} t where t::text like :t"), {"t": f"%{token}%"}
            )
            assert found == 0, table

    async def test_updates_last_login(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session)
        await login(client, user.username)
        row = (
            await session.execute(
                text(
                    "select last_login_at, host(last_login_ip) as ip, current_session_id"
                    " from iam.users where id = :u"
                ),
                {"u": user.id},
            )
        ).one()
        assert row.last_login_at is not None
        assert row.ip == "127.0.0.1"
        assert row.current_session_id is not None

    async def test_wrong_password_unknown_user_and_inactive_look_the_same(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        inactive = await create_user(session, account_status="SUSPENDED")
        answers = []
        for username, password in (
            (user.username, "not the password at all"),
            ("nobody-by-this-name", PASSWORD),
            (inactive.username, PASSWORD),
        ):
            response = await client.post(
                "/api/v1/auth/login", json={"username": username, "password": password}
            )
            assert response.status_code == 401
            assert response.headers["content-type"] == "application/problem+json"
            assert response.headers["www-authenticate"] == "Bearer"
            answers.append(_strip(response.json()))
        assert answers[0] == answers[1] == answers[2]
        assert answers[0]["type"] == "urn:polis:problem:invalid-credentials"

    async def test_locks_after_max_failed_attempts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        for _ in range(get_settings().max_login_attempts):
            response = await client.post(
                "/api/v1/auth/login", json={"username": user.username, "password": "wrong" * 3}
            )
            assert response.status_code == 401
        locked_until = await session.scalar(
            text("select locked_until from iam.users where id = :u"), {"u": user.id}
        )
        assert locked_until is not None and locked_until > datetime.now(UTC)
        # Even the right password is refused while locked, with the same answer.
        response = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert response.status_code == 401
        assert response.json()["type"] == "urn:polis:problem:invalid-credentials"

    async def test_failed_attempts_are_counted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": "x" * 12}
        )
        count = await session.scalar(
            text("select failed_login_attempts from iam.users where id = :u"), {"u": user.id}
        )
        assert count == 1
        await login(client, user.username)
        count = await session.scalar(
            text("select failed_login_attempts from iam.users where id = :u"), {"u": user.id}
        )
        assert count == 0

    async def test_missing_fields_are_a_validation_problem(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/auth/login", json={"username": "a"})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.password"]


class TestMe:
    async def test_shows_user_and_permissions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 200
        body = response.json()
        assert body["id"] == str(user.id)
        assert body["role"] == "CLAIMS_PROCESSOR"
        assert "health.claims:decide" in body["permissions"]
        assert "iam.users:write" not in body["permissions"]
        assert "password_hash" not in body

    async def test_refuses_missing_malformed_and_unknown_tokens(self, client: AsyncClient) -> None:
        for headers in (
            {},
            {"Authorization": "Bearer"},
            {"Authorization": "Basic dXNlcjpwYXNz"},
            {"Authorization": "Bearer not-a-token"},
        ):
            response = await client.get("/api/v1/auth/me", headers=headers)
            assert response.status_code == 401, headers
            assert response.headers["content-type"] == "application/problem+json"

    async def test_refuses_an_expired_session(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        await session.execute(
            text(
                "update iam.user_sessions set expires_at = now() - interval '1 second'"
                " where user_id = :u"
            ),
            {"u": user.id},
        )
        response = await client.get("/api/v1/auth/me", headers=headers)
        assert response.status_code == 401
        assert response.json()["type"] == "urn:polis:problem:invalid-token"

    async def test_refuses_a_suspended_user(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        await session.execute(
            text("update iam.users set account_status = 'SUSPENDED' where id = :u"),
            {"u": user.id},
        )
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401


class TestLogout:
    async def test_ends_the_session(self, client: AsyncClient, session: AsyncSession) -> None:
        user, headers = await signed_in(client, session)
        response = await client.post("/api/v1/auth/logout", headers=headers)
        assert response.status_code == 204
        row = (
            await session.execute(
                text(
                    "select is_active, terminated_at, termination_reason"
                    " from iam.user_sessions where user_id = :u"
                ),
                {"u": user.id},
            )
        ).one()
        assert row.is_active is False
        assert row.terminated_at is not None
        assert row.termination_reason == "LOGOUT"
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 401

    async def test_other_sessions_stay_valid(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        other = {"Authorization": f"Bearer {await login(client, user.username)}"}
        await client.post("/api/v1/auth/logout", headers=headers)
        assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 200
