"""Sign-in by SMS one-time password (decision 0063), through our SMS sandbox served over real
HTTP on a free 127.0.0.1 port: sending, verifying, expiry, single use, wrong codes, no account
enumeration, the per-address rate limit; and the SMS client against the sandbox."""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.app import create_app
from polis.config import Settings
from polis.db.session import Database
from polis.iam.two_factor import MAX_CODE_ATTEMPTS
from polis.integrations.sms import HttpSmsClient, SmsRejected, SmsUnavailable
from polis.integrations.sms_sandbox import SmsSandboxState, create_sms_sandbox_app
from tests.iam.factories import create_user, totp_code
from tests.integrations.sandbox import serve

KEY = "test-sms-key"
OTP = "/api/v1/auth/otp"
VERIFY = "/api/v1/auth/otp/verify"


class Sandbox:
    def __init__(self, app: FastAPI, base_url: str) -> None:
        self.app, self.base_url = app, base_url

    @property
    def state(self) -> SmsSandboxState:
        state: SmsSandboxState = self.app.state.sandbox
        return state

    async def messages(self, to: str) -> list[dict[str, Any]]:
        """GET /messages?to= over HTTP."""
        async with httpx.AsyncClient(base_url=self.base_url) as http:
            response = await http.get("/messages", params={"to": to})
        assert response.status_code == 200
        return list(response.json()["items"])

    async def code(self, to: str) -> str:
        """The code of the last message to `to`."""
        found = re.findall(r"\b(\d{6})\b", (await self.messages(to))[-1]["text"])
        assert len(found) == 1
        return str(found[0])


@pytest.fixture
async def sandbox() -> AsyncIterator[Sandbox]:
    app = create_sms_sandbox_app(KEY)
    async with serve(app) as base_url:
        yield Sandbox(app, base_url)


def _settings(db_url: str, sandbox: Sandbox, **values: Any) -> Settings:
    return Settings(database_url=db_url, sms_base_url=sandbox.base_url, sms_api_key=KEY, **values)


@asynccontextmanager
async def _client(
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    settings: Settings,
) -> AsyncIterator[AsyncClient]:
    """Like the `client` fixture (inside the test's transaction), with other settings."""
    app = create_app(settings, database=Database(connection.engine, sessionmaker))
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield c


@pytest.fixture
async def sms_client(
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    db_url: str,
    sandbox: Sandbox,
) -> AsyncIterator[AsyncClient]:
    async with _client(connection, sessionmaker, _settings(db_url, sandbox)) as c:
        yield c


def _phone() -> str:
    # Never ending in 9999: the sandbox's "down" numbers (polis.integrations.sms_sandbox).
    return "+6681" + str(uuid.uuid4().int)[:6] + "1"


