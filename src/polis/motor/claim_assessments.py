"""Motor claim assessments, QA review, send-back and approval (issue 5 items 3 and 4;
decision 0051). Services only flush; the request's unit of work commits. Every status change
goes through `claims.transition` on the claim locked FOR UPDATE first.

- Record an assessment: `claim_settlement_rules.check_assessment` says whether the claim's
  status and earlier assessments accept its type; the first ready one from ASSIGNED or
  INVESTIGATING moves the claim to ASSESSED (assessment_date); each one with a
  recommended_amount sets claims.assessed_amount (the latest assessment prevails).
- QA review: once per assessment, by anyone but its assessor.
- Send back: ASSESSED -> INVESTIGATING (sub_status RE_ASSESSMENT_REQUESTED), by anyone but
  the assessor of the assessment sent back; the reason goes into that assessment's QA notes.
- Approve: ASSESSED -> APPROVED by a user with authority for the amount
  (`claim_rules.check_approval` over data/approval_limits.json) who assessed nothing on the
  claim; approved_amount <= MAX_CLAIM_AMOUNT.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_rules, claim_settlement_rules, claims
from polis.motor.claim_assessment_schemas import AssessmentCreate
from polis.motor.models import ClaimAssessment, MotorClaim
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, NotFound
from polis.reference.service import get_config

MAX_CLAIM_KEY = "MAX_CLAIM_AMOUNT"
SENT_BACK = "RE_ASSESSMENT_REQUESTED"  # claims.sub_status after a send-back


class InvalidClaimAmount(BusinessRuleError):
    """An amount the claim rules refuse, field by field (422)."""

    type_ = "invalid-claim-amount"
    title = "Invalid Claim Amount"

    def __init__(self, field: str, message: str, kind: str = "value_error") -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": kind}]},
        )


async def max_claim_amount(session: AsyncSession) -> Decimal:
    """MAX_CLAIM_AMOUNT (ref.system_configurations, THB)."""
    return Decimal(str(await get_config(session, MAX_CLAIM_KEY)))


async def set_business_context(session: AsyncSession, context: str | None) -> None:
    """The reason or notes the audit trigger keeps with the next row changes."""
    if context:
        await session.execute(
            text("select set_config('app.business_context', :c, true)"), {"c": context[:100]}
        )


async def assessments_of(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimAssessment]:
    """A claim's assessments, oldest first."""
    result = await session.execute(
        select(ClaimAssessment)
        .where(ClaimAssessment.claim_id == claim_id)
        .order_by(ClaimAssessment.assessment_date, ClaimAssessment.created_at, ClaimAssessment.id)
    )
    return list(result.scalars())


async def assessors_of(session: AsyncSession, claim_id: uuid.UUID) -> set[uuid.UUID]:
    """Every user who recorded an assessment of the claim."""
    rows = await session.execute(
        select(ClaimAssessment.assessor_id).where(ClaimAssessment.claim_id == claim_id)
    )
    return {r[0] for r in rows}


async def get_assessment(
    session: AsyncSession, claim_id: uuid.UUID, assessment_id: uuid.UUID, *, lock: bool = False
) -> ClaimAssessment:
    """One assessment of the claim; NotFound when the claim has no such assessment."""
    stmt = select(ClaimAssessment).where(
        ClaimAssessment.id == assessment_id, ClaimAssessment.claim_id == claim_id
    )
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Claim {claim_id} has no assessment {assessment_id}.")
    return row


def _today(now: datetime) -> date:
    from polis.motor.quotes import today_bangkok

    return today_bangkok(now)


async def record_assessment(
    session: AsyncSession,
    claim_id: uuid.UUID,
    body: AssessmentCreate,
    *,
    user_id: uuid.UUID,
    role: str,
    now: datetime | None = None,
) -> tuple[ClaimAssessment, MotorClaim]:
    """Record an assessment of the claim (see the module docstring)."""
    now = now or datetime.now(UTC)
    today = _today(now)
    assessor_type = claim_settlement_rules.assessor_type_for(role)
    if assessor_type is None:
        raise Forbidden(
            f"Role {role} does not record assessments (surveyors, adjusters, administrators).",
            type_="not-an-assessor",
        )
    claim = await claims.get_claim(session, claim_id, lock=True)
    earlier = await assessments_of(session, claim.id)
    status = claim.status or claim_rules.REPORTED
    admission = claim_settlement_rules.check_assessment(
        status,
        body.assessment_type,
        [a.assessment_type for a in earlier],
        body.recommended_action,
        claim.claim_number,
    )
    limit = await max_claim_amount(session)
    if body.recommended_amount is not None and body.recommended_amount > limit:
        raise InvalidClaimAmount(
            "recommended_amount",
            f"recommended_amount is above MAX_CLAIM_AMOUNT ({limit})",
            "max_claim_amount",
        )
    for field, value in (("salvage_value", body.salvage_value),):
        if value is not None and value > limit:
            raise InvalidClaimAmount(field, f"{field} is above MAX_CLAIM_AMOUNT ({limit})")

    estimates = (
        body.repair_estimates.model_dump(mode="json") if body.repair_estimates is not None else None
    )
    row = ClaimAssessment(
        claim_id=claim.id,
        assessor_id=user_id,
        assessor_type=assessor_type,
        assessment_date=now,
        assessment_type=body.assessment_type,
        damage_assessment=body.damage_assessment,
        repair_estimates=estimates,
        total_loss_assessment=body.total_loss_assessment,
        salvage_value=body.salvage_value,
        liability_percentage=body.liability_percentage,
        contributing_factors=body.contributing_factors,
        recommended_amount=body.recommended_amount,
        recommended_action=body.recommended_action,
        assessment_notes=body.assessment_notes,
        qa_reviewed=False,
        created_at=now,
        created_by=user_id,
        version=1,
    )
    session.add(row)
    if admission.moves_to_assessed:
        claims.transition(
            claim, claim_rules.ASSESSED, actor_id=user_id, today=today, now=now, sub_status=None
        )
    if body.recommended_amount is not None:
        claim.assessed_amount = body.recommended_amount
        if not admission.moves_to_assessed:  # a field change of its own: bump the version
            claim.updated_at = now
            claim.updated_by = user_id
            claim.version = (claim.version or 0) + 1
    await session.flush()
    await session.refresh(row)
    await session.refresh(claim)
    return row, claim


