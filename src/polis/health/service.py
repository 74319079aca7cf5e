"""Health configuration use cases: plans (with benefits and exclusions), providers (with
contracts), policies (with their ASO fund movements) and members (with their coverages).

Services flush, never commit: the request owns the transaction, so a failure anywhere
(a duplicate code, a refused value) leaves nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

from pydantic import ValidationError
from sqlalchemy import Select, and_, func, literal, null, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import schemas
from polis.health.adjudication import _per_year_limit
from polis.health.models import (
    Accumulator,
    Claim,
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
from polis.health.views import active_members_view, claim_summary_view
from polis.platform.crypto import get_keyring
from polis.platform.errors import (
    UNIQUE_VIOLATION,
    BusinessRuleError,
    Conflict,
    NotFound,
    field_errors,
    pg_error,
)
from polis.platform.schemas import RequestSchema


@dataclass(frozen=True)
class PlanView:
    """A plan with its benefits and its own exclusions."""

    plan: Plan
    benefits: list[PlanBenefit]
    exclusions: list[Exclusion]


@dataclass(frozen=True)
class ProviderView:
    """A provider with its contracts."""

    provider: Provider
    contracts: list[ProviderContract]


async def _flush_or_conflict(session: AsyncSession, message: str, type_: str) -> None:
    """Flush; a unique violation (a concurrent duplicate) becomes a 409, not a 500."""
    try:
        await session.flush()
    except IntegrityError as exc:
        if pg_error(exc)[0] == UNIQUE_VIOLATION:
            raise Conflict(message, type_=type_) from None
        raise


def _check_period(start: Any, end: Any, what: str) -> None:
    if start is not None and end is not None and end < start:
        raise BusinessRuleError(f"{what} must not be before its start.", type_="invalid-period")


class PlanService:
    """Benefit plans, their benefits and exclusions."""

    def statement(self) -> Select[Plan]:
        """select(Plan), for the list endpoint's pagination."""
        return select(Plan)

    async def get(self, session: AsyncSession, plan_code: str) -> PlanView:
        """The plan, its benefits (by code) and its own exclusions; NotFound otherwise."""
        stmt = (
            select(Plan)
            .where(Plan.plan_code == plan_code)
            .execution_options(populate_existing=True)
        )
        plan = (await session.execute(stmt)).scalar_one_or_none()
        if plan is None:
            raise NotFound(f"Plan {plan_code} does not exist.")
        benefits = await session.scalars(
            select(PlanBenefit)
            .where(PlanBenefit.plan_id == plan.id)
            .order_by(PlanBenefit.benefit_code)
            .execution_options(populate_existing=True)
        )
        exclusions = await session.scalars(
            select(Exclusion)
            .where(Exclusion.plan_id == plan.id)
            .order_by(Exclusion.exclusion_code, Exclusion.id)
            .execution_options(populate_existing=True)
        )
        return PlanView(plan, list(benefits), list(exclusions))

    async def exists(self, session: AsyncSession, plan_code: str) -> bool:
        """Whether a plan has this code."""
        found = await session.scalar(select(Plan.id).where(Plan.plan_code == plan_code))
        return found is not None

    async def create(self, session: AsyncSession, body: schemas.PlanCreate) -> PlanView:
        """Insert the plan, its benefits and exclusions; Conflict when the code is taken."""
        conflict = f"A plan with plan_code {body.plan_code} already exists."
        if await self.exists(session, body.plan_code):
            raise Conflict(conflict, type_="plan-exists")
        fields = body.model_dump(exclude={"benefits", "exclusions"})
        plan = Plan(id=uuid.uuid4(), **fields)
        session.add(plan)
        await _flush_or_conflict(session, conflict, "plan-exists")
        session.add_all(PlanBenefit(plan_id=plan.id, **b.model_dump()) for b in body.benefits)
        session.add_all(Exclusion(plan_id=plan.id, **e.model_dump()) for e in body.exclusions)
        await _flush_or_conflict(session, conflict, "plan-exists")
        return await self.get(session, body.plan_code)

    async def update(
        self, session: AsyncSession, plan_code: str, changes: dict[str, Any]
    ) -> PlanView:
        """Change plan fields (not its code, benefits or exclusions). Claims already
        adjudicated keep their amounts; the plan-level accumulator rows of a changed annual
        limit or individual deductible show it (decision 0069, addendum)."""
        plan = (await self.get(session, plan_code)).plan
        for name, value in changes.items():
            setattr(plan, name, value)
        _check_period(plan.effective_date, plan.termination_date, "termination_date")
        await session.flush()
        if changes.keys() & {"annual_limit", "individual_deductible"}:
            await _restate_plan_accumulators(session, plan)
        return await self.get(session, plan_code)

    # --- a plan's benefits and exclusions, one at a time (decision 0069) -------------------

    async def _plan(self, session: AsyncSession, plan_code: str) -> Plan:
        plan = await session.scalar(select(Plan).where(Plan.plan_code == plan_code))
        if plan is None:
            raise NotFound(f"Plan {plan_code} does not exist.")
        return plan

    async def _benefit(self, session: AsyncSession, plan: Plan, benefit_code: str) -> PlanBenefit:
        """The plan's benefit of that code, locked for the change; NotFound otherwise."""
        benefit = await session.scalar(
            select(PlanBenefit)
            .where(PlanBenefit.plan_id == plan.id, PlanBenefit.benefit_code == benefit_code)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if benefit is None:
            raise NotFound(f"Plan {plan.plan_code} has no benefit {benefit_code}.")
        return benefit

    async def _exclusion(
        self, session: AsyncSession, plan: Plan, exclusion_id: uuid.UUID
    ) -> Exclusion:
        """The plan's own exclusion of that id (not one of every plan's); NotFound otherwise."""
        exclusion = await session.scalar(
            select(Exclusion)
            .where(Exclusion.plan_id == plan.id, Exclusion.id == exclusion_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        if exclusion is None:
            raise NotFound(f"Plan {plan.plan_code} has no exclusion {exclusion_id}.")
        return exclusion

    async def add_benefit(
        self, session: AsyncSession, plan_code: str, body: schemas.BenefitCreate
    ) -> PlanBenefit:
        """Add a benefit to the plan; a code the plan already has is a 422 on benefit_code.
        Claims adjudicated from now on see it."""
        plan = await self._plan(session, plan_code)
        codes = await session.scalars(
            select(PlanBenefit.benefit_code).where(PlanBenefit.plan_id == plan.id)
        )
        try:
            schemas.check_benefit_codes([*codes, body.benefit_code])
        except ValueError as exc:
            raise _code_taken(str(exc)) from None
        benefit = PlanBenefit(id=uuid.uuid4(), plan_id=plan.id, **body.model_dump())
        session.add(benefit)
        try:
            await session.flush()
        except IntegrityError as exc:  # the same code added concurrently
            if pg_error(exc)[0] == UNIQUE_VIOLATION:
                raise _code_taken(f"{schemas.BENEFIT_CODE_UNIQUE}: {body.benefit_code}") from None
            raise
        await _restate_accumulators(session, benefit)
        return benefit

    async def update_benefit(
        self, session: AsyncSession, plan_code: str, benefit_code: str, changes: dict[str, Any]
    ) -> PlanBenefit:
        """Change a benefit's fields; the benefit it leaves must pass BenefitCreate. Claims
        already adjudicated keep their amounts; the next claim uses the new values, and the
        accumulator rows of a changed limit show it (decision 0069)."""
        plan = await self._plan(session, plan_code)
        benefit = await self._benefit(session, plan, benefit_code)
        checked = _merged(schemas.BenefitCreate, benefit, changes)
        for name in changes:
            setattr(benefit, name, getattr(checked, name))
        await session.flush()
        if changes.keys() & {"limit_type", "limit_amount", "limit_visits"}:
            await _restate_accumulators(session, benefit)
        return benefit

    async def benefit_in_use(self, session: AsyncSession, plan: Plan, benefit_code: str) -> bool:
        """Whether an accumulator row of the plan, or a claim line of a member covered under
        the plan, names the benefit. The accumulators are asked first (by plan: adjudication
        creates a row for each of the plan's benefits a claim names), claim lines (a scan by
        benefit_code) only when none does."""
        accumulated = select(Accumulator.id).where(
            Accumulator.plan_id == plan.id, Accumulator.benefit_code == benefit_code
        )
        if await session.scalar(select(accumulated.exists())):
            return True
        covered = select(MemberCoverage.id).where(
            MemberCoverage.member_id == Claim.member_id,
            MemberCoverage.policy_id == Claim.policy_id,
            MemberCoverage.plan_id == plan.id,
        )
        on_policy = select(Policy.id).where(Policy.id == Claim.policy_id, Policy.plan_id == plan.id)
        claimed = (
            select(ClaimItem.id)
            .join(Claim, Claim.id == ClaimItem.claim_id)
            .where(
                ClaimItem.benefit_code == benefit_code, or_(covered.exists(), on_policy.exists())
            )
        )
        return bool(await session.scalar(select(claimed.exists())))

    async def delete_benefit(
        self, session: AsyncSession, plan_code: str, benefit_code: str
    ) -> None:
        """Remove a benefit no claim has used; one in use is a 409 benefit-in-use (deactivate
        it instead: coverage_type not_covered)."""
        plan = await self._plan(session, plan_code)
        benefit = await self._benefit(session, plan, benefit_code)
        if await self.benefit_in_use(session, plan, benefit_code):
            raise Conflict(
                f"Benefit {benefit_code} of plan {plan_code} is used by claims or accumulators"
                " and cannot be removed; deactivate it instead (coverage_type not_covered).",
                type_="benefit-in-use",
            )
        await session.delete(benefit)
        await session.flush()

    async def add_exclusion(
        self, session: AsyncSession, plan_code: str, body: schemas.ExclusionCreate
    ) -> Exclusion:
        """Add an exclusion to the plan; claims adjudicated from now on apply it."""
        plan = await self._plan(session, plan_code)
        exclusion = Exclusion(id=uuid.uuid4(), plan_id=plan.id, **body.model_dump())
        session.add(exclusion)
        await session.flush()
        return exclusion

    async def update_exclusion(
        self,
        session: AsyncSession,
        plan_code: str,
        exclusion_id: uuid.UUID,
        changes: dict[str, Any],
    ) -> Exclusion:
        """Change an exclusion's fields; the exclusion it leaves must pass ExclusionCreate."""
        plan = await self._plan(session, plan_code)
        exclusion = await self._exclusion(session, plan, exclusion_id)
        checked = _merged(schemas.ExclusionCreate, exclusion, changes)
        for name in changes:
            setattr(exclusion, name, getattr(checked, name))
        await session.flush()
        return exclusion

    async def delete_exclusion(
        self, session: AsyncSession, plan_code: str, exclusion_id: uuid.UUID
    ) -> None:
        """Remove an exclusion of the plan (claims already adjudicated are not revisited)."""
        plan = await self._plan(session, plan_code)
        await session.delete(await self._exclusion(session, plan, exclusion_id))
        await session.flush()


_M = TypeVar("_M", bound=RequestSchema)


class InvalidFields(BusinessRuleError):
    """Values a service refuses field by field, answered like a request validation error."""

    type_ = "validation-error"
    title = "Invalid Request"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        noun = "field is" if len(errors) == 1 else "fields are"
        super().__init__(f"{len(errors)} {noun} invalid.", extra={"errors": errors})


def _code_taken(message: str) -> InvalidFields:
    return InvalidFields(
        [{"field": "body.benefit_code", "message": message, "type": "benefit_code_taken"}]
    )


def _merged(model: type[_M], stored: Any, changes: dict[str, Any]) -> _M:
    """schemas.merged, its refusal as InvalidFields naming the body's fields."""
    try:
        return schemas.merged(model, stored, changes)
    except ValidationError as exc:
        errors = field_errors(exc.errors())
        for err in errors:
            if err["field"] in changes and changes[err["field"]] is None:
                err.update(message=f"{err['field']} cannot be null", type="null_not_allowed")
            err["field"] = f"body.{err['field']}" if err["field"] else "body"
        raise InvalidFields(errors) from None


async def _restate_accumulators(session: AsyncSession, benefit: PlanBenefit) -> None:
    """Give the benefit's accumulator rows its limits as adjudication creates them (per-year
    amount, visits), see _restate."""
    await _restate(
        session,
        benefit.plan_id,
        benefit.benefit_code,
        limit_amount=_per_year_limit(benefit),
        visit_limit=benefit.limit_visits,
    )


async def _restate_plan_accumulators(session: AsyncSession, plan: Plan) -> None:
    """Give the plan-level accumulator rows (benefit_code NULL) the plan's values as
    adjudication creates them (annual limit, individual deductible), see _restate."""
    await _restate(
        session,
        plan.id,
        None,
        limit_amount=plan.annual_limit,
        deductible_limit=plan.individual_deductible,
    )


# A copied limit -> the remaining column worked out from it and the used column claims move.
_REMAINING = {
    "limit_amount": ("remaining_amount", "used_amount"),
    "visit_limit": ("remaining_visits", "visit_count"),
}


async def _restate(
    session: AsyncSession, plan_id: uuid.UUID, benefit_code: str | None, **copies: Any
) -> None:
    """Give the plan's accumulator rows of `benefit_code` (None: the plan-level rows), every
    member and year, the values adjudication copies into them when it creates them
    (`copies`: column -> value) and the remaining that leaves (negative below what was
    used); the used amounts, visits and deductible met that claims moved are kept. Only rows
    whose copies differ are written, locked in adjudication's order (member)."""
    columns = Accumulator.__table__.c
    where = (
        Accumulator.plan_id == plan_id,
        Accumulator.benefit_code.is_(None)
        if benefit_code is None
        else Accumulator.benefit_code == benefit_code,
        or_(*(columns[name].is_distinct_from(value) for name, value in copies.items())),
    )
    ids = list(
        await session.scalars(
            select(Accumulator.id)
            .where(*where)
            .order_by(Accumulator.member_id, Accumulator.year)
            .with_for_update()
        )
    )
    if not ids:
        return
    values: dict[str, Any] = dict(copies)
    for name, value in copies.items():
        if name in _REMAINING:
            remaining, used = _REMAINING[name]
            values[remaining] = null() if value is None else literal(value) - columns[used]
    await session.execute(
        update(Accumulator)
        .where(Accumulator.id.in_(ids))
        .values(**values, last_updated=func.now())
        .execution_options(synchronize_session=False)
    )


class ProviderService:
    """Providers and their contracts; bank account numbers are stored encrypted."""

    def statement(self) -> Select[Provider]:
        """select(Provider), for the list endpoint's pagination."""
        return select(Provider)

    async def get(self, session: AsyncSession, provider_code: str) -> ProviderView:
        """The provider and its contracts (by effective date); NotFound otherwise."""
        stmt = (
            select(Provider)
            .where(Provider.provider_code == provider_code)
            .execution_options(populate_existing=True)
        )
        provider = (await session.execute(stmt)).scalar_one_or_none()
        if provider is None:
            raise NotFound(f"Provider {provider_code} does not exist.")
        contracts = await session.scalars(
            select(ProviderContract)
            .where(ProviderContract.provider_id == provider.id)
            .order_by(ProviderContract.effective_date, ProviderContract.contract_number)
            .execution_options(populate_existing=True)
        )
        return ProviderView(provider, list(contracts))

    def _set_bank_account(self, provider: Provider, account: str | None) -> None:
        """Encrypt the number; keep only its mask in clear."""
        if account is None:
            provider.bank_account = None
            provider.bank_account_encrypted = None
            provider.encryption_key_id = None
            return
        sealed = get_keyring().seal("".join(ch for ch in account if ch.isdigit()))
        provider.bank_account = sealed.masked
        provider.bank_account_encrypted = sealed.ciphertext
        provider.encryption_key_id = sealed.key_id

    async def create(self, session: AsyncSession, body: schemas.ProviderCreate) -> ProviderView:
        """Insert the provider and its contracts; Conflict when a code or number is taken."""
        taken = await session.scalar(
            select(Provider.id).where(Provider.provider_code == body.provider_code)
        )
        if taken is not None:
            raise Conflict(
                f"A provider with provider_code {body.provider_code} already exists.",
                type_="provider-exists",
            )
        numbers = [c.contract_number for c in body.contracts]
        used: Sequence[str] = []
        if numbers:
            used = (
                await session.scalars(
                    select(ProviderContract.contract_number).where(
                        ProviderContract.contract_number.in_(numbers)
                    )
                )
            ).all()
        if used:
            raise Conflict(
                f"The contract_number {', '.join(sorted(used))} already exists.",
                type_="contract-exists",
            )
        conflict = "The provider_code or a contract_number already exists."
        provider = Provider(
            id=uuid.uuid4(), **body.model_dump(exclude={"contracts", "bank_account"})
        )
        self._set_bank_account(provider, body.bank_account)
        session.add(provider)
        await _flush_or_conflict(session, conflict, "provider-exists")
        session.add_all(
            ProviderContract(provider_id=provider.id, **c.model_dump()) for c in body.contracts
        )
        await _flush_or_conflict(session, conflict, "provider-exists")
        return await self.get(session, body.provider_code)

    async def update(
        self, session: AsyncSession, provider_code: str, changes: dict[str, Any]
    ) -> ProviderView:
        """Change provider fields (not its code or contracts); a new bank account is
        re-encrypted under the current key."""
        provider = (await self.get(session, provider_code)).provider
        if "bank_account" in changes:
            self._set_bank_account(provider, changes.pop("bank_account"))
        for name, value in changes.items():
            setattr(provider, name, value)
        _check_period(provider.contract_start_date, provider.contract_end_date, "contract_end_date")
        await session.flush()
        return await self.get(session, provider_code)


# --- policies -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PolicyView:
    """A policy and the code of its plan."""

    policy: Policy
    plan_code: str


@dataclass(frozen=True)
class FundMovement:
    """A fund transaction applied to a policy, and the balances after it."""

    policy_number: str
    transaction_type: str
    fund: str
    amount: Decimal
    reference: str | None
    aso_fund_balance: Decimal
    buffer_fund_balance: Decimal


_FUND_COLUMNS = {"aso": Policy.aso_fund_balance, "buffer": Policy.buffer_fund_balance}


async def _plan_id(session: AsyncSession, plan_code: str) -> uuid.UUID | None:
    found: uuid.UUID | None = await session.scalar(
        select(Plan.id).where(Plan.plan_code == plan_code)
    )
    return found


class PolicyService:
    """Group and individual policies, and the movements of their ASO and buffer funds.

    There is no fund transaction table in the seed (nor in models.py): each movement is an
    atomic UPDATE of the balance, which the audit trigger records on policy.policy (old and
    new balances) with a business_context naming the movement."""

    def statement(self) -> Select[Policy]:
        """select(Policy), for the list endpoint's pagination."""
        return select(Policy)

    async def plan_codes(self, session: AsyncSession, policies: Sequence[Policy]) -> list[str]:
        """The plan code of each policy, in order."""
        ids = {p.plan_id for p in policies}
        codes: dict[uuid.UUID, str] = {}
        if ids:
            rows = await session.execute(select(Plan.id, Plan.plan_code).where(Plan.id.in_(ids)))
            codes = {row.id: row.plan_code for row in rows}
        return [codes[p.plan_id] for p in policies]

    async def get(self, session: AsyncSession, policy_number: str) -> PolicyView:
        """The policy and its plan code; NotFound otherwise."""
        stmt = (
            select(Policy, Plan.plan_code)
            .join(Plan, Plan.id == Policy.plan_id)
            .where(Policy.policy_number == policy_number)
            .execution_options(populate_existing=True)
        )
        row = (await session.execute(stmt)).one_or_none()
        if row is None:
            raise NotFound(f"Policy {policy_number} does not exist.")
        return PolicyView(row[0], row[1])

    async def create(self, session: AsyncSession, body: schemas.PolicyCreate) -> PolicyView:
        """Insert the policy under its plan; NotFound for an unknown plan, Conflict for a
        taken number."""
        conflict = f"A policy with policy_number {body.policy_number} already exists."
        plan_id = await _plan_id(session, body.plan_code)
        if plan_id is None:
            raise NotFound(f"Plan {body.plan_code} does not exist (plan_code).")
        taken = await session.scalar(
            select(Policy.id).where(Policy.policy_number == body.policy_number)
        )
        if taken is not None:
            raise Conflict(conflict, type_="policy-exists")
        policy = Policy(id=uuid.uuid4(), plan_id=plan_id, **body.model_dump(exclude={"plan_code"}))
        session.add(policy)
        await _flush_or_conflict(session, conflict, "policy-exists")
        return await self.get(session, body.policy_number)

    async def update(
        self, session: AsyncSession, policy_number: str, changes: dict[str, Any]
    ) -> PolicyView:
        """Change policy fields (a new plan by its code); not the balances."""
        policy = (await self.get(session, policy_number)).policy
        if "plan_code" in changes:
            plan_code = changes.pop("plan_code")
            plan_id = await _plan_id(session, plan_code)
            if plan_id is None:
                raise NotFound(f"Plan {plan_code} does not exist (plan_code).")
            policy.plan_id = plan_id
        for name, value in changes.items():
            setattr(policy, name, value)
        _check_period(policy.effective_date, policy.renewal_date, "renewal_date")
        _check_period(policy.effective_date, policy.termination_date, "termination_date")
        await session.flush()
        return await self.get(session, policy_number)

    async def move_fund(
        self, session: AsyncSession, policy_number: str, body: schemas.FundTransactionCreate
    ) -> FundMovement:
        """Top up or withdraw from an ASO policy's fund in one UPDATE ... RETURNING, so that
        concurrent movements all count; a withdrawal below zero changes nothing (409)."""
        column = _FUND_COLUMNS[body.fund]
        delta = body.amount if body.transaction_type == "top_up" else -body.amount
        context = f"FUND_{body.transaction_type.upper()}:{body.fund}:{body.reference or '-'}"
        await session.execute(
            text("select set_config('app.business_context', :c, true)"), {"c": context[:100]}
        )
        new_balance = func.coalesce(column, 0) + delta
        stmt = (
            update(Policy)
            .where(
                Policy.policy_number == policy_number,
                Policy.funding_type == "aso",
                new_balance >= 0,
            )
            .values({column: new_balance})
            .returning(Policy.aso_fund_balance, Policy.buffer_fund_balance)
            .execution_options(synchronize_session=False)
        )
        row = (await session.execute(stmt)).one_or_none()
        if row is None:
            await self._refusal(session, policy_number, body)
        assert row is not None
        return FundMovement(
            policy_number=policy_number,
            transaction_type=body.transaction_type,
            fund=body.fund,
            amount=body.amount,
            reference=body.reference,
            aso_fund_balance=row.aso_fund_balance,
            buffer_fund_balance=row.buffer_fund_balance,
        )

    async def _refusal(
        self, session: AsyncSession, policy_number: str, body: schemas.FundTransactionCreate
    ) -> None:
        """Raise why the UPDATE matched no row: unknown, not ASO, or not enough funds."""
        policy = (await self.get(session, policy_number)).policy
        if policy.funding_type != "aso":
            raise Conflict(
                f"Policy {policy_number} is not ASO-funded; it takes no fund transactions.",
                type_="policy-not-aso",
            )
        balance = getattr(policy, f"{body.fund}_fund_balance") or Decimal("0.00")
        raise Conflict(
            f"The {body.fund} fund of policy {policy_number} holds {balance:.2f}; "
            f"a withdrawal of {body.amount:.2f} would overdraw it.",
            type_="insufficient-funds",
        )


# --- members ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CoverageView:
    """A coverage with its policy number and plan code."""

    coverage: MemberCoverage
    policy_number: str
    plan_code: str


@dataclass(frozen=True)
class MemberView:
    """A member and their coverages."""

    member: Member
    coverages: list[CoverageView]


class InvalidReferences(BusinessRuleError):
    """Nested codes that name no record, listed field by field like a validation error."""

    type_ = "unknown-reference"
    title = "Unknown Reference"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        noun = "reference is" if len(errors) == 1 else "references are"
        super().__init__(f"{len(errors)} {noun} unknown or not allowed.", extra={"errors": errors})


class MemberService:
    """Members, their encrypted identifiers and their coverages.

    The seed links a dependant to their principal only through member_coverage: the same
    policy, with relationship spouse or child beside the principal's employee coverage. A
    dependant's coverage is therefore accepted only on a policy that already covers an
    active employee."""

    def statement(self, active: bool | None = None) -> Select[Member]:
        """select(Member), for the list endpoint's pagination. `active` True: only members
        the seed's member.active_members_view lists (active, with an active coverage holding
        today's Jakarta date, decision 0074); False: only the others; None: all."""
        stmt = select(Member)
        if active is not None:
            listed = Member.id.in_(select(active_members_view.c.id))
            stmt = stmt.where(listed if active else ~listed)
        return stmt

    async def get(self, session: AsyncSession, member_number: str) -> MemberView:
        """The member and their coverages (by start date); NotFound otherwise."""
        stmt = (
            select(Member)
            .where(Member.member_number == member_number)
            .execution_options(populate_existing=True)
        )
        member = (await session.execute(stmt)).scalar_one_or_none()
        if member is None:
            raise NotFound(f"Member {member_number} does not exist.")
        rows = await session.execute(
            select(MemberCoverage, Policy.policy_number, Plan.plan_code)
            .join(Policy, Policy.id == MemberCoverage.policy_id)
            .join(Plan, Plan.id == MemberCoverage.plan_id)
            .where(MemberCoverage.member_id == member.id)
            # Coverages of one request share created_at: the end date, then the id, settle
            # ties, so the order never depends on how PostgreSQL happens to read the rows.
            .order_by(
                MemberCoverage.coverage_start_date,
                MemberCoverage.coverage_end_date.asc().nulls_last(),
                MemberCoverage.created_at,
                MemberCoverage.id,
            )
            .execution_options(populate_existing=True)
        )
        return MemberView(member, [CoverageView(r[0], r[1], r[2]) for r in rows])

    def _set_identifier(self, member: Member, kind: str, value: str | None) -> None:
        """Encrypt `national_id` or `passport_number`; keep its mask and blind index."""
        ring = get_keyring()
        if value is None:
            setattr(member, kind, None)
            setattr(member, f"{kind}_encrypted", None)
            setattr(member, f"{kind}_hash", None)
            return
        sealed = ring.seal(value.upper())
        setattr(member, kind, sealed.masked)
        setattr(member, f"{kind}_encrypted", sealed.ciphertext)
        setattr(member, f"{kind}_hash", sealed.blind_index)
        member.encryption_key_id = sealed.key_id

    async def _check_nik_free(
        self, session: AsyncSession, nik: str, member_id: uuid.UUID | None = None
    ) -> None:
        stmt = select(Member.id).where(Member.national_id_hash == get_keyring().blind_index(nik))
        if member_id is not None:
            stmt = stmt.where(Member.id != member_id)
        if await session.scalar(stmt) is not None:
            raise Conflict("A member with this national_id already exists.", type_="nik-exists")

    async def _resolve_coverages(
        self, session: AsyncSession, coverages: Sequence[schemas.CoverageCreate]
    ) -> list[tuple[Policy, uuid.UUID]]:
        """(policy, plan id) of each coverage; InvalidReferences listing every bad one."""
        numbers = {c.policy_number for c in coverages}
        codes = {c.plan_code for c in coverages}
        policies = {
            p.policy_number: p
            for p in await session.scalars(select(Policy).where(Policy.policy_number.in_(numbers)))
        }
        plans = {
            row.plan_code: row.id
            for row in await session.execute(
                select(Plan.id, Plan.plan_code).where(Plan.plan_code.in_(codes))
            )
        }
        with_employee = set(
            await session.scalars(
                select(MemberCoverage.policy_id).where(
                    MemberCoverage.policy_id.in_([p.id for p in policies.values()]),
                    MemberCoverage.relationship == "employee",
                    MemberCoverage.status == "active",
                )
            )
        )
        errors: list[dict[str, str]] = []
        resolved: list[tuple[Policy, uuid.UUID]] = []
        for i, cov in enumerate(coverages):
            where = f"body.coverages.{i}"
            policy = policies.get(cov.policy_number)
            plan_id = plans.get(cov.plan_code)
            if policy is None:
                errors.append(_ref_error(f"{where}.policy_number", "Policy", cov.policy_number))
            elif cov.relationship != "employee" and policy.id not in with_employee:
                errors.append(
                    {
                        "field": f"{where}.relationship",
                        "message": f"Policy {cov.policy_number} covers no active employee"
                        " for this dependant",
                        "type": "principal_missing",
                    }
                )
            if plan_id is None:
                errors.append(_ref_error(f"{where}.plan_code", "Plan", cov.plan_code))
            if policy is not None and plan_id is not None:
                resolved.append((policy, plan_id))
        if errors:
            raise InvalidReferences(errors)
        return resolved

    async def create(self, session: AsyncSession, body: schemas.MemberCreate) -> MemberView:
        """Enrol a member with their coverages; Conflict for a taken number or NIK."""
        conflict = "A member with this member_number or national_id already exists."
        taken = await session.scalar(
            select(Member.id).where(Member.member_number == body.member_number)
        )
        if taken is not None:
            raise Conflict(
                f"A member with member_number {body.member_number} already exists.",
                type_="member-exists",
            )
        if body.national_id is not None:
            await self._check_nik_free(session, body.national_id)
        resolved = await self._resolve_coverages(session, body.coverages)
        member = Member(
            id=uuid.uuid4(),
            status="active",
            **body.model_dump(exclude={"coverages", "national_id", "passport_number"}),
        )
        self._set_identifier(member, "national_id", body.national_id)
        self._set_identifier(member, "passport_number", body.passport_number)
        session.add(member)
        await _flush_or_conflict(session, conflict, "member-exists")
        session.add_all(
            MemberCoverage(
                member_id=member.id,
                policy_id=policy.id,
                plan_id=plan_id,
                status="active",
                **cov.model_dump(exclude={"policy_number", "plan_code"}),
            )
            for cov, (policy, plan_id) in zip(body.coverages, resolved, strict=True)
        )
        await session.flush()
        return await self.get(session, body.member_number)

    async def update(
        self, session: AsyncSession, member_number: str, changes: dict[str, Any]
    ) -> MemberView:
        """Change member fields; a new national id or passport number is re-encrypted."""
        member = (await self.get(session, member_number)).member
        for kind in ("national_id", "passport_number"):
            if kind in changes:
                value = changes.pop(kind)
                if kind == "national_id" and value is not None:
                    await self._check_nik_free(session, value, member.id)
                self._set_identifier(member, kind, value)
        for name, value in changes.items():
            setattr(member, name, value)
        if member.birth_date > member.enrollment_date:
            raise BusinessRuleError(
                "birth_date must not be after enrollment_date.", type_="invalid-period"
            )
        await _flush_or_conflict(
            session, "A member with this national_id already exists.", "nik-exists"
        )
        return await self.get(session, member_number)

    async def terminate(
        self, session: AsyncSession, member_number: str, termination_date: date
    ) -> MemberView:
        """End the member and each of their open coverages on `termination_date`; a coverage
        that would start later ends on its start date."""
        member = (await self.get(session, member_number)).member
        if member.status == "terminated":
            raise Conflict(
                f"Member {member_number} is already terminated.", type_="member-terminated"
            )
        if termination_date < member.enrollment_date:
            raise BusinessRuleError(
                "termination_date must not be before enrollment_date.", type_="invalid-period"
            )
        member.status = "terminated"
        member.termination_date = termination_date
        end = func.least(
            func.coalesce(MemberCoverage.coverage_end_date, termination_date), termination_date
        )
        await session.execute(
            update(MemberCoverage)
            .where(
                MemberCoverage.member_id == member.id,
                MemberCoverage.status != "terminated",
            )
            .values(
                status="terminated",
                coverage_end_date=func.greatest(end, MemberCoverage.coverage_start_date),
            )
            .execution_options(synchronize_session=False)
        )
        await session.flush()
        return await self.get(session, member_number)


# --- claims -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimView:
    """A claim with the member number and provider code it refers to, and its lines."""

    claim: Claim
    member_number: str
    provider_code: str
    items: Sequence[ClaimItem] = ()


@dataclass(frozen=True)
class ClaimFilter:
    """Filters of the claim list (None: not filtered)."""

    status: str | None = None
    member_number: str | None = None
    provider_code: str | None = None
    service_date_from: date | None = None
    service_date_to: date | None = None


class ClaimService:
    """Reads of adjudicated claims (submission is polis.health.adjudication.submit_claim)."""

    def statement(self, where: ClaimFilter) -> Select[Any]:
        """The claims matching the filter (to be paged), as rows read from the seed's
        claims.claim_summary_view (member_number, member_name, provider_name, totals) joined
        to the claim for the columns the view leaves out and to the provider for its code.
        Row keys are the list schema's field names; `id` and `submission_date` are the
        keyset's columns (Claim.id, Claim.submission_date)."""
        v = claim_summary_view
        stmt = (
            select(
                Claim.id,
                v.c.claim_number,
                v.c.member_number,
                v.c.member_name,
                Provider.provider_code,
                v.c.provider_name,
                Claim.claim_type,
                Claim.service_type,
                v.c.service_date,
                Claim.admission_date,
                Claim.discharge_date,
                v.c.status,
                v.c.total_charged_amount,
                v.c.total_approved_amount,
                v.c.total_paid_amount,
                Claim.member_responsibility,
                Claim.submission_date,
            )
            .select_from(v)
            .join(Claim, and_(Claim.id == v.c.id, Claim.service_date == v.c.service_date))
            .join(Provider, Provider.id == Claim.provider_id)
        )
        if where.status is not None:
            stmt = stmt.where(v.c.status == where.status)
        if where.member_number is not None:
            stmt = stmt.where(v.c.member_number == where.member_number)
        if where.provider_code is not None:
            stmt = stmt.where(Provider.provider_code == where.provider_code)
        if where.service_date_from is not None:
            stmt = stmt.where(v.c.service_date >= where.service_date_from)
        if where.service_date_to is not None:
            stmt = stmt.where(v.c.service_date <= where.service_date_to)
        return stmt

    async def views(self, session: AsyncSession, claims: Sequence[Claim]) -> list[ClaimView]:
        """Claims with their member numbers and provider codes (without lines)."""
        member_ids = {c.member_id for c in claims}
        provider_ids = {c.provider_id for c in claims}
        members: dict[uuid.UUID, str] = {}
        providers: dict[uuid.UUID, str] = {}
        if member_ids:
            rows = await session.execute(
                select(Member.id, Member.member_number).where(Member.id.in_(member_ids))
            )
            members = {r[0]: r[1] for r in rows}
        if provider_ids:
            rows = await session.execute(
                select(Provider.id, Provider.provider_code).where(Provider.id.in_(provider_ids))
            )
            providers = {r[0]: r[1] for r in rows}
        return [ClaimView(c, members[c.member_id], providers[c.provider_id]) for c in claims]

    async def get(self, session: AsyncSession, claim_id: uuid.UUID) -> ClaimView:
        """One claim with its lines (by creation, then id); 404 when there is none."""
        claim = await session.scalar(
            select(Claim).where(Claim.id == claim_id).execution_options(populate_existing=True)
        )
        if claim is None:
            raise NotFound(f"Claim {claim_id} not found.", type_="claim-not-found")
        items = (
            await session.scalars(
                select(ClaimItem)
                .where(ClaimItem.claim_id == claim_id)
                .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
                .execution_options(populate_existing=True)
            )
        ).all()
        (view,) = await self.views(session, [claim])
        return ClaimView(view.claim, view.member_number, view.provider_code, items)


def _ref_error(field: str, what: str, code: str) -> dict[str, str]:
    return {"field": field, "message": f"{what} {code} does not exist", "type": "not_found"}


plan = PlanService()
provider = ProviderService()
policy = PolicyService()
member = MemberService()
claim = ClaimService()
