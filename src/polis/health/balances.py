"""A member's eligibility on a date and benefit balances for a year (decision 0019).

Both are reads that must agree with adjudication (`polis.health.adjudication.submit_claim`):

- Eligibility picks the coverage and provider contract the way submission does and asks the
  engine's own rule, `polis.health.rules.eligibility_reasons`, for every reason the
  eligibility step would deny a claim on that date, with the same reason codes.
- Balances read `member.accumulator` as adjudication writes it (decisions 0013, 0016): the
  per-benefit rows (used amount, visits; per-year limit and remaining), the plan-level row
  (benefit_code NULL: annual used, deductible met), the other years' plan-level rows
  (lifetime), and out of pocket summed from the counted claims' items. Per-year
  `remaining_amount` is `limit_amount - used_amount` of the row, which is what
  `benefit.calculate_remaining_benefit` answers; with no row yet, the plan's full limit.

Nothing here locks or writes.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import cast

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import balances_schemas as out
from polis.health import rules
from polis.health.adjudication import _contract as adjudication_contract
from polis.health.adjudication import _out_of_pocket as out_of_pocket
from polis.health.models import (
    Accumulator,
    Member,
    MemberCoverage,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)
from polis.platform.errors import NotFound
from polis.platform.money import quantize

ZERO = Decimal("0.00")


async def _member(session: AsyncSession, member_number: str) -> Member:
    member = await session.scalar(select(Member).where(Member.member_number == member_number))
    if member is None:
        raise NotFound(f"Member {member_number} not found.", type_="member-not-found")
    return member


async def _provider(session: AsyncSession, provider_code: str) -> Provider:
    provider = await session.scalar(select(Provider).where(Provider.provider_code == provider_code))
    if provider is None:
        raise NotFound(f"Provider {provider_code} not found.", type_="provider-not-found")
    return provider


@dataclass(frozen=True)
class _CoverageRow:
    coverage: MemberCoverage
    policy: Policy
    plan: Plan


async def _coverages(
    session: AsyncSession, member_id: uuid.UUID, start: date, end: date
) -> list[_CoverageRow]:
    """The member's coverages whose period overlaps [start, end], in the order submission
    picks one for a day: active first, then the latest start (then the oldest row)."""
    rows = await session.execute(
        select(MemberCoverage, Policy, Plan)
        .join(Policy, Policy.id == MemberCoverage.policy_id)
        .join(Plan, Plan.id == MemberCoverage.plan_id)
        .where(
            MemberCoverage.member_id == member_id,
            MemberCoverage.coverage_start_date <= end,
            or_(
                MemberCoverage.coverage_end_date.is_(None),
                MemberCoverage.coverage_end_date >= start,
            ),
        )
        .order_by(
            (MemberCoverage.status == "active").desc(),
            MemberCoverage.coverage_start_date.desc(),
            MemberCoverage.created_at,
            MemberCoverage.id,
        )
    )
    return [_CoverageRow(r[0], r[1], r[2]) for r in rows]


async def _nearest_coverage(
    session: AsyncSession, member_id: uuid.UUID, day: date
) -> _CoverageRow | None:
    """With no coverage holding `day`: the last one that started before it, else the first
    one to start after it (the engine then denies for the dates)."""
    base = (
        select(MemberCoverage, Policy, Plan)
        .join(Policy, Policy.id == MemberCoverage.policy_id)
        .join(Plan, Plan.id == MemberCoverage.plan_id)
        .where(MemberCoverage.member_id == member_id)
    )
    for stmt in (
        base.where(MemberCoverage.coverage_start_date <= day).order_by(
            MemberCoverage.coverage_start_date.desc(), MemberCoverage.created_at.desc()
        ),
        base.order_by(MemberCoverage.coverage_start_date, MemberCoverage.created_at),
    ):
        row = (await session.execute(stmt.limit(1))).first()
        if row is not None:
            return _CoverageRow(row[0], row[1], row[2])
    return None


def _coverage_facts(member: Member, row: _CoverageRow | None) -> rules.CoverageFacts:
    """The engine's view of a coverage, as submit_claim builds it. A member with no coverage
    at all gets one that never starts: the engine's date check then denies."""
    if row is None:
        return rules.CoverageFacts(coverage_start_date=date.max, member_status=member.status)
    c = row.coverage
    return rules.CoverageFacts(
        coverage_start_date=c.coverage_start_date,
        coverage_end_date=c.coverage_end_date,
        member_status=member.status,
        coverage_status=c.status,
        policy_status=row.policy.status,
        inner_limit_applicable=c.inner_limit_applicable is not False,
        annual_cap_applicable=bool(c.annual_cap_applicable),
    )