async def qa_review(
    session: AsyncSession,
    claim_id: uuid.UUID,
    assessment_id: uuid.UUID,
    qa_notes: str,
    *,
    user_id: uuid.UUID,
) -> ClaimAssessment:
    """Record the QA review of an assessment: 403 by its assessor, 409 when reviewed."""
    claim = await claims.get_claim(session, claim_id, lock=True)
    row = await get_assessment(session, claim.id, assessment_id, lock=True)
    if row.assessor_id == user_id:
        raise Forbidden(
            "Nobody QA-reviews their own assessment.",
            type_="qa-by-assessor",
            extra={"assessor_id": str(row.assessor_id)},
        )
    if row.qa_reviewed:
        raise Conflict(
            f"Assessment {row.id} was already QA-reviewed.",
            type_="already-qa-reviewed",
            extra={"qa_reviewer_id": str(row.qa_reviewer_id)},
        )
    if claim.status == claim_rules.CLOSED:
        raise Conflict(
            f"Claim {claim.claim_number} is CLOSED: its assessments are final.",
            type_="claim-closed",
        )
    row.qa_reviewed = True
    row.qa_reviewer_id = user_id
    row.qa_notes = qa_notes
    row.version = (row.version or 1) + 1
    await session.flush()
    await session.refresh(row)
    return row


async def send_back(
    session: AsyncSession,
    claim_id: uuid.UUID,
    assessment_id: uuid.UUID,
    reason: str,
    *,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[ClaimAssessment, MotorClaim]:
    """ASSESSED -> INVESTIGATING for a RE_ASSESSMENT (409 from any other status); 403 by the
    assessor of the assessment sent back. The reason is kept in its qa_notes (and in the
    audit trail's business_context)."""
    now = now or datetime.now(UTC)
    claim = await claims.get_claim(session, claim_id, lock=True)
    row = await get_assessment(session, claim.id, assessment_id, lock=True)
    if row.assessor_id == user_id:
        raise Forbidden(
            "Nobody sends back their own assessment.",
            type_="send-back-by-assessor",
            extra={"assessor_id": str(row.assessor_id)},
        )
    await set_business_context(session, reason)
    claims.transition(
        claim,
        claim_rules.INVESTIGATING,
        actor_id=user_id,
        today=_today(now),
        now=now,
        sub_status=SENT_BACK,
    )
    note = f"Sent back: {reason}"
    row.qa_notes = f"{row.qa_notes}\n{note}" if row.qa_notes else note
    if not row.qa_reviewed:
        row.qa_reviewed = True
        row.qa_reviewer_id = user_id
    row.version = (row.version or 1) + 1
    await session.flush()
    await session.refresh(row)
    await session.refresh(claim)
    return row, claim


async def approve(
    session: AsyncSession,
    claim_id: uuid.UUID,
    amount: Decimal,
    notes: str | None,
    *,
    user_id: uuid.UUID,
    role: str,
    now: datetime | None = None,
) -> tuple[MotorClaim, Decimal | None]:
    """ASSESSED -> APPROVED for `amount` (see the module docstring); returns the claim and
    the approver's authority limit."""
    now = now or datetime.now(UTC)
    limit = await max_claim_amount(session)
    if amount > limit:
        raise InvalidClaimAmount(
            "approved_amount",
            f"approved_amount is above MAX_CLAIM_AMOUNT ({limit})",
            "max_claim_amount",
        )
    claim = await claims.get_claim(session, claim_id, lock=True)
    claim_rules.check_transition(
        claim.status or claim_rules.REPORTED, claim_rules.APPROVED, claim.claim_number
    )
    assessors = await assessors_of(session, claim.id)
    decision = claim_rules.may_approve(role, amount, assessors, user_id)
    if not decision.allowed:
        detail = decision.reason
        if decision.needs_role:
            detail += f"; approval needs one of the roles {', '.join(decision.needs_role)}"
        raise Forbidden(
            detail + ".",
            type_="approval-authority",
            extra={"needs_role": list(decision.needs_role)},
        )
    await set_business_context(session, notes)
    claims.transition(claim, claim_rules.APPROVED, actor_id=user_id, today=_today(now), now=now)
    claim.approved_amount = amount
    await session.flush()
    await session.refresh(claim)
    return claim, claim_rules.approval_limits().limit_of(role)
