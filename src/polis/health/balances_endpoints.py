"""Health routes: a member's eligibility and benefit balances (included by
polis.health.endpoints under /health; decision 0019)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Path, Query

from polis.db.session import DBSession, ReadSession
from polis.health import balances
from polis.health import balances_schemas as out
from polis.health.auth import AccumulatorsRead, MembersRead
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

JAKARTA = ZoneInfo("Asia/Jakarta")
MemberNumber = Annotated[str, Path(min_length=1, max_length=50)]
_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def _today() -> date:
    """Today in Jakarta: health business dates are local (DESIGN.md)."""
    return datetime.now(JAKARTA).date()


@router.get(
    "/members/{member_number}/eligibility",
    response_model=out.Eligibility,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def get_eligibility(
    member_number: MemberNumber,
    principal: MembersRead,
    session: DBSession,
    day: Annotated[
        date | None,
        Query(alias="date", description="The service date; today (Asia/Jakarta) if left out"),
    ] = None,
    provider_code: Annotated[
        str | None,
        Query(min_length=1, max_length=50, description="Also check this provider's contract"),
    ] = None,
    claim_type: Annotated[
        Literal["cashless", "reimbursement"],
        Query(description="The claim type judged against the provider's contract"),
    ] = "cashless",
) -> out.Eligibility:
    """Whether a claim on the date would pass adjudication's eligibility step (member,
    coverage and policy active; with provider_code, the provider's contract active and
    allowing the claim type), with every reason it would not, in the engine's codes."""
    return await balances.eligibility(
        session, member_number, day if day is not None else _today(), provider_code, claim_type
    )


@router.get(
    "/members/{member_number}/benefits",
    response_model=out.Benefits,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def get_benefits(
    member_number: MemberNumber,
    principal: AccumulatorsRead,
    session: ReadSession,
    year: Annotated[
        int | None,
        Query(
            ge=1900, le=9999, description="The benefit year; this year (Asia/Jakarta) if left out"
        ),
    ] = None,
) -> out.Benefits:
    """The member's limits, use and what remains in the year, per benefit and per plan
    (annual, deductible individual and family, lifetime, out of pocket), as adjudication
    keeps them in member.accumulator."""
    return await balances.benefits(
        session, member_number, year if year is not None else _today().year
    )
