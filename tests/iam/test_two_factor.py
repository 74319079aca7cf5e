"""TOTP two-factor authentication (decision 0063): enrolment with a QR code, confirmation and
recovery codes, the login challenge, wrong and replayed codes, the roles that require it."""

from __future__ import annotations

import base64
import io
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp
import segno
from httpx import AsyncClient, Response
from PIL import Image
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.two_factor import MAX_CODE_ATTEMPTS, TWO_FACTOR_ROLES, matching_step
from polis.platform.crypto import get_keyring
from tests.iam.factories import PASSWORD, TOTP_SECRET, create_user, login, signed_in, totp_code

LOGIN = "/api/v1/auth/login"
LOGIN_2FA = "/api/v1/auth/login/2fa"
TOTP = "/api/v1/auth/2fa/totp"
CONFIRM = "/api/v1/auth/2fa/totp/confirm"
RECOVERY = "/api/v1/auth/2fa/recovery-codes"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _problem_type(response: Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).rpartition(":")[2]


async def _user_row(session: AsyncSession, user_id: uuid.UUID) -> Any:
    return (
        await session.execute(
            text(
                "select two_factor_enabled, two_factor_secret, failed_login_attempts,"
                " locked_until from iam.users where id = :u"
            ),
            {"u": user_id},
        )
    ).one()


