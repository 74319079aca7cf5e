"""Claim lifecycle (polis.health.adjudication): void reverses exactly what a claim moved
(accumulators and ASO funds, to the rupiah), re-adjudication replaces the old result, and a
voided or paid claim cannot be voided."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.adjudication import (
    AWAITING_FUNDS,
    ClaimLineRequest,
    decide_pended_claim,
    readjudicate_claim,
    release_awaiting_funds,
    submit_claim,
    void_claim,
)
from polis.health.models import Accumulator, Claim, ClaimItem, PlanBenefit, Policy
from polis.platform.errors import Conflict
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request

D = Decimal
USER = "claims-officer"


async def snapshot(session: AsyncSession, w: ClaimWorld) -> dict[str, Any]:
    """Every accumulator column of the plan's rows (all members, all years) and the funds."""
    rows = (
        await session.execute(
            select(
                Accumulator.member_id,
                Accumulator.benefit_code,
                Accumulator.year,
                Accumulator.limit_amount,
                Accumulator.used_amount,
                Accumulator.remaining_amount,
                Accumulator.visit_limit,
                Accumulator.visit_count,
                Accumulator.remaining_visits,
                Accumulator.deductible_limit,
                Accumulator.deductible_met,
            )
            .where(Accumulator.plan_id == w.plan.id)
            .execution_options(populate_existing=True)
        )
    ).all()
    funds = (
        await session.execute(
            select(Policy.aso_fund_balance, Policy.buffer_fund_balance).where(
                Policy.id == w.policy.id
            )
        )
    ).one()
    return {
        "accumulators": sorted((tuple(r) for r in rows), key=lambda r: (str(r[0]), str(r[1]))),
        "funds": tuple(funds),
    }


async def status(session: AsyncSession, claim_id: Any) -> str | None:
    return await session.scalar(select(Claim.status).where(Claim.id == claim_id))


# --- void ---------------------------------------------------------------------------------


async def test_void_restores_accumulators_and_funds_exactly(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("300000.00"), buffer=D("100000.00"))
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))
    # First claim: pays 315,000 = 300,000 ASO + 15,000 buffer; creates every row.
    first = await submit_claim(session, request(w, gp(), dental))
    assert (first.aso_drawn, first.buffer_drawn) == (D("300000.00"), D("15000.00"))
    after_first = await snapshot(session, w)
    assert after_first["funds"] == (D("0.00"), D("85000.00"))

    # Second claim (deductible met): 36,000 from the buffer.
    second = await submit_claim(session, request(w, gp("100000.00")))
    assert (second.status, second.buffer_drawn) == ("approved", D("36000.00"))
    assert await snapshot(session, w) != after_first

    voided = await void_claim(session, second.claim_id, reason="duplicate", user_id=USER)
    assert (voided.aso_returned, voided.buffer_returned) == (D("0.00"), D("36000.00"))
    assert await snapshot(session, w) == after_first
    assert await status(session, second.claim_id) == "voided"
    items = (
        await session.execute(
            select(ClaimItem.status, ClaimItem.denial_reason).where(
                ClaimItem.claim_id == second.claim_id
            )
        )
    ).all()
    assert [tuple(i) for i in items] == [("voided", "voided: duplicate")]

    # Voiding the first returns 300,000 to the ASO fund and 15,000 to the buffer: the
    # accumulators are back at zero, the funds at their opening balances.
    voided = await void_claim(session, first.claim_id, reason="fraud", user_id=USER)
    assert (voided.aso_returned, voided.buffer_returned) == (D("300000.00"), D("15000.00"))
    final = await snapshot(session, w)
    assert final["funds"] == (D("300000.00"), D("100000.00"))
    by_code = {r[1]: r[3:] for r in final["accumulators"]}
    assert by_code[None] == (
        D("100000000.00"),
        D("0.00"),
        D("100000000.00"),
        None,
        0,
        None,
        D("500000.00"),
        D("0.00"),
    )
    assert by_code["OP-GP"][1:3] == (D("0.00"), D("2000000.00"))
    assert by_code["OP-GP"][4] == 0

    # The voided claims no longer count: a new claim meets the whole deductible again.
    again = await submit_claim(session, request(w))
    assert again.result.totals.deductible == D("500000.00")
    assert again.result.totals.paid == D("315000.00")


async def test_double_void_and_paid_claim_conflict_change_nothing(
    session: AsyncSession,
) -> None:
    w = await build_world(session, funding="aso", aso=D("1000000.00"))
    outcome = await submit_claim(session, request(w))
    await void_claim(session, outcome.claim_id, reason="error", user_id=USER)
    before = await snapshot(session, w)
    with pytest.raises(Conflict) as exc:
        await void_claim(session, outcome.claim_id, reason="again", user_id=USER)
    assert exc.value.status_code == 409
    assert await snapshot(session, w) == before
    assert await status(session, outcome.claim_id) == "voided"

    paid = await submit_claim(session, request(w))
    await session.execute(update(Claim).where(Claim.id == paid.claim_id).values(status="paid"))
    before = await snapshot(session, w)
    with pytest.raises(Conflict):
        await void_claim(session, paid.claim_id, reason="late", user_id=USER)
    assert await snapshot(session, w) == before
    assert await status(session, paid.claim_id) == "paid"


