"""Password policy, POST /auth/password (history of 5), forced change at a staff account's
first login (decision 0058)."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam import passwords
from polis.iam.passwords import verify_password
from tests.iam.factories import PASSWORD, create_user, login, signed_in, token_body

NEW = "tamarind monsoon ferry 42"


def _rules(response_json: dict[str, object]) -> list[str]:
    errors = response_json["errors"]
    assert isinstance(errors, list)
    return [e["type"] for e in errors]


class TestPolicy:
    def test_the_shipped_list_is_loaded(self) -> None:
        common = passwords.common_passwords()
        assert len(common) > 19_000
        assert {"password", "123456", "qwerty"} <= common

    @pytest.mark.parametrize(
        "password",
        [
            "password1234",
            "Password2024!!",
            "qwertyuiop123",
            "1q2w3e4r5t6y",
            "!!dragon2025",
            "  iloveyou!!!!!! ",
        ],
    )
    def test_common_passwords_and_padded_ones_are_refused(self, password: str) -> None:
        assert "common" in [v.rule for v in passwords.violations(password)]

    def test_each_broken_rule_is_named(self) -> None:
        broken = passwords.violations("somchai12", username="Somchai", email="x@example.test")
        assert [v.rule for v in broken] == ["too-short", "contains-username"]
        broken = passwords.violations(
            "my name is wichai.k, hello", username="wk", email="wichai.k@example.co.th"
        )
        assert [v.rule for v in broken] == ["contains-email"]
        assert [v.rule for v in passwords.violations("x" * 300)] == ["too-long"]

    def test_a_good_password_passes(self) -> None:
        assert passwords.violations(NEW, username="somchai", email="somchai@example.test") == []
        assert passwords.violations(PASSWORD) == []
        # Short usernames are not looked for: "ab" is in too many good passwords.
        assert passwords.violations("a stable cabinet door", username="ab") == []

    def test_min_length_is_a_setting(self) -> None:
        assert passwords.violations("abcdefgh-xyz", min_length=16)[0].rule == "too-short"
        assert passwords.violations("zebra-kite-lamp", min_length=8) == []


class TestCreateUser:
    async def _create(
        self, client: AsyncClient, headers: dict[str, str], role: str, password: str = NEW
    ) -> tuple[int, dict[str, object]]:
        name = f"pw_{uuid.uuid4().hex[:10]}"
        response = await client.post(
            "/api/v1/iam/users",
            json={
                "username": name,
                "email": f"{name}@example.test",
                "password": password,
                "role": role,
                "first_name": "Pass",
                "last_name": "Word",
            },
            headers=headers,
        )
        return response.status_code, response.json()

    async def test_a_weak_password_is_a_422_naming_each_rule(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        status, body = await self._create(client, headers, "AGENT", "password1")
        assert status == 422
        assert body["type"] == "urn:polis:problem:weak-password"
        assert _rules(body) == ["too-short", "common"]
        assert {e["field"] for e in body["errors"]} == {"body.password"}  # type: ignore[attr-defined]
        assert "password1" not in str(body)

    async def test_staff_must_change_customers_and_members_do_not(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        for role, expected in (
            ("AGENT", True),
            ("CLAIMS_PROCESSOR", True),
            ("CUSTOMER", False),
            ("MEMBER", False),
        ):
            status, body = await self._create(client, headers, role)
            assert status == 201, body
            row = (
                await session.execute(
                    text(
                        "select must_change_password, password_history, password_hash"
                        " from iam.users where id = :id"
                    ),
                    {"id": body["id"]},
                )
            ).one()
            assert row.must_change_password is expected, role
            assert row.password_history == [row.password_hash]


class TestForcedChange:
    async def test_login_flags_it_and_other_routes_refuse_until_changed(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        # An ADMIN signs in with the second factor (decision 0063).
        user = await create_user(session, role="ADMIN", must_change_password=True, totp=True)
        token = await token_body(client, user.username)
        assert token["password_change_required"] is True
        headers = {"Authorization": f"Bearer {token['access_token']}"}

        refused = await client.get("/api/v1/iam/users", headers=headers)
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["type"] == "urn:polis:problem:password-change-required"
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.status_code == 200
        assert me.json()["password_change_required"] is True

        changed = await client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": NEW},
            headers=headers,
        )
        assert changed.status_code == 204, changed.text
        assert (await client.get("/api/v1/iam/users", headers=headers)).status_code == 200
        me = await client.get("/api/v1/auth/me", headers=headers)
        assert me.json()["password_change_required"] is False
        relogin = await token_body(client, user.username, NEW)
        assert relogin["password_change_required"] is False

    async def test_logout_still_works(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session, role="AGENT", must_change_password=True)
        headers = {"Authorization": f"Bearer {await login(client, user.username)}"}
        assert (await client.post("/api/v1/auth/logout", headers=headers)).status_code == 204

    async def test_an_ordinary_login_is_not_flagged(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        response = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert response.json()["password_change_required"] is False


class TestChangePassword:
    async def _change(
        self, client: AsyncClient, headers: dict[str, str], current: str, new: str
    ) -> tuple[int, dict[str, object]]:
        response = await client.post(
            "/api/v1/auth/password",
            json={"current_password": current, "new_password": new},
            headers=headers,
        )
        return response.status_code, (response.json() if response.content else {})

    async def test_changes_the_hash_and_password_changed_at(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        other = {"Authorization": f"Bearer {await login(client, user.username)}"}
        before = datetime.now(UTC)
        status, _ = await self._change(client, headers, PASSWORD, NEW)
        assert status == 204
        row = (
            await session.execute(
                text(
                    "select password_hash, password_changed_at, password_history"
                    " from iam.users where id = :id"
                ),
                {"id": user.id},
            )
        ).one()
        assert verify_password(row.password_hash, NEW)
        assert row.password_hash.startswith("$argon2id$")
        assert row.password_changed_at >= before
        assert row.password_history[0] == row.password_hash
        assert len(row.password_history) == 2
        # This session goes on; the other one ended.
        assert (await client.get("/api/v1/auth/me", headers=headers)).status_code == 200
        assert (await client.get("/api/v1/auth/me", headers=other)).status_code == 401
        reason = await session.scalar(
            text(
                "select termination_reason from iam.user_sessions"
                " where user_id = :id and not is_active"
            ),
            {"id": user.id},
        )
        assert reason == "PASSWORD_CHANGED"
        old = await client.post(
            "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
        )
        assert old.status_code == 401

    async def test_the_last_five_are_refused_and_the_history_keeps_five(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        chain = [PASSWORD] + [f"harbour lantern number {i}" for i in range(1, 7)]
        for current, new in itertools.pairwise(chain):
            status, body = await self._change(client, headers, current, new)
            assert status == 204, body
        # chain[6] is current; chain[2..5] are the four before it: all refused.
        for reused in chain[2:]:
            status, body = await self._change(client, headers, chain[-1], reused)
            assert status == 422, reused
            assert body["type"] == "urn:polis:problem:weak-password"
            assert _rules(body) == ["recently-used"]
        history = await session.scalar(
            text("select password_history from iam.users where id = :id"), {"id": user.id}
        )
        assert len(history) == 5
        # chain[1] is six passwords back: allowed again.
        status, _ = await self._change(client, headers, chain[-1], chain[1])
        assert status == 204

    async def test_a_weak_new_password_names_each_rule(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        status, body = await self._change(client, headers, PASSWORD, f"my {user.username}!")
        assert status == 422
        # The factory's e-mail local part is the username: both rules are named.
        assert _rules(body) == ["contains-username", "contains-email"]
        assert body["detail"] == (
            "Password refused: The password must not contain the username."
            " The password must not contain the e-mail address."
        )
        assert {e["field"] for e in body["errors"]} == {"body.new_password"}  # type: ignore[attr-defined]
        hash_now = await session.scalar(
            text("select password_hash from iam.users where id = :id"), {"id": user.id}
        )
        assert verify_password(hash_now, PASSWORD)

    async def test_a_wrong_current_password_is_refused_and_counted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        status, body = await self._change(client, headers, "not my password", NEW)
        assert status == 422
        assert body["type"] == "urn:polis:problem:invalid-current-password"
        count = await session.scalar(
            text("select failed_login_attempts from iam.users where id = :id"), {"id": user.id}
        )
        assert count == 1

    async def test_anonymous_is_refused(self, client: AsyncClient) -> None:
        response = await client.post(
            "/api/v1/auth/password", json={"current_password": PASSWORD, "new_password": NEW}
        )
        assert response.status_code == 401


class TestCli:
    def test_polis_users_create_marks_staff_and_not_customers(
        self, db_url: str, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        import psycopg
        from typer.testing import CliRunner

        from polis.cli import app
        from polis.config import get_settings

        monkeypatch.setenv("DATABASE_URL", db_url)
        get_settings.cache_clear()
        tag = uuid.uuid4().hex[:8]
        cases = {
            f"cli-staff-{tag}": ("UNDERWRITER", [], True),
            f"cli-cust-{tag}": ("CUSTOMER", [], False),
            f"cli-robot-{tag}": ("AUDITOR", ["--no-password-change"], False),
        }
        try:
            for username, (role, extra, _) in cases.items():
                args = ["--username", username, "--password", NEW, "--role", role, *extra]
                result = CliRunner().invoke(app, ["users", "create", *args])
                assert result.exit_code == 0, result.output
            with psycopg.connect(db_url) as conn:
                rows: dict[str, bool] = dict(
                    conn.execute(
                        "select username, must_change_password from iam.users"
                        " where username like %s",
                        (f"cli-%-{tag}",),
                    ).fetchall()
                )
            assert rows == {name: expected for name, (_, _, expected) in cases.items()}
        finally:
            get_settings.cache_clear()
            with psycopg.connect(db_url) as conn:
                conn.execute("delete from iam.users where username like %s", (f"cli-%-{tag}",))
