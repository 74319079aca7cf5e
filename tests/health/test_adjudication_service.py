"""Claim submission (polis.health.adjudication) against PostgreSQL: rows written to the
rupiah, accumulators moved exactly, bad input writes nothing, ASO funds drawn or the claim
pended, and concurrent claims never spend a per-year limit twice."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.adjudication import (
    AWAITING_FUNDS,
    ClaimLineRequest,
    ClaimRequest,
    submit_claim,
)
from polis.health.models import (
    Accumulator,
    Claim,
    ClaimItem,
    Member,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)
from polis.platform.errors import BusinessRuleError, NotFound
from tests.health.test_schema import add_member, cover

D = Decimal
DAY = date(2025, 3, 10)


def _n() -> str:
    return uuid.uuid4().hex[:12].upper()


@dataclass
class ClaimWorld:
    plan: Plan
    policy: Policy
    provider: Provider
    member: Member


async def build_world(
    session: AsyncSession,
    *,
    funding: str = "full_insured",
    aso: Decimal = D("0"),
    buffer: Decimal = D("0"),
    deductible: Decimal = D("500000.00"),
    op_limit: Decimal = D("2000000.00"),
    op_copay: Decimal = D("50000.00"),
    op_coinsurance: Decimal = D("10"),
    discount: Decimal = D("10"),
    family_deductible: Decimal = D("0"),
) -> ClaimWorld:
    """A plan (OP-GP per year, IP-ROOM per day, DENT not covered), a policy on it, a network
    hospital with a contract and one member covered from 2020."""
    plan = Plan(
        plan_code=f"PLN-{_n()}",
        plan_name="Gold",
        plan_type="premium",
        annual_limit=D("100000000.00"),
        individual_deductible=deductible,
        family_deductible=family_deductible,
        effective_date=date(2020, 1, 1),
    )
    session.add(plan)
    await session.flush()
    session.add_all(
        [
            PlanBenefit(
                plan_id=plan.id,
                benefit_code="OP-GP",
                benefit_name="GP visit",
                benefit_category="outpatient",
                limit_type="per_year",
                limit_amount=op_limit,
                copay_amount=op_copay,
                coinsurance_percentage=op_coinsurance,
            ),
            PlanBenefit(
                plan_id=plan.id,
                benefit_code="IP-ROOM",
                benefit_name="Room and board",
                benefit_category="inpatient",
                limit_type="per_day",
                limit_amount=D("1000000.00"),
                limit_days=30,
            ),
            PlanBenefit(
                plan_id=plan.id,
                benefit_code="DENT",
                benefit_name="Dental",
                benefit_category="dental",
                coverage_type="not_covered",
            ),
        ]
    )
    policy = Policy(
        policy_number=f"POL-{_n()}",
        company_name="PT Maju Bersama",
        policy_type="group",
        plan_id=plan.id,
        effective_date=date(2020, 1, 1),
        renewal_date=date(2030, 1, 1),
        funding_type=funding,
        aso_fund_balance=aso,
        buffer_fund_balance=buffer,
    )
    provider = Provider(
        provider_code=f"PRV-{_n()}",
        provider_name="RS Medika Jakarta",
        provider_type="hospital",
        provider_class="A",
    )
    session.add_all([policy, provider])
    await session.flush()
    session.add(
        ProviderContract(
            provider_id=provider.id,
            contract_number=f"CTR-{_n()}",
            effective_date=date(2020, 1, 1),
            expiry_date=date(2030, 12, 31),
            discount_percentage=discount,
        )
    )
    await session.flush()
    member = await add_member(session)
    await cover(session, member, policy, plan)  # from 2020-01-01, open-ended
    return ClaimWorld(plan=plan, policy=policy, provider=provider, member=member)


def request(w: ClaimWorld, *lines: ClaimLineRequest, **over: Any) -> ClaimRequest:
    values: dict[str, Any] = {
        "member_number": w.member.member_number,
        "provider_code": w.provider.provider_code,
        "claim_type": "cashless",
        "service_type": "outpatient",
        "service_date": DAY,
        "lines": lines or (gp(),),
    }
    values.update(over)
    return ClaimRequest(**values)


def gp(amount: str = "1000000.00", **over: Any) -> ClaimLineRequest:
    values: dict[str, Any] = {
        "benefit_code": "OP-GP",
        "charged_amount": D(amount),
        "diagnosis_code": "J06.9",
    }
    values.update(over)
    return ClaimLineRequest(**values)


async def accumulators(session: AsyncSession, w: ClaimWorld) -> dict[str | None, tuple[Any, ...]]:
    rows = (
        await session.execute(
            select(
                Accumulator.benefit_code,
                Accumulator.used_amount,
                Accumulator.visit_count,
                Accumulator.remaining_amount,
                Accumulator.deductible_met,
            ).where(Accumulator.member_id == w.member.id, Accumulator.year == 2025)
        )
    ).all()
    return {r[0]: tuple(r[1:]) for r in rows}


async def count(session: AsyncSession, model: Any, *where: Any) -> int:
    return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


# --- one claim, to the rupiah -------------------------------------------------------------


async def test_claim_rows_and_accumulators_exact(session: AsyncSession) -> None:
    w = await build_world(session)
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))
    outcome = await submit_claim(session, request(w, gp(), dental))

    # OP-GP: 1,000,000 - 10% = 900,000 allowed; deductible 500,000; copay 50,000;
    # coinsurance 10% of 350,000 = 35,000; the plan pays 315,000.
    assert outcome.status == "partially_approved"
    assert outcome.claim_number.startswith("CLM-2025-")
    claim = await session.scalar(select(Claim).where(Claim.id == outcome.claim_id))
    assert claim is not None
    assert (
        claim.status,
        claim.total_charged_amount,
        claim.total_approved_amount,
        claim.total_paid_amount,
        claim.member_responsibility,
    ) == ("partially_approved", D("1200000.00"), D("900000.00"), D("315000.00"), D("885000.00"))
    items = (
        await session.execute(
            select(
                ClaimItem.benefit_code,
                ClaimItem.status,
                ClaimItem.approved_amount,
                ClaimItem.paid_amount,
                ClaimItem.deductible_amount,
                ClaimItem.copay_amount,
                ClaimItem.coinsurance_amount,
                ClaimItem.denial_reason,
            )
            .where(ClaimItem.claim_id == outcome.claim_id)
            .order_by(ClaimItem.benefit_code.desc())
        )
    ).all()
    assert [tuple(i) for i in items] == [
        (
            "OP-GP",
            "approved",
            D("900000.00"),
            D("315000.00"),
            D("500000.00"),
            D("50000.00"),
            D("35000.00"),
            None,
        ),
        ("DENT", "denied", D("0.00"), D("0.00"), D("0.00"), D("0.00"), D("0.00"), "not_covered"),
    ]
    # The trace comes back with the outcome and is kept on the line (decision 0017).
    assert outcome.result.lines[1].trace[-1].code == "not_covered"
    traces = dict(
        (
            await session.execute(
                select(ClaimItem.benefit_code, ClaimItem.adjudication_trace).where(
                    ClaimItem.claim_id == outcome.claim_id
                )
            )
        ).all()
    )
    assert traces["DENT"][-1] == {
        "code": "not_covered",
        "message": traces["DENT"][-1]["message"],
        "amount_before": "200000.00",
        "amount_after": "0.00",
    }
    gp_steps = traces["OP-GP"]
    assert gp_steps[0]["amount_before"] == "1000000.00"
    assert gp_steps[-1]["amount_after"] == "315000.00"
    codes = [step["code"] for step in gp_steps]
    assert codes.index("deductible") < codes.index("copay") < codes.index("coinsurance")

    acc = await accumulators(session, w)
    assert acc["OP-GP"] == (D("315000.00"), 1, D("1685000.00"), D("0.00"))
    assert acc[None] == (D("315000.00"), 0, D("99685000.00"), D("500000.00"))
    assert acc["DENT"][:2] == (D("0.00"), 0)  # created and locked, never moved

    # A second claim sees the first's accumulators: no deductible left.
    second = await submit_claim(session, request(w))
    assert second.status == "approved"
    assert second.result.totals.paid == D("765000.00")  # 900,000 - 50,000 - 85,000
    acc = await accumulators(session, w)
    assert acc["OP-GP"] == (D("1080000.00"), 2, D("920000.00"), D("0.00"))
    assert acc[None][0] == D("1080000.00") and acc[None][3] == D("500000.00")


async def test_per_year_limit_caps_then_denies(session: AsyncSession) -> None:
    w = await build_world(
        session, deductible=D("0"), op_copay=D("0"), op_coinsurance=D("0"), discount=D("0")
    )
    first = await submit_claim(session, request(w, gp("1500000.00")))
    second = await submit_claim(session, request(w, gp("1500000.00")))
    third = await submit_claim(session, request(w, gp("100000.00")))
    assert first.result.totals.paid == D("1500000.00")
    assert (second.status, second.result.totals.paid) == ("partially_approved", D("500000.00"))
    assert (third.status, third.result.lines[0].denial_reason) == ("denied", "per_year_limit")
    acc = await accumulators(session, w)
    assert acc["OP-GP"][:3] == (D("2000000.00"), 2, D("0.00"))


async def test_family_deductible_across_the_policy(session: AsyncSession) -> None:
    w = await build_world(session, family_deductible=D("700000.00"))
    spouse = await add_member(session, first_name="Budi")
    await cover(session, spouse, w.policy, w.plan)
    first = await submit_claim(session, request(w))
    assert first.result.totals.deductible == D("500000.00")
    # The spouse's individual deductible is untouched, the family has 200,000 left.
    second = await submit_claim(session, request(w, member_number=spouse.member_number))
    assert second.result.totals.deductible == D("200000.00")
    met = (
        await session.scalars(
            select(Accumulator.deductible_met)
            .where(Accumulator.plan_id == w.plan.id, Accumulator.benefit_code.is_(None))
            .order_by(Accumulator.deductible_met)
        )
    ).all()
    assert list(met) == [D("200000.00"), D("500000.00")]


# --- bad input writes nothing -------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "error", "type_"),
    [
        ({"member_number": "MBR-NOPE"}, NotFound, "member-not-found"),
        ({"provider_code": "PRV-NOPE"}, NotFound, "provider-not-found"),
        (
            {"lines": (ClaimLineRequest(benefit_code="NO-SUCH", charged_amount=D("1")),)},
            NotFound,
            "benefit-not-found",
        ),
        ({"lines": (gp(diagnosis_code="ZZZ.99"),)}, BusinessRuleError, "invalid-icd10"),
        (
            {"admission_date": date(2025, 3, 12), "discharge_date": date(2025, 3, 10)},
            BusinessRuleError,
            "invalid-period",
        ),
        ({"service_date": date(2019, 6, 1)}, BusinessRuleError, "no-coverage"),
        ({"claim_type": "barter"}, BusinessRuleError, "invalid-claim"),
        ({"lines": ()}, BusinessRuleError, "invalid-claim"),
        ({"lines": (gp("-1.00"),)}, BusinessRuleError, "invalid-claim"),
    ],
)
async def test_bad_input_writes_nothing(
    session: AsyncSession, change: dict[str, Any], error: type[Exception], type_: str
) -> None:
    w = await build_world(session)
    req = request(w, **{k: v for k, v in change.items() if k != "lines"})
    if "lines" in change:
        req = ClaimRequest(**{**req.__dict__, "lines": change["lines"]})
    with pytest.raises(error) as exc:
        await submit_claim(session, req)
    assert getattr(exc.value, "type_", None) == type_
    assert await count(session, Claim, Claim.member_id == w.member.id) == 0
    assert await count(session, Accumulator, Accumulator.member_id == w.member.id) == 0


# --- ASO funds ----------------------------------------------------------------------------


async def test_aso_draws_fund_then_buffer_then_pends(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("300000.00"), buffer=D("100000.00"))
    first = await submit_claim(session, request(w))
    assert (first.status, first.aso_drawn, first.buffer_drawn) == (
        "approved",
        D("300000.00"),
        D("15000.00"),
    )

    async def funds() -> tuple[Any, ...]:
        row = (
            await session.execute(
                text(
                    "select aso_fund_balance, buffer_fund_balance from policy.policy where id = :i"
                ),
                {"i": w.policy.id},
            )
        ).one()
        return tuple(row)

    assert await funds() == (D("0.00"), D("85000.00"))
    before = await accumulators(session, w)

    # 765,000 to pay, 85,000 left: the claim waits for funds and nothing moves.
    second = await submit_claim(session, request(w))
    assert (second.status, second.pended_reason) == ("pended", AWAITING_FUNDS)
    assert await funds() == (D("0.00"), D("85000.00"))
    assert await accumulators(session, w) == before
    items = (
        await session.execute(
            select(ClaimItem.status, ClaimItem.paid_amount, ClaimItem.denial_reason).where(
                ClaimItem.claim_id == second.claim_id
            )
        )
    ).all()
    assert [tuple(i) for i in items] == [("pended", D("765000.00"), AWAITING_FUNDS)]
    claim_status = await session.scalar(select(Claim.status).where(Claim.id == second.claim_id))
    assert claim_status == "pended"

    # A pended claim moved nothing: the next one is adjudicated against the first alone
    # (deductible met; 90,000 - 50,000 copay - 4,000 coinsurance) and paid from the buffer.
    third = await submit_claim(session, request(w, gp("100000.00")))
    assert (third.status, third.result.totals.paid, third.aso_drawn, third.buffer_drawn) == (
        "approved",
        D("36000.00"),
        D("0.00"),
        D("36000.00"),
    )
    assert await funds() == (D("0.00"), D("49000.00"))
    assert (await accumulators(session, w))["OP-GP"][:2] == (D("351000.00"), 2)


# --- concurrency --------------------------------------------------------------------------


async def test_concurrent_claims_never_overspend(create_database: Callable[[], str]) -> None:
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"), pool_size=30, max_overflow=10)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as s, s.begin():
            w = await build_world(
                s,
                deductible=D("0"),
                op_limit=D("1000000.00"),
                op_copay=D("0"),
                op_coinsurance=D("0"),
                discount=D("0"),
            )

        async def one() -> Decimal:
            async with maker() as s, s.begin():
                outcome = await submit_claim(s, request(w, gp("70000.00")))
                return outcome.result.totals.paid

        paid = await asyncio.gather(*(one() for _ in range(30)))
        assert sum(paid) == D("1000000.00")  # 14 x 70,000 + 20,000, the rest denied
        assert sorted(paid).count(D("70000.00")) == 14
        async with maker() as s:
            db_paid = await s.scalar(
                select(func.sum(Claim.total_paid_amount)).where(Claim.member_id == w.member.id)
            )
            used = await s.scalar(
                select(Accumulator.used_amount).where(
                    Accumulator.member_id == w.member.id, Accumulator.benefit_code == "OP-GP"
                )
            )
            visits = await s.scalar(
                select(Accumulator.visit_count).where(
                    Accumulator.member_id == w.member.id, Accumulator.benefit_code == "OP-GP"
                )
            )
            claims = await count(s, Claim, Claim.member_id == w.member.id)
        assert db_paid == used == D("1000000.00")
        assert visits == 15
        assert claims == 30

        # ASO: 20 claims of 70,000 against a 300,000 fund: 4 are paid, 16 wait for funds.
        async with maker() as s, s.begin():
            a = await build_world(
                s,
                funding="aso",
                aso=D("250000.00"),
                buffer=D("50000.00"),
                deductible=D("0"),
                op_copay=D("0"),
                op_coinsurance=D("0"),
                discount=D("0"),
            )

        async def aso_one() -> str:
            async with maker() as s, s.begin():
                return (await submit_claim(s, request(a, gp("70000.00")))).status

        statuses = await asyncio.gather(*(aso_one() for _ in range(20)))
        assert sorted(statuses).count("approved") == 4
        assert sorted(statuses).count("pended") == 16
        async with maker() as s:
            balances = (
                await s.execute(
                    select(Policy.aso_fund_balance, Policy.buffer_fund_balance).where(
                        Policy.id == a.policy.id
                    )
                )
            ).one()
            aso_used = await s.scalar(
                select(Accumulator.used_amount).where(
                    Accumulator.member_id == a.member.id, Accumulator.benefit_code == "OP-GP"
                )
            )
            approved_paid = await s.scalar(
                select(func.sum(Claim.total_paid_amount)).where(
                    Claim.member_id == a.member.id, Claim.status == "approved"
                )
            )
        assert tuple(balances) == (D("0.00"), D("20000.00"))
        assert aso_used == approved_paid == D("280000.00")
    finally:
        await engine.dispose()
