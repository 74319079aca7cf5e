"""HTTP hardening (decision 0060): security headers, CORS allow-list, request body limits."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.platform.security import API_CSP, inline_script_hashes, upload_operations
from tests.iam.factories import signed_in

PROBLEM = "application/problem+json"
LOGIN = "/api/v1/auth/login"
STATEMENTS = "/api/v1/motor/payments/reconciliations"
ORIGIN = "https://portal.example.co.th"

ClientFactory = Callable[..., AbstractAsyncContextManager[AsyncClient]]


@pytest.fixture
def make_client(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> ClientFactory:
    """Like `client`, for an app built with the given settings."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    @asynccontextmanager
    async def make(**settings: Any) -> AsyncIterator[AsyncClient]:
        database = Database(engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(Settings(database_url=db_url, **settings), database=database)
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            c.app = app  # type: ignore[attr-defined]
            yield c

    return make


def _asserts_common(headers: Any) -> None:
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert not any(name.lower().startswith("access-control-") for name in headers)


class TestHeaders:
    async def test_api_answers_carry_the_headers(self, client: AsyncClient) -> None:
        for path, status in [
            ("/healthz", 200),
            ("/openapi.json", 200),
            ("/api/v1/auth/me", 401),
            ("/api/v1/no-such-route", 404),
        ]:
            response = await client.get(path)
            assert response.status_code == status, path
            _asserts_common(response.headers)
            assert response.headers["content-security-policy"] == API_CSP
            assert response.headers["cache-control"] == "no-store"
            assert "strict-transport-security" not in response.headers  # DEVELOPMENT

    async def test_docs_pages_allow_only_their_own_inline_scripts(
        self, client: AsyncClient
    ) -> None:
        for path in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            response = await client.get(path)
            assert response.status_code == 200, path
            _asserts_common(response.headers)
            csp = response.headers["content-security-policy"]
            script_src = re.search(r"script-src ([^;]*)", csp)
            assert script_src is not None
            sources = script_src.group(1).split()
            assert "'unsafe-inline'" not in sources and "'unsafe-eval'" not in sources
            inline = re.findall(r"<script>(.*?)</script>", response.text, re.S)
            expected = {
                "'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                for s in inline
            }
            assert set(sources) == {"'self'", *expected}
            assert "default-src 'self'" in csp and "object-src 'none'" in csp
        # The vendored assets the pages load are same-origin, so 'self' covers them.
        docs = (await client.get("/docs")).text
        assert "cdn" not in docs.lower()
        for asset in re.findall(r'(?:src|href)="(/static/docs/[^"]+)"', docs):
            assert (await client.get(asset)).status_code == 200

    def test_inline_script_hashes(self) -> None:
        page = "<script src='/a.js'></script><SCRIPT type='x'>alert(1)</SCRIPT><script></script>"
        assert inline_script_hashes(page) == sorted(
            {
                "'sha256-" + base64.b64encode(hashlib.sha256(b).digest()).decode() + "'"
                for b in (b"alert(1)", b"")
            }
        )

    async def test_hsts_in_production_only(self, make_client: ClientFactory) -> None:
        async with make_client(environment="PRODUCTION", hsts_max_age_seconds=600) as c:
            response = await c.get("/healthz")
        assert response.headers["strict-transport-security"] == "max-age=600; includeSubDomains"


class TestCors:
    async def test_off_by_default(self, client: AsyncClient) -> None:
        preflight = await client.options(
            LOGIN,
            headers={"Origin": ORIGIN, "Access-Control-Request-Method": "POST"},
        )
        assert preflight.status_code == 405
        plain = await client.get("/healthz", headers={"Origin": ORIGIN})
        for response in (preflight, plain):
            assert not any(n.lower().startswith("access-control-") for n in response.headers)

    async def test_allow_list(self, make_client: ClientFactory) -> None:
        async with make_client(cors_origins=f"{ORIGIN}/, https://other.example") as c:
            ok = await c.options(
                LOGIN,
                headers={
                    "Origin": ORIGIN,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            )
            assert ok.status_code == 200
            assert ok.headers["access-control-allow-origin"] == ORIGIN
            assert "POST" in ok.headers["access-control-allow-methods"]
            assert "access-control-allow-credentials" not in ok.headers
            assert ok.headers["x-content-type-options"] == "nosniff"

            refused = await c.options(
                LOGIN,
                headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
            )
            assert refused.status_code == 400
            assert "access-control-allow-origin" not in refused.headers

            simple = await c.get("/api/v1/auth/me", headers={"Origin": ORIGIN})
            assert simple.status_code == 401
            assert simple.headers["access-control-allow-origin"] == ORIGIN
            assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
            other = await c.get("/api/v1/auth/me", headers={"Origin": "https://evil.example"})
            assert "access-control-allow-origin" not in other.headers


async def _raw(
    app: FastAPI, path: str, headers: list[tuple[bytes, bytes]], chunks: list[bytes]
) -> tuple[int, dict[str, str], bytes, int]:
    """Call the ASGI app directly; returns status, headers, body and body chunks it read."""
    read = 0
    pending = list(chunks)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if not pending:
            return {"type": "http.disconnect"}
        read += 1
        chunk = pending.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(pending)}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"test"), *headers],
        "client": ("127.0.0.1", 1234),
        "server": ("test", 80),
        "state": {},
    }
    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    hdrs = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], hdrs, body, read


