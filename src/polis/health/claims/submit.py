"""Health claim submission: load the facts, lock the accumulators, adjudicate, write.

`submit_claim` runs inside the caller's transaction (it flushes, never commits):

1. validates the request and resolves its references (member, provider, coverage on the
   service date, policy, plan, benefits); a bad reference raises a `PolisError` before
   anything is written;
2. creates the accumulator rows it needs (INSERT ... ON CONFLICT DO NOTHING, in lock order)
   and locks them with SELECT ... FOR UPDATE ordered by (member_id, benefit_code NULLS
   FIRST): the plan-level rows of the policy's members when the plan has a family deductible
   or out-of-pocket maximum, else the member's own, and the member's benefit rows for the
   claim's benefits; then, for ASO policies that pay something, the policy row;
3. calls the pure engine `polis.health.rules.adjudicate` on the locked snapshot;
4. writes claims.claim and claims.claim_item, moves the accumulators by the engine's deltas
   and draws the plan's payment from the ASO fund, then the buffer fund. When both are short
   the claim is `pended` (reason `awaiting_funds`): its lines keep their computed amounts with
   status `pended`, and neither accumulators nor funds move.

For an ASO claim that drew money, each paying line's trace ends with a `funding` step saying
how much came from the ASO and the buffer fund; `void_claim` gives exactly that back.

Before the funds, the rules that send a claim to a person (decision 0025): a claim charging
more than HEALTH_CLAIM_REVIEW_AMOUNT (`review_amount`) or a reimbursement claim without the
documents of HEALTH_REIMBURSEMENT_DOCUMENTS (`documents_required`) is pended the same way,
moving nothing, until `decide_pended_claim`.

The lifecycle after submission, every status change through `polis.health.transitions`:
`void_claim` (reverse accumulators and funds; status `voided`), `readjudicate_claim` (void,
then a new claim for the same lines), `decide_pended_claim` (a person's decision),
`release_awaiting_funds` (after a top-up), `appeal_claim` / `decide_appeal`, `close_claim`;
`claim_history` reads the status changes back from the audit log.

Decision 0016 (and its addendum) records the lock order, the claim number scheme, the ASO
waiting rule and the lifecycle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, cast

from sqlalchemy import func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import raw
from polis.db.rows import flush_pending
from polis.health import authorizations as preauth
from polis.health import rules, transitions
from polis.health.claims.common import (
    AWAITING_FUNDS,
    COUNTED_STATUSES,
    DOCUMENTS_SETTING,
    REVIEW_AMOUNT_SETTING,
    ZERO,
    _claim_status,
    _invalid,
)
from polis.health.claims.funding import (
    _funding_steps,
)
from polis.health.claims.review import (
    _review_settings_of,
    _review_steps,
)
from polis.health.claims.statements import (
    _CREATE_ACCUMULATORS,
    _FACTS,
    _INSERT_CLAIM,
    _INSERT_ITEMS,
    _LOCK_ACCUMULATORS,
    _LOCK_POLICY_FUNDS,
    _MOVE_ACCUMULATORS,
    _benefit_rows,
    _BenefitRow,
    _diagnosis,
    _exclusion_facts,
    _item_arrays,
    _PlanKey,
    _sync_accumulators,
)
from polis.health.eob import DECIDED_STATUSES, record_eob
from polis.health.models import (
    CLAIM_TYPES,
    SERVICE_TYPES,
    Accumulator,
    Authorization,
    Claim,
    ClaimItem,
    Member,
    MemberCoverage,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)
from polis.platform.errors import BusinessRuleError, NotFound
from polis.platform.ids import random_code
from polis.platform.money import quantize

# --- request and outcome ------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimLineRequest:
    """One line of a submitted claim."""

    benefit_code: str
    charged_amount: Decimal
    quantity: int = 1
    diagnosis_code: str | None = None
    procedure_code: str | None = None
    service_code: str | None = None
    unit_price: Decimal | None = None


@dataclass(frozen=True)
class ClaimRequest:
    """A claim as submitted by a provider (cashless) or a member (reimbursement)."""

    member_number: str
    provider_code: str
    claim_type: str
    service_type: str
    service_date: date
    lines: Sequence[ClaimLineRequest]
    admission_date: date | None = None
    discharge_date: date | None = None
    created_by: str | None = None
    # A guarantee letter the claim names (must be the member's); None: the engine looks
    # among the member's letters for the service type (decision 0024).
    authorization_number: str | None = None


@dataclass(frozen=True)
class ClaimOutcome:
    """The written claim and the engine's result (lines with their traces, totals)."""

    claim_id: uuid.UUID
    claim_number: str
    status: str
    result: rules.AdjudicationResult
    aso_drawn: Decimal = ZERO
    buffer_drawn: Decimal = ZERO
    pended_reason: str | None = None
    # The written claim_item rows (column -> value, in line order) and the claim's
    # submission_date: enough to answer POST /claims without reading the claim back.
    items: tuple[dict[str, Any], ...] = ()
    submission_date: datetime | None = None


