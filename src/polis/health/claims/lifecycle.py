"""A claim's life after submission: void, re-adjudication, release of claims waiting for
funds, a person's decision, appeals, closing and the status history (see
polis.health.adjudication and decision 0016/0025)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.ext.asyncio import AsyncSession

from polis.audit.history import NEW, OLD, status_changes
from polis.audit.models import AuditLog
from polis.health import rules, transitions
from polis.health.claims.common import (
    AWAITING_FUNDS,
    COUNTED_STATUSES,
    DOCUMENTS_REQUIRED,
    ZERO,
    _invalid,
)
from polis.health.claims.funding import (
    _recorded_funding,
)
from polis.health.claims.review import (
    missing_documents,
)
from polis.health.claims.submit import (
    ClaimLineRequest,
    ClaimOutcome,
    ClaimRequest,
    _apply_deltas,
    _coverage,
    _lock_accumulators,
    submit_claim,
)
from polis.health.eob import write_eob
from polis.health.models import (
    Authorization,
    Claim,
    ClaimDocument,
    ClaimItem,
    Member,
    MemberCoverage,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
)
from polis.iam.models import User
from polis.platform.errors import BusinessRuleError, Conflict, NotFound

# --- void, re-adjudication ----------------------------------------------------------------

VOIDED = transitions.VOIDED


@dataclass(frozen=True)
class VoidOutcome:
    """What a void gave back: accumulator moves reversed and fund amounts returned."""

    claim_id: uuid.UUID
    claim_number: str
    previous_status: str
    reversed: rules.Accumulators
    aso_returned: Decimal = ZERO
    buffer_returned: Decimal = ZERO


def _moved(items: Sequence[ClaimItem]) -> rules.Accumulators:
    """The accumulator deltas the claim's counted items applied (see rules: used and annual
    by paid; one visit per benefit with a non-denied line; deductible met by deductible)."""
    used: dict[str, Decimal] = {}
    for item in items:
        if item.status in ("approved", "partially_approved"):
            used[item.benefit_code] = used.get(item.benefit_code, ZERO) + (item.paid_amount or ZERO)
    counted = [i for i in items if i.status in ("approved", "partially_approved")]
    paid = sum((i.paid_amount or ZERO for i in counted), ZERO)
    deductible = sum((i.deductible_amount or ZERO for i in counted), ZERO)
    return rules.Accumulators(
        benefits={code: rules.BenefitUsage(amount, 1) for code, amount in sorted(used.items())},
        annual_used=paid,
        lifetime_used=paid,
        deductible_met_individual=deductible,
        deductible_met_family=deductible,
    )


def _negated(d: rules.Accumulators) -> rules.Accumulators:
    return rules.Accumulators(
        benefits={
            c: rules.BenefitUsage(-u.used_amount, -u.visit_count) for c, u in d.benefits.items()
        },
        annual_used=-d.annual_used,
        lifetime_used=-d.lifetime_used,
        deductible_met_individual=-d.deductible_met_individual,
        deductible_met_family=-d.deductible_met_family,
    )


async def _locked_claim(session: AsyncSession, claim_id: uuid.UUID) -> Claim:
    claim = await session.scalar(
        select(Claim)
        .where(Claim.id == claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if claim is None:
        raise NotFound(f"Claim {claim_id} not found.", type_="claim-not-found")
    return claim


async def void_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, reason: str, user_id: uuid.UUID | str
) -> VoidOutcome:
    """Void a claim in the caller's transaction: reverse exactly what it moved (benefit and
    plan-level accumulators, deductible met) and return its ASO draw to the funds it came
    from; status `voided`. Locks: the claim row, then submit_claim's order (accumulator
    rows, then the policy row). A move the transition table refuses (a claim paid, payment
    pending, closed or already voided) is a 409 `invalid-transition` and changes nothing."""
    claim = await _locked_claim(session, claim_id)
    transitions.check_transition(claim.status, VOIDED, claim.claim_number)
    previous = claim.status
    items = list(
        (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim.id)
                .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    # A pended claim moved nothing (submit_claim); a denied one has no counted line.
    moved = _moved(items) if previous in COUNTED_STATUSES else rules.Accumulators()
    aso_back = buffer_back = ZERO
    policy = await session.get(Policy, claim.policy_id)
    if policy is None:  # pragma: no cover - foreign key
        raise NotFound("Claim refers to a missing policy.")
    if moved.benefits or moved.annual_used or moved.deductible_met_individual:
        member = await session.get(Member, claim.member_id)
        if member is None:  # pragma: no cover - foreign key
            raise NotFound("Claim refers to a missing member.")
        coverage = await _coverage(session, member, claim.service_date)
        plan = await session.get(Plan, coverage.plan_id)
        if plan is None:  # pragma: no cover - foreign key
            raise NotFound("Coverage refers to a missing plan.")
        codes = set(moved.benefits)
        claimed = list(
            (
                await session.scalars(
                    select(PlanBenefit).where(
                        PlanBenefit.plan_id == plan.id, PlanBenefit.benefit_code.in_(codes)
                    )
                )
            ).all()
        )
        family_ids = await _family_ids(session, member.id, policy.id, plan)
        locked = await _lock_accumulators(
            session,
            member_id=member.id,
            family_ids=family_ids,
            plan=plan,
            year=claim.service_date.year,
            benefits=claimed,
        )
        own = next(a for a in locked if a.benefit_code is None and a.member_id == member.id)
        benefit_rows = {
            a.benefit_code: a
            for a in locked
            if a.benefit_code is not None and a.member_id == member.id
        }
        await _apply_deltas(session, _negated(moved), own, benefit_rows)
    if previous in COUNTED_STATUSES and policy.funding_type == "aso":
        aso_back, buffer_back = _recorded_funding(items)
        if aso_back or buffer_back:
            await session.execute(select(Policy.id).where(Policy.id == policy.id).with_for_update())
            await session.execute(
                update(Policy)
                .where(Policy.id == policy.id)
                .values(
                    aso_fund_balance=Policy.aso_fund_balance + aso_back,
                    buffer_fund_balance=Policy.buffer_fund_balance + buffer_back,
                )
            )
    who = str(user_id)
    note = f"voided: {reason}"[:500]
    claim.status = VOIDED
    claim.updated_by = who
    claim.updated_at = func.now()
    for item in items:
        item.status = VOIDED
        item.denial_reason = note
        item.adjudication_trace = [
            *(item.adjudication_trace or []),
            {
                "code": "voided",
                "message": f"voided by {who}: {reason}",
                "amount_before": str(item.paid_amount or ZERO),
                "amount_after": "0.00",
            },
        ]
    await session.flush()
    return VoidOutcome(
        claim_id=claim.id,
        claim_number=claim.claim_number,
        previous_status=previous,
        reversed=moved,
        aso_returned=aso_back,
        buffer_returned=buffer_back,
    )


async def _family_ids(
    session: AsyncSession, member_id: uuid.UUID, policy_id: uuid.UUID, plan: Plan
) -> list[uuid.UUID]:
    """The members whose plan-level rows submit_claim locks (the same rule)."""
    if not (bool(plan.family_deductible) or plan.family_oop_max is not None):
        return [member_id]
    covered = (
        await session.scalars(
            select(MemberCoverage.member_id).where(
                MemberCoverage.policy_id == policy_id, MemberCoverage.plan_id == plan.id
            )
        )
    ).all()
    return sorted(set(covered) | {member_id}, key=str)


@dataclass(frozen=True)
class ReadjudicationOutcome:
    """The void of the old claim and the new claim that replaces it."""

    voided: VoidOutcome
    replacement: ClaimOutcome


async def readjudicate_claim(
    session: AsyncSession, claim_id: uuid.UUID, user_id: uuid.UUID | str
) -> ReadjudicationOutcome:
    """Appeal: void the claim, then adjudicate its lines again as a new claim (same member,
    provider, types, dates, lines and guarantee letter) against today's plan and
    accumulators. The models
    have no link column: the old claim's items get a `readjudicated` trace step naming the
    new claim and the new claim's items one naming the old."""
    claim = await _locked_claim(session, claim_id)
    items = list(
        (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim.id)
                .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
            )
        ).all()
    )
    member = await session.get(Member, claim.member_id)
    provider = await session.get(Provider, claim.provider_id)
    if member is None or provider is None:  # pragma: no cover - foreign keys
        raise NotFound("Claim refers to a missing member or provider.")
    lines = [
        ClaimLineRequest(
            benefit_code=i.benefit_code,
            charged_amount=i.charged_amount,
            quantity=i.quantity or 1,
            diagnosis_code=i.diagnosis_code,
            procedure_code=i.procedure_code,
            service_code=i.service_code,
            unit_price=i.unit_price,
        )
        for i in items
    ]
    old_number = claim.claim_number
    # The guarantee letter the claim named or used (authorization.claim_id holds the latest
    # claim that did): the replacement names it too, so it is adjudicated against the same
    # letter, not the member's oldest letter that applies.
    letter = await session.scalar(
        select(Authorization.authorization_number)
        .where(Authorization.claim_id == claim.id)
        .order_by(Authorization.created_at)
        .limit(1)
    )
    voided = await void_claim(session, claim.id, reason="re-adjudication", user_id=user_id)
    replacement = await submit_claim(
        session,
        ClaimRequest(
            member_number=member.member_number,
            provider_code=provider.provider_code,
            claim_type=claim.claim_type,
            service_type=claim.service_type,
            service_date=claim.service_date,
            lines=lines,
            admission_date=claim.admission_date,
            discharge_date=claim.discharge_date,
            authorization_number=letter,
            created_by=str(user_id),
        ),
        review_rules=False,
    )
    await _copy_documents(session, claim.id, replacement.claim_id)
    await _link(session, claim.id, f"re-adjudicated as {replacement.claim_number}")
    await _link(session, replacement.claim_id, f"re-adjudication of {old_number}")
    return ReadjudicationOutcome(voided=voided, replacement=replacement)