def _contract_facts(contract: ProviderContract | None) -> rules.ProviderContractFacts | None:
    if contract is None:
        return None
    return rules.ProviderContractFacts(
        effective_date=contract.effective_date,
        expiry_date=contract.expiry_date,
        status=contract.status,
        discount_percentage=contract.discount_percentage or ZERO,
        cashless_enabled=contract.cashless_enabled is not False,
        reimbursement_enabled=contract.reimbursement_enabled is not False,
    )


async def eligibility(
    session: AsyncSession,
    member_number: str,
    day: date,
    provider_code: str | None = None,
    claim_type: str = "cashless",
) -> out.Eligibility:
    """Whether a claim of `claim_type` at the provider on `day` would pass the eligibility
    step (without a provider: the member, coverage and policy only); NotFound for an
    unknown member or provider."""
    member = await _member(session, member_number)
    provider = await _provider(session, provider_code) if provider_code is not None else None
    holding = await _coverages(session, member.id, day, day)
    chosen = holding[0] if holding else await _nearest_coverage(session, member.id, day)
    facts = _coverage_facts(member, chosen)

    provider_out: out.EligibilityProvider | None = None
    judged: rules.ClaimType | None = None
    contract: ProviderContract | None = None
    if provider is not None:
        judged = cast(rules.ClaimType, claim_type)
        contract = await adjudication_contract(session, provider, day)
        contract_facts = _contract_facts(contract)
        active = (
            contract_facts is not None
            and contract_facts.status == "active"
            and contract_facts.effective_date <= day <= contract_facts.expiry_date
        )
        allowed: list[out.ClaimTypeName] = []
        if active and contract_facts is not None:
            if contract_facts.cashless_enabled:
                allowed.append("cashless")
            if contract_facts.reimbursement_enabled:
                allowed.append("reimbursement")
        provider_out = out.EligibilityProvider(
            provider_code=provider.provider_code,
            provider_name=provider.provider_name,
            is_network=provider.is_network is not False,
            status=provider.status,
            contract_number=contract.contract_number if contract is not None else None,
            contract_active=active,
            claim_types=allowed,
        )
    reasons = rules.eligibility_reasons(
        day, facts, claim_type=judged, contract=_contract_facts(contract)
    )
    return out.Eligibility(
        member_number=member.member_number,
        date=day,
        claim_type=judged,
        eligible=not reasons,
        reasons=[out.EligibilityReason(code=code, message=msg) for code, msg in reasons],
        status=member.status,
        coverages=[
            out.EligibilityCoverage(
                policy_number=r.policy.policy_number,
                plan_code=r.plan.plan_code,
                relationship=r.coverage.relationship,
                coverage_start_date=r.coverage.coverage_start_date,
                coverage_end_date=r.coverage.coverage_end_date,
                inner_limit_applicable=r.coverage.inner_limit_applicable is not False,
                annual_cap_applicable=bool(r.coverage.annual_cap_applicable),
                status=r.coverage.status,
                policy_status=r.policy.status,
                funding_type=r.policy.funding_type,
            )
            for r in holding
        ],
        provider=provider_out,
    )


# --- balances -----------------------------------------------------------------------------


def _left(limit: Decimal | None, used: Decimal) -> Decimal | None:
    """limit - used (None without a limit), as adjudication computes headroom."""
    return None if limit is None else quantize(limit - used)


async def _policy_members(
    session: AsyncSession, member_id: uuid.UUID, policy_id: uuid.UUID, plan_id: uuid.UUID
) -> list[uuid.UUID]:
    """The members the policy covers under the plan (the family of decision 0016)."""
    covered = (
        await session.scalars(
            select(MemberCoverage.member_id).where(
                MemberCoverage.policy_id == policy_id, MemberCoverage.plan_id == plan_id
            )
        )
    ).all()
    return sorted(set(covered) | {member_id}, key=str)


