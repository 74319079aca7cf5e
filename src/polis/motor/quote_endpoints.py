"""Motor routes: quotes and rate tables (included by polis.motor.endpoints under /motor;
decision 0036)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from polis.db.session import DBSession
from polis.motor import quotes
from polis.motor.auth import ConfigWrite, PoliciesRead, QuotesWrite
from polis.motor.rating_schemas import (
    Quote,
    QuoteCreate,
    RateTableCreate,
    RateTableDetail,
    RateTableOut,
    quote_out,
)
from polis.platform.idempotency import IdempotencyKey
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

QuoteNumber = Annotated[str, Path(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


@router.post(
    "/quotes",
    status_code=status.HTTP_201_CREATED,
    response_model=Quote,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_quote(
    body: QuoteCreate, principal: QuotesWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Price a CMI or voluntary (class 1/2/3, 2+/3+) quote and store it: the premium
    itemised as base_premium - discounts + fees (stamp duty, VAT) = total_premium."""
    quote = await quotes.create_quote(session, body, user_id=principal.user_id)
    return await idem.respond(session, quote_out(quote), status_code=201)


@router.get(
    "/quotes/{quote_number}",
    response_model=Quote,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def get_quote(
    quote_number: QuoteNumber, principal: PoliciesRead, session: DBSession
) -> Quote:
    """One quote with its breakdown; a QUOTED quote past expires_at reads EXPIRED."""
    quote = await quotes.get_quote(session, quote_number)
    return quote_out(quote, quotes.effective_status(quote))


@router.post(
    "/rate-tables",
    status_code=status.HTTP_201_CREATED,
    response_model=RateTableDetail,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_rate_table(
    body: RateTableCreate, principal: ConfigWrite, session: DBSession
) -> RateTableDetail:
    """Add a voluntary rate table version: quotes for policies starting on or after its
    effective_from use it, with no code change (earlier start dates keep the older one)."""
    row = await quotes.create_rate_table(session, body, user_id=principal.user_id)
    return RateTableDetail.model_validate(row)


@router.get("/rate-tables", response_model=list[RateTableOut], responses={403: _PROBLEM})
async def list_rate_tables(principal: PoliciesRead, session: DBSession) -> list[RateTableOut]:
    """Every voluntary rate table version, newest effective_from first (without data)."""
    return [RateTableOut.model_validate(r) for r in await quotes.list_rate_tables(session)]


@router.get(
    "/rate-tables/{version}",
    response_model=RateTableDetail,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def get_rate_table(
    version: Annotated[str, Path(min_length=1, max_length=20)],
    principal: PoliciesRead,
    session: DBSession,
) -> RateTableDetail:
    """One rate table version with its data."""
    return RateTableDetail.model_validate(await quotes.get_rate_table(session, version))
