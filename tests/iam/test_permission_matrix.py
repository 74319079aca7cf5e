"""The permission matrix: docs/security.md matches the code, and every route enforces it.

The walk takes every operation of /openapi.json and calls it anonymously (401 unless PUBLIC),
as a user of every role lacking its `x-permission` (403 problem) and of every role holding it
(past the permission check: no 401/403 from it, no 5xx). Routes added later are covered
without edits here.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from polis.iam import matrix
from polis.iam.auth import record_permissions, require
from polis.iam.permissions import PERMISSIONS, ROLE_PERMISSIONS, Role
from tests.iam.factories import signed_in
from tests.iam.test_route_security import PUBLIC

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "security.md"
REGENERATE = "polis users permissions --write docs/security.md"
PERMISSION_REFUSAL = "This action needs the permission"
# Operations that end the caller's own session: called last, after everything else.
SESSION_ENDING = {("post", "/api/v1/auth/logout")}


async def _spec(client: AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


# --- the document ---------------------------------------------------------------------------


async def test_security_md_matches_the_code(client: AsyncClient) -> None:
    generated = matrix.sections(await _spec(client))
    committed = matrix.extract(DOCUMENT.read_text(encoding="utf-8"))
    assert set(committed) == set(matrix.SECTIONS), f"docs/security.md lacks markers: {REGENERATE}"
    for name in matrix.SECTIONS:
        assert committed[name] == generated[name], (
            f"docs/security.md section {name!r} is stale: run `{REGENERATE}`"
        )


def test_matrix_marks_exactly_the_granted_permissions() -> None:
    lines = matrix.matrix_markdown().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header[0] == "Permission"
    assert header[1:] == [matrix.abbreviation(r) for r in matrix.roles()]
    assert sorted(matrix.roles()) == sorted(Role)
    columns = {h: i for i, h in enumerate(header)}
    rows = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        rows[cells[0].strip("`")] = cells
    assert list(rows) == list(PERMISSIONS)
    for role in Role:
        column = columns[matrix.abbreviation(role)]
        marked = {p for p, cells in rows.items() if cells[column] == "✓"}
        assert marked == ROLE_PERMISSIONS[role], role
    # Spot checks against decision 0044.
    admin, super_admin = columns["ADM"], columns["SA"]
    assert rows["ops:write"][admin] == "" and rows["ops:write"][super_admin] == "✓"
    assert rows["pdpa:anonymize"][admin] == ""
    assert rows["health.claims:read_own"][columns["MEM"]] == "✓"
    assert rows["health.claims:read"][columns["MEM"]] == ""


def test_x_permission_expressions() -> None:
    assert matrix.role_may("MEMBER", "authenticated")
    assert matrix.role_may("CUSTOMER", "public")
    assert matrix.role_may("AUDITOR", "audit:read")
    assert not matrix.role_may("AGENT", "audit:read")
    # "a | b": any of them; "a, b": all of them.
    assert matrix.role_may("MEMBER", "health.claims:read | health.claims:read_own")
    assert not matrix.role_may("MEMBER", "health.claims:read, health.claims:read_own")
    assert matrix.role_may("ADMIN", "health.claims:read, health.claims:read_own")
    assert matrix.roles_allowed("pdpa:anonymize") == [Role.SUPER_ADMIN]


def test_splice_replaces_only_the_generated_sections() -> None:
    generated = {name: f"new {name}" for name in matrix.SECTIONS}
    old = matrix.render({name: f"old {name}\nline" for name in matrix.SECTIONS})
    document = "# Title\n\nprose before\n\n" + old + "\nprose after\n"
    spliced = matrix.splice(document, generated)
    assert spliced == "# Title\n\nprose before\n\n" + matrix.render(generated) + "\nprose after\n"
    assert matrix.extract(spliced) == generated
    with pytest.raises(ValueError, match="generated:roles"):
        matrix.splice("# no markers\n", generated)


def test_cli_prints_the_matrix_and_writes_the_document(tmp_path: Path) -> None:
    from polis.cli import app

    runner = CliRunner()
    text = runner.invoke(app, ["users", "permissions"])
    assert text.exit_code == 0, text.output
    assert re.search(r"^pdpa:anonymize +SUPER_ADMIN$", text.output, re.MULTILINE)
    assert re.search(r"^GET +/api/v1/auth/me +authenticated$", text.output, re.MULTILINE)

    markdown = runner.invoke(app, ["users", "permissions", "--markdown"])
    assert markdown.exit_code == 0, markdown.output
    assert set(matrix.extract(markdown.output)) == set(matrix.SECTIONS)
    assert "| POST | `/api/v1/auth/login` | `public` |" in markdown.output

    target = tmp_path / "security.md"
    target.write_text("# Security\n\n" + matrix.render(dict.fromkeys(matrix.SECTIONS, "x")))
    written = runner.invoke(app, ["users", "permissions", "--write", str(target)])
    assert written.exit_code == 0, written.output
    assert target.read_text() == "# Security\n\n" + markdown.output

    target.write_text("# no markers\n")
    refused = runner.invoke(app, ["users", "permissions", "--write", str(target)])
    assert refused.exit_code == 1
    assert "polis: error: the document has no section" in refused.output
    assert target.read_text() == "# no markers\n"


# --- the walk -------------------------------------------------------------------------------


def _dummy(schema: dict[str, Any]) -> str:
    """A well-formed value of a parameter's type: the record it names does not exist."""
    if schema.get("format") == "uuid":
        return str(uuid.uuid4())
    if schema.get("type") in ("integer", "number"):
        return "1"
    if schema.get("format") == "date":
        return "2026-01-01"
    if schema.get("type") == "boolean":
        return "true"
    return "X"