async def _challenge(client: AsyncClient, username: str) -> dict[str, Any]:
    response = await client.post(LOGIN, json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["two_factor_required"] is True, body
    return dict(body)


def _qr_matrix(png: bytes) -> list[list[bool]]:
    """The modules of a segno PNG (scale 5, quiet zone 4): True for dark."""
    image = Image.open(io.BytesIO(png)).convert("L")
    scale, border = 5, 4
    size = image.width // scale - 2 * border
    return [
        [
            image.getpixel(((border + x) * scale + 2, (border + y) * scale + 2)) < 128  # type: ignore[operator]
            for x in range(size)
        ]
        for y in range(size)
    ]


async def _enrol(
    client: AsyncClient, headers: dict[str, str], username: str
) -> tuple[str, list[str]]:
    """Start and confirm TOTP over the API: (secret, recovery codes)."""
    started = await client.post(TOTP, headers=headers)
    assert started.status_code == 200, started.text
    secret = started.json()["secret"]
    confirmed = await client.post(
        CONFIRM, headers=headers, json={"code": totp_code(username, secret)}
    )
    assert confirmed.status_code == 200, confirmed.text
    return secret, list(confirmed.json()["recovery_codes"])


class TestEnrolment:
    async def test_start_answers_secret_uri_and_a_qr_code_of_the_uri(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        response = await client.post(TOTP, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        secret, uri = body["secret"], body["otpauth_uri"]
        assert re.fullmatch(r"[A-Z2-7]{32}", secret)
        assert (body["algorithm"], body["digits"], body["period"]) == ("SHA1", 6, 30)
        assert uri == pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name="Polis")
        assert uri.startswith(f"otpauth://totp/Polis:{user.username}?secret={secret}")
        # No QR decoder is installed: the PNG's modules must be those segno encodes for the
        # URI (a decoder reading the image reads what segno wrote).
        png = base64.b64decode(body["qr_png_base64"])
        assert png.startswith(b"\x89PNG\r\n\x1a\n")
        expected = [[bool(m) for m in row] for row in segno.make(uri, error="m").matrix]
        assert _qr_matrix(png) == expected
        # Stored encrypted, not enabled until confirmed.
        row = await _user_row(session, user.id)
        assert row.two_factor_enabled is False
        assert secret not in row.two_factor_secret
        assert get_keyring().decrypt_text(row.two_factor_secret) == secret
        # Sign-in is unchanged meanwhile.
        relogin = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert "access_token" in relogin.json()

    async def test_confirm_enables_and_answers_ten_single_use_recovery_codes(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        secret = (await client.post(TOTP, headers=headers)).json()["secret"]
        wrong = await client.post(CONFIRM, headers=headers, json={"code": "000000"})
        if matching_step(secret, "000000", datetime.now(UTC)) is None:
            assert wrong.status_code == 422 and _problem_type(wrong) == "invalid-code"
        assert (await _user_row(session, user.id)).two_factor_enabled is False
        response = await client.post(
            CONFIRM, headers=headers, json={"code": totp_code(user.username, secret)}
        )
        assert response.status_code == 200, response.text
        codes = response.json()["recovery_codes"]
        assert len(codes) == 10 == len(set(codes))
        assert all(re.fullmatch(r"[a-z2-9]{5}-[a-z2-9]{5}", c) for c in codes)
        assert (await _user_row(session, user.id)).two_factor_enabled is True
        hashes = (
            await session.execute(
                text("select code_hash from iam.recovery_codes where user_id = :u"),
                {"u": user.id},
            )
        ).scalars()
        stored = set(hashes)
        assert len(stored) == 10
        assert not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)
        # Enrolling again needs TOTP off first.
        again = await client.post(TOTP, headers=headers)
        assert again.status_code == 409 and _problem_type(again) == "two-factor-enabled"
        status = (await client.get("/api/v1/auth/2fa", headers=headers)).json()
        assert status == {
            "enabled": True,
            "required": False,
            "enrolment_pending": False,
            "recovery_codes_left": 10,
        }

    async def test_confirm_without_enrolment_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="AGENT")
        response = await client.post(CONFIRM, headers=headers, json={"code": "123456"})
        assert response.status_code == 409 and _problem_type(response) == "two-factor-not-enrolled"

    async def test_the_secret_and_codes_never_reach_audit_rows_in_plaintext(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="FINANCE")
        secret, codes = await _enrol(client, headers, user.username)
        rows = (
            await session.execute(
                text(
                    "select coalesce(old_values::text, '') || coalesce(new_values::text, '')"
                    " from audit.audit_log where table_name in ('iam.users', 'iam.recovery_codes')"
                    " and (record_id = :u or new_values ->> 'user_id' = :s)"
                ),
                {"u": user.id, "s": str(user.id)},
            )
        ).scalars()
        dump = "\n".join(rows)
        assert "two_factor_secret" in dump and "code_hash" in dump  # the rows are there
        assert secret not in dump
        for code in codes:
            assert code not in dump and code.replace("-", "") not in dump


class TestLoginChallenge:
    async def test_enrolled_login_answers_a_challenge_then_a_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="ADMIN", totp=True)
        body = await _challenge(client, user.username)
        assert body["methods"] == ["totp", "recovery_code"]
        assert "access_token" not in body
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
        stored = (
            await session.execute(
                text("select challenge_hash, kind from iam.login_challenges where user_id = :u"),
                {"u": user.id},
            )
        ).one()
        assert stored.kind == "TWO_FACTOR" and body["challenge_token"] not in stored.challenge_hash
        response = await client.post(
            LOGIN_2FA,
            json={"challenge_token": body["challenge_token"], "code": totp_code(user.username)},
        )
        assert response.status_code == 200, response.text
        token = response.json()
        assert token["two_factor_enrolment_required"] is False
        users = await client.get("/api/v1/iam/users", headers=_bearer(token["access_token"]))
        assert users.status_code == 200
        # The challenge is single use.
        again = await client.post(
            LOGIN_2FA,
            json={"challenge_token": body["challenge_token"], "code": totp_code(user.username)},
        )
        assert again.status_code == 401 and _problem_type(again) == "invalid-code"

    async def test_a_wrong_code_counts_as_a_failed_login(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="UNDERWRITER", totp=True)
        body = await _challenge(client, user.username)
        wrong = "000000" if pyotp.TOTP(TOTP_SECRET).now() != "000000" else "111111"
        response = await client.post(
            LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": wrong}
        )
        assert response.status_code == 401 and _problem_type(response) == "invalid-code"
        assert "access_token" not in response.text
        assert (await _user_row(session, user.id)).failed_login_attempts == 1
        ok = await client.post(
            LOGIN_2FA,
            json={"challenge_token": body["challenge_token"], "code": totp_code(user.username)},
        )
        assert ok.status_code == 200, ok.text
        assert (await _user_row(session, user.id)).failed_login_attempts == 0

    async def test_max_login_attempts_lock_the_account(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="ADJUSTER", totp=True)
        for _ in range(5):  # MAX_LOGIN_ATTEMPTS (seed row: 5), each on a new challenge
            body = await _challenge(client, user.username)
            response = await client.post(
                LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": "abcde-fghij"}
            )
            assert response.status_code == 401
        row = await _user_row(session, user.id)
        assert row.failed_login_attempts == 5 and row.locked_until > datetime.now(UTC)
        # Locked: even the password is refused now, so no challenge is opened.
        refused = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert refused.status_code == 401 and _problem_type(refused) == "invalid-credentials"

    async def test_five_wrong_codes_burn_the_challenge(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '50'"
                " where config_key = 'MAX_LOGIN_ATTEMPTS'"
            )
        )
        user = await create_user(session, role="ADMIN", totp=True)
        body = await _challenge(client, user.username)
        for _ in range(MAX_CODE_ATTEMPTS):
            response = await client.post(
                LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": "zzzzz-zzzzz"}
            )
            assert response.status_code == 401
        row = (
            await session.execute(
                text("select attempts, used_at from iam.login_challenges where user_id = :u"),
                {"u": user.id},
            )
        ).one()
        assert row.attempts == MAX_CODE_ATTEMPTS and row.used_at is not None
        late = await client.post(
            LOGIN_2FA,
            json={"challenge_token": body["challenge_token"], "code": totp_code(user.username)},
        )
        assert late.status_code == 401

    async def test_a_totp_code_is_never_taken_twice(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="SUPER_ADMIN", totp=True)
        code = totp_code(user.username)
        first = await _challenge(client, user.username)
        ok = await client.post(
            LOGIN_2FA, json={"challenge_token": first["challenge_token"], "code": code}
        )
        assert ok.status_code == 200, ok.text
        second = await _challenge(client, user.username)
        replay = await client.post(
            LOGIN_2FA, json={"challenge_token": second["challenge_token"], "code": code}
        )
        assert replay.status_code == 401 and _problem_type(replay) == "invalid-code"
        assert (await _user_row(session, user.id)).failed_login_attempts == 1

    async def test_an_expired_challenge_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="ADMIN", totp=True)
        body = await _challenge(client, user.username)
        await session.execute(
            text(
                "update iam.login_challenges set created_at = created_at - interval '6 minutes',"
                " expires_at = expires_at - interval '6 minutes' where user_id = :u"
            ),
            {"u": user.id},
        )
        response = await client.post(
            LOGIN_2FA,
            json={"challenge_token": body["challenge_token"], "code": totp_code(user.username)},
        )
        assert response.status_code == 401 and _problem_type(response) == "invalid-code"

    async def test_unknown_challenge_token(self, client: AsyncClient) -> None:
        response = await client.post(
            LOGIN_2FA, json={"challenge_token": "x" * 43, "code": "123456"}
        )
        assert response.status_code == 401 and _problem_type(response) == "invalid-code"


