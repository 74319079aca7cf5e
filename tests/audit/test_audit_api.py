"""GET /api/v1/audit: auditors read the trail with filters and keyset pages; personal values
are masked and ciphertexts redacted, nothing is decrypted; refusals are problem+json."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.iam.factories import signed_in
from tests.motor.test_customers_api import customer_body

AUDIT = "/api/v1/audit"
CUSTOMERS = "/api/v1/motor/customers"


async def _customer(
    client: AsyncClient, headers: dict[str, str], request_id: uuid.UUID, **over: Any
) -> dict[str, Any]:
    body = customer_body(**over)
    response = await client.post(
        CUSTOMERS, json=body, headers={**headers, "X-Request-ID": str(request_id)}
    )
    assert response.status_code == 201, response.text
    return {"body": body, "created": response.json()}


async def test_auditor_finds_a_requests_rows_with_personal_values_masked(
    client: AsyncClient, session: AsyncSession
) -> None:
    agent, agent_headers = await signed_in(client, session, role="AGENT")
    _, headers = await signed_in(client, session, role="AUDITOR")
    request_id = uuid.uuid4()
    made = await _customer(client, agent_headers, request_id)
    customer_id = made["created"]["id"]
    body = made["body"]

    response = await client.get(AUDIT, params={"request_id": str(request_id)}, headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    tables = {i["table_name"] for i in items}
    assert "motor.customers" in tables
    row = next(i for i in items if i["table_name"] == "motor.customers")
    assert row["record_id"] == customer_id
    assert row["operation"] == "INSERT"
    assert row["user_id"] == str(agent.id)
    assert row["user_role"] == "AGENT"
    assert row["request_id"] == str(request_id)
    assert row["old_values"] is None
    new = row["new_values"]
    # Ciphertext and blind index redacted; the stored mask masked again; names and contacts
    # show at most their last 4 characters.
    assert new["national_id_encrypted"] == "[REDACTED]"
    assert new["national_id_hash"] == "[REDACTED]"
    assert new["national_id"] == "*********" + body["national_id"][-4:]
    assert new["email"].endswith(body["email"].lower()[-4:])
    assert new["email"].startswith("*" * (len(body["email"]) - 4))
    assert new["first_name_en"] == "*******"  # "Somchai": short values fully masked
    assert new["address"] == "[REDACTED]"
    assert new["date_of_birth"] == "*" * len("1985-04-12")
    assert new["account_status"] == "ACTIVE"  # not personal: shown
    text_of_answer = response.text
    for secret in (
        body["national_id"],
        body["email"].lower(),
        body["first_name"],
        body["last_name_en"],
        body["phone_number"].replace("-", ""),
        "1985-04-12",
    ):
        assert secret not in text_of_answer, secret


async def test_filters_and_pages(client: AsyncClient, session: AsyncSession) -> None:
    agent, agent_headers = await signed_in(client, session, role="AGENT")
    _, headers = await signed_in(client, session, role="AUDITOR")
    ids = []
    for _ in range(3):
        made = await _customer(client, agent_headers, uuid.uuid4())
        ids.append(made["created"]["id"])

    # table_name + record_id
    response = await client.get(
        AUDIT, params={"table_name": "motor.customers", "record_id": ids[1]}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert [(i["record_id"], i["operation"]) for i in response.json()["items"]] == [
        (ids[1], "INSERT")
    ]

    # user_id + operation: this agent's three customer inserts, newest first, one per page
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {
            "user_id": str(agent.id),
            "operation": "INSERT",
            "table_name": "motor.customers",
            "limit": 1,
        }
        if cursor:
            params["cursor"] = cursor
        response = await client.get(AUDIT, params=params, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        seen.extend(i["record_id"] for i in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))

    # from / to: the window holds the rows, a window in the past does not
    now = datetime.now(UTC)
    inside = {
        "from": (now - timedelta(hours=1)).isoformat(),
        "to": (now + timedelta(hours=1)).isoformat(),
        "record_id": ids[0],
    }
    response = await client.get(AUDIT, params=inside, headers=headers)
    assert len(response.json()["items"]) == 1
    before = {"to": (now - timedelta(hours=1)).isoformat(), "record_id": ids[0]}
    response = await client.get(AUDIT, params=before, headers=headers)
    assert response.json() == {"items": [], "next_cursor": None}

    # nobody else's rows under another operation
    response = await client.get(
        AUDIT, params={"record_id": ids[0], "operation": "DELETE"}, headers=headers
    )
    assert response.json()["items"] == []


async def test_refusals_are_problems(client: AsyncClient, session: AsyncSession) -> None:
    response = await client.get(AUDIT)
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")
    for role in ("AGENT", "CUSTOMER", "MEMBER", "FINANCE", "CLAIMS_PROCESSOR"):
        _, headers = await signed_in(client, session, role=role)
        response = await client.get(AUDIT, headers=headers)
        assert response.status_code == 403, role
        assert response.headers["content-type"].startswith("application/problem+json")
    _, headers = await signed_in(client, session, role="AUDITOR")
    now = datetime.now(UTC)
    response = await client.get(
        AUDIT,
        params={"from": now.isoformat(), "to": (now - timedelta(days=1)).isoformat()},
        headers=headers,
    )
    assert response.status_code == 400
    assert response.json()["type"].endswith("invalid-time-range")
    response = await client.get(AUDIT, params={"from": "2026-01-01T00:00:00"}, headers=headers)
    assert response.status_code == 400
    response = await client.get(AUDIT, params={"operation": "SELECT"}, headers=headers)
    assert response.status_code == 422
    response = await client.get(AUDIT, params={"record_id": "not-a-uuid"}, headers=headers)
    assert response.status_code == 422
    response = await client.get(AUDIT, params={"cursor": "garbage"}, headers=headers)
    assert response.status_code == 400
    # ADMIN and SUPER_ADMIN hold audit:read too
    _, headers = await signed_in(client, session, role="ADMIN")
    assert (await client.get(AUDIT, params={"limit": 1}, headers=headers)).status_code == 200


async def test_no_audit_row_changes_while_reading(
    client: AsyncClient, session: AsyncSession
) -> None:
    """Reading the trail writes nothing to it (no audit of the auditor's SELECT)."""
    _, headers = await signed_in(client, session, role="AUDITOR")
    count = "select count(*) from audit.audit_log where table_name <> 'iam.user_sessions'"
    before = await session.scalar(text(count))
    response = await client.get(AUDIT, params={"limit": 5}, headers=headers)
    assert response.status_code == 200
    assert await session.scalar(text(count)) == before
    json.dumps(response.json())  # plain JSON
