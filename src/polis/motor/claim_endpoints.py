"""Motor claim routes (issue 5): first notice of loss, fraud re-scoring, assignment, the
workflow moves this module owns (INVESTIGATING, REJECTED, CLOSED), reading, history and the
customer dashboard; see polis.motor.claims for the rules (decision 0050).

A claim's representation carries `ETag: "<version>"`. PATCH needs it back as If-Match
(missing: 428, stale: 409); the workflow POSTs take it optionally (stale: 409).
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from polis.db.session import DBSession
from polis.motor import claim_rules, claims
from polis.motor.auth import ClaimsRead, ClaimsWrite, CustomersRead
from polis.motor.claim_schemas import (
    Assignment,
    Claim,
    ClaimCreate,
    ClaimHistory,
    ClaimStatus,
    ClaimType,
    ClaimUpdate,
    Closure,
    CustomerDashboard,
    DashboardPolicy,
    Investigation,
    Rejection,
    StatusChange,
)
from polis.motor.customer_endpoints import IfMatch, etag, if_match_version
from polis.motor.models import MotorClaim, MotorPolicy
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Page, PageQuery
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor claims"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
_MOVE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _PROBLEM,
    403: _PROBLEM,
    404: _PROBLEM,
    409: _PROBLEM,
    422: _INVALID,
}


def claim_out(claim: MotorClaim, policy: MotorPolicy) -> Claim:
    """The response of a motor.claims row (NULL seed defaults read as their defaults)."""
    fields = {
        name: getattr(claim, name)
        for name in Claim.model_fields
        if name not in ("policy_number", "heads_of_loss")
    }
    fields.update(
        policy_number=policy.policy_number,
        status=claim.status or claim_rules.REPORTED,
        fraud_score=claim.fraud_score or 0,
        fraud_flags=claim.fraud_flags or [],
        requires_investigation=bool(claim.requires_investigation),
        version=claim.version or 0,
        heads_of_loss=claims.claim_heads(claim, policy),
    )
    return Claim.model_validate(fields)


async def _respond(
    idem: Any, session: DBSession, claim: MotorClaim, policy: MotorPolicy, code: int
) -> Response:
    response: JSONResponse = await idem.respond(session, claim_out(claim, policy), status_code=code)
    response.headers["ETag"] = etag(claim.version)
    return response


@router.post(
    "/claims",
    status_code=status.HTTP_201_CREATED,
    response_model=Claim,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def report_claim(
    body: ClaimCreate, principal: ClaimsWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """First notice of loss against an ACTIVE policy whose period covers the incident's
    Bangkok date and whose type covers a claimed head of loss (CLASS_3: no own damage, so
    no own theft; CMI: bodily injury from an accident only). The claim is REPORTED with a
    number MCL-YYYYMMDD-XXXXXXXX, scored for fraud, and INVESTIGATING (sub_status
    FRAUD_REVIEW, requires_investigation) when the score reaches
    MOTOR_FRAUD_INVESTIGATION_THRESHOLD. Send an Idempotency-Key: a retry replays the
    first answer."""
    claim, policy = await claims.report_claim(session, body, user_id=principal.user_id)
    return await _respond(idem, session, claim, policy, 201)


@router.get("/claims", response_model=Page[Claim], responses={400: _PROBLEM, 403: _PROBLEM})
async def list_claims(
    principal: ClaimsRead,
    session: DBSession,
    page: PageQuery,
    status: Annotated[ClaimStatus | None, Query()] = None,
    policy_number: Annotated[str | None, Query(min_length=1, max_length=50)] = None,
    customer_id: uuid.UUID | None = None,
    adjuster_id: uuid.UUID | None = None,
    surveyor_id: uuid.UUID | None = None,
    claim_type: Annotated[ClaimType | None, Query()] = None,
    requires_investigation: bool | None = None,
    reported_from: Annotated[
        date | None, Query(description="Reported on or after this Bangkok date")
    ] = None,
    reported_to: Annotated[
        date | None, Query(description="Reported on or before this Bangkok date")
    ] = None,
) -> Page[Claim]:
    """Claims, most recently reported first (cursor paging), filtered."""
    where = claims.ClaimFilter(
        status=status,
        policy_number=policy_number,
        customer_id=customer_id,
        adjuster_id=adjuster_id,
        surveyor_id=surveyor_id,
        claim_type=claim_type,
        requires_investigation=requires_investigation,
        reported_from=reported_from,
        reported_to=reported_to,
    )
    items, cursor = await claims.list_claims(session, where, page)
    return Page[Claim](items=[claim_out(c, p) for c, p in items], next_cursor=cursor)


@router.get("/claims/{claim_id}", response_model=Claim, responses={403: _PROBLEM, 404: _PROBLEM})
async def get_claim(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession, response: Response
) -> Claim:
    """One claim (ETag: its version)."""
    claim, policy = await claims.claim_with_policy(session, claim_id)
    response.headers["ETag"] = etag(claim.version)
    return claim_out(claim, policy)


@router.patch("/claims/{claim_id}", response_model=Claim, responses=_MOVE_ERRORS | {428: _PROBLEM})
async def update_claim(
    claim_id: uuid.UUID,
    body: ClaimUpdate,
    principal: ClaimsWrite,
    session: DBSession,
    response: Response,
    if_match: IfMatch = None,
) -> Claim:
    """Correct the facts of an open claim (descriptions, location, other party, police
    report, estimate, repair shop, hospital). Needs If-Match with the version read: 428
    without, 409 stale-version when it changed. Still covered and within MAX_CLAIM_AMOUNT,
    or 422; a change of a description re-indexes the claim for search."""
    expected = if_match_version(if_match, required=True)
    assert expected is not None
    claim, policy = await claims.update_claim(
        session, claim_id, body, user_id=principal.user_id, expected_version=expected
    )
    response.headers["ETag"] = etag(claim.version)
    return claim_out(claim, policy)


@router.get(
    "/claims/{claim_id}/history",
    response_model=ClaimHistory,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def claim_history(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> ClaimHistory:
    """The claim's status changes from the audit trail, oldest first: who (user, role,
    request), when, from and to, the sub_status and the reason given. The first one is the
    first notice (from null)."""
    changes = await claims.claim_history(session, claim_id)
    claim = await claims.get_claim(session, claim_id)
    return ClaimHistory(
        claim_id=claim.id,
        claim_number=claim.claim_number,
        status=claim.status or claim_rules.REPORTED,
        changes=[StatusChange.model_validate(c) for c in changes],
    )


@router.post("/claims/{claim_id}/fraud-score", response_model=Claim, responses=_MOVE_ERRORS)
async def rescore_claim(
    claim_id: uuid.UUID, principal: ClaimsWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Score an open claim for fraud again (after a repair shop or the other party is
    named, a late police report...): fraud_score and fraud_flags replaced; at or above the
    threshold requires_investigation is set and the claim moves to INVESTIGATING where the
    transition table allows. 409 claim-not-open for a REJECTED, SETTLED or CLOSED claim."""
    claim, policy, _ = await claims.rescore_claim(session, claim_id, user_id=principal.user_id)
    return await _respond(idem, session, claim, policy, 200)