def new_claim_number(service_date: date) -> str:
    """CLM-YYYY-XXXXXXXXXXXX: the service year and 12 random Crockford base-32 characters
    (60 bits). The registry's UNIQUE claim_number refuses the (improbable) duplicate."""
    tail = random_code(12)
    return f"CLM-{service_date.year:04d}-{tail}"


# --- validation ---------------------------------------------------------------------------


def _validated_lines(request: ClaimRequest) -> list[rules.ClaimLine]:
    if request.claim_type not in CLAIM_TYPES:
        raise _invalid(f"claim_type must be one of {', '.join(CLAIM_TYPES)}.")
    if request.service_type not in SERVICE_TYPES:
        raise _invalid(f"service_type must be one of {', '.join(SERVICE_TYPES)}.")
    if (
        request.admission_date is not None
        and request.discharge_date is not None
        and request.discharge_date < request.admission_date
    ):
        raise _invalid("discharge_date must not be before admission_date.", "invalid-period")
    if not request.lines:
        raise _invalid("A claim needs at least one line.")
    lines: list[rules.ClaimLine] = []
    for n, line in enumerate(request.lines, start=1):
        if line.quantity < 1:
            raise _invalid(f"Line {n}: quantity must be at least 1.")
        charged = quantize(line.charged_amount)
        if charged < 0 or charged != line.charged_amount:
            raise _invalid(f"Line {n}: charged_amount must be >= 0 with at most 2 decimals.")
        diagnosis = line.diagnosis_code
        if diagnosis is not None:
            normalised = _diagnosis(diagnosis)
            if normalised is None:
                raise _invalid(f"Line {n}: {diagnosis!r} is not an ICD-10 code.", "invalid-icd10")
            diagnosis = normalised
        lines.append(
            rules.ClaimLine(
                benefit_code=line.benefit_code,
                charged_amount=charged,
                quantity=line.quantity,
                diagnosis_code=diagnosis,
                procedure_code=line.procedure_code,
            )
        )
    return lines


# --- loading ------------------------------------------------------------------------------


async def _coverage(session: AsyncSession, member: Member, day: date) -> MemberCoverage:
    """The member's coverage on `day`, an active one first."""
    rows = (
        await session.scalars(
            select(MemberCoverage)
            .where(
                MemberCoverage.member_id == member.id,
                MemberCoverage.coverage_start_date <= day,
                or_(
                    MemberCoverage.coverage_end_date.is_(None),
                    MemberCoverage.coverage_end_date >= day,
                ),
            )
            .order_by(
                (MemberCoverage.status == "active").desc(),
                MemberCoverage.coverage_start_date.desc(),
            )
        )
    ).all()
    if not rows:
        raise BusinessRuleError(
            f"Member {member.member_number} has no coverage on {day.isoformat()}.",
            type_="no-coverage",
        )
    return rows[0]


