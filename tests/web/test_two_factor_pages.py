"""The pages' second factor (decision 0066): a user with TOTP answers a code after the
password, as POST /auth/login/2fa; a role that requires one and has none is sent to set it up
(QR code, first code, recovery codes) and opens no other page until then."""

from __future__ import annotations

import re

import pyotp
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import RecoveryCode, UserSession
from polis.web.pages.auth import CHALLENGE_COOKIE
from polis.web.session import SESSION_COOKIE
from tests.iam.factories import totp_code
from tests.web.helpers import csrf, make_user, sign_in


async def _code(client: AsyncClient, page_html: str, code: str, next_: str = "/web/") -> object:
    return await client.post(
        "/web/sign-in/code",
        data={"code": code, "next": next_, "csrf_token": csrf(page_html)},
    )


async def _sessions(session: AsyncSession, user_id: object) -> list[UserSession]:
    return list(
        (
            await session.scalars(
                select(UserSession)
                .where(UserSession.user_id == user_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


class TestSecondStep:
    async def test_totp_user_answers_a_code_after_the_password(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "ADMIN", totp=True)
        first = await sign_in(client, user.username)
        # No session yet: a code form, the challenge in a short HttpOnly cookie only.
        assert first.status_code == 200 and "Second sign-in step" in first.text
        cookies = first.headers.get_list("set-cookie")
        assert not any(c.startswith(SESSION_COOKIE) for c in cookies)
        challenge = next(c for c in cookies if c.startswith(CHALLENGE_COOKIE))
        assert "HttpOnly" in challenge and "Max-Age=300" in challenge
        token = client.cookies.get(CHALLENGE_COOKIE)
        assert token and token not in first.text
        assert await _sessions(session, user.id) == []

        wrong = await _code(client, first.text, "000000")
        assert wrong.status_code == 401
        assert 'id="code-error"' in wrong.text and 'aria-invalid="true"' in wrong.text
        failed = await session.scalar(
            text("select failed_login_attempts from iam.users where id = :i"), {"i": user.id}
        )
        assert failed == 1  # a wrong code counts as a failed login, as on the API

        right = await _code(client, wrong.text, totp_code(user.username))
        assert (right.status_code, right.headers["location"]) == (303, "/web/")
        (row,) = await _sessions(session, user.id)
        assert row.is_active and not row.two_factor_pending
        home = await client.get("/web/")
        assert home.status_code == 200 and "ADMIN" in home.text

    async def test_a_recovery_code_signs_in_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "UNDERWRITER")
        # Enrol through the pages: the codes shown are the ones that work.
        await client.post("/web/sign-out")  # nothing to end; keeps the client anonymous
        first = await sign_in(client, user.username)
        assert (first.status_code, first.headers["location"]) == (303, "/web/two-factor")
        page = await client.get("/web/two-factor")
        started = await client.post("/web/two-factor/start", data={"csrf_token": csrf(page)})
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', started.text)
        assert secret is not None
        confirmed = await client.post(
            "/web/two-factor/confirm",
            data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": csrf(started)},
        )
        codes = re.findall(r"<li><code>([^<]+)</code></li>", confirmed.text)
        assert confirmed.status_code == 200 and len(codes) == 10
        stored = await session.scalar(
            select(RecoveryCode.id).where(RecoveryCode.user_id == user.id).limit(1)
        )
        assert stored is not None

        client.cookies.clear()
        for attempt, expected in ((codes[0], 303), (codes[0], 401)):
            form = await sign_in(client, user.username)
            assert form.status_code == 200, form.text
            answer = await _code(client, form.text, attempt)
            assert answer.status_code == expected, answer.text
            client.cookies.clear()


class TestEnrolment:
    async def test_a_required_role_sets_up_its_app_before_any_page(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "ADJUSTER")
        first = await sign_in(client, user.username)
        assert (first.status_code, first.headers["location"]) == (303, "/web/two-factor")
        (row,) = await _sessions(session, user.id)
        assert row.two_factor_pending  # the API's restriction, on the same session row
        blocked = await client.get("/web/")
        assert (blocked.status_code, blocked.headers["location"]) == (303, "/web/two-factor")

        page = await client.get("/web/two-factor")
        assert page.status_code == 200 and "Your role requires a second factor" in page.text
        started = await client.post("/web/two-factor/start", data={"csrf_token": csrf(page)})
        assert started.status_code == 200
        assert 'src="data:image/png;base64,' in started.text
        secret = re.search(r'id="totp-secret">([A-Z2-7]+)<', started.text)
        assert secret is not None
        stored = await session.scalar(
            text("select two_factor_secret from iam.users where id = :i"), {"i": user.id}
        )
        assert stored and secret.group(1) not in stored  # kept encrypted

        wrong = await client.post(
            "/web/two-factor/confirm", data={"code": "123", "csrf_token": csrf(started)}
        )
        assert wrong.status_code == 422 and 'id="code-error"' in wrong.text
        assert secret.group(1) in wrong.text  # the same secret, shown again to retry
        still = await client.get("/web/")
        assert still.status_code == 303

        confirmed = await client.post(
            "/web/two-factor/confirm",
            data={"code": pyotp.TOTP(secret.group(1)).now(), "csrf_token": csrf(wrong)},
        )
        assert confirmed.status_code == 200 and "Recovery codes" in confirmed.text
        (row,) = await _sessions(session, user.id)
        assert not row.two_factor_pending
        enabled = await session.scalar(
            text("select two_factor_enabled from iam.users where id = :i"), {"i": user.id}
        )
        assert enabled is True
        home = await client.get("/web/")
        assert home.status_code == 200

    async def test_without_the_csrf_token_nothing_starts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "ADMIN")
        await sign_in(client, user.username)
        refused = await client.post("/web/two-factor/start", data={})
        assert refused.status_code == 403
        stored = await session.scalar(
            text("select two_factor_secret from iam.users where id = :i"), {"i": user.id}
        )
        assert stored is None
