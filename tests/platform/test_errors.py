"""Every failure is one problem+json shape; bad input never yields a 500."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient, Response

PROBLEM_KEYS = {"type", "title", "status", "detail", "instance", "request_id"}


def assert_problem(response: Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) >= PROBLEM_KEYS
    assert body["status"] == status
    assert body["type"] == type_
    assert body["request_id"] == response.headers["x-request-id"]
    return dict(body)


class TestDomainErrors:
    async def test_business_rule_is_422(self, probe_client: AsyncClient) -> None:
        body = assert_problem(
            await probe_client.get("/probe/rule"), 422, "urn:polis:problem:filing-deadline"
        )
        assert body["detail"] == "The claim is past its filing deadline."
        assert body["instance"] == "/probe/rule"

    async def test_conflict_and_not_found(self, probe_client: AsyncClient) -> None:
        assert_problem(await probe_client.get("/probe/conflict"), 409, "urn:polis:problem:conflict")
        assert_problem(await probe_client.get("/probe/missing"), 404, "urn:polis:problem:not-found")


class TestHttpErrors:
    async def test_unknown_route(self, client: AsyncClient) -> None:
        body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "about:blank")
        assert body["title"] == "Not Found"

    async def test_wrong_method_keeps_allow(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/auth/login")
        assert_problem(response, 405, "about:blank")
        assert response.headers["allow"] == "POST"


class TestValidation:
    async def test_nested_field_errors(self, probe_client: AsyncClient) -> None:
        response = await probe_client.post(
            "/probe/orders",
            json={
                "items": [{"sku": "A", "quantity": 1}, {"sku": "B", "quantity": 0}],
                "total": "-1",
            },
        )
        body = assert_problem(response, 422, "urn:polis:problem:validation-error")
        fields = {e["field"]: e for e in body["errors"]}
        assert set(fields) == {"body.items.1.quantity", "body.total"}
        assert fields["body.items.1.quantity"]["type"] == "greater_than"
        assert fields["body.items.1.quantity"]["message"]
        assert body["detail"] == "2 fields are invalid."

    async def test_malformed_json(self, probe_client: AsyncClient) -> None:
        response = await probe_client.post(
            "/probe/orders", content=b'{"items": [', headers={"content-type": "application/json"}
        )
        assert_problem(response, 422, "urn:polis:problem:validation-error")

    @pytest.mark.parametrize(
        "total", ["1.005", "NaN", "Infinity", "1e999999", "abc", True, [], {"a": 1}, 0.1 + 0.2]
    )
    async def test_bad_amounts(self, probe_client: AsyncClient, total: object) -> None:
        response = await probe_client.post("/probe/orders", json={"items": [], "total": total})
        assert_problem(response, 422, "urn:polis:problem:validation-error")

    async def test_amounts_are_strings(self, probe_client: AsyncClient) -> None:
        response = await probe_client.post("/probe/orders", json={"items": [], "total": 1234.5})
        assert response.status_code == 200
        assert response.json() == {"total": "1234.50"}


class TestDatabaseErrors:
    async def test_unique_violation_is_409_naming_the_constraint(
        self, probe_client: AsyncClient
    ) -> None:
        response = await probe_client.post("/probe/unique")
        body = assert_problem(response, 409, "urn:polis:problem:unique-violation")
        assert body["constraint"] == "users_username_key"
        assert "dup-secret-name" not in response.text

    @pytest.mark.parametrize(
        ("path", "type_", "secret"),
        [
            ("/probe/check", "check-violation", "PIRATE"),
            ("/probe/fk", "foreign-key-violation", "user_sessions_user_id"),
            ("/probe/not-null", "not-null-violation", "nn@x.test"),
            ("/probe/too-long", "invalid-value", "yyyy"),
        ],
    )
    async def test_other_constraint_violations_are_422(
        self, probe_client: AsyncClient, path: str, type_: str, secret: str
    ) -> None:
        response = await probe_client.post(path)
        body = assert_problem(response, 422, f"urn:polis:problem:{type_}")
        if type_ == "foreign-key-violation":
            assert body["constraint"] == "user_sessions_user_id_fkey"
        else:
            assert secret not in response.text
        assert "SQL" not in response.text and "INSERT" not in response.text.upper()

    async def test_a_lost_connection_is_503_database_unavailable(
        self, probe_client: AsyncClient
    ) -> None:
        response = await probe_client.get("/probe/connection-lost")
        assert_problem(response, 503, "urn:polis:problem:database-unavailable")
        assert "closed" not in response.text

    async def test_the_transaction_is_usable_afterwards(self, probe_client: AsyncClient) -> None:
        await probe_client.post("/probe/unique")
        assert (await probe_client.get("/readyz")).status_code == 200
        assert (await probe_client.post("/probe/check")).status_code == 422


class TestUnexpected:
    async def test_500_reveals_nothing(self, probe_client: AsyncClient) -> None:
        request_id = str(uuid.uuid4())
        response = await probe_client.get("/probe/boom", headers={"X-Request-ID": request_id})
        body = assert_problem(response, 500, "urn:polis:problem:internal-error")
        assert body["request_id"] == request_id
        assert "hunter2" not in response.text and "RuntimeError" not in response.text