async def test_void_pended_claim_moves_nothing(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("10000.00"))
    pended = await submit_claim(session, request(w))
    assert pended.pended_reason == AWAITING_FUNDS
    before = await snapshot(session, w)
    voided = await void_claim(session, pended.claim_id, reason="withdrawn", user_id=USER)
    assert (voided.previous_status, voided.aso_returned, voided.buffer_returned) == (
        "pended",
        D("0.00"),
        D("0.00"),
    )
    assert await snapshot(session, w) == before
    assert await status(session, pended.claim_id) == "voided"


# --- property: submit then void everything leaves the start -------------------------------

LINE = st.tuples(
    st.sampled_from(["OP-GP", "OP-GP", "IP-ROOM", "DENT"]),
    st.integers(min_value=0, max_value=1500).map(lambda k: D(k * 1000)),
)
CLAIMS = st.lists(st.lists(LINE, min_size=1, max_size=3), min_size=1, max_size=5)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    claims=CLAIMS,
    funding=st.sampled_from(["full_insured", "aso"]),
    family=st.booleans(),
    order=st.randoms(use_true_random=False),
)
async def test_submit_then_void_all_restores_the_start(
    session: AsyncSession,
    claims: list[list[tuple[str, Decimal]]],
    funding: str,
    family: bool,
    order: Any,
) -> None:
    w = await build_world(
        session,
        funding=funding,
        aso=D("1200000.00"),
        buffer=D("300000.00"),
        deductible=D("200000.00"),
        family_deductible=D("300000.00") if family else D("0"),
    )
    # A kept claim first: every row exists and carries usage before the snapshot.
    warm = ClaimLineRequest(benefit_code="IP-ROOM", charged_amount=D("1000.00"))
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("1000.00"))
    await submit_claim(session, request(w, gp("150000.00"), warm, dental))
    start = await snapshot(session, w)

    ids = []
    for lines in claims:
        req = request(w, *(ClaimLineRequest(benefit_code=c, charged_amount=a) for c, a in lines))
        ids.append((await submit_claim(session, req)).claim_id)
    order.shuffle(ids)
    for claim_id in ids:
        await void_claim(session, claim_id, reason="property", user_id=USER)
    assert await snapshot(session, w) == start


# --- re-adjudication ----------------------------------------------------------------------


async def test_readjudicate_after_plan_change(session: AsyncSession) -> None:
    w = await build_world(session)
    first = await submit_claim(session, request(w))
    assert first.result.totals.paid == D("315000.00")
    # Appeal: the copay is dropped from the plan.
    await session.execute(
        update(PlanBenefit)
        .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == "OP-GP")
        .values(copay_amount=D("0"))
    )
    session.expire_all()
    outcome = await readjudicate_claim(session, first.claim_id, USER)
    # 900,000 allowed - 500,000 deductible = 400,000; 10% coinsurance: the plan pays 360,000.
    new = outcome.replacement
    assert (new.status, new.result.totals.paid, new.result.totals.copay) == (
        "approved",
        D("360000.00"),
        D("0.00"),
    )
    assert await status(session, first.claim_id) == "voided"
    assert outcome.voided.reversed.annual_used == D("315000.00")
    snap = await snapshot(session, w)
    by_code = {r[1]: r[3:] for r in snap["accumulators"] if r[0] == w.member.id}
    # used, remaining, visits, deductible met: the new result only.
    assert (by_code["OP-GP"][1], by_code["OP-GP"][2], by_code["OP-GP"][4]) == (
        D("360000.00"),
        D("1640000.00"),
        1,
    )
    assert (by_code[None][1], by_code[None][7]) == (D("360000.00"), D("500000.00"))
    traces = (
        await session.scalars(
            select(ClaimItem.adjudication_trace).where(ClaimItem.claim_id == first.claim_id)
        )
    ).all()
    assert traces[0] is not None
    assert traces[0][-1]["message"] == f"re-adjudicated as {new.claim_number}"

    # A voided claim cannot be re-adjudicated again.
    with pytest.raises(Conflict):
        await readjudicate_claim(session, first.claim_id, USER)


# --- release after an ASO top-up ----------------------------------------------------------


