"""Idempotency-Key for POSTs that create things (decision 0042).

    @router.post("/iam/users", status_code=201, response_model=User)
    async def create_user(auth: UsersWrite, session: DBSession, idem: IdempotencyKey, ...):
        user = await user_service.create_user(session, ...)
        return await idem.respond(session, User.model_validate(user), status_code=201)

The dependency takes the key's row first, in the request transaction:
`INSERT ... ON CONFLICT (user_id, key) DO UPDATE ... WHERE expires_at <= now()`, so a
concurrent duplicate waits on the row until the first request commits (then replays its
response) or rolls back (then runs itself). An expired key is taken over. A live key with the
same method, path and body replays the stored status and body with `Idempotent-Replayed: true`;
with a different request it is a 422 problem. `respond` stores the response in the same
transaction; a request that fails rolls back the row too, so a retry runs afresh.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import Depends, Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.responses import Response

from polis.db import raw
from polis.db.raw import Statement
from polis.db.session import DBSession
from polis.iam.auth import Principal, authenticate
from polis.iam.models import IdempotencyKey as KeyRow
from polis.platform.errors import BadRequest, BusinessRuleError, Conflict

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"
TTL = timedelta(hours=24)


class IdempotentReplay(Exception):
    """Raised by the dependency to answer with a stored response (see `replay_handler`)."""

    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class IdempotencyKeyMismatch(BusinessRuleError):
    """The key was used for a different request."""

    type_ = "idempotency-key-mismatch"
    title = "Idempotency Key Reused"


class IdempotencyKeyMissing(BadRequest):
    """The route requires an Idempotency-Key header."""

    type_ = "idempotency-key-missing"
    title = "Idempotency Key Required"


def request_hash(method: str, path: str, query: str, body: bytes) -> str:
    """SHA-256 of method, path, query and the body (canonical JSON when it parses)."""
    try:
        canonical = json.dumps(
            json.loads(body), sort_keys=True, separators=(",", ":"), ensure_ascii=False
        ).encode()
    except (ValueError, UnicodeDecodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode()):
        digest.update(part + b"\n")
    digest.update(canonical)
    return digest.hexdigest()


# Built once and sent by polis.db.raw (decisions 0071 and 0073): taking a key and storing
# the answer are two statements of every POST that creates.
# INSERT the key, or take over an expired one; RETURNING the key when taken.
_TAKE = Statement(
    """
    INSERT INTO iam.idempotency_keys (user_id, key, method, path, request_hash,
        response_status, response_body, created_at, expires_at)
    VALUES (:user_id, :key, :method, :path, :request_hash, NULL, NULL, :now, :expires_at)
    ON CONFLICT (user_id, key) DO UPDATE SET
        method = excluded.method, path = excluded.path, request_hash = excluded.request_hash,
        response_status = NULL, response_body = NULL, created_at = excluded.created_at,
        expires_at = excluded.expires_at
    WHERE idempotency_keys.expires_at <= :now
    RETURNING key
    """
)

# The response as JSON text, stored as it was sent (no second encoding).
_STORE = Statement(
    "UPDATE iam.idempotency_keys SET response_status = :status,"
    " response_body = CAST(CAST(:body AS text) AS jsonb)"
    " WHERE user_id = :user_id AND key = :key"
)


async def claim(
    session: AsyncSession,
    *,
    user_id: uuid.UUID,
    key: str,
    method: str,
    path: str,
    hash_: str,
    now: datetime | None = None,
) -> KeyRow | None:
    """Take the key for this request: None when taken (go ahead), else the existing row."""
    now = now or datetime.now(UTC)
    params = {
        "user_id": user_id,
        "key": key,
        "method": method,
        "path": path,
        "request_hash": hash_,
        "now": now,
        "expires_at": now + TTL,
    }
    if await raw.fetchval(session, _TAKE, params) is not None:
        return None
    existing = select(KeyRow).where(KeyRow.user_id == user_id, KeyRow.key == key)
    return (await session.execute(existing.execution_options(populate_existing=True))).scalar_one()


async def store(
    session: AsyncSession, *, user_id: uuid.UUID, key: str, status: int, body: Any
) -> None:
    """Record the response of the request that holds the key (`body`: JSON-able data, or
    the JSON text itself as bytes)."""
    text_ = body.decode() if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False)
    await raw.execute(
        session, _STORE, {"user_id": user_id, "key": key, "status": status, "body": text_}
    )


async def purge_expired(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete expired keys (for a periodic job); returns how many."""
    from sqlalchemy import delete

    result = await session.execute(
        delete(KeyRow).where(KeyRow.expires_at <= (now or datetime.now(UTC)))
    )
    return int(getattr(result, "rowcount", 0) or 0)


@dataclass
class Idempotency:
    """The key of this request (None without the header) and how to answer."""

    key: str | None
    user_id: uuid.UUID

    async def respond(
        self, session: AsyncSession, content: Any, *, status_code: int = 201
    ) -> Response:
        """The JSON response, stored under the key (when there is one) for replays.

        A pydantic model is encoded once, by pydantic (`model_dump_json`, by alias as
        FastAPI would), and the same text is sent and stored; other content goes through
        FastAPI's `jsonable_encoder`."""
        if isinstance(content, BaseModel):
            body = content.model_dump_json(by_alias=True).encode()
        else:
            body = bytes(JSONResponse(jsonable_encoder(content)).body)
        if self.key is not None:
            await store(session, user_id=self.user_id, key=self.key, status=status_code, body=body)
        return Response(body, status_code=status_code, media_type="application/json")


class IdempotencyDependency:
    """Reads the header and takes the key; `required` makes a missing key a 400."""

    def __init__(self, *, required: bool) -> None:
        self.required = required

    async def __call__(
        self,
        request: Request,
        session: DBSession,
        principal: Annotated[Principal, Depends(authenticate)],
        key: Annotated[
            str | None,
            Header(
                alias=HEADER,
                min_length=1,
                max_length=255,
                pattern=r"^[\x21-\x7e]+$",
                description="A unique value per intended operation (a UUID); a retry with "
                "the same key and body replays the first response",
            ),
        ] = None,
    ) -> Idempotency:
        """Take the key or replay / refuse."""
        if key is None:
            if self.required:
                raise IdempotencyKeyMissing(f"This request needs an {HEADER} header.")
            return Idempotency(None, principal.user_id)
        hash_ = request_hash(
            request.method, request.url.path, request.url.query, await request.body()
        )
        row = await claim(
            session,
            user_id=principal.user_id,
            key=key,
            method=request.method,
            path=request.url.path,
            hash_=hash_,
        )
        if row is None:
            return Idempotency(key, principal.user_id)
        if (row.method, row.path, row.request_hash) != (request.method, request.url.path, hash_):
            raise IdempotencyKeyMismatch(
                f"The {HEADER} was already used for a different request; use a new key."
            )
        if row.response_status is None:
            # The first request holds the key but stored no response (it did not call respond).
            raise Conflict(
                "A request with this key is still in progress.", type_="idempotency-in-progress"
            )
        raise IdempotentReplay(row.response_status, row.response_body)


async def replay_handler(request: Request, exc: Exception) -> Response:
    """Answer with the stored response of an idempotent request."""
    assert isinstance(exc, IdempotentReplay)
    return JSONResponse(exc.body, status_code=exc.status, headers={REPLAYED_HEADER: "true"})


IdempotencyKey = Annotated[Idempotency, Depends(IdempotencyDependency(required=False))]
RequiredIdempotencyKey = Annotated[Idempotency, Depends(IdempotencyDependency(required=True))]