@router.post("/claims/{claim_id}/assignment", response_model=Claim, responses=_MOVE_ERRORS)
async def assign_claim(
    claim_id: uuid.UUID,
    body: Assignment,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response:
    """Assign the adjuster and/or surveyor (ACTIVE users of roles ADJUSTER and SURVEYOR, 422
    otherwise): REPORTED -> ASSIGNED; in the other open statuses only the people change."""
    claim = await claims.assign_claim(
        session,
        claim_id,
        body,
        user_id=principal.user_id,
        expected_version=if_match_version(if_match, required=False),
    )
    policy = await session.get(MotorPolicy, claim.policy_id)
    assert policy is not None
    return await _respond(idem, session, claim, policy, 200)


async def _move(
    session: DBSession,
    idem: Any,
    claim_id: uuid.UUID,
    target: str,
    *,
    user_id: uuid.UUID,
    reason: str,
    sub_status: str | None,
    if_match: str | None,
) -> Response:
    claim = await claims.move_claim(
        session,
        claim_id,
        target,
        user_id=user_id,
        reason=reason,
        sub_status=sub_status,
        expected_version=if_match_version(if_match, required=False),
    )
    policy = await session.get(MotorPolicy, claim.policy_id)
    assert policy is not None
    return await _respond(idem, session, claim, policy, 200)


@router.post("/claims/{claim_id}/investigation", response_model=Claim, responses=_MOVE_ERRORS)
async def investigate_claim(
    claim_id: uuid.UUID,
    body: Investigation,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response:
    """Open an investigation: REPORTED, ASSIGNED or ASSESSED -> INVESTIGATING (409
    invalid-transition from anywhere else)."""
    return await _move(
        session,
        idem,
        claim_id,
        claim_rules.INVESTIGATING,
        user_id=principal.user_id,
        reason=body.reason,
        sub_status=body.sub_status,
        if_match=if_match,
    )


@router.post("/claims/{claim_id}/rejection", response_model=Claim, responses=_MOVE_ERRORS)
async def reject_claim(
    claim_id: uuid.UUID,
    body: Rejection,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response:
    """Reject: REPORTED, ASSIGNED, INVESTIGATING or ASSESSED -> REJECTED (409
    invalid-transition from APPROVED, SETTLED, REJECTED, CLOSED)."""
    return await _move(
        session,
        idem,
        claim_id,
        claim_rules.REJECTED,
        user_id=principal.user_id,
        reason=body.reason,
        sub_status=body.sub_status,
        if_match=if_match,
    )


@router.post("/claims/{claim_id}/closure", response_model=Claim, responses=_MOVE_ERRORS)
async def close_claim(
    claim_id: uuid.UUID,
    body: Closure,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
    if_match: IfMatch = None,
) -> Response:
    """Close the file: SETTLED or REJECTED -> CLOSED (terminal; closure_date set)."""
    return await _move(
        session,
        idem,
        claim_id,
        claim_rules.CLOSED,
        user_id=principal.user_id,
        reason=body.notes,
        sub_status=body.sub_status,
        if_match=if_match,
    )


@router.get(
    "/customers/{customer_id}/dashboard",
    response_model=CustomerDashboard,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def customer_dashboard(
    customer_id: uuid.UUID, principal: CustomersRead, session: DBSession
) -> CustomerDashboard:
    """The seed's customer policy dashboard: the customer's policies, newest start first,
    with the vehicle, claim_count and total_claims_settled of each."""
    rows = await claims.customer_dashboard(session, customer_id)
    return CustomerDashboard(
        customer_id=customer_id, policies=[DashboardPolicy.model_validate(r) for r in rows]
    )