async def test_release_pays_oldest_and_leaves_the_rest_pended(session: AsyncSession) -> None:
    w = await build_world(
        session,
        funding="aso",
        aso=D("0"),
        deductible=D("0"),
        op_copay=D("0"),
        op_coinsurance=D("0"),
        discount=D("0"),
    )
    pended = [await submit_claim(session, request(w, gp(a))) for a in ("70000.00", "50000.00")]
    assert [p.status for p in pended] == ["pended", "pended"]
    for n, p in enumerate(pended):  # one transaction: make the submission order explicit
        await session.execute(
            update(Claim)
            .where(Claim.id == p.claim_id)
            .values(submission_date=datetime(2025, 3, 10, 9, n, tzinfo=UTC))
        )
    before = await snapshot(session, w)
    # Top-up of 100,000: the oldest (70,000) is paid, the next (50,000) cannot be.
    await session.execute(
        update(Policy).where(Policy.id == w.policy.id).values(aso_fund_balance=D("100000.00"))
    )
    result = await release_awaiting_funds(session, w.policy.id)
    assert [r.voided.claim_id for r in result.released] == [pended[0].claim_id]
    assert result.still_waiting == [pended[1].claim_id]
    paid = result.released[0].replacement
    assert (paid.status, paid.aso_drawn) == ("approved", D("70000.00"))
    assert await status(session, pended[0].claim_id) == "voided"
    assert await status(session, pended[1].claim_id) == "pended"
    after = await snapshot(session, w)
    assert after["funds"] == (D("30000.00"), D("0.00"))
    op = {r[1]: r for r in after["accumulators"]}["OP-GP"]
    assert (op[4], op[7]) == (D("70000.00"), 1)
    assert before["funds"] == (D("0.00"), D("0.00"))

    # Released again with no new money: nothing is paid twice, nothing moves.
    again = await release_awaiting_funds(session, w.policy.id)
    assert again.released == [] and again.still_waiting == [pended[1].claim_id]
    assert await snapshot(session, w) == after


# --- manual review ------------------------------------------------------------------------


async def _pend_for_review(session: AsyncSession, w: ClaimWorld) -> Any:
    """A claim adjudicated, then put in review by staff: its moves are voided and the
    claim is pended (items `pended`, reason `manual_review`)."""
    outcome = await submit_claim(session, request(w))
    await void_claim(session, outcome.claim_id, reason="review", user_id=USER)
    await session.execute(update(Claim).where(Claim.id == outcome.claim_id).values(status="pended"))
    await session.execute(
        update(ClaimItem)
        .where(ClaimItem.claim_id == outcome.claim_id)
        .values(status="pended", denial_reason="manual_review")
    )
    return outcome.claim_id


async def test_decide_pended_claim(session: AsyncSession) -> None:
    w = await build_world(session)
    denied_id = await _pend_for_review(session, w)
    before = await snapshot(session, w)
    result = await decide_pended_claim(session, denied_id, "denied", "not medically needed", USER)
    assert result.readjudicated is None
    assert await status(session, denied_id) == "denied"
    assert await snapshot(session, w) == before
    with pytest.raises(Conflict):
        await decide_pended_claim(session, denied_id, "approved", "again", USER)

    approved_id = await _pend_for_review(session, w)
    result = await decide_pended_claim(session, approved_id, "approved", "ok", USER)
    assert result.readjudicated is not None
    assert result.readjudicated.replacement.result.totals.paid == D("315000.00")
    used = {r[1]: r[4] for r in (await snapshot(session, w))["accumulators"]}
    assert used["OP-GP"] == D("315000.00")

    # Claims waiting for funds are released, not reviewed.
    a = await build_world(session, funding="aso")
    waiting = await submit_claim(session, request(a))
    with pytest.raises(Conflict):
        await decide_pended_claim(session, waiting.claim_id, "approved", "pay", USER)


# --- concurrency --------------------------------------------------------------------------


async def test_concurrent_voids_and_claims(create_database: Callable[[], str]) -> None:
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"), pool_size=20, max_overflow=5)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as s, s.begin():
            w = await build_world(
                s,
                funding="aso",
                aso=D("5000000.00"),
                deductible=D("0"),
                op_copay=D("0"),
                op_coinsurance=D("0"),
                discount=D("0"),
            )
            warm = await submit_claim(s, request(w, gp("10000.00")))
            target = await submit_claim(s, request(w, gp("70000.00")))
        async with maker() as s:
            start = await snapshot(s, w)

        async def void() -> str:
            try:
                async with maker() as s, s.begin():
                    await void_claim(s, target.claim_id, reason="race", user_id=USER)
                return "voided"
            except Conflict:
                return "conflict"

        async def submit_and_void() -> None:
            async with maker() as s, s.begin():
                outcome = await submit_claim(s, request(w, gp("30000.00")))
            async with maker() as s, s.begin():
                await void_claim(s, outcome.claim_id, reason="race", user_id=USER)

        results = await asyncio.gather(
            *(void() for _ in range(5)), *(submit_and_void() for _ in range(10))
        )
        assert sorted(r for r in results if r) == ["conflict"] * 4 + ["voided"]
        async with maker() as s:
            end = await snapshot(s, w)
        # Only the target's 70,000 came back; the warm-up claim still counts.
        op_start = {r[1]: r for r in start["accumulators"]}["OP-GP"]
        op_end = {r[1]: r for r in end["accumulators"]}["OP-GP"]
        assert (op_end[4], op_end[7]) == (op_start[4] - D("70000.00"), op_start[7] - 1)
        assert (op_end[4], op_end[7]) == (D("10000.00"), 1)
        assert end["funds"] == (start["funds"][0] + D("70000.00"), start["funds"][1])
        assert warm.status == "approved"
    finally:
        await engine.dispose()
