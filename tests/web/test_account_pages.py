"""My account (/web/account): sessions listed, one ended, all others ended, this one ended
(signed out); the second factor turned off (refused for the roles that require it, a wrong
answer counted as a failed sign-in) and new recovery codes (the old ones stop working)."""

from __future__ import annotations

import re

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import RecoveryCode, User, UserSession
from tests.iam.factories import login, totp_code
from tests.web.helpers import csrf, make_user, sign_in


async def _sign_in_with_code(client: AsyncClient, user: User) -> None:
    first = await sign_in(client, user.username)
    assert first.status_code == 200, first.text  # the code step
    done = await client.post(
        "/web/sign-in/code",
        data={"code": totp_code(user.username), "next": "/web/", "csrf_token": csrf(first)},
    )
    assert done.status_code == 303, done.text


async def _session_rows(session: AsyncSession, user: User) -> list[UserSession]:
    return list(
        (
            await session.scalars(
                select(UserSession)
                .where(UserSession.user_id == user.id)
                .order_by(UserSession.created_at)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def _failed(session: AsyncSession, user: User) -> int:
    return int(
        await session.scalar(
            text("select failed_login_attempts from iam.users where id = :u"), {"u": user.id}
        )
        or 0
    )


async def test_sessions_are_listed_and_ended(client: AsyncClient, session: AsyncSession) -> None:
    user = await make_user(session, "CLAIMS_PROCESSOR")
    phone_token = await login(client, user.username)  # another device, through the API
    tablet_token = await login(client, user.username)
    await sign_in(client, user.username)
    page = await client.get("/web/account")
    assert page.status_code == 200, page.text
    assert "This session" in page.text
    rows = await _session_rows(session, user)
    assert len(rows) == 3
    phone, _tablet, here = rows
    for row in rows:
        assert f'id="session-{row.id}"' in page.text
    # This session is listed first.
    assert page.text.index(f"session-{here.id}") < page.text.index(f"session-{phone.id}")

    ended = await client.post(
        f"/web/account/sessions/{phone.id}/end", data={"csrf_token": csrf(page)}
    )
    assert ended.status_code == 303 and ended.headers["location"] == "/web/account"
    rows = await _session_rows(session, user)
    assert [(r.is_active, r.termination_reason) for r in rows] == [
        (False, "REVOKED_BY_USER"),
        (True, None),
        (True, None),
    ]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {phone_token}"})
    assert me.status_code == 401

    page = await client.get("/web/account")
    others = await client.post("/web/account/sessions/end-others", data={"csrf_token": csrf(page)})
    assert others.status_code == 303
    rows = await _session_rows(session, user)
    assert [r.is_active for r in rows] == [False, False, True]
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {tablet_token}"})
    assert me.status_code == 401
    assert (await client.get("/web/account")).status_code == 200  # still signed in here

    # Another user's session id: the 404 page, nothing ended.
    stranger = await make_user(session, "FINANCE")
    await login(client, stranger.username)
    (theirs,) = await _session_rows(session, stranger)
    page = await client.get("/web/account")
    refused = await client.post(
        f"/web/account/sessions/{theirs.id}/end", data={"csrf_token": csrf(page)}
    )
    assert refused.status_code == 404
    assert (await _session_rows(session, stranger))[0].is_active

    # Ending this session signs out here.
    out = await client.post(f"/web/account/sessions/{here.id}/end", data={"csrf_token": csrf(page)})
    assert out.status_code == 303 and out.headers["location"] == "/web/sign-in"
    again = await client.get("/web/account")
    assert again.status_code == 303 and again.headers["location"].startswith("/web/sign-in")


async def test_the_second_factor_turned_off_with_the_password(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, "CLAIMS_PROCESSOR", totp=True)
    await _sign_in_with_code(client, user)
    page = await client.get("/web/account")
    assert "Turn the authenticator app off" in page.text

    both = await client.post(
        "/web/account/two-factor/off",
        data={"code": "123456", "password": "x", "csrf_token": csrf(page)},
    )
    assert both.status_code == 422 and 'id="off-error"' in both.text
    wrong = await client.post(
        "/web/account/two-factor/off",
        data={"password": "not my password", "csrf_token": csrf(page)},
    )
    assert wrong.status_code == 422
    assert "not correct" in re.search(r'id="off-error">([^<]*)<', wrong.text).group(1)  # type: ignore[union-attr]
    assert await _failed(session, user) == 1
    await session.refresh(user)
    assert user.two_factor_enabled

    done = await client.post(
        "/web/account/two-factor/off",
        data={"password": "correct horse battery staple", "csrf_token": csrf(page)},
    )
    assert done.status_code == 303, done.text
    row = await session.scalar(
        select(User).where(User.id == user.id).execution_options(populate_existing=True)
    )
    assert row is not None and not row.two_factor_enabled and row.two_factor_secret is None
    codes = await session.scalar(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id).limit(1)
    )
    assert codes is None
    assert "Set up an authenticator app" in (await client.get("/web/account")).text


async def test_new_recovery_codes_replace_the_old_ones(
    client: AsyncClient, session: AsyncSession
) -> None:
    user = await make_user(session, "ADMIN", totp=True)
    await _sign_in_with_code(client, user)
    page = await client.get("/web/account")
    # ADMIN must keep a second factor: no form to turn it off, and the route refuses.
    assert "Turn the authenticator app off" not in page.text
    refused = await client.post(
        "/web/account/two-factor/off",
        data={"password": "correct horse battery staple", "csrf_token": csrf(page)},
    )
    assert refused.status_code == 422 and "requires a second factor" in refused.text

    old = set(
        (
            await session.scalars(
                select(RecoveryCode.code_hash).where(RecoveryCode.user_id == user.id)
            )
        ).all()
    )
    wrong = await client.post(
        "/web/account/two-factor/recovery-codes", data={"code": "000000", "csrf_token": csrf(page)}
    )
    assert wrong.status_code == 422 and 'id="codes-error"' in wrong.text
    made = await client.post(
        "/web/account/two-factor/recovery-codes",
        data={"code": totp_code(user.username), "csrf_token": csrf(page)},
    )
    assert made.status_code == 200, made.text
    shown = re.findall(r"<li><code>([^<]+)</code></li>", made.text)
    assert len(shown) == 10
    assert "the old ones no longer work" in made.text
    new = set(
        (
            await session.scalars(
                select(RecoveryCode.code_hash)
                .where(RecoveryCode.user_id == user.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    assert len(new) == 10 and not (new & old)