class TestRecoveryCodes:
    async def test_a_recovery_code_signs_in_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AUDITOR")
        _, codes = await _enrol(client, headers, user.username)
        body = await _challenge(client, user.username)
        ok = await client.post(
            LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": codes[0].upper()}
        )
        assert ok.status_code == 200, ok.text
        body = await _challenge(client, user.username)
        again = await client.post(
            LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": codes[0]}
        )
        assert again.status_code == 401
        used = await session.scalar(
            text(
                "select count(*) from iam.recovery_codes where user_id = :u and used_at is not null"
            ),
            {"u": user.id},
        )
        assert used == 1
        status = (await client.get("/api/v1/auth/2fa", headers=headers)).json()
        assert status["recovery_codes_left"] == 9

    async def test_regenerating_replaces_the_codes(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        secret, old = await _enrol(client, headers, user.username)
        wrong = await client.post(RECOVERY, headers=headers, json={"code": "zzzzz-zzzzz"})
        assert wrong.status_code == 422 and _problem_type(wrong) == "invalid-code"
        assert (await _user_row(session, user.id)).failed_login_attempts == 1
        response = await client.post(
            RECOVERY, headers=headers, json={"code": totp_code(user.username, secret)}
        )
        assert response.status_code == 200, response.text
        new = response.json()["recovery_codes"]
        assert len(new) == 10 and not set(new) & set(old)
        body = await _challenge(client, user.username)
        stale = await client.post(
            LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": old[1]}
        )
        assert stale.status_code == 401
        fresh = await client.post(
            LOGIN_2FA, json={"challenge_token": body["challenge_token"], "code": new[1]}
        )
        assert fresh.status_code == 200, fresh.text


class TestRequiredRoles:
    async def test_required_roles_are_restricted_until_they_enrol(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        assert {str(r) for r in TWO_FACTOR_ROLES} == {
            "ADMIN",
            "SUPER_ADMIN",
            "UNDERWRITER",
            "ADJUSTER",
        }
        for role in sorted(str(r) for r in TWO_FACTOR_ROLES):
            user = await create_user(session, role=role)
            response = await client.post(
                LOGIN, json={"username": user.username, "password": PASSWORD}
            )
            assert response.status_code == 200, response.text
            token = response.json()
            assert token["two_factor_enrolment_required"] is True, role
            headers = _bearer(token["access_token"])
            refused = await client.get("/api/v1/iam/users", headers=headers)
            assert refused.status_code == 403, role
            assert _problem_type(refused) == "two-factor-enrolment-required"
            me = await client.get("/api/v1/auth/me", headers=headers)
            assert me.status_code == 200
            pending = await session.scalar(
                text("select two_factor_pending from iam.user_sessions where user_id = :u"),
                {"u": user.id},
            )
            assert pending is True
            await _enrol(client, headers, user.username)
            pending = await session.scalar(
                text("select two_factor_pending from iam.user_sessions where user_id = :u"),
                {"u": user.id},
            )
            assert pending is False
            # Now the session works: ADMINs can list users, the others get a 403 that is
            # about the permission, not the enrolment.
            after = await client.get("/api/v1/iam/users", headers=headers)
            if after.status_code == 403:
                assert _problem_type(after) == "forbidden", role
            else:
                assert after.status_code == 200, role

    async def test_other_sessions_opened_without_a_factor_stay_restricted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="ADMIN")
        first = await login(client, user.username)
        second = await login(client, user.username)
        await _enrol(client, _bearer(first), user.username)
        assert (await client.get("/api/v1/iam/users", headers=_bearer(first))).status_code == 200
        other = await client.get("/api/v1/iam/users", headers=_bearer(second))
        assert other.status_code == 403 and _problem_type(other) == "two-factor-enrolment-required"

    async def test_roles_without_the_requirement_are_not_restricted(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="CLAIMS_PROCESSOR")
        response = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert response.json()["two_factor_enrolment_required"] is False
        me = await client.get("/api/v1/auth/me", headers=_bearer(response.json()["access_token"]))
        assert me.status_code == 200

    async def test_password_change_comes_before_enrolment(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="ADMIN", must_change_password=True)
        headers = _bearer(await login(client, user.username))
        response = await client.post(TOTP, headers=headers)
        assert response.status_code == 403 and _problem_type(response) == "password-change-required"


class TestDisable:
    async def test_required_roles_cannot_turn_it_off(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="ADMIN")
        response = await client.request(
            "DELETE", TOTP, headers=headers, json={"password": PASSWORD}
        )
        assert response.status_code == 403 and _problem_type(response) == "two-factor-required"

    async def test_off_with_the_password_and_a_wrong_one_counts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session, role="AGENT")
        await _enrol(client, headers, user.username)
        both = await client.request(
            "DELETE", TOTP, headers=headers, json={"password": PASSWORD, "code": "123456"}
        )
        assert both.status_code == 422
        wrong = await client.request(
            "DELETE", TOTP, headers=headers, json={"password": "not the password"}
        )
        assert wrong.status_code == 422 and _problem_type(wrong) == "invalid-code"
        assert (await _user_row(session, user.id)).failed_login_attempts == 1
        ok = await client.request("DELETE", TOTP, headers=headers, json={"password": PASSWORD})
        assert ok.status_code == 204, ok.text
        row = await _user_row(session, user.id)
        assert row.two_factor_enabled is False and row.two_factor_secret is None
        left = await session.scalar(
            text("select count(*) from iam.recovery_codes where user_id = :u"), {"u": user.id}
        )
        assert left == 0
        relogin = await client.post(LOGIN, json={"username": user.username, "password": PASSWORD})
        assert "access_token" in relogin.json()
        again = await client.request("DELETE", TOTP, headers=headers, json={"password": PASSWORD})
        assert again.status_code == 409
