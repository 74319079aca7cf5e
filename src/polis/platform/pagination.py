"""Cursor (keyset) pagination: an opaque base64url cursor over (sort value, id).

A list endpoint declares a `Keyset` (the sort column and the id column), takes
`PageParams` (cursor, limit) and returns `Page[T]`:

    USERS_BY_CREATED = Keyset("created_at", User.created_at, User.id)

    items, next_cursor = await paginate(session, select(User), USERS_BY_CREATED, params)

`apply_keyset` adds `WHERE (sort, id) > (:v, :id) ORDER BY sort, id LIMIT n + 1` (or `<` and
DESC); the extra row only tells whether another page exists. The sort column must be NOT NULL
(or wrapped in coalesce()): a row comparison with NULL is never true, so such rows would be
skipped. The cursor names its keyset, so a cursor from one ordering is refused by another.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute
from sqlalchemy.sql.elements import ColumnElement

from polis.platform.errors import BadRequest

T = TypeVar("T")
Column = ColumnElement[Any] | QueryableAttribute[Any]

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class InvalidCursor(BadRequest):
    """The cursor was not produced by this ordering (or was tampered with)."""

    type_ = "invalid-cursor"
    title = "Invalid Cursor"


class Page(BaseModel, Generic[T]):
    """One page of a list; pass `next_cursor` back as `cursor` for the next page."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page"
    )


@dataclass(frozen=True)
class PageParams:
    """The cursor and page size of a list request."""

    cursor: str | None = None
    limit: int = DEFAULT_LIMIT


def _page_params(
    cursor: Annotated[
        str | None, Query(max_length=512, description="next_cursor of the previous page")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size")] = DEFAULT_LIMIT,
) -> PageParams:
    return PageParams(cursor=cursor, limit=limit)


PageQuery = Annotated[PageParams, Depends(_page_params)]


@dataclass(frozen=True)
class Keyset:
    """An ordering: a name (kept in the cursor), the sort column and the unique id column."""

    name: str
    sort: Column
    id: Column
    descending: bool = False

    def key_of(self, item: Any) -> tuple[Any, Any]:
        """(sort value, id) of a result item: an ORM object or a row with those keys."""
        return _attr(item, self.sort), _attr(item, self.id)


def _attr(item: Any, column: Column) -> Any:
    key = getattr(column, "key", None) or getattr(column, "name", None)
    if key is None:
        raise TypeError(f"cannot read {column!r} from a result; give the column a label")
    mapping = getattr(item, "_mapping", None)
    if mapping is not None and key in mapping:
        return mapping[key]
    return getattr(item, key)


# Values in a cursor are tagged so that they decode to the same Python type.
def _tag(value: Any) -> list[Any]:
    if isinstance(value, datetime):
        return ["dt", value.isoformat()]
    if isinstance(value, date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, uuid.UUID):
        return ["u", str(value)]
    if isinstance(value, bool) or value is None:
        return ["b", value]
    if isinstance(value, int | float | str):
        return ["v", value]
    raise TypeError(f"cannot put {type(value).__name__} in a cursor")


def _untag(tagged: Any) -> Any:
    kind, value = tagged
    if kind == "dt":
        return datetime.fromisoformat(value)
    if kind == "d":
        return date.fromisoformat(value)
    if kind == "n":
        return Decimal(value)
    if kind == "u":
        return uuid.UUID(value)
    if kind in ("b", "v"):
        return value
    raise ValueError(kind)


def encode_cursor(keyset: Keyset, sort_value: Any, id_value: Any) -> str:
    """The opaque cursor that resumes after (sort_value, id_value)."""
    payload = json.dumps([keyset.name, _tag(sort_value), _tag(id_value)], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).rstrip(b"=").decode()


def decode_cursor(keyset: Keyset, cursor: str) -> tuple[Any, Any]:
    """(sort value, id) from a cursor of this keyset; InvalidCursor (400) otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        name, sort_value, id_value = json.loads(raw)
        if name != keyset.name:
            raise ValueError(name)
        return _untag(sort_value), _untag(id_value)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise InvalidCursor("The cursor is not valid for this list") from None


def apply_keyset(stmt: Select[Any], keyset: Keyset, cursor: str | None, limit: int) -> Select[Any]:
    """Order `stmt` by (sort, id), start after the cursor, fetch limit + 1 rows."""
    if cursor:
        sort_value, id_value = decode_cursor(keyset, cursor)
        key = tuple_(keyset.sort, keyset.id)
        after = tuple_(literal(sort_value, keyset.sort.type), literal(id_value, keyset.id.type))
        stmt = stmt.where(key < after if keyset.descending else key > after)
    if keyset.descending:
        stmt = stmt.order_by(keyset.sort.desc(), keyset.id.desc())
    else:
        stmt = stmt.order_by(keyset.sort.asc(), keyset.id.asc())
    return stmt.limit(limit + 1)


def split_page(items: Sequence[T], keyset: Keyset, limit: int) -> tuple[list[T], str | None]:
    """The first `limit` items and the cursor of the next page (None when there is none)."""
    page = list(items[:limit])
    if len(items) <= limit or not page:
        return page, None
    return page, encode_cursor(keyset, *keyset.key_of(page[-1]))


async def paginate(
    session: AsyncSession, stmt: Select[Any], keyset: Keyset, params: PageParams
) -> tuple[list[Any], str | None]:
    """Run `stmt` for one page: (items, next_cursor). Single-entity selects give objects."""
    result = await session.execute(apply_keyset(stmt, keyset, params.cursor, params.limit))
    descriptions = stmt.column_descriptions
    single_entity = len(descriptions) == 1 and descriptions[0]["expr"] is descriptions[0]["entity"]
    rows: Sequence[Any] = result.scalars().all() if single_entity else result.all()
    return split_page(rows, keyset, params.limit)
