"""Health configuration use cases: plans (with benefits and exclusions) and providers (with
contracts).

Services flush, never commit: the request owns the transaction, so a failure anywhere
(a duplicate code, a refused value) leaves nothing written.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import schemas
from polis.health.models import Exclusion, Plan, PlanBenefit, Provider, ProviderContract
from polis.platform.crypto import get_keyring, mask
from polis.platform.errors import BusinessRuleError, Conflict, NotFound, pg_error

UNIQUE_VIOLATION = "23505"


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
        """Change plan fields (not its code, benefits or exclusions)."""
        plan = (await self.get(session, plan_code)).plan
        for name, value in changes.items():
            setattr(plan, name, value)
        _check_period(plan.effective_date, plan.termination_date, "termination_date")
        await session.flush()
        return await self.get(session, plan_code)


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
        digits = "".join(ch for ch in account if ch.isdigit())
        ring = get_keyring()
        blob = ring.encrypt(digits)
        provider.bank_account = mask(digits)
        provider.bank_account_encrypted = blob
        provider.encryption_key_id = ring.key_id(blob)

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


plan = PlanService()
provider = ProviderService()