class TestBodyLimit:
    async def test_declared_too_large_is_413_before_reading(
        self, make_client: ClientFactory
    ) -> None:
        async with make_client(max_body_bytes=1000) as c:
            app = c.app  # type: ignore[attr-defined]
            status, headers, body, read = await _raw(
                app,
                LOGIN,
                [(b"content-type", b"application/json"), (b"content-length", b"5000")],
                [b"{" * 5000],
            )
        assert (status, read) == (413, 0)  # refused before a byte of the body was read
        assert headers["content-type"] == PROBLEM
        assert headers["x-content-type-options"] == "nosniff"
        assert b'"max_bytes":1000' in body and b"content-too-large" in body
        assert "x-request-id" in headers

    async def test_streamed_or_understated_bodies_are_cut_off(
        self, make_client: ClientFactory
    ) -> None:
        async with make_client(max_body_bytes=1000) as c:
            app = c.app  # type: ignore[attr-defined]
            chunks = [b"x" * 400] * 10
            for declared in ([], [(b"content-length", b"10")]):
                status, headers, _body, read = await _raw(
                    app, LOGIN, [(b"content-type", b"application/json"), *declared], chunks
                )
                assert status == 413 and headers["content-type"] == PROBLEM
                assert read == 3  # stopped at the chunk that crossed the limit
            # Through HTTP with a chunked body (no Content-Length).

            async def stream() -> AsyncIterator[bytes]:
                for _ in range(10):
                    yield b" " * 400

            response = await c.post(
                LOGIN, content=stream(), headers={"content-type": "application/json"}
            )
            assert response.status_code == 413
            assert response.json()["type"] == "urn:polis:problem:content-too-large"

    async def test_bodies_within_the_limit_are_served(self, make_client: ClientFactory) -> None:
        async with make_client(max_body_bytes=1000) as c:
            body = b'{"username": "nobody", "password": "not-it"}' + b" " * 900
            response = await c.post(
                LOGIN, content=body, headers={"content-type": "application/json"}
            )
            assert response.status_code == 401  # read whole and served by the endpoint

    async def test_default_limit_is_one_mebibyte(self, client: AsyncClient) -> None:
        response = await client.post(
            LOGIN, content=b"[" * (1024 * 1024 + 1), headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert response.json()["max_bytes"] == 1024 * 1024

    async def test_uploads_have_their_own_limit(
        self, make_client: ClientFactory, session: AsyncSession
    ) -> None:
        async with make_client(
            max_body_bytes=2048, document_max_bytes=200_000, upload_max_bytes=1
        ) as c:
            _, headers = await signed_in(c, session)
            lines = [f"2026-01-{i % 28 + 1:02d},1.00,NOPE{i:05d},BT{i:06d}" for i in range(100)]
            statement = ("date,amount,reference,bank_transaction_id\n" + "\n".join(lines)).encode()
            assert len(statement) > 2048
            files = {"file": ("statement.csv", statement, "text/csv")}
            response = await c.post(STATEMENTS, files=files, headers=headers)
            assert response.status_code == 200, response.text
            assert response.json()["statement_lines"] == 100

            # Over the upload limit (DOCUMENT_MAX_BYTES + form framing): 413, nothing read.
            files = {"file": ("statement.csv", b"x" * 300_000, "text/csv")}
            response = await c.post(STATEMENTS, files=files, headers=headers)
            assert response.status_code == 413
            assert response.json()["max_bytes"] == 200_000 + 64 * 1024

            # Multipart to an operation that takes no upload keeps the general limit.
            files = {"file": ("x.csv", statement, "text/csv")}
            response = await c.post(LOGIN, files=files)
            assert response.status_code == 413
            assert response.json()["max_bytes"] == 2048

    async def test_upload_operations_come_from_the_openapi_document(
        self, client: AsyncClient
    ) -> None:
        spec = (await client.get("/openapi.json")).json()
        found = upload_operations(spec)
        assert ("POST", True) in {(m, bool(rx.match(STATEMENTS))) for m, rx in found}
        claim_docs = "/api/v1/motor/claims/3f1c0d8e-0000-4000-8000-000000000001/documents"
        assert any(m == "POST" and rx.match(claim_docs) for m, rx in found)
        assert not any(rx.match(LOGIN) for _, rx in found)
