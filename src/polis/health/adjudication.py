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

import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import and_, any_, func, literal, or_, select, update
from sqlalchemy import inspect as sa_inspect
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from polis.audit.models import AuditLog
from polis.health import authorizations as preauth
from polis.health import rules, transitions
from polis.health.eob import write_eob
from polis.health.models import (
    CLAIM_TYPES,
    SERVICE_TYPES,
    Accumulator,
    Claim,
    ClaimDocument,
    ClaimItem,
    Exclusion,
    Member,
    MemberCoverage,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)
from polis.iam.models import User
from polis.platform.errors import BusinessRuleError, Conflict, NotFound, PolisError
from polis.platform.money import quantize
from polis.reference.icd10 import is_valid_icd10, normalise_icd10
from polis.reference.models import SystemConfiguration
from polis.reference.service import parse_config_value

ZERO = Decimal("0.00")
AWAITING_FUNDS = "awaiting_funds"
# Pended for a person (decision 0025): above the review amount; reimbursement without the
# required documents. Like AWAITING_FUNDS, such a claim moves no accumulator and no fund.
REVIEW_AMOUNT = "review_amount"
DOCUMENTS_REQUIRED = "documents_required"
REVIEW_AMOUNT_SETTING = "HEALTH_CLAIM_REVIEW_AMOUNT"
DOCUMENTS_SETTING = "HEALTH_REIMBURSEMENT_DOCUMENTS"
# Claims whose amounts count towards out of pocket and whose moves a void reverses (a
# pended claim has moved nothing; an appealed one keeps its moves until it is decided).
COUNTED_STATUSES = (
    "approved",
    "partially_approved",
    "payment_pending",
    "paid",
    "closed",
    "appealed",
)
_NUMBER_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base 32


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


def new_claim_number(service_date: date) -> str:
    """CLM-YYYY-XXXXXXXXXXXX: the service year and 12 random Crockford base-32 characters
    (60 bits). The registry's UNIQUE claim_number refuses the (improbable) duplicate."""
    tail = "".join(secrets.choice(_NUMBER_ALPHABET) for _ in range(12))
    return f"CLM-{service_date.year:04d}-{tail}"


# --- validation ---------------------------------------------------------------------------


def _invalid(message: str, type_: str = "invalid-claim") -> BusinessRuleError:
    return BusinessRuleError(message, type_=type_)


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
            if not is_valid_icd10(diagnosis):
                raise _invalid(f"Line {n}: {diagnosis!r} is not an ICD-10 code.", "invalid-icd10")
            diagnosis = normalise_icd10(diagnosis)
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


def _benefit_facts(b: PlanBenefit) -> rules.BenefitFacts:
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


def _per_year_limit(b: PlanBenefit) -> Decimal | None:
    return b.limit_amount if b.limit_type == "per_year" else None


async def _lock_accumulators(
    session: AsyncSession,
    *,
    member_id: uuid.UUID,
    family_ids: Sequence[uuid.UUID],
    plan: Plan,
    year: int,
    benefits: Sequence[PlanBenefit],
) -> list[Accumulator]:
    """Create the missing rows, then lock them all, ordered by (member_id, benefit_code
    NULLS FIRST): plan-level rows of `family_ids` and `member_id`'s rows of `benefits`."""
    keys: list[tuple[uuid.UUID, str | None, Decimal | None, int | None]] = [
        (m, None, plan.annual_limit, None) for m in family_ids
    ]
    keys += [(member_id, b.benefit_code, _per_year_limit(b), b.limit_visits) for b in benefits]
    # The same order as the lock below: uuid bytes = lower-case hex text; "C" collation =
    # code point order of the benefit code.
    keys.sort(key=lambda k: (str(k[0]), k[1] is not None, k[1] or ""))
    rows = [
        {
            "member_id": m,
            "plan_id": plan.id,
            "benefit_code": code,
            "year": year,
            "limit_amount": limit,
            "remaining_amount": limit,
            "visit_limit": visits,
            "remaining_visits": visits,
            "deductible_limit": plan.individual_deductible if code is None else None,
        }
        for m, code, limit, visits in keys
    ]
    await session.execute(pg_insert(Accumulator).values(rows).on_conflict_do_nothing())
    wanted = [
        and_(Accumulator.member_id == m, Accumulator.benefit_code.is_(None))
        if code is None
        else and_(Accumulator.member_id == m, Accumulator.benefit_code == code)
        for m, code, _, _ in keys
    ]
    locked = (
        await session.scalars(
            select(Accumulator)
            .where(Accumulator.plan_id == plan.id, Accumulator.year == year, or_(*wanted))
            .order_by(
                Accumulator.member_id,
                Accumulator.benefit_code.collate("C").asc().nulls_first(),
            )
            .with_for_update()
            .execution_options(populate_existing=True)
        )
    ).all()
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


