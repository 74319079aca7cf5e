"""X-Request-ID, the access log, and the audit context of writes made through the API."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import structlog
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings
from polis.platform.logging import configure_logging
from tests.iam.factories import create_user, signed_in


class TestRequestId:
    async def test_echoes_a_valid_request_id(self, client: AsyncClient) -> None:
        rid = str(uuid.uuid4())
        response = await client.get("/healthz", headers={"X-Request-ID": rid})
        assert response.headers["x-request-id"] == rid

    @pytest.mark.parametrize("sent", [None, "not-a-uuid", "x" * 300])
    async def test_generates_one_otherwise(self, client: AsyncClient, sent: str | None) -> None:
        headers = {"X-Request-ID": sent} if sent else {}
        response = await client.get("/healthz", headers=headers)
        assert uuid.UUID(response.headers["x-request-id"])
        assert response.headers["x-request-id"] != sent

    async def test_each_request_gets_its_own(self, client: AsyncClient) -> None:
        a = (await client.get("/healthz")).headers["x-request-id"]
        b = (await client.get("/healthz")).headers["x-request-id"]
        assert a != b


class TestAccessLog:
    async def test_one_structured_line_per_request(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await signed_in(client, session)
        with structlog.testing.capture_logs() as logs:
            response = await client.get("/api/v1/auth/me", headers=headers)
        lines = [entry for entry in logs if entry["event"] == "request"]
        assert len(lines) == 1
        line = lines[0]
        assert line["method"] == "GET"
        assert line["path"] == "/api/v1/auth/me"
        assert line["status"] == 200
        assert line["request_id"] == response.headers["x-request-id"]
        assert line["user_id"] == str(user.id)
        assert isinstance(line["duration_ms"], float)

    async def test_anonymous_and_failed_requests_are_logged(self, client: AsyncClient) -> None:
        with structlog.testing.capture_logs() as logs:
            await client.get("/api/v1/auth/me")
        (line,) = [entry for entry in logs if entry["event"] == "request"]
        assert line["status"] == 401
        assert line["user_id"] is None

    def test_json_lines(self, capsys: pytest.CaptureFixture[str]) -> None:
        configure_logging(Settings(log_json=True, log_level="INFO"))
        structlog.get_logger("polis.test").info("hello", answer=42)
        logging.getLogger("polis.stdlib").warning("from %s", "stdlib")
        lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line]
        assert {"event": "hello", "answer": 42, "level": "info"}.items() <= lines[-2].items()
        assert "timestamp" in lines[-2]
        assert lines[-1]["event"] == "from stdlib"
        assert lines[-1]["level"] == "warning"


class TestAuditContext:
    async def test_api_writes_are_attributed(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin, headers = await signed_in(client, session)
        rid = str(uuid.uuid4())
        response = await client.post(
            "/api/v1/iam/users",
            json={
                "username": f"audited_{uuid.uuid4().hex[:8]}",
                "email": f"{uuid.uuid4().hex[:8]}@example.test",
                "password": "a long enough password",
                "role": "SURVEYOR",
                "first_name": "Audit",
                "last_name": "Trail",
            },
            headers={**headers, "X-Request-ID": rid, "User-Agent": "audit-test/1.0"},
        )
        assert response.status_code == 201
        assert response.headers["x-request-id"] == rid
        row = (
            await session.execute(
                text(
                    "select user_id, user_role, request_id::text, host(ip_address) as ip,"
                    " user_agent, new_values ->> 'username' as username"
                    " from audit.audit_log"
                    " where table_name = 'iam.users' and operation = 'INSERT'"
                    " and record_id = :id"
                ),
                {"id": response.json()["id"]},
            )
        ).one()
        assert row.user_id == admin.id
        assert row.user_role == "ADMIN"
        assert row.request_id == rid
        assert row.ip == "127.0.0.1"
        assert row.user_agent == "audit-test/1.0"
        assert row.username == response.json()["username"]

    async def test_login_is_attributed_to_the_user(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session)
        rid = str(uuid.uuid4())
        from tests.iam.factories import PASSWORD

        response = await client.post(
            "/api/v1/auth/login",
            json={"username": user.username, "password": PASSWORD},
            headers={"X-Request-ID": rid},
        )
        assert response.status_code == 200
        rows = (
            await session.execute(
                text(
                    "select table_name, user_id from audit.audit_log"
                    " where request_id = :rid order by id"
                ),
                {"rid": rid},
            )
        ).all()
        assert {r.table_name for r in rows} == {"iam.users", "iam.user_sessions"}
        assert {r.user_id for r in rows} == {user.id}

    async def test_nothing_leaks_into_the_next_request(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        # Both requests share the test's transaction: the second must not inherit the first's
        # user (a failed login is anonymous).
        _, headers = await signed_in(client, session)
        await client.get("/api/v1/auth/me", headers=headers)
        victim = await create_user(session)
        rid = str(uuid.uuid4())
        await client.post(
            "/api/v1/auth/login",
            json={"username": victim.username, "password": "wrong password!"},
            headers={"X-Request-ID": rid},
        )
        row = (
            await session.execute(
                text("select user_id, user_role from audit.audit_log where request_id = :rid"),
                {"rid": rid},
            )
        ).one()
        assert (row.user_id, row.user_role) == (None, None)
