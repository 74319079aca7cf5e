"""Health routes: pre-authorisations (guarantee letters), included by polis.health.endpoints
under /health. Submit (provider), read, list, decide (reviewer); expiry is a command
(`polis health expire-authorizations`). Decision 0024."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from polis.db.session import DBSession
from polis.health import authorizations as service
from polis.health.auth import PreauthDecide, PreauthRead, PreauthSubmit
from polis.health.authorization_schemas import (
    Authorization,
    AuthorizationCreate,
    AuthorizationDecision,
    AuthorizationStatus,
)
from polis.health.models import Authorization as AuthorizationRow
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

AuthorizationNumber = Annotated[str, Path(min_length=1, max_length=50)]
FilterCode = Annotated[str | None, Query(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}

_NEWEST_FIRST = Keyset(
    "health.authorizations.created_at",
    AuthorizationRow.created_at,
    AuthorizationRow.id,
    descending=True,
)


def _body(view: service.AuthorizationView) -> Authorization:
    return Authorization.model_validate(view.fields())


@router.post(
    "/authorizations",
    status_code=status.HTTP_201_CREATED,
    response_model=Authorization,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_authorization(
    body: AuthorizationCreate,
    principal: PreauthSubmit,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Request a guarantee letter; it starts `pending` with a GL-YYYY-... number. Unknown
    member or provider: 404; no active coverage on valid_from, valid_to before valid_from or
    already past, bad amounts, an invalid ICD-10 code: 422 field by field, nothing written."""
    view = await service.create(session, body, service.today_jakarta())
    return await idem.respond(session, _body(view), status_code=201)


@router.get("/authorizations", response_model=Page[Authorization])
async def list_authorizations(
    principal: PreauthRead,
    session: DBSession,
    page: PageQuery,
    status: AuthorizationStatus | None = None,
    member_number: FilterCode = None,
    provider_code: FilterCode = None,
) -> Page[Authorization]:
    """List letters, newest first, one cursor page at a time; `status` filters on the
    status as of today (pending or approved past valid_to count as expired)."""
    today = service.today_jakarta()
    where = service.AuthorizationFilter(
        status=status, member_number=member_number, provider_code=provider_code
    )
    items, next_cursor = await paginate(
        session, service.statement(where, today), _NEWEST_FIRST, page
    )
    views = await service.views(session, items, today)
    return Page[Authorization](items=[_body(v) for v in views], next_cursor=next_cursor)


@router.get(
    "/authorizations/{authorization_number}",
    response_model=Authorization,
    responses={404: _PROBLEM},
)
async def get_authorization(
    authorization_number: AuthorizationNumber, principal: PreauthRead, session: DBSession
) -> Authorization:
    """One letter with what claims have used of it."""
    return _body(await service.get(session, authorization_number, service.today_jakarta()))


@router.post(
    "/authorizations/{authorization_number}/decision",
    response_model=Authorization,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def decide_authorization(
    authorization_number: AuthorizationNumber,
    body: AuthorizationDecision,
    principal: PreauthDecide,
    session: DBSession,
) -> Authorization:
    """Approve (approved_amount up to the requested amount; approved_days for inpatient
    care) or deny (decision_notes) a pending letter; anything else is a 409."""
    view = await service.decide(
        session, authorization_number, body, principal.user_id, service.today_jakarta()
    )
    return _body(view)