# --- pend for a person (decision 0025) ----------------------------------------------------


@dataclass(frozen=True)
class ReviewSettings:
    """The settings of the rules that pend a claim for a person; None or () turns one off."""

    review_amount: Decimal | None
    documents: tuple[str, ...]


def _setting_error(key: str, why: str) -> PolisError:
    return PolisError(f"Setting {key} is not valid: {why}.", type_="invalid-configuration")


async def _review_settings(session: AsyncSession, claim_type: str) -> ReviewSettings:
    """HEALTH_CLAIM_REVIEW_AMOUNT and, for a reimbursement claim, HEALTH_REIMBURSEMENT_DOCUMENTS
    from ref.system_configurations in one query (typed as polis.reference.service.get_config
    types them). A missing setting turns its rule off; a malformed one is a server error."""
    keys = [REVIEW_AMOUNT_SETTING]
    if claim_type == "reimbursement":
        keys.append(DOCUMENTS_SETTING)
    rows = await session.execute(
        select(
            SystemConfiguration.config_key,
            SystemConfiguration.config_value,
            SystemConfiguration.config_type,
        ).where(SystemConfiguration.config_key.in_(keys))
    )
    values: dict[str, Any] = {}
    for key, value, config_type in rows:
        try:
            values[key] = parse_config_value(value, config_type)
        except ValueError as exc:
            raise _setting_error(key, str(exc)) from None
    amount = values.get(REVIEW_AMOUNT_SETTING)
    if amount is not None and (isinstance(amount, bool) or not isinstance(amount, int | Decimal)):
        raise _setting_error(REVIEW_AMOUNT_SETTING, "not a number")
    documents = values.get(DOCUMENTS_SETTING) or []
    if not isinstance(documents, list) or not all(isinstance(d, str) for d in documents):
        raise _setting_error(DOCUMENTS_SETTING, "not a list of document types")
    return ReviewSettings(
        review_amount=None if amount is None else Decimal(amount),
        documents=tuple(sorted(set(documents))),
    )


async def required_documents(session: AsyncSession) -> tuple[str, ...]:
    """The document types a reimbursement claim needs (HEALTH_REIMBURSEMENT_DOCUMENTS)."""
    return (await _review_settings(session, "reimbursement")).documents


async def missing_documents(session: AsyncSession, claim_id: uuid.UUID) -> list[str]:
    """The required document types no claims.claim_document row of the claim has."""
    required = await required_documents(session)
    if not required:
        return []
    present = set(
        (
            await session.scalars(
                select(ClaimDocument.document_type).where(ClaimDocument.claim_id == claim_id)
            )
        ).all()
    )
    return [d for d in required if d not in present]


def _review_steps(
    settings: ReviewSettings, result: rules.AdjudicationResult
) -> list[dict[str, str]]:
    """The reasons (trace steps without amounts) that send a claim to a person, the one
    that blocks approval first. A claim whose every line is denied pays nothing and is not
    held. A claim being submitted has no documents yet: they are uploaded to its id."""
    if _claim_status(result) == "denied":
        return []
    steps = []
    if settings.documents:
        steps.append(
            {
                "code": DOCUMENTS_REQUIRED,
                "message": (
                    "reimbursement claim held for a person until its documents arrive: "
                    + ", ".join(settings.documents)
                ),
            }
        )
    charged = result.totals.charged
    if settings.review_amount is not None and charged > settings.review_amount:
        steps.append(
            {
                "code": REVIEW_AMOUNT,
                "message": (
                    f"charged {charged} is above the review amount "
                    f"{quantize(settings.review_amount)}: held for a person"
                ),
            }
        )
    return steps


# --- the use case -------------------------------------------------------------------------


def _claim_status(result: rules.AdjudicationResult) -> str:
    statuses = {line.status for line in result.lines}
    if statuses == {"denied"}:
        return "denied"
    if statuses == {"approved"}:
        return "approved"
    return "partially_approved"


