"""Idempotency-Key on POST /api/v1/iam/users: replay, mismatch, expiry, concurrency."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from polis.platform import idempotency
from tests.iam.factories import create_user, signed_in


def _body(username: str | None = None) -> dict[str, str]:
    username = username or f"idem_{uuid.uuid4().hex[:10]}"
    return {
        "username": username,
        "email": f"{username}@example.test",
        "password": "a long enough password",
        "role": "AGENT",
        "first_name": "Idem",
        "last_name": "Potent",
    }


async def _count(session: AsyncSession, username: str) -> int:
    return int(
        await session.scalar(
            text("select count(*) from iam.users where username = :u"), {"u": username}
        )
        or 0
    )


class TestReplay:
    async def test_same_key_same_body_replays(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        headers["Idempotency-Key"] = str(uuid.uuid4())
        body = _body()
        first = await client.post("/api/v1/iam/users", json=body, headers=headers)
        assert first.status_code == 201
        assert "idempotent-replayed" not in first.headers
        # Key order and whitespace do not make it a different request.
        again = await client.post(
            "/api/v1/iam/users",
            content=json.dumps(dict(reversed(list(body.items()))), indent=2),
            headers={**headers, "content-type": "application/json"},
        )
        assert again.status_code == 201, again.text
        assert again.headers["idempotent-replayed"] == "true"
        assert again.json() == first.json()
        assert await _count(session, body["username"]) == 1

    async def test_same_key_other_body_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        headers["Idempotency-Key"] = "key-" + uuid.uuid4().hex
        assert (await client.post("/api/v1/iam/users", json=_body(), headers=headers)).is_success
        other = _body()
        response = await client.post("/api/v1/iam/users", json=other, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:polis:problem:idempotency-key-mismatch"
        assert await _count(session, other["username"]) == 0

    async def test_keys_belong_to_their_user(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, mine = await signed_in(client, session)
        _, theirs = await signed_in(client, session)
        key = str(uuid.uuid4())
        a, b = _body(), _body()
        assert (
            await client.post("/api/v1/iam/users", json=a, headers={**mine, "Idempotency-Key": key})
        ).status_code == 201
        response = await client.post(
            "/api/v1/iam/users", json=b, headers={**theirs, "Idempotency-Key": key}
        )
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers

    async def test_a_failed_request_does_not_hold_the_key(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        taken = await create_user(session)
        _, headers = await signed_in(client, session)
        headers["Idempotency-Key"] = str(uuid.uuid4())
        refused = await client.post(
            "/api/v1/iam/users", json=_body(taken.username), headers=headers
        )
        assert refused.status_code == 409
        fixed = await client.post("/api/v1/iam/users", json=_body(), headers=headers)
        assert fixed.status_code == 201
        assert "idempotent-replayed" not in fixed.headers

    async def test_an_expired_key_is_taken_over(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        key = str(uuid.uuid4())
        headers["Idempotency-Key"] = key
        assert (await client.post("/api/v1/iam/users", json=_body(), headers=headers)).is_success
        await session.execute(
            text(
                "update iam.idempotency_keys set expires_at = now() - interval '1 s' where key = :k"
            ),
            {"k": key},
        )
        response = await client.post("/api/v1/iam/users", json=_body(), headers=headers)
        assert response.status_code == 201
        assert "idempotent-replayed" not in response.headers

    async def test_without_a_key_each_post_runs(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        body = _body()
        assert (
            await client.post("/api/v1/iam/users", json=body, headers=headers)
        ).status_code == 201
        assert (
            await client.post("/api/v1/iam/users", json=body, headers=headers)
        ).status_code == 409

    @pytest.mark.parametrize("key", ["", "x" * 256, "has space"])
    async def test_malformed_keys_are_422(
        self, client: AsyncClient, session: AsyncSession, key: str
    ) -> None:
        _, headers = await signed_in(client, session)
        response = await client.post(
            "/api/v1/iam/users", json=_body(), headers={**headers, "Idempotency-Key": key}
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "header.Idempotency-Key"


def test_request_hash_ignores_json_formatting() -> None:
    a = idempotency.request_hash("POST", "/x", "", b'{"a": 1, "b": [1, 2]}')
    b = idempotency.request_hash("POST", "/x", "", b'{"b":[1,2],"a":1}')
    c = idempotency.request_hash("POST", "/x", "", b'{"b":[2,1],"a":1}')
    d = idempotency.request_hash("POST", "/y", "", b'{"b":[1,2],"a":1}')
    assert a == b != c
    assert a != d
    assert len(a) == 64


class TestConcurrency:
    """Two transactions with the same key: the second waits, then replays (real commits)."""

    @pytest.fixture
    async def owner(self, engine: AsyncEngine) -> AsyncIterator[uuid.UUID]:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as s:
            user = await create_user(s, role="ADMIN")
            await s.commit()
        yield user.id
        async with maker() as s:
            await s.execute(text("delete from iam.users where id = :u"), {"u": user.id})
            await s.commit()

    async def _claim(self, s: AsyncSession, owner: uuid.UUID, key: str) -> object:
        return await idempotency.claim(
            s, user_id=owner, key=key, method="POST", path="/p", hash_="h" * 64
        )

    @pytest.mark.parametrize("first_commits", [True, False])
    async def test_duplicate_waits_for_the_first(
        self, engine: AsyncEngine, owner: uuid.UUID, first_commits: bool
    ) -> None:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        key = str(uuid.uuid4())
        async with maker() as first, maker() as second:
            assert await self._claim(first, owner, key) is None  # the first takes the key
            waiting = asyncio.create_task(self._claim(second, owner, key))
            await asyncio.sleep(0.3)
            assert not waiting.done(), "the duplicate must wait for the first transaction"
            if first_commits:
                await idempotency.store(first, user_id=owner, key=key, status=201, body={"n": 1})
                await first.commit()
            else:
                await first.rollback()
            row = await asyncio.wait_for(waiting, timeout=10)
            if first_commits:
                assert row is not None
                assert (row.response_status, row.response_body) == (201, {"n": 1})  # type: ignore[attr-defined]
            else:
                assert row is None  # the first gave up: the duplicate runs
            await second.rollback()