async def _plan_balance(
    session: AsyncSession, member: Member, row: _CoverageRow, year: int
) -> out.PlanBalance:
    plan, policy, coverage = row.plan, row.policy, row.coverage
    accumulators: Sequence[Accumulator] = (
        await session.scalars(
            select(Accumulator).where(
                Accumulator.member_id == member.id,
                Accumulator.plan_id == plan.id,
                Accumulator.year == year,
            )
        )
    ).all()
    by_code = {a.benefit_code: a for a in accumulators}
    own = by_code.get(None)
    annual_used = quantize(own.used_amount or 0) if own is not None else ZERO
    deductible_met = quantize(own.deductible_met or 0) if own is not None else ZERO
    lifetime_used = quantize(
        await session.scalar(
            select(func.coalesce(func.sum(Accumulator.used_amount), 0)).where(
                Accumulator.member_id == member.id,
                Accumulator.plan_id == plan.id,
                Accumulator.benefit_code.is_(None),
            )
        )
        or 0
    )
    family = await _policy_members(session, member.id, policy.id, plan.id)
    family_met = quantize(
        await session.scalar(
            select(func.coalesce(func.sum(Accumulator.deductible_met), 0)).where(
                Accumulator.member_id.in_(family),
                Accumulator.plan_id == plan.id,
                Accumulator.year == year,
                Accumulator.benefit_code.is_(None),
            )
        )
        or 0
    )
    oop = await out_of_pocket(session, [member.id], policy.id, year)
    family_oop = await out_of_pocket(session, family, policy.id, year)

    benefits = (
        await session.scalars(
            select(PlanBenefit)
            .where(PlanBenefit.plan_id == plan.id)
            .order_by(PlanBenefit.benefit_code)
        )
    ).all()
    balances: list[out.BenefitBalance] = []
    for b in benefits:
        acc = by_code.get(b.benefit_code)
        used = quantize(acc.used_amount or 0) if acc is not None else ZERO
        visits = (acc.visit_count or 0) if acc is not None else 0
        remaining: Decimal | None = None
        if b.limit_type == "per_year" and b.limit_amount is not None:
            # The row's own limit once it exists (calculate_remaining_benefit reads the row);
            # before the first claim, the plan's full limit.
            limit = acc.limit_amount if acc is not None and acc.limit_amount is not None else None
            remaining = _left(limit if limit is not None else b.limit_amount, used)
        visit_limit = b.limit_visits
        balances.append(
            out.BenefitBalance(
                benefit_code=b.benefit_code,
                benefit_name=b.benefit_name,
                benefit_category=b.benefit_category,
                coverage_type=b.coverage_type,
                limit_type=b.limit_type,
                limit_amount=b.limit_amount,
                limit_days=b.limit_days,
                used_amount=used,
                remaining_amount=remaining,
                visit_limit=visit_limit,
                visit_count=visits,
                remaining_visits=None if visit_limit is None else visit_limit - visits,
            )
        )
    individual_deductible = quantize(plan.individual_deductible or 0)
    family_deductible = quantize(plan.family_deductible or 0)
    return out.PlanBalance(
        policy_number=policy.policy_number,
        plan_code=plan.plan_code,
        plan_name=plan.plan_name,
        relationship=coverage.relationship,
        inner_limit_applicable=coverage.inner_limit_applicable is not False,
        annual_cap_applicable=bool(coverage.annual_cap_applicable),
        annual_limit=plan.annual_limit,
        annual_used=annual_used,
        annual_remaining=_left(plan.annual_limit, annual_used),
        individual_deductible=individual_deductible,
        deductible_met=deductible_met,
        deductible_remaining=max(individual_deductible - deductible_met, ZERO),
        family_deductible=family_deductible,
        family_deductible_met=family_met,
        family_deductible_remaining=(
            max(family_deductible - family_met, ZERO) if family_deductible else None
        ),
        lifetime_limit=plan.lifetime_limit,
        lifetime_used=lifetime_used,
        lifetime_remaining=_left(plan.lifetime_limit, lifetime_used),
        individual_oop_max=plan.individual_oop_max,
        oop_used=oop,
        oop_remaining=_left(plan.individual_oop_max, oop),
        family_oop_max=plan.family_oop_max,
        family_oop_used=family_oop,
        family_oop_remaining=_left(plan.family_oop_max, family_oop),
        benefits=balances,
    )


async def benefits(session: AsyncSession, member_number: str, year: int) -> out.Benefits:
    """The member's balances in `year`, per (policy, plan) of the coverages overlapping the
    year (the coverage adjudication would pick first for a date comes first); NotFound for
    an unknown member."""
    member = await _member(session, member_number)
    rows = await _coverages(session, member.id, date(year, 1, 1), date(year, 12, 31))
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    plans: list[out.PlanBalance] = []
    for row in rows:
        key = (row.policy.id, row.plan.id)
        if key in seen:
            continue
        seen.add(key)
        plans.append(await _plan_balance(session, member, row, year))
    return out.Benefits(member_number=member.member_number, year=year, plans=plans)
