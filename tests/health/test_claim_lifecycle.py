"""Claim lifecycle (polis.health.adjudication): void reverses exactly what a claim moved
(accumulators and ASO funds, to the rupiah), re-adjudication replaces the old result, a
voided or paid claim cannot be voided; claims pended for a person (review amount, missing
documents) move nothing until decided; appeals and closing follow the transition table."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.adjudication import (
    AWAITING_FUNDS,
    DOCUMENTS_REQUIRED,
    DOCUMENTS_SETTING,
    REVIEW_AMOUNT,
    REVIEW_AMOUNT_SETTING,
    ClaimLineRequest,
    appeal_claim,
    close_claim,
    decide_appeal,
    decide_pended_claim,
    readjudicate_claim,
    release_awaiting_funds,
    submit_claim,
    void_claim,
)
from polis.health.models import (
    Accumulator,
    Claim,
    ClaimDocument,
    ClaimItem,
    PlanBenefit,
    Policy,
)
from polis.platform.errors import BusinessRuleError, Conflict, PolisError
from polis.reference.models import SystemConfiguration
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


# --- pend for a person (decision 0025) ----------------------------------------------------


async def set_config(session: AsyncSession, key: str, value: str | None) -> None:
    """Change (or, with None, delete) a setting inside the test transaction."""
    if value is None:
        await session.execute(
            delete(SystemConfiguration).where(SystemConfiguration.config_key == key)
        )
    else:
        await session.execute(
            update(SystemConfiguration)
            .where(SystemConfiguration.config_key == key)
            .values(config_value=value)
        )


async def items_of(session: AsyncSession, claim_id: Any) -> list[ClaimItem]:
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


def add_document(session: AsyncSession, claim_id: Any, document_type: str) -> None:
    session.add(
        ClaimDocument(
            claim_id=claim_id,
            document_type=document_type,
            file_name=f"{document_type}.pdf",
            file_path=f"var/documents/ab/{document_type}",
            file_size=1234,
            mime_type="application/pdf",
            uploaded_by=USER,
        )
    )


async def test_review_amount_pends_above_the_setting_and_moves_nothing(
    session: AsyncSession,
) -> None:
    w = await build_world(
        session, funding="aso", aso=D("5000000.00"), deductible=D("0"), op_copay=D("0")
    )
    await set_config(session, REVIEW_AMOUNT_SETTING, "1000000.00")
    at_limit = await submit_claim(session, request(w, gp("1000000.00")))
    assert (at_limit.status, at_limit.pended_reason) == ("approved", None)
    start = await snapshot(session, w)

    above = await submit_claim(session, request(w, gp("600000.00"), gp("400000.01")))
    assert (above.status, above.pended_reason) == ("pended", REVIEW_AMOUNT)
    assert (above.aso_drawn, above.buffer_drawn) == (D("0.00"), D("0.00"))
    assert await snapshot(session, w) == start  # no accumulator, no fund
    items = sorted(await items_of(session, above.claim_id), key=lambda i: -i.charged_amount)
    assert [(i.status, i.denial_reason) for i in items] == [("pended", REVIEW_AMOUNT)] * 2
    # 600,000 - 10% discount = 540,000; 10% coinsurance: the plan would pay 486,000.
    assert items[0].paid_amount == D("486000.00")
    step = items[0].adjudication_trace[-1]  # type: ignore[index]
    assert step["code"] == REVIEW_AMOUNT
    assert (step["amount_before"], step["amount_after"]) == ("486000.00", "486000.00")
    assert "1000000.01 is above the review amount 1000000.00" in step["message"]

    # A person approves: re-adjudicated once, not pended again for the same reason.
    decided = await decide_pended_claim(session, above.claim_id, "approved", "checked", USER)
    assert decided.readjudicated is not None
    new = decided.readjudicated.replacement
    assert (new.status, new.pended_reason) == ("approved", None)
    # Second line: 400,000.01 - 10% = 360,000.01 allowed, 36,000.00 coinsurance.
    assert new.aso_drawn == D("486000.00") + D("324000.01")
    assert await status(session, above.claim_id) == "voided"
    after = await snapshot(session, w)
    assert after["funds"][0] == start["funds"][0] - new.aso_drawn


async def test_a_wholly_denied_claim_is_not_held_and_a_missing_setting_turns_the_rule_off(
    session: AsyncSession,
) -> None:
    w = await build_world(session)
    await set_config(session, REVIEW_AMOUNT_SETTING, "100.00")
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))
    denied = await submit_claim(session, request(w, dental))
    assert (denied.status, denied.pended_reason) == ("denied", None)
    held = await submit_claim(session, request(w, gp("100000.00")))
    assert held.pended_reason == REVIEW_AMOUNT

    await set_config(session, REVIEW_AMOUNT_SETTING, None)
    await set_config(session, DOCUMENTS_SETTING, None)
    free = await submit_claim(session, request(w, gp("100000.00"), claim_type="reimbursement"))
    assert (free.status, free.pended_reason) == ("approved", None)


async def test_a_broken_setting_is_a_server_error_that_writes_nothing(
    session: AsyncSession,
) -> None:
    w = await build_world(session)
    await set_config(session, REVIEW_AMOUNT_SETTING, "lots")
    with pytest.raises(PolisError) as exc:
        await submit_claim(session, request(w))
    assert (exc.value.status_code, exc.value.type_) == (500, "invalid-configuration")
    assert (
        await session.scalar(
            select(func.count()).select_from(Claim).where(Claim.member_id == w.member.id)
        )
        == 0
    )


async def test_reimbursement_waits_for_its_documents(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("1000000.00"))
    pended = await submit_claim(session, request(w, claim_type="reimbursement"))
    assert (pended.status, pended.pended_reason) == ("pended", DOCUMENTS_REQUIRED)
    start = await snapshot(session, w)  # rows created (locked), nothing used
    assert {(r[4], r[7], r[10]) for r in start["accumulators"]} <= {
        (D("0.00"), 0, None),
        (D("0.00"), 0, D("0.00")),
    }
    assert start["funds"] == (D("1000000.00"), D("0.00"))
    (item,) = await items_of(session, pended.claim_id)
    assert (item.status, item.denial_reason) == ("pended", DOCUMENTS_REQUIRED)
    assert item.adjudication_trace is not None
    assert item.adjudication_trace[-1]["code"] == DOCUMENTS_REQUIRED
    assert "invoice, receipt" in item.adjudication_trace[-1]["message"]

    # Approving before the documents arrive is refused and changes nothing.
    trace_before = list(item.adjudication_trace)
    with pytest.raises(BusinessRuleError) as exc:
        await decide_pended_claim(session, pended.claim_id, "approved", "ok", USER)
    assert (exc.value.status_code, exc.value.type_) == (422, "documents-missing")
    assert exc.value.extra == {"missing_documents": ["invoice", "receipt"]}
    add_document(session, pended.claim_id, "invoice")
    await session.flush()
    with pytest.raises(BusinessRuleError) as exc:
        await decide_pended_claim(session, pended.claim_id, "approved", "ok", USER)
    assert exc.value.extra == {"missing_documents": ["receipt"]}
    assert await status(session, pended.claim_id) == "pended"
    assert (await items_of(session, pended.claim_id))[0].adjudication_trace == trace_before
    assert await snapshot(session, w) == start

    add_document(session, pended.claim_id, "receipt")
    await session.flush()
    decided = await decide_pended_claim(session, pended.claim_id, "approved", "complete", USER)
    assert decided.readjudicated is not None
    new = decided.readjudicated.replacement
    assert (new.status, new.result.totals.paid, new.aso_drawn) == (
        "approved",
        D("315000.00"),
        D("315000.00"),
    )
    # The replacement carries the documents (same stored files).
    copied = (
        await session.execute(
            select(ClaimDocument.document_type, ClaimDocument.file_path)
            .where(ClaimDocument.claim_id == new.claim_id)
            .order_by(ClaimDocument.document_type)
        )
    ).all()
    assert [tuple(c) for c in copied] == [
        ("invoice", "var/documents/ab/invoice"),
        ("receipt", "var/documents/ab/receipt"),
    ]
    used = {r[1]: r[4] for r in (await snapshot(session, w))["accumulators"]}
    assert used["OP-GP"] == D("315000.00")


async def test_both_reasons_name_documents_first_and_denial_needs_no_documents(
    session: AsyncSession,
) -> None:
    w = await build_world(session)
    await set_config(session, REVIEW_AMOUNT_SETTING, "10.00")
    pended = await submit_claim(session, request(w, claim_type="reimbursement"))
    assert pended.pended_reason == DOCUMENTS_REQUIRED
    (item,) = await items_of(session, pended.claim_id)
    assert item.adjudication_trace is not None
    assert [s["code"] for s in item.adjudication_trace[-2:]] == [
        DOCUMENTS_REQUIRED,
        REVIEW_AMOUNT,
    ]
    before = await snapshot(session, w)
    result = await decide_pended_claim(session, pended.claim_id, "denied", "no receipts", USER)
    assert result.readjudicated is None
    assert await status(session, pended.claim_id) == "denied"
    assert await snapshot(session, w) == before


async def test_decisions_follow_the_table(session: AsyncSession) -> None:
    w = await build_world(session)
    approved = await submit_claim(session, request(w))
    with pytest.raises(Conflict) as exc:
        await decide_pended_claim(session, approved.claim_id, "denied", "late", USER)
    assert exc.value.type_ == "invalid-transition"
    with pytest.raises(BusinessRuleError):
        await decide_pended_claim(session, approved.claim_id, "maybe", "", USER)
    await session.execute(update(Claim).where(Claim.id == approved.claim_id).values(status="paid"))
    with pytest.raises(Conflict) as exc:
        await void_claim(session, approved.claim_id, reason="late", user_id=USER)
    assert exc.value.type_ == "invalid-transition"


# --- appeals and closing ------------------------------------------------------------------


async def test_appeal_rejected_returns_to_the_decided_status(session: AsyncSession) -> None:
    w = await build_world(session)
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))
    claim = await submit_claim(session, request(w, gp(), dental))
    assert claim.status == "partially_approved"
    before = await snapshot(session, w)
    appealed = await appeal_claim(session, claim.claim_id, reason="dental", user_id=USER)
    assert (appealed.previous_status, appealed.status) == ("partially_approved", "appealed")
    assert await snapshot(session, w) == before
    with pytest.raises(Conflict):
        await appeal_claim(session, claim.claim_id, reason="again", user_id=USER)
    with pytest.raises(Conflict):
        await close_claim(session, claim.claim_id, USER)
    rejected = await decide_appeal(session, claim.claim_id, "rejected", "not covered", USER)
    assert (rejected.previous_status, rejected.status) == ("appealed", "partially_approved")
    assert await status(session, claim.claim_id) == "partially_approved"
    assert await snapshot(session, w) == before
    codes = [s["code"] for s in (await items_of(session, claim.claim_id))[0].adjudication_trace]  # type: ignore[union-attr]
    assert codes[-2:] == ["appeal", "appeal_decision"]
    with pytest.raises(Conflict) as exc:
        await decide_appeal(session, claim.claim_id, "rejected", "twice", USER)
    assert exc.value.type_ == "invalid-transition"


async def test_appeal_upheld_reverses_and_reapplies_exactly(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("2000000.00"))
    first = await submit_claim(session, request(w))
    await session.execute(
        update(PlanBenefit)
        .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == "OP-GP")
        .values(copay_amount=D("0"))
    )
    session.expire_all()
    await appeal_claim(session, first.claim_id, reason="copay dropped", user_id=USER)
    upheld = await decide_appeal(session, first.claim_id, "upheld", "agreed", USER)
    assert upheld.readjudicated is not None
    new = upheld.readjudicated.replacement
    assert upheld.readjudicated.voided.reversed.annual_used == D("315000.00")
    assert (new.status, new.result.totals.paid, new.aso_drawn) == (
        "approved",
        D("360000.00"),
        D("360000.00"),
    )
    assert await status(session, first.claim_id) == "voided"
    upheld_state = await snapshot(session, w)
    assert upheld_state["funds"] == (D("1640000.00"), D("0.00"))
    # The same as a fresh submission: void the replacement, submit again.
    await void_claim(session, new.claim_id, reason="compare", user_id=USER)
    fresh = await submit_claim(session, request(w))
    assert fresh.result.totals.paid == D("360000.00")
    assert await snapshot(session, w) == upheld_state


async def test_close_paid_or_denied_only(session: AsyncSession) -> None:
    w = await build_world(session)
    approved = await submit_claim(session, request(w))
    with pytest.raises(Conflict) as exc:
        await close_claim(session, approved.claim_id, USER)
    assert exc.value.type_ == "invalid-transition"
    await session.execute(update(Claim).where(Claim.id == approved.claim_id).values(status="paid"))
    closed = await close_claim(session, approved.claim_id, USER)
    assert (closed.previous_status, closed.status) == ("paid", "closed")
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))
    denied = await submit_claim(session, request(w, dental))
    assert (await close_claim(session, denied.claim_id, USER)).status == "closed"
    with pytest.raises(Conflict):
        await void_claim(session, denied.claim_id, reason="closed", user_id=USER)


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    claims=CLAIMS,
    appeal=st.integers(min_value=0, max_value=4),
    funding=st.sampled_from(["full_insured", "aso"]),
)
async def test_appeals_upheld_then_voids_restore_the_start(
    session: AsyncSession, claims: list[list[tuple[str, Decimal]]], appeal: int, funding: str
) -> None:
    """Appeal and uphold one claim among several: the accumulators always equal the sum of
    the live claims' lines; voiding every live claim then gives back the start exactly."""
    w = await build_world(
        session, funding=funding, aso=D("1200000.00"), buffer=D("300000.00"), deductible=D("0")
    )
    # A kept claim first: every row exists (created rows are part of the snapshot).
    warm = ClaimLineRequest(benefit_code="IP-ROOM", charged_amount=D("1000.00"))
    dental = ClaimLineRequest(benefit_code="DENT", charged_amount=D("1000.00"))
    await submit_claim(session, request(w, gp("150000.00"), warm, dental))
    start = await snapshot(session, w)
    ids = []
    for lines in claims:
        req = request(w, *(ClaimLineRequest(benefit_code=c, charged_amount=a) for c, a in lines))
        ids.append((await submit_claim(session, req)).claim_id)
    target = ids[appeal % len(ids)]
    if await status(session, target) in ("approved", "partially_approved", "denied"):
        await appeal_claim(session, target, reason="property", user_id=USER)
        upheld = await decide_appeal(session, target, "upheld", "property", USER)
        assert upheld.readjudicated is not None
        ids[ids.index(target)] = upheld.readjudicated.replacement.claim_id
    live = [i for i in ids if await status(session, i) != "voided"]
    paid = D("0")
    for claim_id in live:
        if await status(session, claim_id) in ("approved", "partially_approved"):
            paid += sum((i.paid_amount or D("0") for i in await items_of(session, claim_id)), D(0))
    own = {r[1]: r for r in (await snapshot(session, w))["accumulators"] if r[0] == w.member.id}
    started = {r[1]: r for r in start["accumulators"] if r[0] == w.member.id}
    assert own[None][4] - started[None][4] == paid
    for claim_id in reversed(live):
        await void_claim(session, claim_id, reason="property", user_id=USER)
    assert await snapshot(session, w) == start
