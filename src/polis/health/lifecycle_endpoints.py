"""Health routes: the claim lifecycle (included by polis.health.endpoints under /health).

Every move goes through the transition table (polis.health.transitions): a refused move is
a 409 `invalid-transition` that writes nothing. Moves that re-adjudicate (a pended claim
approved, an appeal upheld) answer with the voided claim and the new claim that replaces it.
Decision 0025.
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response
from sqlalchemy import inspect
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db.session import DBSession
from polis.health import schemas
from polis.health.adjudication import (
    ReadjudicationOutcome,
    appeal_claim,
    claim_history,
    close_claim,
    decide_appeal,
    decide_pended_claim,
    void_claim,
)
from polis.health.auth import ClaimsDecide, ClaimsRead, ClaimsWrite
from polis.health.lifecycle_schemas import (
    AppealDecisionCreate,
    ClaimAppealCreate,
    ClaimDecisionCreate,
    ClaimHistory,
    ClaimLinks,
    ClaimTransition,
    ClaimVoidCreate,
    StatusChange,
)
from polis.health.service import claim as claim_service
from polis.platform.idempotency import IdempotencyKey
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

CLAIMS_PATH = "/api/v1/health/claims"  # polis.app.API_PREFIX + this router's mount
_PROBLEM: dict[str, Any] = {"model": Problem}
_MOVE_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _PROBLEM,
    404: _PROBLEM,
    409: _PROBLEM,
    422: {"model": ValidationProblem},
}


def _columns(obj: Any) -> dict[str, Any]:
    return {attr.key: getattr(obj, attr.key) for attr in inspect(obj).mapper.column_attrs}


async def _detail(session: AsyncSession, claim_id: uuid.UUID) -> schemas.ClaimDetail:
    """The claim as GET /claims/{id} shows it (read again after the move)."""
    view = await claim_service.get(session, claim_id)
    return schemas.ClaimDetail(
        **schemas.Claim.model_validate(
            {
                **_columns(view.claim),
                "member_number": view.member_number,
                "provider_code": view.provider_code,
            }
        ).model_dump(),
        items=[
            schemas.ClaimItem.model_validate(
                {**_columns(item), "trace": item.adjudication_trace or []}
            )
            for item in view.items
        ],
    )


async def _transition(
    session: AsyncSession,
    claim_id: uuid.UUID,
    previous_status: str,
    readjudicated: ReadjudicationOutcome | None = None,
) -> ClaimTransition:
    replacement_id = readjudicated.replacement.claim_id if readjudicated else None
    return ClaimTransition(
        previous_status=previous_status,
        claim=await _detail(session, claim_id),
        replacement=await _detail(session, replacement_id) if replacement_id else None,
        links=ClaimLinks(
            claim=f"{CLAIMS_PATH}/{claim_id}",
            history=f"{CLAIMS_PATH}/{claim_id}/history",
            replacement=f"{CLAIMS_PATH}/{replacement_id}" if replacement_id else None,
        ),
    )


@router.post(
    "/claims/{claim_id}/decision",
    response_model=ClaimTransition,
    responses=_MOVE_ERRORS,
)
async def decide_claim(
    claim_id: uuid.UUID,
    body: ClaimDecisionCreate,
    principal: ClaimsDecide,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Decide a claim pended for a person (`review_amount`, `documents_required`, or by
    staff). `denied`: the claim is denied, nothing moves. `approved`: the claim is voided and
    re-adjudicated as a new claim (in `replacement`) without the pend-for-a-person rules; a
    claim still lacking its documents is a 422 `documents-missing`. A claim that is not
    pended is a 409 `invalid-transition`; one waiting for funds a 409 `claim-not-in-review`."""
    outcome = await decide_pended_claim(
        session, claim_id, body.decision, body.notes or "", principal.user_id
    )
    result = await _transition(session, claim_id, "pended", outcome.readjudicated)
    return await idem.respond(session, result, status_code=200)


@router.post(
    "/claims/{claim_id}/void",
    response_model=ClaimTransition,
    responses=_MOVE_ERRORS,
)
async def void(
    claim_id: uuid.UUID,
    body: ClaimVoidCreate,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Void an unpaid claim: its accumulator moves are reversed and its ASO draw returned to
    the funds it came from, to the rupiah. Paid, payment-pending, closed or voided: 409."""
    outcome = await void_claim(session, claim_id, reason=body.reason, user_id=principal.user_id)
    result = await _transition(session, claim_id, outcome.previous_status)
    return await idem.respond(session, result, status_code=200)


@router.post(
    "/claims/{claim_id}/appeal",
    response_model=ClaimTransition,
    responses=_MOVE_ERRORS,
)
async def appeal(
    claim_id: uuid.UUID,
    body: ClaimAppealCreate,
    principal: ClaimsWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Appeal a decided claim (approved, partially_approved or denied -> appealed); its
    amounts and accumulator moves stand until the appeal is decided."""
    outcome = await appeal_claim(session, claim_id, reason=body.reason, user_id=principal.user_id)
    result = await _transition(session, claim_id, outcome.previous_status)
    return await idem.respond(session, result, status_code=200)


@router.post(
    "/claims/{claim_id}/appeal/decision",
    response_model=ClaimTransition,
    responses=_MOVE_ERRORS,
)
async def decide_claim_appeal(
    claim_id: uuid.UUID,
    body: AppealDecisionCreate,
    principal: ClaimsDecide,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """`upheld`: the claim is voided (moves reversed) and re-adjudicated as a new claim (in
    `replacement`) against today's plan and accumulators. `rejected`: the claim returns to
    the decided status it had before the appeal; nothing moves."""
    outcome = await decide_appeal(
        session, claim_id, body.decision, body.notes or "", principal.user_id
    )
    result = await _transition(session, claim_id, outcome.previous_status, outcome.readjudicated)
    return await idem.respond(session, result, status_code=200)


@router.post(
    "/claims/{claim_id}/close",
    response_model=ClaimTransition,
    responses=_MOVE_ERRORS,
)
async def close(
    claim_id: uuid.UUID, principal: ClaimsWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Close a finished claim: paid or denied -> closed (terminal)."""
    outcome = await close_claim(session, claim_id, principal.user_id)
    result = await _transition(session, claim_id, outcome.previous_status)
    return await idem.respond(session, result, status_code=200)


@router.get(
    "/claims/{claim_id}/history",
    response_model=ClaimHistory,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def history(claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession) -> ClaimHistory:
    """The claim's status changes from the audit trail, oldest first: who (the user, their
    role, the request), when, from and to. The first is the submission (from null)."""
    changes = await claim_history(session, claim_id)
    view = await claim_service.get(session, claim_id)
    return ClaimHistory(
        claim_id=view.claim.id,
        claim_number=view.claim.claim_number,
        status=view.claim.status,
        changes=[StatusChange.model_validate(c) for c in changes],
    )