async def _contract(
    session: AsyncSession, provider: Provider, day: date
) -> ProviderContract | None:
    """The provider's contract for `day`: an active one whose period holds it, else any
    whose period holds it (the engine denies it as inactive), else None."""
    rows = (
        await session.scalars(
            select(ProviderContract)
            .where(
                ProviderContract.provider_id == provider.id,
                ProviderContract.effective_date <= day,
                ProviderContract.expiry_date >= day,
            )
            .order_by(
                (ProviderContract.status == "active").desc(),
                ProviderContract.effective_date.desc(),
            )
        )
    ).all()
    return rows[0] if rows else None


def _benefit_facts(b: PlanBenefit | _BenefitRow) -> rules.BenefitFacts:
    return rules.BenefitFacts(
        benefit_code=b.benefit_code,
        coverage_type=b.coverage_type or "covered",
        limit_type=b.limit_type,
        limit_amount=b.limit_amount,
        limit_days=b.limit_days,
        limit_visits=b.limit_visits,
        coinsurance_percentage=b.coinsurance_percentage or ZERO,
        copay_amount=b.copay_amount or ZERO,
        requires_authorization=bool(b.requires_authorization),
        waiting_period_days=b.waiting_period_days or 0,
        in_network_covered=b.in_network_covered is not False,
        out_network_covered=bool(b.out_network_covered),
    )


def _plan_facts(plan: Plan) -> rules.PlanFacts:
    return rules.PlanFacts(
        annual_limit=plan.annual_limit,
        lifetime_limit=plan.lifetime_limit,
        individual_deductible=plan.individual_deductible or ZERO,
        family_deductible=plan.family_deductible or ZERO,
        individual_oop_max=plan.individual_oop_max,
        family_oop_max=plan.family_oop_max,
    )


# --- accumulators -------------------------------------------------------------------------


class _BenefitLimits(Protocol):
    @property
    def benefit_code(self) -> str: ...
    @property
    def limit_type(self) -> str | None: ...
    @property
    def limit_amount(self) -> Decimal | None: ...
    @property
    def limit_visits(self) -> int | None: ...


