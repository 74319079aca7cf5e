"""Every API route declares a permission, and refuses anonymous callers with 401.

The test walks /openapi.json, so routes added by later work are covered without edits here.
Only the routes in PUBLIC may be called without a token.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

from httpx import AsyncClient

from polis.iam.permissions import PERMISSIONS

PUBLIC = {
    ("post", "/api/v1/auth/login"),
    # A refresh token is the credential (decision 0062).
    ("post", "/api/v1/auth/refresh"),
    # The second step of a sign-in, and sign-in by SMS code: the challenge token and the code
    # are the credential (decision 0063).
    ("post", "/api/v1/auth/login/2fa"),
    ("post", "/api/v1/auth/otp"),
    ("post", "/api/v1/auth/otp/verify"),
    # The payment gateway's webhook: authenticated by its HMAC signature, not a token
    # (decision 0048); an unsigned call is a 401 like any anonymous call.
    ("post", "/api/v1/motor/payments/gateway/callback"),
}
METHODS = {"get", "post", "put", "patch", "delete"}


def _operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if method in METHODS and path.startswith("/api/v1/")
    ]


def _fill(path: str) -> str:
    # Any well-formed value: authentication must be decided before the record is looked up.
    return re.sub(r"\{[^}]+\}", str(uuid.uuid4()), path)


async def test_every_operation_declares_a_known_permission(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    operations = _operations(spec)
    assert operations
    for method, path, op in operations:
        declared = op.get("x-permission")
        assert declared, f"{method.upper()} {path} declares no x-permission"
        if declared in ("public", "authenticated"):
            assert (declared == "public") == ((method, path) in PUBLIC), (method, path)
            continue
        for alternative in re.split(r"[,|]", declared):
            assert alternative.strip() in PERMISSIONS, (method, path, alternative)


async def test_every_non_public_operation_refuses_anonymous_calls(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    for method, path, _ in _operations(spec):
        if (method, path) in PUBLIC:
            continue
        kwargs: dict[str, Any] = {"json": {}} if method in ("post", "put", "patch") else {}
        response = await client.request(method.upper(), _fill(path), **kwargs)
        assert response.status_code == 401, f"{method.upper()} {path}: {response.status_code}"
        assert response.headers["content-type"] == "application/problem+json"
        bad = await client.request(
            method.upper(),
            _fill(path),
            headers={"Authorization": "Bearer " + "x" * 43},
            **kwargs,
        )
        assert bad.status_code == 401, f"{method.upper()} {path} with a bad token"


async def test_secured_operations_document_bearer_auth(client: AsyncClient) -> None:
    spec = (await client.get("/openapi.json")).json()
    assert spec["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    for method, path, op in _operations(spec):
        if (method, path) in PUBLIC:
            continue
        assert {"bearer": []} in op.get("security", []), (method, path)
        assert "401" in op["responses"], (method, path)


async def test_health_probes_need_no_token(client: AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    assert (await client.get("/readyz")).status_code == 200