async def _copy_documents(session: AsyncSession, from_id: uuid.UUID, to_id: uuid.UUID) -> None:
    """The replacement claim carries the documents of the claim it replaces: new
    claims.claim_document rows naming the same stored files (decision 0025)."""
    documents = (
        await session.scalars(select(ClaimDocument).where(ClaimDocument.claim_id == from_id))
    ).all()
    columns = [c.key for c in sa_inspect(ClaimDocument).column_attrs if c.key not in ("id",)]
    for document in documents:
        values = {key: getattr(document, key) for key in columns}
        session.add(ClaimDocument(**{**values, "claim_id": to_id}))
    if documents:
        await session.flush()


async def _link(session: AsyncSession, claim_id: uuid.UUID, message: str) -> None:
    items = (await session.scalars(select(ClaimItem).where(ClaimItem.claim_id == claim_id))).all()
    for item in items:
        item.adjudication_trace = [
            *(item.adjudication_trace or []),
            {
                "code": "readjudication",
                "message": message,
                "amount_before": str(item.paid_amount or ZERO),
                "amount_after": str(item.paid_amount or ZERO),
            },
        ]
    await session.flush()


# --- release of claims waiting for funds --------------------------------------------------


@dataclass(frozen=True)
class ReleaseOutcome:
    """Claims paid by a release (old id -> replacement) and those still waiting."""

    released: list[ReadjudicationOutcome]
    still_waiting: list[uuid.UUID]