async def submit_claim(
    session: AsyncSession, request: ClaimRequest, *, review_rules: bool = True
) -> ClaimOutcome:
    """Adjudicate and record a claim in the caller's transaction; see the module docstring.
    `review_rules=False` skips the rules that pend a claim for a person (a re-adjudication:
    a person decided, or the claim passed them when it was first submitted)."""
    lines = _validated_lines(request)
    day = request.service_date

    member = await session.scalar(
        select(Member).where(Member.member_number == request.member_number)
    )
    if member is None:
        raise NotFound(f"Member {request.member_number} not found.", type_="member-not-found")
    provider = await session.scalar(
        select(Provider).where(Provider.provider_code == request.provider_code)
    )
    if provider is None:
        raise NotFound(f"Provider {request.provider_code} not found.", type_="provider-not-found")
    coverage = await _coverage(session, member, day)
    policy = await session.get(Policy, coverage.policy_id)
    plan = await session.get(Plan, coverage.plan_id)
    if policy is None or plan is None:  # pragma: no cover - foreign keys guarantee them
        raise NotFound("Coverage refers to a missing policy or plan.")

    codes = sorted({line.benefit_code for line in lines})
    known = set(
        (
            await session.scalars(
                select(PlanBenefit.benefit_code).where(PlanBenefit.benefit_code.in_(codes))
            )
        ).all()
    )
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise NotFound(f"Unknown benefit code(s): {', '.join(unknown)}.", type_="benefit-not-found")
    benefits = list(
        (await session.scalars(select(PlanBenefit).where(PlanBenefit.plan_id == plan.id))).all()
    )
    claimed = [b for b in benefits if b.benefit_code in codes]
    exclusions = (
        await session.scalars(
            select(Exclusion).where(or_(Exclusion.plan_id == plan.id, Exclusion.plan_id.is_(None)))
        )
    ).all()
    authorizations = await preauth.claim_authorizations(
        session, member, request.service_type, request.authorization_number
    )
    contract = await _contract(session, provider, day)

    # The pend-for-a-person settings, read before any lock is taken.
    review = await _review_settings(session, request.claim_type) if review_rules else None

    # Locks, in the fixed order: accumulator rows, then (ASO) the policy row.
    year = day.year
    family = bool(plan.family_deductible) or plan.family_oop_max is not None
    family_ids = [member.id]
    if family:
        family_ids = sorted(
            set(
                (
                    await session.scalars(
                        select(MemberCoverage.member_id).where(
                            MemberCoverage.policy_id == policy.id,
                            MemberCoverage.plan_id == plan.id,
                        )
                    )
                ).all()
            )
            | {member.id},
            key=str,
        )
    locked = await _lock_accumulators(
        session,
        member_id=member.id,
        family_ids=family_ids,
        plan=plan,
        year=year,
        benefits=claimed,
    )
    plan_rows = {a.member_id: a for a in locked if a.benefit_code is None}
    benefit_rows = {
        a.benefit_code: a for a in locked if a.benefit_code is not None and a.member_id == member.id
    }
    own = plan_rows[member.id]
    # After the accumulator locks: the letter's row, then what earlier claims used of it.
    auth_inputs = await preauth.engine_inputs(
        session,
        authorizations,
        provider_id=provider.id,
        service_date=day,
        named=request.authorization_number is not None,
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
            await _lifetime_used(session, member.id, plan.id, year)
            if plan.lifetime_limit is not None
            else ZERO
        ),
        deductible_met_individual=own.deductible_met or ZERO,
        deductible_met_family=sum((a.deductible_met or ZERO for a in plan_rows.values()), ZERO),
        oop_individual=await _out_of_pocket(session, [member.id], policy.id, year)
        if plan.individual_oop_max is not None
        else ZERO,
        oop_family=await _out_of_pocket(session, family_ids, policy.id, year)
        if plan.family_oop_max is not None
        else ZERO,
    )

    claim_facts = rules.ClaimFacts(
        claim_type=cast(rules.ClaimType, request.claim_type),  # validated above
        service_type=request.service_type,
        service_date=day,
        member_id=member.id,
        provider_id=provider.id,
        in_network=provider.is_network is not False,
        admission_date=request.admission_date,
        discharge_date=request.discharge_date,
    )
    result = rules.adjudicate(
        claim=claim_facts,
        lines=lines,
        coverage=rules.CoverageFacts(
            coverage_start_date=coverage.coverage_start_date,
            coverage_end_date=coverage.coverage_end_date,
            member_status=member.status,
            coverage_status=coverage.status,
            policy_status=policy.status,
            inner_limit_applicable=coverage.inner_limit_applicable is not False,
            annual_cap_applicable=bool(coverage.annual_cap_applicable),
        ),
        plan=_plan_facts(plan),
        benefits=[_benefit_facts(b) for b in benefits],
        accumulators=snapshot,
        exclusions=[
            rules.ExclusionFacts(
                exclusion_code=e.exclusion_code,
                exclusion_type=e.exclusion_type,
                icd_code=e.icd_code,
                effective_date=e.effective_date,
                termination_date=e.termination_date,
            )
            for e in exclusions
        ],
        authorizations=auth_inputs.facts,
        contract=None
        if contract is None
        else rules.ProviderContractFacts(
            effective_date=contract.effective_date,
            expiry_date=contract.expiry_date,
            status=contract.status,
            discount_percentage=contract.discount_percentage or ZERO,
            cashless_enabled=contract.cashless_enabled is not False,
            reimbursement_enabled=contract.reimbursement_enabled is not False,
        ),
    )

    # Rules that send the claim to a person (decision 0025): a claim some line of which the
    # plan would pay waits, moving nothing, until POST /claims/{id}/decision.
    review_steps = _review_steps(review, result) if review is not None else []
    pended_reason: str | None = review_steps[0]["code"] if review_steps else None

    # ASO funding: the policy row is the last lock.
    paid = result.totals.paid
    aso_drawn = buffer_drawn = ZERO
    if policy.funding_type == "aso" and paid > 0 and pended_reason is None:
        funds = (
            await session.execute(
                select(Policy.aso_fund_balance, Policy.buffer_fund_balance)
                .where(Policy.id == policy.id)
                .with_for_update()
            )
        ).one()
        aso, buffer = funds[0] or ZERO, funds[1] or ZERO
        if aso + buffer < paid:
            pended_reason = AWAITING_FUNDS
        else:
            aso_drawn = min(aso, paid)
            buffer_drawn = paid - aso_drawn
            await session.execute(
                update(Policy)
                .where(Policy.id == policy.id)
                .values(
                    aso_fund_balance=Policy.aso_fund_balance - aso_drawn,
                    buffer_fund_balance=Policy.buffer_fund_balance - buffer_drawn,
                )
            )

    status = transitions.PENDED if pended_reason else _claim_status(result)
    claim_id = uuid.uuid4()
    claim_number = new_claim_number(day)
    transitions.check_transition(transitions.SUBMITTED, status, claim_number)
    session.add(
        Claim(
            id=claim_id,
            claim_number=claim_number,
            member_id=member.id,
            provider_id=provider.id,
            policy_id=policy.id,
            claim_type=request.claim_type,
            service_type=request.service_type,
            admission_date=request.admission_date,
            discharge_date=request.discharge_date,
            service_date=day,
            status=status,
            total_charged_amount=result.totals.charged,
            total_approved_amount=result.totals.approved,
            total_paid_amount=result.totals.paid,
            member_responsibility=result.totals.member_responsibility,
            created_by=request.created_by,
            updated_by=request.created_by,
        )
    )
    await session.flush()
    funding = _funding_steps(result, aso_drawn, buffer_drawn)
    use_steps = preauth.use_steps(
        result,
        auth_inputs,
        {b.benefit_code: b for b in benefits},
        inner_limit_applicable=coverage.inner_limit_applicable is not False,
    )
    funding = [f + u for f, u in zip(funding, use_steps, strict=True)]
    for submitted, line, fund_step in zip(request.lines, result.lines, funding, strict=True):
        item_status: str = line.status
        reason = line.denial_reason
        pend_steps: list[dict[str, str]] = []
        if pended_reason and line.status != "denied":
            item_status, reason = "pended", pended_reason
            paid_line = quantize(line.paid_amount)
            pend_steps = [
                {**step, "amount_before": str(paid_line), "amount_after": str(paid_line)}
                for step in review_steps
            ]
        session.add(
            ClaimItem(
                claim_id=claim_id,
                benefit_code=line.line.benefit_code,
                service_code=submitted.service_code,
                diagnosis_code=line.line.diagnosis_code,
                procedure_code=line.line.procedure_code,
                quantity=line.line.quantity,
                unit_price=submitted.unit_price,
                charged_amount=quantize(line.line.charged_amount),
                approved_amount=line.approved_amount,
                paid_amount=line.paid_amount,
                deductible_amount=line.deductible_amount,
                coinsurance_amount=line.coinsurance_amount,
                copay_amount=line.copay_amount,
                status=item_status,
                denial_reason=reason,
                adjudication_trace=[
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
            )
        )
    await session.flush()
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
    await write_eob(session, claim_id)  # decided claims only (decision 0027)
    return ClaimOutcome(
        claim_id=claim_id,
        claim_number=claim_number,
        status=status,
        result=result,
        aso_drawn=aso_drawn,
        buffer_drawn=buffer_drawn,
        pended_reason=pended_reason,
    )


async def _apply_deltas(
    session: AsyncSession,
    deltas: rules.Accumulators,
    plan_row: Accumulator,
    benefit_rows: dict[str, Accumulator],
) -> None:
    """Move the locked rows by the engine's deltas (benefit rows: used and visits; the
    plan-level row: annual used and deductible met)."""
    now = func.now()
    for code, usage in deltas.benefits.items():
        row = benefit_rows.get(code)
        if row is None or (usage.used_amount == 0 and usage.visit_count == 0):
            continue
        await session.execute(
            update(Accumulator)
            .where(Accumulator.id == row.id)
            .values(
                used_amount=Accumulator.used_amount + usage.used_amount,
                remaining_amount=Accumulator.limit_amount
                - (Accumulator.used_amount + usage.used_amount),
                visit_count=Accumulator.visit_count + usage.visit_count,
                remaining_visits=Accumulator.visit_limit
                - (Accumulator.visit_count + usage.visit_count),
                last_updated=now,
            )
        )
    if deltas.annual_used or deltas.deductible_met_individual:
        await session.execute(
            update(Accumulator)
            .where(Accumulator.id == plan_row.id)
            .values(
                used_amount=Accumulator.used_amount + deltas.annual_used,
                remaining_amount=Accumulator.limit_amount
                - (Accumulator.used_amount + deltas.annual_used),
                deductible_met=Accumulator.deductible_met + deltas.deductible_met_individual,
                last_updated=now,
            )
        )


# --- the claim's funding record -----------------------------------------------------------

FUNDING_STEP = "funding"


def _funding_steps(
    result: rules.AdjudicationResult, aso_drawn: Decimal, buffer_drawn: Decimal
) -> list[list[dict[str, str]]]:
    """Per line, the trace step recording which ASO fund paid it (empty when nothing was
    drawn): the ASO part is spread over the paying lines in order, then the buffer part, so
    the steps sum to the claim's draws. `void_claim` returns exactly these amounts."""
    steps: list[list[dict[str, str]]] = []
    aso_left = aso_drawn
    for line in result.lines:
        paid = line.paid_amount
        if not (aso_drawn or buffer_drawn) or paid <= 0:
            steps.append([])
            continue
        from_aso = min(aso_left, paid)
        aso_left -= from_aso
        from_buffer = paid - from_aso
        steps.append(
            [
                {
                    "code": FUNDING_STEP,
                    "message": (
                        f"paid {paid} from the ASO fund ({from_aso}) "
                        f"and the buffer fund ({from_buffer})"
                    ),
                    "amount_before": str(paid),
                    "amount_after": str(paid),
                    "aso_fund": str(from_aso),
                    "buffer_fund": str(from_buffer),
                }
            ]
        )
    return steps


def _recorded_funding(items: Sequence[ClaimItem]) -> tuple[Decimal, Decimal]:
    """(ASO, buffer) drawn for the claim, from its items' funding steps. A claim written
    before the steps existed returns its paid total to the ASO fund (the fund drawn first)."""
    aso = buffer = ZERO
    recorded = False
    for item in items:
        for step in item.adjudication_trace or []:
            if step.get("code") == FUNDING_STEP:
                recorded = True
                aso += Decimal(step["aso_fund"])
                buffer += Decimal(step["buffer_fund"])
    if not recorded:
        aso = sum((i.paid_amount or ZERO for i in items if i.status in COUNTED_STATUSES), ZERO)
    return aso, buffer


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
                .order_by(ClaimItem.created_at, ClaimItem.id)
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
    provider, types, dates and lines) against today's plan and accumulators. The models
    have no link column: the old claim's items get a `readjudicated` trace step naming the
    new claim and the new claim's items one naming the old."""
    claim = await _locked_claim(session, claim_id)
    items = list(
        (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim.id)
                .order_by(ClaimItem.created_at, ClaimItem.id)
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
                .order_by(ClaimItem.created_at, ClaimItem.id)
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
                .order_by(ClaimItem.created_at, ClaimItem.id)
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
    new, old = AuditLog.new_values, AuditLog.old_values
    rows = await session.execute(
        select(
            AuditLog.timestamp,
            AuditLog.operation,
            old["status"].astext,
            new["status"].astext,
            AuditLog.user_id,
            User.username,
            AuditLog.user_role,
            AuditLog.request_id,
            new["updated_by"].astext,
        )
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(
            AuditLog.table_name == "claims.claim",
            AuditLog.record_id == claim_id,
            or_(
                AuditLog.operation == "INSERT",
                and_(
                    AuditLog.operation == "UPDATE",
                    literal("status") == any_(AuditLog.changed_fields),
                ),
            ),
        )
        .order_by(AuditLog.timestamp, AuditLog.id)
    )
    return [StatusChange(*row) for row in rows]
