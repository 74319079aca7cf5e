"""Motor claim routes (issue 5): assessments, their QA review and send-back, and approval.
The rules are in `polis.motor.claim_assessments` (decision 0051)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response, status

from polis.db.session import DBSession
from polis.iam.auth import Principal, require
from polis.motor import claim_assessments, claims
from polis.motor.auth import ClaimsApprove, ClaimsRead
from polis.motor.claim_assessment_schemas import (
    ApprovalCreate,
    ApprovalResult,
    Assessment,
    AssessmentCreate,
    AssessmentResult,
    ClaimState,
    QaReview,
    SendBack,
)
from polis.motor.models import ClaimAssessment
from polis.platform.idempotency import IdempotencyKey
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor claims"])

# Surveyors and adjusters record surveys and damage assessments (polis.iam.permissions);
# polis.motor.auth has no alias for it yet.
SurveysWrite = Annotated[Principal, Depends(require("motor.surveys:write"))]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def assessment_out(row: ClaimAssessment) -> Assessment:
    """The response of a claim_assessments row (NULL seed defaults read as their defaults)."""
    return Assessment.model_validate(
        {
            **{c: getattr(row, c) for c in Assessment.model_fields},
            "total_loss_assessment": bool(row.total_loss_assessment),
            "qa_reviewed": bool(row.qa_reviewed),
            "version": row.version or 1,
        }
    )


@router.post(
    "/claims/{claim_id}/assessments",
    status_code=status.HTTP_201_CREATED,
    response_model=AssessmentResult,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_assessment(
    claim_id: uuid.UUID,
    body: AssessmentCreate,
    principal: SurveysWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Record an assessment. INITIAL (first one) from ASSIGNED or INVESTIGATING; DETAILED and
    FINAL from ASSIGNED, INVESTIGATING or ASSESSED (none after a FINAL); RE_ASSESSMENT from
    INVESTIGATING or ASSESSED after an earlier one. From ASSIGNED or INVESTIGATING it moves the
    claim to ASSESSED unless it recommends INVESTIGATE or REQUEST_MORE_INFO;
    recommended_amount becomes the claim's assessed_amount."""
    row, claim = await claim_assessments.record_assessment(
        session, claim_id, body, user_id=principal.user_id, role=principal.role
    )
    result = AssessmentResult(assessment=assessment_out(row), claim=ClaimState.of(claim))
    return await idem.respond(session, result, status_code=201)


@router.get(
    "/claims/{claim_id}/assessments",
    response_model=list[Assessment],
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_assessments(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> list[Assessment]:
    """A claim's assessments, oldest first."""
    claim = await claims.get_claim(session, claim_id)
    return [assessment_out(r) for r in await claim_assessments.assessments_of(session, claim.id)]


@router.post(
    "/claims/{claim_id}/assessments/{assessment_id}/qa-review",
    response_model=Assessment,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def review_assessment(
    claim_id: uuid.UUID,
    assessment_id: uuid.UUID,
    body: QaReview,
    principal: SurveysWrite,
    session: DBSession,
) -> Assessment:
    """QA review of an assessment by a user other than its assessor (403), once (409)."""
    row = await claim_assessments.qa_review(
        session, claim_id, assessment_id, body.qa_notes, user_id=principal.user_id
    )
    return assessment_out(row)


@router.post(
    "/claims/{claim_id}/assessments/{assessment_id}/send-back",
    response_model=AssessmentResult,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def send_back_assessment(
    claim_id: uuid.UUID,
    assessment_id: uuid.UUID,
    body: SendBack,
    principal: SurveysWrite,
    session: DBSession,
) -> AssessmentResult:
    """Send an assessment back: the claim goes ASSESSED -> INVESTIGATING (sub_status
    RE_ASSESSMENT_REQUESTED) and waits for a RE_ASSESSMENT. Not by the assessor (403)."""
    row, claim = await claim_assessments.send_back(
        session, claim_id, assessment_id, body.reason, user_id=principal.user_id
    )
    return AssessmentResult(assessment=assessment_out(row), claim=ClaimState.of(claim))


@router.post(
    "/claims/{claim_id}/approval",
    response_model=ApprovalResult,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def approve_claim(
    claim_id: uuid.UUID, body: ApprovalCreate, principal: ClaimsApprove, session: DBSession
) -> ApprovalResult:
    """Approve an ASSESSED claim: ASSESSED -> APPROVED with approved_amount and
    approval_date. 403 `approval-authority` above the role's limit (naming the roles that
    could) or when the approver assessed the claim; 422 above MAX_CLAIM_AMOUNT."""
    claim, limit = await claim_assessments.approve(
        session,
        claim_id,
        body.approved_amount,
        body.notes,
        user_id=principal.user_id,
        role=principal.role,
    )
    return ApprovalResult(
        claim=ClaimState.of(claim),
        approved_by=principal.user_id,
        approver_role=principal.role,
        authority_limit=limit,
    )