class _PlanLimits(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def annual_limit(self) -> Decimal | None: ...
    @property
    def individual_deductible(self) -> Decimal | None: ...
    @property
    def family_deductible(self) -> Decimal | None: ...
    @property
    def family_oop_max(self) -> Decimal | None: ...


def _per_year_limit(b: _BenefitLimits) -> Decimal | None:
    return b.limit_amount if b.limit_type == "per_year" else None


async def _lock_accumulators(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    family_ids: Sequence[uuid.UUID],
    plan: _PlanLimits,
    year: int,
    benefits: Sequence[_BenefitLimits],
) -> list[Any]:
    """Create the missing rows, then lock them all, ordered by (member_id, benefit_code
    NULLS FIRST): plan-level rows of `family_ids` and `member_id`'s rows of `benefits`.
    Two statements whatever the number of rows (arrays through unnest); returns the locked
    rows (attributes named as Accumulator's columns), in lock order."""
    keys: list[tuple[uuid.UUID, str | None, Decimal | None, int | None]] = [
        (m, None, plan.annual_limit, None) for m in family_ids
    ]
    keys += [(member_id, b.benefit_code, _per_year_limit(b), b.limit_visits) for b in benefits]
    # The same order as the lock below: uuid bytes = lower-case hex text; "C" collation =
    # code point order of the benefit code.
    keys.sort(key=lambda k: (str(k[0]), k[1] is not None, k[1] or ""))
    member_ids = [k[0] for k in keys]
    codes = [k[1] for k in keys]
    await raw.execute(
        session,
        _CREATE_ACCUMULATORS,
        {
            "plan_id": plan.id,
            "year": year,
            "member_ids": member_ids,
            "codes": codes,
            "limits": [k[2] for k in keys],
            "visits": [k[3] for k in keys],
            "deductibles": [plan.individual_deductible if k[1] is None else None for k in keys],
        },
    )
    locked = await raw.fetch(
        session,
        _LOCK_ACCUMULATORS,
        {"plan_id": plan.id, "year": year, "member_ids": member_ids, "codes": codes},
    )
    _sync_accumulators(session, locked)
    return list(locked)


async def _out_of_pocket(
    session: AsyncSession, member_ids: Sequence[uuid.UUID], policy_id: uuid.UUID, year: int
) -> Decimal:
    """Deductible + copay + coinsurance of the members' counted claims in `year` (the
    accumulator has no out-of-pocket column; their locked plan-level rows serialise this)."""
    total = await session.scalar(
        select(
            func.coalesce(
                func.sum(
                    func.coalesce(ClaimItem.deductible_amount, 0)
                    + func.coalesce(ClaimItem.copay_amount, 0)
                    + func.coalesce(ClaimItem.coinsurance_amount, 0)
                ),
                0,
            )
        )
        .select_from(Claim)
        .join(ClaimItem, ClaimItem.claim_id == Claim.id)
        .where(
            Claim.member_id.in_(member_ids),
            Claim.policy_id == policy_id,
            Claim.service_date >= date(year, 1, 1),
            Claim.service_date <= date(year, 12, 31),
            Claim.status.in_(COUNTED_STATUSES),
        )
    )
    return quantize(total or 0)


async def _lifetime_used(
    session: AsyncSession, member_id: uuid.UUID, plan_id: uuid.UUID, year: int
) -> Decimal:
    """Plan-level used amounts of the member's other years (this year's comes locked)."""
    total = await session.scalar(
        select(func.coalesce(func.sum(Accumulator.used_amount), 0)).where(
            Accumulator.member_id == member_id,
            Accumulator.plan_id == plan_id,
            Accumulator.benefit_code.is_(None),
            Accumulator.year != year,
        )
    )
    return quantize(total or 0)


# --- the use case -------------------------------------------------------------------------


@dataclass(frozen=True)
class _MemberRef:
    """What polis.health.authorizations.claim_authorizations reads of a member."""

    id: uuid.UUID
    member_number: str


_NO_AUTHORIZATIONS = preauth.EngineInputs([], None, None)


async def submit_claim(
    session: AsyncSession, request: ClaimRequest, *, review_rules: bool = True
) -> ClaimOutcome:
    """Adjudicate and record a claim in the caller's transaction; see the module docstring.
    `review_rules=False` skips the rules that pend a claim for a person (a re-adjudication:
    a person decided, or the claim passed them when it was first submitted).

    Round trips (decision 0038): one statement reads every fact (member, provider, coverage,
    policy, plan, benefits, exclusions, contract, settings, family); two create and lock the
    accumulator rows; then the claim, its lines (one multi-row INSERT), the accumulator moves
    (one UPDATE) and the EOB. A letter, an ASO policy, a lifetime limit or an out-of-pocket
    maximum each add their own reads, as before."""
    lines = _validated_lines(request)
    await flush_pending(session)  # the caller's pending changes, before the raw statements
    day = request.service_date
    codes = sorted({line.benefit_code for line in lines})
    setting_keys = []
    if review_rules:
        setting_keys.append(REVIEW_AMOUNT_SETTING)
        if request.claim_type == "reimbursement":
            setting_keys.append(DOCUMENTS_SETTING)
    f = await raw.fetchrow(
        session,
        _FACTS,
        {
            "member_number": request.member_number,
            "provider_code": request.provider_code,
            "day": day,
            "codes": codes,
            "service_type": request.service_type,
            "settings": setting_keys,
        },
    )
    assert f is not None  # one row, whatever was found (FROM (SELECT 1) LEFT JOIN ...)
    if f.member_id is None:
        raise NotFound(f"Member {request.member_number} not found.", type_="member-not-found")
    if f.provider_id is None:
        raise NotFound(f"Provider {request.provider_code} not found.", type_="provider-not-found")
    if f.policy_id is None:
        raise BusinessRuleError(
            f"Member {request.member_number} has no coverage on {day.isoformat()}.",
            type_="no-coverage",
        )
    known = set(f.known_codes or ())
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise NotFound(f"Unknown benefit code(s): {', '.join(unknown)}.", type_="benefit-not-found")
    member_id: uuid.UUID = f.member_id
    provider_id: uuid.UUID = f.provider_id
    policy_id: uuid.UUID = f.policy_id
    plan = _PlanKey(
        id=f.plan_id,
        annual_limit=f.annual_limit,
        individual_deductible=f.individual_deductible,
        family_deductible=f.family_deductible,
        family_oop_max=f.family_oop_max,
    )
    benefits = _benefit_rows(f.benefits)
    claimed = [b for b in benefits if b.benefit_code in known]
    authorizations: list[Authorization] = []
    if f.has_authorizations or request.authorization_number is not None:
        authorizations = await preauth.claim_authorizations(
            session,
            cast(Member, _MemberRef(member_id, request.member_number)),
            request.service_type,
            request.authorization_number,
        )
    # The pend-for-a-person settings, read (with the facts) before any lock is taken.
    review = _review_settings_of(f.settings) if review_rules else None

    # Locks, in the fixed order: accumulator rows, then the letter, then (ASO) the policy row.
    year = day.year
    family_ids = (
        sorted(set(f.family_ids) | {member_id}, key=str)
        if f.family_ids is not None
        else [member_id]
    )
    locked = await _lock_accumulators(
        session,
        member_id=member_id,
        family_ids=family_ids,
        plan=plan,
        year=year,
        benefits=claimed,
    )
    plan_rows = {a.member_id: a for a in locked if a.benefit_code is None}
    benefit_rows = {
        a.benefit_code: a for a in locked if a.benefit_code is not None and a.member_id == member_id
    }
    own = plan_rows[member_id]
    # After the accumulator locks: the letter's row, then what earlier claims used of it.
    auth_inputs = (
        await preauth.engine_inputs(
            session,
            authorizations,
            provider_id=provider_id,
            service_date=day,
            named=request.authorization_number is not None,
        )
        if authorizations
        else _NO_AUTHORIZATIONS
    )
    snapshot = rules.Accumulators(
        benefits={
            code: rules.BenefitUsage(a.used_amount or ZERO, a.visit_count or 0)
            for code, a in benefit_rows.items()
        },
        annual_used=own.used_amount or ZERO,
        # The engine reads lifetime used and out of pocket only under a lifetime limit or an
        # out-of-pocket maximum: without one, their queries are skipped (decision 0029).
        lifetime_used=(own.used_amount or ZERO)
        + (
            await _lifetime_used(session, member_id, plan.id, year)
            if f.lifetime_limit is not None
            else ZERO
        ),
        deductible_met_individual=own.deductible_met or ZERO,
        deductible_met_family=sum((a.deductible_met or ZERO for a in plan_rows.values()), ZERO),
        oop_individual=await _out_of_pocket(session, [member_id], policy_id, year)
        if f.individual_oop_max is not None
        else ZERO,
        oop_family=await _out_of_pocket(session, family_ids, policy_id, year)
        if f.family_oop_max is not None
        else ZERO,
    )

    claim_facts = rules.ClaimFacts(
        claim_type=cast(rules.ClaimType, request.claim_type),  # validated above
        service_type=request.service_type,
        service_date=day,
        member_id=member_id,
        provider_id=provider_id,
        in_network=f.is_network is not False,
        admission_date=request.admission_date,
        discharge_date=request.discharge_date,
    )
    inner_limit_applicable = f.inner_limit_applicable is not False
    result = rules.adjudicate(
        claim=claim_facts,
        lines=lines,
        coverage=rules.CoverageFacts(
            coverage_start_date=f.coverage_start_date,
            coverage_end_date=f.coverage_end_date,
            member_status=f.member_status,
            coverage_status=f.coverage_status,
            policy_status=f.policy_status,
            inner_limit_applicable=inner_limit_applicable,
            annual_cap_applicable=bool(f.annual_cap_applicable),
        ),
        plan=rules.PlanFacts(
            annual_limit=f.annual_limit,
            lifetime_limit=f.lifetime_limit,
            individual_deductible=f.individual_deductible or ZERO,
            family_deductible=f.family_deductible or ZERO,
            individual_oop_max=f.individual_oop_max,
            family_oop_max=f.family_oop_max,
        ),
        benefits=[_benefit_facts(b) for b in benefits],
        accumulators=snapshot,
        exclusions=_exclusion_facts(f.exclusions),
        authorizations=auth_inputs.facts,
        contract=None
        if f.contract_id is None
        else rules.ProviderContractFacts(
            effective_date=f.contract_effective_date,
            expiry_date=f.contract_expiry_date,
            status=f.contract_status,
            discount_percentage=f.discount_percentage or ZERO,
            cashless_enabled=f.cashless_enabled is not False,
            reimbursement_enabled=f.reimbursement_enabled is not False,
        ),
    )

    # Rules that send the claim to a person (decision 0025): a claim some line of which the
    # plan would pay waits, moving nothing, until POST /claims/{id}/decision.
    review_steps = _review_steps(review, result) if review is not None else []
    pended_reason: str | None = review_steps[0]["code"] if review_steps else None

    # ASO funding: the policy row is the last lock.
    paid = result.totals.paid
    aso_drawn = buffer_drawn = ZERO
    if f.funding_type == "aso" and paid > 0 and pended_reason is None:
        funds = await raw.fetchrow(session, _LOCK_POLICY_FUNDS, {"id": policy_id})
        assert funds is not None  # the coverage's policy, read above
        aso, buffer = funds[0] or ZERO, funds[1] or ZERO
        if aso + buffer < paid:
            pended_reason = AWAITING_FUNDS
        else:
            aso_drawn = min(aso, paid)
            buffer_drawn = paid - aso_drawn
            await session.execute(
                update(Policy)
                .where(Policy.id == policy_id)
                .values(
                    aso_fund_balance=Policy.aso_fund_balance - aso_drawn,
                    buffer_fund_balance=Policy.buffer_fund_balance - buffer_drawn,
                )
            )

    status = transitions.PENDED if pended_reason else _claim_status(result)
    claim_id = uuid.uuid4()
    claim_number = new_claim_number(day)
    transitions.check_transition(transitions.SUBMITTED, status, claim_number)
    submitted_at = await raw.fetchval(
        session,
        _INSERT_CLAIM,
        {
            "id": claim_id,
            "claim_number": claim_number,
            "member_id": member_id,
            "provider_id": provider_id,
            "policy_id": policy_id,
            "claim_type": request.claim_type,
            "service_type": request.service_type,
            "admission_date": request.admission_date,
            "discharge_date": request.discharge_date,
            "service_date": day,
            "status": status,
            "total_charged_amount": result.totals.charged,
            "total_approved_amount": result.totals.approved,
            "total_paid_amount": result.totals.paid,
            "member_responsibility": result.totals.member_responsibility,
            "created_by": request.created_by,
            "updated_by": request.created_by,
        },
    )
    funding = _funding_steps(result, aso_drawn, buffer_drawn)
    use_steps = (
        preauth.use_steps(
            result,
            auth_inputs,
            cast(Mapping[str, PlanBenefit], {b.benefit_code: b for b in benefits}),
            inner_limit_applicable=inner_limit_applicable,
        )
        if auth_inputs.chosen is not None
        else [[] for _ in result.lines]
    )
    funding = [f + u for f, u in zip(funding, use_steps, strict=True)]
    items: list[dict[str, Any]] = []
    for number, (submitted, line, fund_step) in enumerate(
        zip(request.lines, result.lines, funding, strict=True), start=1
    ):
        item_status: str = line.status
        reason = line.denial_reason
        pend_steps: list[dict[str, str]] = []
        if pended_reason and line.status != "denied":
            item_status, reason = "pended", pended_reason
            paid_line = str(quantize(line.paid_amount))
            pend_steps = [
                {**step, "amount_before": paid_line, "amount_after": paid_line}
                for step in review_steps
            ]
        items.append(
            {
                "id": uuid.uuid4(),
                "claim_id": claim_id,
                "line_number": number,
                "benefit_code": line.line.benefit_code,
                "service_code": submitted.service_code,
                "diagnosis_code": line.line.diagnosis_code,
                "procedure_code": line.line.procedure_code,
                "quantity": line.line.quantity,
                "unit_price": submitted.unit_price,
                "charged_amount": quantize(line.line.charged_amount),
                "approved_amount": line.approved_amount,
                "paid_amount": line.paid_amount,
                "deductible_amount": line.deductible_amount,
                "coinsurance_amount": line.coinsurance_amount,
                "copay_amount": line.copay_amount,
                "status": item_status,
                "denial_reason": reason,
                "adjudication_trace": [
                    {
                        "code": step.code,
                        "message": step.message,
                        "amount_before": str(step.amount_before),
                        "amount_after": str(step.amount_after),
                    }
                    for step in line.trace
                ]
                + fund_step
                + pend_steps,
            }
        )
    await raw.execute(session, _INSERT_ITEMS, _item_arrays(items))
    if authorizations:
        await preauth.link_claim(
            session,
            authorizations,
            auth_inputs,
            use_steps,
            claim_id,
            named=request.authorization_number is not None,
        )

    if pended_reason is None:
        await _apply_deltas(session, result.deltas, own, benefit_rows)
    if status in DECIDED_STATUSES:  # decided claims only (decision 0027)
        await record_eob(session, claim_id, day)
    return ClaimOutcome(
        claim_id=claim_id,
        claim_number=claim_number,
        status=status,
        result=result,
        aso_drawn=aso_drawn,
        buffer_drawn=buffer_drawn,
        pended_reason=pended_reason,
        items=tuple(items),
        submission_date=submitted_at,
    )


async def _apply_deltas(
    session: AsyncSession,
    deltas: rules.Accumulators,
    plan_row: Any,
    benefit_rows: Mapping[str, Any],
) -> None:
    """Move the locked rows by the engine's deltas (benefit rows: used and visits; the
    plan-level row: annual used and deductible met), all in one UPDATE. Rows with nothing
    to move are left out (no write, no audit row)."""
    ids: list[uuid.UUID] = []
    used: list[Decimal] = []
    visits: list[int] = []
    deductible: list[Decimal] = []
    plan_level: list[bool] = []
    for code, usage in deltas.benefits.items():
        row = benefit_rows.get(code)
        if row is None or (usage.used_amount == 0 and usage.visit_count == 0):
            continue
        ids.append(row.id)
        used.append(usage.used_amount)
        visits.append(usage.visit_count)
        deductible.append(ZERO)
        plan_level.append(False)
    if deltas.annual_used or deltas.deductible_met_individual:
        ids.append(plan_row.id)
        used.append(deltas.annual_used)
        visits.append(0)
        deductible.append(deltas.deductible_met_individual)
        plan_level.append(True)
    if not ids:
        return
    moved = await raw.fetch(
        session,
        _MOVE_ACCUMULATORS,
        {
            "ids": ids,
            "used": used,
            "visits": visits,
            "deductible": deductible,
            "plan_level": plan_level,
        },
    )
    _sync_accumulators(session, moved)
