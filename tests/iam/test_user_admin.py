"""User administration (decision 0070): PATCH /iam/users/{id}, unlock, a password set by an
administrator, a second factor reset; who may do what (ADMIN and SUPER_ADMIN accounts are a
SUPER_ADMIN's; nobody changes their own role or status); sessions ended when access is
taken away; If-Match; the operator's CLI for the last administrator locked out."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner, Result

from polis.config import get_settings
from polis.db import migrate
from polis.iam.models import RecoveryCode
from tests.iam.factories import PASSWORD, create_user, login, signed_in

USERS = "/api/v1/iam/users"
NEW = "Kata-Sandi-Baru-2026!"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def one(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).one()


async def active_sessions(session: AsyncSession, user_id: uuid.UUID) -> int:
    return int(
        await session.scalar(
            text("select count(*) from iam.user_sessions where user_id = :u and is_active"),
            {"u": user_id},
        )
        or 0
    )


async def test_an_admin_changes_an_account(client: AsyncClient, session: AsyncSession) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    clerk = await create_user(session, role="CLAIMS_PROCESSOR")
    await session.commit()
    token = await login(client, clerk.username)

    read = await client.get(f"{USERS}/{clerk.id}", headers=admin)
    assert read.status_code == 200 and read.headers["etag"] == '"0"'
    # Names and department: sessions stay.
    changed = await client.patch(
        f"{USERS}/{clerk.id}",
        json={"first_name": "Dewi", "department": "Claims"},
        headers={**admin, "If-Match": '"0"'},
    )
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["first_name"], body["department"], body["version"]) == ("Dewi", "Claims", 1)
    assert changed.headers["etag"] == '"1"'
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 200

    # A stale version changes nothing.
    stale = await client.patch(
        f"{USERS}/{clerk.id}", json={"last_name": "X"}, headers={**admin, "If-Match": '"0"'}
    )
    assert stale.status_code == 409 and stale.json()["type"].endswith("stale-version")
    row = await one(session, "select last_name, version from iam.users where id = :u", u=clerk.id)
    assert row.version == 1 and row.last_name != "X"

    # A new role ends every session of the account: its token stops working at once.
    moved = await client.patch(f"{USERS}/{clerk.id}", json={"role": "FINANCE"}, headers=admin)
    assert moved.status_code == 200 and moved.json()["role"] == "FINANCE"
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    assert await active_sessions(session, clerk.id) == 0
    audit = await session.scalar(
        text(
            "select count(*) from audit.audit_log where table_name = 'iam.users'"
            " and record_id = :u and operation = 'UPDATE' and 'role' = any(changed_fields)"
        ),
        {"u": clerk.id},
    )
    assert audit == 1

    # Bad input: problem+json field by field, nothing written.
    bad = await client.patch(
        f"{USERS}/{clerk.id}",
        json={"account_status": "DELETED", "email": "not-an-email"},
        headers=admin,
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert {"body.account_status", "body.email"} <= fields


async def test_suspending_ends_access_and_active_lifts_a_lockout(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    agent = await create_user(session, role="AGENT")
    await session.commit()
    token = await login(client, agent.username)

    suspended = await client.patch(
        f"{USERS}/{agent.id}", json={"account_status": "SUSPENDED"}, headers=admin
    )
    assert suspended.status_code == 200
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    refused = await client.post(
        "/api/v1/auth/login", json={"username": agent.username, "password": PASSWORD}
    )
    assert refused.status_code == 401

    # Locked by failed sign-ins meanwhile; ACTIVE again lifts both.
    await session.execute(
        text(
            "update iam.users set failed_login_attempts = 5,"
            " locked_until = now() + interval '1 hour' where id = :u"
        ),
        {"u": agent.id},
    )
    await session.commit()
    back = await client.patch(
        f"{USERS}/{agent.id}", json={"account_status": "ACTIVE"}, headers=admin
    )
    assert back.status_code == 200 and back.json()["locked_until"] is None
    assert await login(client, agent.username)


async def test_unlock(client: AsyncClient, session: AsyncSession) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    agent = await create_user(session, role="AGENT")
    await session.commit()
    for _ in range(5):
        await client.post(
            "/api/v1/auth/login", json={"username": agent.username, "password": "wrong password"}
        )
    locked = await client.post(
        "/api/v1/auth/login", json={"username": agent.username, "password": PASSWORD}
    )
    assert locked.status_code == 401  # locked: even the right password is refused
    unlocked = await client.post(f"{USERS}/{agent.id}/unlock", headers=admin)
    assert unlocked.status_code == 200, unlocked.text
    assert unlocked.json()["locked_until"] is None
    row = await one(
        session,
        "select failed_login_attempts, locked_until from iam.users where id = :u",
        u=agent.id,
    )
    assert (row.failed_login_attempts, row.locked_until) == (0, None)
    assert await login(client, agent.username)


async def test_who_may_manage_whom(client: AsyncClient, session: AsyncSession) -> None:
    admin_user, admin = await signed_in(client, session, role="ADMIN")
    _, boss = await signed_in(client, session, role="SUPER_ADMIN")
    other_admin = await create_user(session, role="ADMIN")
    clerk = await create_user(session, role="CLAIMS_PROCESSOR")
    await session.commit()

    cases = [
        (admin, f"{USERS}/{other_admin.id}", {"department": "X"}),  # an ADMIN account
        (admin, f"{USERS}/{clerk.id}", {"role": "ADMIN"}),  # giving ADMIN
        (admin, f"{USERS}/{admin_user.id}", {"account_status": "INACTIVE"}),  # own status
    ]
    for headers, url, body in cases:
        refused = await client.patch(url, json=body, headers=headers)
        assert refused.status_code == 403, (url, body, refused.text)
    for url in (f"{USERS}/{other_admin.id}/unlock", f"{USERS}/{other_admin.id}/two-factor/reset"):
        assert (await client.post(url, headers=admin)).status_code == 403
    assert (
        await client.patch(f"{USERS}/{clerk.id}", json={"role": "ADMIN"}, headers=boss)
    ).status_code == 200
    assert (await client.post(f"{USERS}/{uuid.uuid4()}/unlock", headers=boss)).status_code == 404
    # A role without iam.users:write.
    _, finance = await signed_in(client, session, role="FINANCE")
    assert (await client.post(f"{USERS}/{clerk.id}/unlock", headers=finance)).status_code == 403
    row = await one(session, "select role from iam.users where id = :u", u=other_admin.id)
    assert row.role == "ADMIN"
    # One's own names and department are one's own to change.
    mine = await client.patch(f"{USERS}/{admin_user.id}", json={"department": "IT"}, headers=admin)
    assert mine.status_code == 200 and mine.json()["department"] == "IT"


async def test_a_password_set_by_an_administrator(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin_user, admin = await signed_in(client, session, role="ADMIN")
    clerk = await create_user(session, role="CLAIMS_PROCESSOR")
    await session.commit()
    token = await login(client, clerk.username)

    weak = await client.post(
        f"{USERS}/{clerk.id}/password", json={"new_password": "password1234"}, headers=admin
    )
    assert weak.status_code == 422
    assert {e["field"] for e in weak.json()["errors"]} == {"body.new_password"}
    reused = await client.post(
        f"{USERS}/{clerk.id}/password", json={"new_password": PASSWORD}, headers=admin
    )
    assert reused.status_code == 422  # one of the last five

    done = await client.post(
        f"{USERS}/{clerk.id}/password", json={"new_password": NEW}, headers=admin
    )
    assert done.status_code == 200, done.text
    assert done.json()["must_change_password"] is True
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    signed = await client.post(
        "/api/v1/auth/login", json={"username": clerk.username, "password": NEW}
    )
    assert signed.status_code == 200
    fresh = bearer(signed.json()["access_token"])
    assert (await client.get("/api/v1/health/claims", headers=fresh)).status_code == 403

    own = await client.post(
        f"{USERS}/{admin_user.id}/password", json={"new_password": NEW}, headers=admin
    )
    assert own.status_code == 403 and own.json()["type"].endswith("own-account-refused")


async def test_a_second_factor_reset(client: AsyncClient, session: AsyncSession) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    adjuster = await create_user(session, role="ADJUSTER", totp=True)
    session.add(RecoveryCode(user_id=adjuster.id, code_hash="a" * 64))
    await session.commit()
    token = await login(client, adjuster.username)

    reset = await client.post(f"{USERS}/{adjuster.id}/two-factor/reset", headers=admin)
    assert reset.status_code == 200, reset.text
    assert reset.json()["two_factor_enabled"] is False
    row = await one(
        session,
        "select two_factor_enabled, two_factor_secret from iam.users where id = :u",
        u=adjuster.id,
    )
    assert (row.two_factor_enabled, row.two_factor_secret) == (False, None)
    codes = await session.scalar(select(RecoveryCode.id).where(RecoveryCode.user_id == adjuster.id))
    assert codes is None
    assert (await client.get("/api/v1/auth/me", headers=bearer(token))).status_code == 401
    # ADJUSTER requires a second factor: the next sign-in opens the enrolment only.
    again = await client.post(
        "/api/v1/auth/login", json={"username": adjuster.username, "password": PASSWORD}
    )
    assert again.status_code == 200
    assert again.json()["two_factor_enrolment_required"] is True


# --- the operator's command line -------------------------------------------------------------


@pytest.fixture(scope="module")
def cli_db(create_database: Callable[[], str]) -> str:
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def users_cli(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Result]]:
    from polis.cli import app

    monkeypatch.setenv("DATABASE_URL", cli_db)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args, **kw: runner.invoke(app, ["users", *args], **kw)
    get_settings.cache_clear()


def test_the_last_administrator_locked_out(users_cli: Callable[..., Result], cli_db: str) -> None:
    made = users_cli(
        "create", "--username", "ops-root", "--password", "a long enough password",
        "--role", "SUPER_ADMIN", "--no-password-change",
    )  # fmt: skip
    assert made.exit_code == 0, made.output
    with psycopg.connect(cli_db, autocommit=True) as conn:
        conn.execute(
            "update iam.users set two_factor_enabled = true, two_factor_secret = 'x',"
            " failed_login_attempts = 5, locked_until = now() + interval '1 hour'"
            " where username = 'ops-root'"
        )
    unlocked = users_cli("unlock", "ops-root")
    assert unlocked.exit_code == 0, unlocked.output
    reset = users_cli("reset-2fa", "ops-root")
    assert reset.exit_code == 0 and "enrol again" in reset.output
    weak = users_cli("set-password", "ops-root", "--password", "short")
    assert weak.exit_code == 1
    changed = users_cli("set-password", "ops-root", "--password", "another long passphrase 26")
    assert changed.exit_code == 0, changed.output
    unknown = users_cli("unlock", "nobody-here")
    assert unknown.exit_code == 1 and "no user" in unknown.output
    with psycopg.connect(cli_db) as conn:
        row = conn.execute(
            "select failed_login_attempts, locked_until, two_factor_enabled, two_factor_secret,"
            " must_change_password from iam.users where username = 'ops-root'"
        ).fetchone()
        # The three changes the CLI made (after the test's own update) say who made them.
        contexts = conn.execute(
            "select a.business_context from audit.audit_log a join iam.users u"
            " on u.id = a.record_id where u.username = 'ops-root' and a.operation = 'UPDATE'"
            " order by a.timestamp desc limit 3"
        ).fetchall()
    assert row == (0, None, False, None, True)
    assert contexts == [("OPERATOR_CLI",)] * 3