def _problem_type(response: Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return str(response.json()["type"]).rpartition(":")[2]


async def _challenge_row(session: AsyncSession, user_id: uuid.UUID) -> Any:
    return (
        await session.execute(
            text(
                "select challenge_hash, code_hash, attempts, used_at, created_at, expires_at"
                " from iam.login_challenges where user_id = :u and kind = 'SMS_OTP'"
                " order by created_at desc limit 1"
            ),
            {"u": user_id},
        )
    ).one()


class TestSmsOtp:
    async def test_a_customer_signs_in_with_the_code_sent_by_sms(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        phone = _phone()
        user = await create_user(
            session, role="CUSTOMER", phone_number=phone, preferred_language="en"
        )
        response = await sms_client.post(OTP, json={"username": user.username})
        assert response.status_code == 202, response.text
        body = response.json()
        assert set(body) == {"challenge_token", "expires_at"}
        expires = datetime.fromisoformat(body["expires_at"])
        assert timedelta(minutes=4) < expires - datetime.now(UTC) <= timedelta(minutes=5)
        messages = await sandbox.messages(phone)
        assert len(messages) == 1 and messages[0]["sender"] == "POLIS"
        assert "expires in 5 minutes" in messages[0]["text"]
        code = await sandbox.code(phone)
        row = await _challenge_row(session, user.id)
        assert code not in row.code_hash and body["challenge_token"] not in row.challenge_hash
        ok = await sms_client.post(
            VERIFY, json={"challenge_token": body["challenge_token"], "code": code}
        )
        assert ok.status_code == 200, ok.text
        token = ok.json()
        me = await sms_client.get(
            "/api/v1/auth/me", headers={"Authorization": f"Bearer {token['access_token']}"}
        )
        assert me.status_code == 200 and me.json()["username"] == user.username
        method = await session.scalar(
            text("select login_method from iam.user_sessions where user_id = :u"), {"u": user.id}
        )
        assert method == "TOKEN"
        verified = await session.scalar(
            text("select phone_verified from iam.users where id = :u"), {"u": user.id}
        )
        assert verified is True
        # Single use.
        again = await sms_client.post(
            VERIFY, json={"challenge_token": body["challenge_token"], "code": code}
        )
        assert again.status_code == 401 and _problem_type(again) == "invalid-code"

    async def test_a_member_gets_a_thai_message_by_default(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        phone = _phone()
        user = await create_user(session, role="MEMBER", phone_number=phone)
        assert (await sms_client.post(OTP, json={"username": user.username})).status_code == 202
        (message,) = await sandbox.messages(phone)
        assert "รหัส" in message["text"]

    async def test_wrong_codes_count_and_five_burn_the_challenge(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '50'"
                " where config_key = 'MAX_LOGIN_ATTEMPTS'"
            )
        )
        phone = _phone()
        user = await create_user(session, role="CUSTOMER", phone_number=phone)
        token = (await sms_client.post(OTP, json={"username": user.username})).json()[
            "challenge_token"
        ]
        code = await sandbox.code(phone)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        for n in range(1, MAX_CODE_ATTEMPTS + 1):
            response = await sms_client.post(VERIFY, json={"challenge_token": token, "code": wrong})
            assert response.status_code == 401 and _problem_type(response) == "invalid-code"
            failed = await session.scalar(
                text("select failed_login_attempts from iam.users where id = :u"), {"u": user.id}
            )
            assert failed == n
        row = await _challenge_row(session, user.id)
        assert row.attempts == MAX_CODE_ATTEMPTS and row.used_at is not None
        burned = await sms_client.post(VERIFY, json={"challenge_token": token, "code": code})
        assert burned.status_code == 401

    async def test_the_code_expires_after_sms_otp_expiry_minutes(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        phone = _phone()
        user = await create_user(session, role="CUSTOMER", phone_number=phone)
        token = (await sms_client.post(OTP, json={"username": user.username})).json()[
            "challenge_token"
        ]
        code = await sandbox.code(phone)
        await session.execute(
            text(
                "update iam.login_challenges set created_at = created_at - interval '5 minutes',"
                " expires_at = expires_at - interval '5 minutes' where user_id = :u"
            ),
            {"u": user.id},
        )
        response = await sms_client.post(VERIFY, json={"challenge_token": token, "code": code})
        assert response.status_code == 401 and _problem_type(response) == "invalid-code"

    async def test_the_expiry_comes_from_the_configuration_row_unless_set(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        db_url: str,
        session: AsyncSession,
        sandbox: Sandbox,
        sms_client: AsyncClient,
    ) -> None:
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '2'"
                " where config_key = 'SMS_OTP_EXPIRY_MINUTES'"
            )
        )
        user = await create_user(session, role="CUSTOMER", phone_number=_phone())
        body = (await sms_client.post(OTP, json={"username": user.username})).json()
        row = await _challenge_row(session, user.id)
        assert row.expires_at - row.created_at == timedelta(minutes=2)
        assert datetime.fromisoformat(body["expires_at"]) == row.expires_at
        settings = _settings(db_url, sandbox, sms_otp_expiry_minutes=7)
        async with _client(connection, sessionmaker, settings) as c:
            await c.post(OTP, json={"username": user.username})
        row = await _challenge_row(session, user.id)
        assert row.expires_at - row.created_at == timedelta(minutes=7)

    async def test_the_answer_does_not_reveal_accounts(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        staff_phone, nophone_phone = _phone(), _phone()
        staff = await create_user(session, role="CLAIMS_PROCESSOR", phone_number=staff_phone)
        no_phone = await create_user(session, role="CUSTOMER")
        suspended = await create_user(
            session, role="CUSTOMER", phone_number=nophone_phone, account_status="SUSPENDED"
        )
        answers = []
        for username in (f"nobody-{uuid.uuid4().hex[:8]}", staff.username, no_phone.username,
                         suspended.username):  # fmt: skip
            response = await sms_client.post(OTP, json={"username": username})
            assert response.status_code == 202
            body = response.json()
            assert set(body) == {"challenge_token", "expires_at"}
            assert len(body["challenge_token"]) == 43
            answers.append(body)
            wrong = await sms_client.post(
                VERIFY, json={"challenge_token": body["challenge_token"], "code": "123456"}
            )
            assert wrong.status_code == 401 and _problem_type(wrong) == "invalid-code"
        assert sandbox.state.messages == []
        stored = await session.scalar(
            text("select count(*) from iam.login_challenges where user_id = any(:u)"),
            {"u": [staff.id, no_phone.id, suspended.id]},
        )
        assert stored == 0

    async def test_requests_are_rate_limited_per_address(
        self,
        connection: AsyncConnection,
        sessionmaker: async_sessionmaker[AsyncSession],
        db_url: str,
        sandbox: Sandbox,
    ) -> None:
        settings = _settings(db_url, sandbox, login_rate_limit=3)
        async with _client(connection, sessionmaker, settings) as c:
            for _ in range(3):
                assert (await c.post(OTP, json={"username": "nobody"})).status_code == 202
            limited = await c.post(OTP, json={"username": "nobody"})
        assert limited.status_code == 429 and _problem_type(limited) == "too-many-login-attempts"
        assert "Retry-After" in limited.headers

    async def test_at_most_five_codes_an_hour_per_account(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        phone = _phone()
        user = await create_user(session, role="CUSTOMER", phone_number=phone)
        for _ in range(7):
            response = await sms_client.post(OTP, json={"username": user.username})
            assert response.status_code == 202
        assert len(await sandbox.messages(phone)) == 5

    async def test_a_customer_with_totp_gets_the_totp_challenge(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        phone = _phone()
        user = await create_user(session, role="CUSTOMER", phone_number=phone, totp=True)
        token = (await sms_client.post(OTP, json={"username": user.username})).json()[
            "challenge_token"
        ]
        response = await sms_client.post(
            VERIFY, json={"challenge_token": token, "code": await sandbox.code(phone)}
        )
        assert response.status_code == 200, response.text
        challenge = response.json()
        assert challenge["two_factor_required"] is True and "access_token" not in challenge
        done = await sms_client.post(
            "/api/v1/auth/login/2fa",
            json={
                "challenge_token": challenge["challenge_token"],
                "code": totp_code(user.username),
            },
        )
        assert done.status_code == 200 and "access_token" in done.json()

    async def test_a_provider_failure_is_not_a_failed_answer(
        self, sms_client: AsyncClient, session: AsyncSession, sandbox: Sandbox
    ) -> None:
        user = await create_user(session, role="CUSTOMER", phone_number="+66819999999")
        response = await sms_client.post(OTP, json={"username": user.username})
        assert response.status_code == 202
        assert sandbox.state.messages == [] and sandbox.state.requests == 2  # tried, retried


class TestSmsClient:
    async def test_send_and_list(self, sandbox: Sandbox) -> None:
        client = HttpSmsClient(sandbox.base_url, KEY, sender="TEST")
        receipt = await client.send("+66811111111", "hello")
        assert receipt.status == "QUEUED" and receipt.message_id.startswith("SMS")
        (message,) = await sandbox.messages("+66811111111")
        assert (message["text"], message["sender"]) == ("hello", "TEST")
        assert await sandbox.messages("+66822222222") == []

    async def test_a_wrong_key_is_rejected_without_retries(self, sandbox: Sandbox) -> None:
        client = HttpSmsClient(sandbox.base_url, "wrong", retries=3)
        with pytest.raises(SmsRejected) as exc:
            await client.send("+66811111111", "secret 123456")
        assert exc.value.status_code == 401 and "123456" not in str(exc.value)
        assert sandbox.state.requests == 1 and sandbox.state.messages == []

    async def test_a_down_carrier_is_retried_then_unavailable(self, sandbox: Sandbox) -> None:
        client = HttpSmsClient(sandbox.base_url, KEY, retries=2, backoff_seconds=0.01)
        with pytest.raises(SmsUnavailable):
            await client.send("+66819999999", "x")
        assert sandbox.state.requests == 3

    async def test_connection_refused_is_unavailable(self) -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = HttpSmsClient(f"http://127.0.0.1:{port}", KEY, retries=1, backoff_seconds=0.01)
        with pytest.raises(SmsUnavailable):
            await client.send("+66811111111", "x")

    def test_cli_command_is_registered(self) -> None:
        from typer.testing import CliRunner

        from polis.cli import app

        result = CliRunner().invoke(app, ["sandbox", "sms", "--help"])
        assert result.exit_code == 0 and "--port" in result.output