def _request(path: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The URL (path parameters filled) and the keyword arguments of one dummy call."""
    query: dict[str, str] = {}
    for param in op.get("parameters", []):
        schema = param.get("schema", {})
        if "anyOf" in schema:
            schema = next((s for s in schema["anyOf"] if s.get("type") != "null"), {})
        if param["in"] == "path":
            path = path.replace("{" + param["name"] + "}", _dummy(schema))
        elif param["in"] == "query" and param.get("required"):
            query[param["name"]] = _dummy(schema)
    assert "{" not in path, f"unfilled path parameter in {path}"
    kwargs: dict[str, Any] = {"params": query}
    if "requestBody" in op:
        kwargs["json"] = {}
    return path, kwargs


def _describe(response: Response) -> str:
    return f"{response.status_code} {response.text[:200]}"


async def _sign_in_every_role(
    client: AsyncClient, session: AsyncSession
) -> dict[Role, dict[str, str]]:
    """One user per role, signed in once: their Authorization headers."""
    headers: dict[Role, dict[str, str]] = {}
    for role in Role:
        _, headers[role] = await signed_in(client, session, role=role.value)
    return headers


async def _walk(
    client: AsyncClient, spec: dict[str, Any], headers: dict[Role, dict[str, str]]
) -> list[str]:
    """Call every /api/v1 operation of `spec` anonymously and as every role: what is wrong."""
    ops = [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith(matrix.API_PREFIX)
        for method, op in item.items()
        if method in matrix.METHODS
    ]
    ops.sort(key=lambda o: (o[0], o[1]) in SESSION_ENDING)
    failures: list[str] = []
    for method, path, op in ops:
        name = f"{method.upper()} {path}"
        declared = op.get("x-permission")
        if (method, path) in PUBLIC:
            if declared != matrix.PUBLIC:
                failures.append(f"{name} is in PUBLIC but declares {declared!r}")
            continue
        if not declared or declared == matrix.PUBLIC:
            failures.append(f"{name}: declares no permission ({declared!r})")
            continue
        if declared != matrix.AUTHENTICATED:
            if len(matrix.named_permissions(declared)) != 1:
                failures.append(f"{name}: declares {declared!r}, not exactly one permission")
            unknown = [p for p in matrix.named_permissions(declared) if p not in PERMISSIONS]
            if unknown:
                failures.append(f"{name}: unknown permission {unknown}")
                continue
        url, kwargs = _request(path, op)

        anonymous = await client.request(method.upper(), url, **kwargs)
        if anonymous.status_code != 401:
            failures.append(f"{name} anonymous: {_describe(anonymous)}")

        for role, role_headers in headers.items():
            response = await client.request(method.upper(), url, headers=role_headers, **kwargs)
            status = response.status_code
            if not matrix.role_may(role, declared):
                if status != 403 or PERMISSION_REFUSAL not in response.text:
                    failures.append(f"{name} as {role} (lacks {declared}): {_describe(response)}")
                elif response.headers["content-type"] != "application/problem+json":
                    failures.append(f"{name} as {role}: 403 is not problem+json")
            elif (
                status == 401
                or status >= 500
                or (status == 403 and PERMISSION_REFUSAL in response.text)
            ):
                failures.append(f"{name} as {role} (holds {declared}): {_describe(response)}")
    return failures


async def test_every_operation_enforces_its_permission_for_every_role(
    client: AsyncClient, session: AsyncSession
) -> None:
    spec = await _spec(client)
    assert len(matrix.operations(spec)) > 50
    failures = await _walk(client, spec, await _sign_in_every_role(client, session))
    assert not failures, "\n".join(failures)


async def test_the_walk_reports_routes_that_do_not_enforce_their_permission(
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    session: AsyncSession,
    db_url: str,
) -> None:
    """The walk itself: an app with three broken routes added, and only those walked."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    broken = APIRouter()

    @broken.get("/broken/open")
    async def open_route() -> dict[str, str]:  # no permission at all
        return {"ok": "yes"}

    @broken.get("/broken/claims", openapi_extra={"x-permission": "audit:read"})
    async def claims_only() -> dict[str, str]:  # says audit:read, never checks it
        return {"ok": "yes"}

    @broken.get("/broken/two")
    async def two(principal: Annotated[Any, Depends(require("audit:read", "ops:read"))]) -> None:
        return None

    app = create_app(
        Settings(database_url=db_url),
        database=Database(engine=connection.engine, sessionmaker=sessionmaker),
    )
    app.include_router(broken, prefix="/api/v1")
    record_permissions(app)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
    ):
        spec = await _spec(client)
        only = {p: item for p, item in spec["paths"].items() if p.startswith("/api/v1/broken/")}
        headers = await _sign_in_every_role(client, session)
        failures = await _walk(client, {"paths": only}, headers)

    assert "GET /api/v1/broken/open: declares no permission (None)" in failures
    assert any(f.startswith("GET /api/v1/broken/claims anonymous: 200") for f in failures)
    lacking = [r for r in Role if not matrix.role_may(r, "audit:read")]
    for role in lacking:
        assert any(
            f.startswith(f"GET /api/v1/broken/claims as {role} (lacks audit:read): 200")
            for f in failures
        ), role
    assert (
        "GET /api/v1/broken/two: declares 'audit:read | ops:read', not exactly one permission"
        in failures
    )
    # Exactly these: no complaint about the roles that hold the permissions.
    assert len(failures) == 3 + len(lacking), failures