async def release_awaiting_funds(session: AsyncSession, policy_id: uuid.UUID) -> ReleaseOutcome:
    """After an ASO top-up: re-adjudicate the policy's claims pended `awaiting_funds`, oldest
    submission first, each as a `readjudicate_claim` (the pended claim is voided, its
    replacement pays). It stops at the first claim the funds cannot pay (no overtaking); that
    claim and the later ones stay pended untouched. Locks: the pended claim rows (in
    submission order), then the accumulator rows of all of them in the global order, then the
    policy row: the same order as submit_claim and void_claim."""
    waiting = list(
        (
            await session.scalars(
                select(Claim)
                .where(
                    Claim.policy_id == policy_id,
                    Claim.status == "pended",
                    Claim.id.in_(
                        select(ClaimItem.claim_id).where(ClaimItem.denial_reason == AWAITING_FUNDS)
                    ),
                )
                .order_by(Claim.submission_date, Claim.claim_number)
                .with_for_update()
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    # Accumulator rows of every waiting claim, locked member by member in the global order.
    needs: dict[tuple[uuid.UUID, uuid.UUID, int], set[str]] = {}
    for claim in waiting:
        member = await session.get(Member, claim.member_id)
        if member is None:  # pragma: no cover - foreign key
            continue
        coverage = await _coverage(session, member, claim.service_date)
        codes = set(
            (
                await session.scalars(
                    select(ClaimItem.benefit_code).where(ClaimItem.claim_id == claim.id)
                )
            ).all()
        )
        needs.setdefault((member.id, coverage.plan_id, claim.service_date.year), set()).update(
            codes
        )
    for (member_id, plan_id, year), codes in sorted(
        needs.items(), key=lambda kv: (str(kv[0][0]), str(kv[0][1]), kv[0][2])
    ):
        plan = await session.get(Plan, plan_id)
        if plan is None:  # pragma: no cover - foreign key
            continue
        benefits = list(
            (
                await session.scalars(
                    select(PlanBenefit).where(
                        PlanBenefit.plan_id == plan.id, PlanBenefit.benefit_code.in_(codes)
                    )
                )
            ).all()
        )
        await _lock_accumulators(
            session,
            member_id=member_id,
            family_ids=await _family_ids(session, member_id, policy_id, plan),
            plan=plan,
            year=year,
            benefits=benefits,
        )

    released: list[ReadjudicationOutcome] = []
    ids = [c.id for c in waiting]
    for n, claim_id in enumerate(ids):
        savepoint = await session.begin_nested()
        outcome = await readjudicate_claim(session, claim_id, "release-awaiting-funds")
        if outcome.replacement.status == "pended":
            await savepoint.rollback()  # the claim stays as it was, pended
            return ReleaseOutcome(released, ids[n:])
        await savepoint.commit()
        released.append(outcome)
    return ReleaseOutcome(released, [])


# --- manual review ------------------------------------------------------------------------


@dataclass(frozen=True)
class ReviewOutcome:
    """A reviewer's decision on a pended claim; `readjudicated` when approved."""

    claim_id: uuid.UUID
    decision: str
    readjudicated: ReadjudicationOutcome | None = None


async def decide_pended_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    decision: str,
    notes: str,
    user_id: uuid.UUID | str,
) -> ReviewOutcome:
    """Decide a claim pended for a person: by submit_claim (`review_amount`,
    `documents_required`) or by staff; not one waiting for funds (those are released by a
    top-up, 409 `claim-not-in-review`). A claim that is not pended is a 409
    `invalid-transition`. `denied`: the claim and its lines are denied (reason
    `manual_review`), nothing moves (a pended claim moved nothing). `approved`: the lines are
    adjudicated again as `readjudicate_claim` does, without the pend-for-a-person rules (a
    person decided; the result may still wait for funds); a claim pended for
    `documents_required` whose documents are still missing is refused (422
    `documents-missing`, `missing_documents` listing them). Nothing is written on refusal."""
    if decision not in ("approved", "denied"):
        raise _invalid("decision must be approved or denied.", "invalid-decision")
    claim = await _locked_claim(session, claim_id)
    if claim.status != transitions.PENDED:
        raise Conflict(
            f"Claim {claim.claim_number} is {claim.status}: only a pended claim takes a decision.",
            type_="invalid-transition",
        )
    items = list(
        (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim.id)
                .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )
    reasons = {i.denial_reason for i in items if i.status == transitions.PENDED}
    if AWAITING_FUNDS in reasons:
        raise Conflict(
            f"Claim {claim.claim_number} waits for funds; a top-up releases it.",
            type_="claim-not-in-review",
        )
    if decision == "approved" and DOCUMENTS_REQUIRED in reasons:
        missing = await missing_documents(session, claim.id)
        if missing:
            raise BusinessRuleError(
                f"Claim {claim.claim_number} still lacks documents: {', '.join(missing)}.",
                type_="documents-missing",
                extra={"missing_documents": missing},
            )
    who = str(user_id)
    step = {
        "code": "manual_review",
        "message": f"{decision} by {who}: {notes}",
        "amount_before": "0.00",
        "amount_after": "0.00",
    }
    for item in items:
        item.adjudication_trace = [*(item.adjudication_trace or []), step]
    if decision == "approved":
        await session.flush()
        return ReviewOutcome(claim.id, decision, await readjudicate_claim(session, claim.id, who))
    transitions.check_transition(claim.status, transitions.DENIED, claim.claim_number)
    claim.status = transitions.DENIED
    claim.total_approved_amount = claim.total_paid_amount = ZERO
    claim.member_responsibility = claim.total_charged_amount
    claim.updated_by = who
    claim.updated_at = func.now()
    for item in items:
        item.status = "denied"
        item.denial_reason = "manual_review"
        item.approved_amount = item.paid_amount = ZERO
        item.deductible_amount = item.copay_amount = item.coinsurance_amount = ZERO
    await session.flush()
    await write_eob(session, claim)  # the denial is a decision (decision 0027)
    return ReviewOutcome(claim.id, decision)


# --- appeals, closing and the status history (decision 0025) ------------------------------

APPEAL_STEP = "appeal"


@dataclass(frozen=True)
class TransitionOutcome:
    """One lifecycle move of a claim; `readjudicated` when it was voided and replaced."""

    claim_id: uuid.UUID
    claim_number: str
    previous_status: str
    status: str
    readjudicated: ReadjudicationOutcome | None = None


async def _items(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimItem]:
    return list(
        (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim_id)
                .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


def _add_step(items: Sequence[ClaimItem], step: dict[str, str]) -> None:
    """Append `step` to each item's trace, with the item's paid amount before and after."""
    for item in items:
        paid = str(item.paid_amount if item.paid_amount is not None else ZERO)
        item.adjudication_trace = [
            *(item.adjudication_trace or []),
            {**step, "amount_before": paid, "amount_after": paid},
        ]


def _move(claim: Claim, target: str, who: str) -> str:
    """Set the claim's status through the transition table; returns the previous status."""
    transitions.check_transition(claim.status, target, claim.claim_number)
    previous = claim.status
    claim.status = target
    claim.updated_by = who
    claim.updated_at = func.now()
    return previous


async def appeal_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, reason: str, user_id: uuid.UUID | str
) -> TransitionOutcome:
    """Appeal a decided claim (approved, partially approved or denied -> `appealed`). Its
    lines, amounts and accumulator moves stay as they are until the appeal is decided; each
    line's trace gets an `appeal` step holding the status to return to if it is rejected."""
    claim = await _locked_claim(session, claim_id)
    transitions.check_transition(claim.status, transitions.APPEALED, claim.claim_number)
    who = str(user_id)
    items = await _items(session, claim.id)
    _add_step(
        items,
        {
            "code": APPEAL_STEP,
            "message": f"appealed by {who}: {reason}",
            "previous_status": claim.status,
        },
    )
    previous = _move(claim, transitions.APPEALED, who)
    await session.flush()
    return TransitionOutcome(claim.id, claim.claim_number, previous, claim.status)


def _status_before_appeal(items: Sequence[ClaimItem]) -> str:
    """The decided status an appealed claim had: its latest `appeal` step, else the one its
    lines give (an appeal does not touch them)."""
    for item in items:
        for step in reversed(item.adjudication_trace or []):
            if step.get("code") == APPEAL_STEP and step.get("previous_status") in (
                transitions.DECIDED
            ):
                return step["previous_status"]
    statuses = {i.status for i in items}
    if statuses == {"denied"}:
        return transitions.DENIED
    if statuses == {"approved"}:
        return transitions.APPROVED
    return transitions.PARTIALLY_APPROVED


async def decide_appeal(
    session: AsyncSession,
    claim_id: uuid.UUID,
    decision: str,
    notes: str,
    user_id: uuid.UUID | str,
) -> TransitionOutcome:
    """Decide an appealed claim. `upheld`: re-adjudicated (`readjudicate_claim`: the claim is
    voided, its moves reversed exactly, and its lines adjudicated again as a new claim that
    links back, without the pend-for-a-person rules). `rejected`: the claim returns to the
    decided status it had before the appeal; nothing moves. A claim that is not appealed is
    a 409 `invalid-transition`."""
    if decision not in ("upheld", "rejected"):
        raise _invalid("decision must be upheld or rejected.", "invalid-decision")
    claim = await _locked_claim(session, claim_id)
    if claim.status != transitions.APPEALED:
        raise Conflict(
            f"Claim {claim.claim_number} is {claim.status}: only an appealed claim takes an "
            "appeal decision.",
            type_="invalid-transition",
        )
    who = str(user_id)
    items = await _items(session, claim.id)
    _add_step(items, {"code": "appeal_decision", "message": f"{decision} by {who}: {notes}"})
    if decision == "upheld":
        await session.flush()
        outcome = await readjudicate_claim(session, claim.id, who)
        return TransitionOutcome(
            claim.id, claim.claim_number, transitions.APPEALED, transitions.VOIDED, outcome
        )
    previous = _move(claim, _status_before_appeal(items), who)
    await session.flush()
    return TransitionOutcome(claim.id, claim.claim_number, previous, claim.status)


async def close_claim(
    session: AsyncSession, claim_id: uuid.UUID, user_id: uuid.UUID | str
) -> TransitionOutcome:
    """Close a claim that is finished: paid or denied -> `closed` (terminal); nothing moves."""
    claim = await _locked_claim(session, claim_id)
    previous = _move(claim, transitions.CLOSED, str(user_id))
    await session.flush()
    return TransitionOutcome(claim.id, claim.claim_number, previous, claim.status)


@dataclass(frozen=True)
class StatusChange:
    """One status change of a claim as the audit trigger recorded it (the first one is the
    submission: no previous status)."""

    changed_at: datetime
    operation: str
    from_status: str | None
    to_status: str | None
    user_id: uuid.UUID | None
    username: str | None
    user_role: str | None
    request_id: uuid.UUID | None
    updated_by: str | None


async def claim_history(session: AsyncSession, claim_id: uuid.UUID) -> list[StatusChange]:
    """The claim's status changes from audit.audit_log (its INSERT and every UPDATE that
    changed `status`), oldest first; 404 when there is no such claim."""
    if await session.scalar(select(Claim.id).where(Claim.id == claim_id)) is None:
        raise NotFound(f"Claim {claim_id} not found.", type_="claim-not-found")
    rows = await session.execute(
        status_changes(
            "claims.claim",
            claim_id,
            AuditLog.timestamp,
            AuditLog.operation,
            OLD["status"].astext,
            NEW["status"].astext,
            AuditLog.user_id,
            User.username,
            AuditLog.user_role,
            AuditLog.request_id,
            NEW["updated_by"].astext,
        )
    )
    return [StatusChange(*row) for row in rows]
