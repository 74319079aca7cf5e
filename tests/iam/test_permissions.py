"""The role table, require(), and the user administration routes that use them."""

from __future__ import annotations

from typing import ClassVar

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.auth import require
from polis.iam.models import ROLES
from polis.iam.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role, has_permission
from tests.iam.factories import signed_in


def test_every_role_of_the_database_has_an_entry() -> None:
    assert {r.value for r in Role} == set(ROLES)
    assert set(ROLE_PERMISSIONS) == set(Role)


def test_roles_grant_only_known_permissions() -> None:
    for role, perms in ROLE_PERMISSIONS.items():
        assert perms <= set(PERMISSIONS), role


def test_permission_names_are_area_resource_action() -> None:
    for name in PERMISSIONS:
        scope, _, action = name.partition(":")
        assert scope and action and " " not in name, name


@pytest.mark.parametrize(
    ("role", "permission", "granted"),
    [
        ("SUPER_ADMIN", "ops:write", True),
        ("ADMIN", "iam.users:write", True),
        ("ADMIN", "pdpa:anonymize", False),
        ("CLAIMS_PROCESSOR", "health.claims:decide", True),
        ("CLAIMS_PROCESSOR", "motor.claims:approve", False),
        ("ADJUSTER", "motor.claims:approve", True),
        ("MEMBER", "health.claims:read", False),
        ("MEMBER", "health.claims:read_own", True),
        ("CUSTOMER", "motor.policies:read_own", True),
        ("AUDITOR", "audit:read", True),
        ("AUDITOR", "health.claims:write", False),
        ("NOT_A_ROLE", "audit:read", False),
    ],
)
def test_role_table(role: str, permission: str, granted: bool) -> None:
    assert has_permission(role, permission) is granted


def test_require_refuses_unknown_permissions() -> None:
    with pytest.raises(ValueError, match="unknown permission"):
        require("health.claims:approve_everything")


class TestCreateUser:
    body: ClassVar[dict[str, str]] = {
        "username": "somchai",
        "email": "somchai@example.co.th",
        "password": "a long enough password",
        "role": "AGENT",
        "first_name": "Somchai",
        "last_name": "Jaidee",
    }

    async def test_admin_creates_a_user(self, client: AsyncClient, session: AsyncSession) -> None:
        admin, headers = await signed_in(client, session)
        response = await client.post("/api/v1/iam/users", json=self.body, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert body["username"] == "somchai"
        assert body["role"] == "AGENT"
        assert "password" not in body and "password_hash" not in body
        row = (
            await session.execute(
                text("select password_hash, created_by from iam.users where id = :id"),
                {"id": body["id"]},
            )
        ).one()
        assert row.password_hash.startswith("$argon2id$")
        assert row.created_by == admin.id

    async def test_without_the_permission_is_403(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="CUSTOMER")
        response = await client.post("/api/v1/iam/users", json=self.body, headers=headers)
        assert response.status_code == 403
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:polis:problem:forbidden"
        assert "iam.users:write" in response.json()["detail"]

    async def test_anonymous_is_401(self, client: AsyncClient) -> None:
        response = await client.post("/api/v1/iam/users", json=self.body)
        assert response.status_code == 401

    async def test_admin_cannot_create_a_super_admin(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        response = await client.post(
            "/api/v1/iam/users", json={**self.body, "role": "SUPER_ADMIN"}, headers=headers
        )
        assert response.status_code == 403

    async def test_duplicate_username_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        first = await client.post("/api/v1/iam/users", json=self.body, headers=headers)
        assert first.status_code == 201
        again = await client.post(
            "/api/v1/iam/users", json={**self.body, "email": "other@example.co.th"}, headers=headers
        )
        assert again.status_code == 409
        assert again.json()["type"] == "urn:polis:problem:user-exists"
        assert "username" in again.json()["detail"]

    async def test_field_errors(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session)
        response = await client.post(
            "/api/v1/iam/users",
            json={**self.body, "password": "tiny-pw", "role": "PILOT", "extra": 1},
            headers=headers,
        )
        assert response.status_code == 422
        body = response.json()
        fields = {e["field"]: e["type"] for e in body["errors"]}
        assert fields == {
            "body.password": "string_too_short",
            "body.role": "enum",
            "body.extra": "extra_forbidden",
        }
        assert "tiny-pw" not in response.text  # inputs are never echoed


class TestUsers:
    async def test_get_one_and_404(self, client: AsyncClient, session: AsyncSession) -> None:
        user, headers = await signed_in(client, session, role="AUDITOR")
        response = await client.get(f"/api/v1/iam/users/{user.id}", headers=headers)
        assert response.status_code == 200
        assert response.json()["id"] == str(user.id)
        missing = await client.get(
            "/api/v1/iam/users/00000000-0000-4000-8000-000000000000", headers=headers
        )
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:polis:problem:not-found"

    async def test_bad_uuid_is_422(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="AUDITOR")
        response = await client.get("/api/v1/iam/users/not-a-uuid", headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "path.user_id"
