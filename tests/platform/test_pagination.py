"""Cursor pagination over iam.users: every row once, in order, across pages."""

from __future__ import annotations

import base64
import json
import uuid

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from polis.platform.errors import BadRequest
from polis.platform.pagination import (
    Keyset,
    PageParams,
    decode_cursor,
    encode_cursor,
    paginate,
)
from tests.iam.factories import create_user, signed_in

BY_CREATED = Keyset("t.created", User.created_at, User.id)
BY_NAME_DESC = Keyset("t.name_desc", User.username, User.id, descending=True)
LIVE = select(User).where(User.deleted_at.is_(None))


async def _walk(session: AsyncSession, keyset: Keyset, limit: int) -> list[User]:
    seen: list[User] = []
    cursor = None
    for _ in range(1000):
        items, cursor = await paginate(session, LIVE, keyset, PageParams(cursor, limit))
        assert len(items) <= limit
        seen.extend(items)
        if cursor is None:
            return seen
    raise AssertionError("pagination did not end")


@pytest.fixture
async def users(session: AsyncSession) -> list[User]:
    # All created in one transaction: created_at ties everywhere, only the id breaks them.
    return [await create_user(session, role="AGENT") for _ in range(23)]


@pytest.mark.parametrize("limit", [1, 4, 7, 23, 50])
async def test_walks_every_row_once_in_order(
    session: AsyncSession, users: list[User], limit: int
) -> None:
    seen = await _walk(session, BY_CREATED, limit)
    keys = [(u.created_at, u.id) for u in seen]
    assert keys == sorted(keys)
    assert len(set(keys)) == len(keys)
    everyone = set((await session.scalars(select(User.id).where(User.deleted_at.is_(None)))).all())
    assert {u.id for u in seen} == everyone


async def test_descending(session: AsyncSession, users: list[User]) -> None:
    seen = await _walk(session, BY_NAME_DESC, 5)
    keys = [(u.username, u.id) for u in seen]
    assert keys == sorted(keys, reverse=True)


async def test_rows_inserted_behind_the_cursor_do_not_shift_pages(
    session: AsyncSession, users: list[User]
) -> None:
    first, cursor = await paginate(session, LIVE, BY_NAME_DESC, PageParams(None, 5))
    # A name that sorts first in descending order lands on a page already read.
    await create_user(session, username="zzzz-" + uuid.uuid4().hex)
    second, _ = await paginate(session, LIVE, BY_NAME_DESC, PageParams(cursor, 5))
    assert second[0].username < first[-1].username
    assert not {u.id for u in first} & {u.id for u in second}


def test_cursor_round_trip_and_opacity() -> None:
    from datetime import UTC, datetime
    from decimal import Decimal

    ident = uuid.uuid4()
    for value in (datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC), "ก-name", 42, Decimal("1.50")):
        cursor = encode_cursor(BY_CREATED, value, ident)
        assert "=" not in cursor and "+" not in cursor and "/" not in cursor
        assert decode_cursor(BY_CREATED, cursor) == (value, ident)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 !",
        base64.urlsafe_b64encode(b"[1,2]").decode(),
        base64.urlsafe_b64encode(json.dumps(["t.other", ["v", 1], ["u", "x"]]).encode()).decode(),
        encode_cursor(BY_NAME_DESC, "a", uuid.UUID(int=1)),  # another ordering's cursor
    ],
)
def test_bad_cursors_are_400(cursor: str) -> None:
    with pytest.raises(BadRequest) as err:
        decode_cursor(BY_CREATED, cursor)
    assert err.value.status_code == 400


class TestUsersEndpoint:
    async def test_pages_through_the_api(
        self, client: AsyncClient, session: AsyncSession, users: list[User]
    ) -> None:
        _, headers = await signed_in(client, session, role="AUDITOR")
        ids: list[str] = []
        params: dict[str, str | int] = {"limit": 4, "sort": "username"}
        while True:
            response = await client.get("/api/v1/iam/users", params=params, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 4
            ids.extend(item["id"] for item in page["items"])
            if page["next_cursor"] is None:
                break
            params["cursor"] = page["next_cursor"]
        expected = (
            await session.scalars(
                text(
                    "select id::text from iam.users where deleted_at is null order by username, id"
                )
            )
        ).all()
        assert ids == list(expected)

    async def test_bad_cursor_and_limit(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="AUDITOR")
        response = await client.get(
            "/api/v1/iam/users", params={"cursor": "garbage"}, headers=headers
        )
        assert response.status_code == 400
        assert response.json()["type"] == "urn:polis:problem:invalid-cursor"
        response = await client.get("/api/v1/iam/users", params={"limit": 0}, headers=headers)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "query.limit"

    async def test_cursor_of_another_sort_is_refused(
        self, client: AsyncClient, session: AsyncSession, users: list[User]
    ) -> None:
        _, headers = await signed_in(client, session, role="AUDITOR")
        page = (
            await client.get(
                "/api/v1/iam/users", params={"limit": 2, "sort": "username"}, headers=headers
            )
        ).json()
        response = await client.get(
            "/api/v1/iam/users",
            params={"limit": 2, "sort": "created_at", "cursor": page["next_cursor"]},
            headers=headers,
        )
        assert response.status_code == 400
