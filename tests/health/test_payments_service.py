"""Claim payments and payment runs (polis.health.payments) against PostgreSQL: payees,
methods, bank details and amounts to the rupiah; the claim lifecycle they drive; refused
moves write nothing; two concurrent runs pay each claim exactly once."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine

from polis.db import migrate
from polis.db.urls import with_driver
from polis.health import payments
from polis.health.adjudication import new_claim_number, submit_claim
from polis.health.models import Claim, ClaimItem, Payment, Policy
from polis.health.transitions import TRANSITIONS
from polis.platform.crypto import get_keyring
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request
from tests.health.test_schema import add_member, cover

D = Decimal
USER = "finance-user"
ACCOUNT = "1234567890"


# --- helpers ------------------------------------------------------------------------------


async def payable_world(session: AsyncSession, **over: Any) -> ClaimWorld:
    """build_world, with the provider's bank account sealed as ProviderService does."""
    w = await build_world(session, **over)
    sealed = get_keyring().seal(ACCOUNT)
    w.provider.bank_name = "Bank Mandiri"
    w.provider.bank_account = sealed.masked
    w.provider.bank_account_encrypted = sealed.ciphertext
    w.provider.encryption_key_id = sealed.key_id
    await session.flush()
    return w


async def add_claim(
    session: AsyncSession,
    w: ClaimWorld,
    *,
    claim_type: str = "cashless",
    status: str = "approved",
    paid: str = "315000.00",
    charged: str = "1000000.00",
    item_statuses: tuple[str, ...] | None = None,
    submitted: datetime | None = None,
    member_id: uuid.UUID | None = None,
) -> Claim:
    """A decided claim written as submit_claim leaves it: one line per item status, the
    paid amount on the first line (other lines pay nothing)."""
    statuses = item_statuses or (
        ("approved",) if status in ("approved", "payment_pending", "paid") else (status,)
    )
    claim = Claim(
        id=uuid.uuid4(),
        claim_number=new_claim_number(date(2025, 3, 10)),
        member_id=member_id or w.member.id,
        provider_id=w.provider.id,
        policy_id=w.policy.id,
        claim_type=claim_type,
        service_type="outpatient",
        service_date=date(2025, 3, 10),
        status=status,
        total_charged_amount=D(charged),
        total_approved_amount=D(paid),
        total_paid_amount=D(paid),
        member_responsibility=D(charged) - D(paid),
        created_by=USER,
    )
    if submitted is not None:
        claim.submission_date = submitted
    session.add(claim)
    await session.flush()
    for n, item_status in enumerate(statuses):
        share = D(charged) if n == 0 else D("0.00")
        session.add(
            ClaimItem(
                claim_id=claim.id,
                benefit_code="OP-GP",
                charged_amount=share,
                approved_amount=D(paid) if n == 0 else D("0.00"),
                paid_amount=D(paid) if n == 0 else D("0.00"),
                status=item_status,
                adjudication_trace=[],
            )
        )
    await session.flush()
    return claim


async def claim_status(session: AsyncSession, claim: Claim) -> str:
    return str(await session.scalar(select(Claim.status).where(Claim.id == claim.id)))


async def claim_payments(session: AsyncSession, claim: Claim) -> list[Payment]:
    rows = await session.scalars(
        select(Payment)
        .where(Payment.claim_id == claim.id)
        .order_by(Payment.payment_number)
        .execution_options(populate_existing=True)
    )
    return list(rows.all())


# --- the pure rules -----------------------------------------------------------------------


def test_payment_transition_table() -> None:
    assert payments.PAYMENT_TRANSITIONS["pending"] == {"sent", "cancelled"}
    assert payments.PAYMENT_TRANSITIONS["sent"] == {"paid", "failed"}
    for terminal in ("paid", "failed", "cancelled", "reversed"):
        assert payments.PAYMENT_TRANSITIONS[terminal] == frozenset()
    # Every target is a known status; the claim table has the moves payments make.
    for targets in payments.PAYMENT_TRANSITIONS.values():
        assert targets <= set(payments.PAYMENT_TRANSITIONS)
    assert "payment_pending" in TRANSITIONS["approved"]
    assert "payment_pending" in TRANSITIONS["partially_approved"]
    assert TRANSITIONS["payment_pending"] == {"paid", "approved", "partially_approved"}


@given(
    st.sampled_from(sorted(payments.PAYMENT_TRANSITIONS)),
    st.sampled_from(sorted(payments.PAYMENT_TRANSITIONS)),
)
def test_check_payment_transition_agrees_with_the_table(current: str, target: str) -> None:
    if target in payments.PAYMENT_TRANSITIONS[current]:
        payments.check_payment_transition(current, target)
    else:
        with pytest.raises(Conflict) as err:
            payments.check_payment_transition(current, target, "PAY-X")
        assert err.value.type_ == "invalid-transition"


@given(st.lists(st.sampled_from(["approved", "partially_approved", "denied"]), min_size=1))
def test_decided_status_of_lines(statuses: list[str]) -> None:
    expected = "approved" if set(statuses) == {"approved"} else "partially_approved"
    assert payments.decided_status(statuses) == expected


def test_numbers() -> None:
    run = payments.new_run_number(date(2026, 11, 23))
    assert re.fullmatch(r"PRUN-20261123-[0-9A-HJKMNP-TV-Z]{8}", run)
    number = payments.payment_number_of(run, 7)
    assert number == f"PAY-20261123-{run[-8:]}-00007"
    assert payments.run_number_of(number) == run
    assert payments.run_number_of("PAY-OTHER") is None


# --- a run --------------------------------------------------------------------------------


async def test_run_pays_providers_and_members_to_the_rupiah(session: AsyncSession) -> None:
    w = await payable_world(session)
    cashless = await add_claim(session, w, paid="315000.00")
    reimbursement = await add_claim(
        session,
        w,
        claim_type="reimbursement",
        status="partially_approved",
        paid="1234567.89",
        charged="2000000.00",
        item_statuses=("approved", "denied"),
    )
    denied = await add_claim(session, w, status="denied", paid="0.00")
    pended = await add_claim(session, w, status="pended", paid="70000.00")
    zero = await add_claim(session, w, paid="0.00")  # all member share: nothing to pay
    voided = await add_claim(session, w, status="voided", paid="100000.00")
    paid_before = await add_claim(session, w, status="paid", paid="50000.00")

    run = await payments.create_payment_run(session, user=USER)

    assert run.run_number is not None
    assert re.fullmatch(r"PRUN-\d{8}-[0-9A-Z]{8}", run.run_number)
    assert run.run_date == payments.jakarta_today()
    assert len(run.payments) == 2
    assert run.total_amount == D("1549567.89")
    by_claim = {v.payment.claim_id: v for v in run.payments}

    to_provider = by_claim[cashless.id].payment
    assert to_provider.payment_type == "claim"
    assert to_provider.payee_type == "provider"
    assert to_provider.payee_id == w.provider.id
    assert to_provider.payment_method == "bank_transfer"
    assert to_provider.payment_amount == D("315000.00")
    assert to_provider.bank_name == "Bank Mandiri"
    assert to_provider.account_number == "******7890"
    assert to_provider.account_number_encrypted is not None
    assert ACCOUNT.encode() not in to_provider.account_number_encrypted
    assert get_keyring().decrypt(to_provider.account_number_encrypted) == ACCOUNT
    assert to_provider.encryption_key_id == get_keyring().current
    assert to_provider.reference_number == run.run_number
    assert to_provider.payment_status == "pending"
    assert to_provider.payment_date is None
    assert by_claim[cashless.id].payee_code == w.provider.provider_code
    assert by_claim[cashless.id].claim_number == cashless.claim_number

    to_member = by_claim[reimbursement.id].payment
    assert to_member.payment_type == "reimbursement"
    assert to_member.payee_type == "member"
    assert to_member.payee_id == w.member.id
    assert to_member.payment_method == "check"
    assert to_member.payment_amount == D("1234567.89")
    assert (to_member.bank_name, to_member.account_number) == (None, None)
    assert to_member.account_number_encrypted is None
    assert by_claim[reimbursement.id].payee_code == w.member.member_number

    numbers = sorted(v.payment.payment_number for v in run.payments)
    token = run.run_number.removeprefix("PRUN-")
    assert numbers == [f"PAY-{token}-00001", f"PAY-{token}-00002"]
    assert all(v.run_number == run.run_number for v in run.payments)

    # The rows as stored.
    stored = await session.scalar(
        select(func.sum(Payment.payment_amount)).where(
            Payment.claim_id.in_([cashless.id, reimbursement.id])
        )
    )
    assert stored == D("1549567.89")
    assert await claim_status(session, cashless) == "payment_pending"
    assert await claim_status(session, reimbursement) == "payment_pending"
    for untouched, status in (
        (denied, "denied"),
        (pended, "pended"),
        (zero, "approved"),
        (voided, "voided"),
        (paid_before, "paid"),
    ):
        assert await claim_status(session, untouched) == status
        assert await claim_payments(session, untouched) == []
    # Amounts on the claims never change.
    amounts = (
        await session.execute(
            select(Claim.total_paid_amount, Claim.member_responsibility).where(
                Claim.id == reimbursement.id
            )
        )
    ).one()
    assert tuple(amounts) == (D("1234567.89"), D("765432.11"))

    # A second run finds nothing payable.
    again = await payments.create_payment_run(session, user=USER)
    assert again.run_number is None
    assert again.payments == []
    assert again.total_amount == D("0.00")
    assert len(await claim_payments(session, cashless)) == 1


async def test_run_pays_an_adjudicated_claim(session: AsyncSession) -> None:
    w = await payable_world(session)
    outcome = await submit_claim(session, request(w, gp()))
    # 1,000,000 less 10% discount, 500,000 deductible, 50,000 copay, 10% coinsurance.
    assert outcome.result.totals.paid == D("315000.00")
    run = await payments.create_payment_run(
        session, provider_code=w.provider.provider_code, user=USER
    )
    assert [v.payment.payment_amount for v in run.payments] == [D("315000.00")]
    assert run.payments[0].payment.claim_id == outcome.claim_id


async def test_run_filters(session: AsyncSession) -> None:
    w = await payable_world(session)
    other = await payable_world(session)
    now = datetime.now(UTC)
    old = await add_claim(session, w, paid="100.00", submitted=now - timedelta(days=3))
    newer = await add_claim(session, w, paid="200.00", submitted=now - timedelta(days=1))
    refund = await add_claim(session, w, claim_type="reimbursement", paid="300.00")
    elsewhere = await add_claim(session, other, paid="400.00")
    mine = {old.id, newer.id, refund.id}

    # Before any of them was submitted: nothing (but another test's claims may be payable,
    # so only ever look at this world's provider).
    code = w.provider.provider_code
    early = await payments.create_payment_run(
        session, run_date=(now - timedelta(days=5)).date(), provider_code=code, user=USER
    )
    assert early.payments == []

    first = await payments.create_payment_run(session, provider_code=code, limit=1, user=USER)
    assert [v.payment.claim_id for v in first.payments] == [old.id]  # oldest first

    members = await payments.create_payment_run(
        session, payee_type="member", provider_code=code, user=USER
    )
    assert [v.payment.claim_id for v in members.payments] == [refund.id]

    rest = await payments.create_payment_run(session, provider_code=code, user=USER)
    assert [v.payment.claim_id for v in rest.payments] == [newer.id]
    assert await claim_status(session, elsewhere) == "approved"
    paid_claims = await session.scalars(
        select(Payment.claim_id).where(Payment.claim_id.in_(mine | {elsewhere.id}))
    )
    assert set(paid_claims.all()) == mine

    with pytest.raises(NotFound) as missing:
        await payments.create_payment_run(session, provider_code="NOPE-404", user=USER)
    assert missing.value.type_ == "provider-not-found"
    with pytest.raises(BusinessRuleError):
        await payments.create_payment_run(
            session, run_date=payments.jakarta_today() + timedelta(days=1), user=USER
        )
    with pytest.raises(BusinessRuleError):
        await payments.create_payment_run(session, payee_type="broker", user=USER)
    with pytest.raises(BusinessRuleError):
        await payments.create_payment_run(session, limit=0, user=USER)


async def test_provider_without_a_bank_account_is_paid_by_check(session: AsyncSession) -> None:
    w = await build_world(session)
    claim = await add_claim(session, w, paid="5000.00")
    run = await payments.create_payment_run(
        session, provider_code=w.provider.provider_code, user=USER
    )
    (view,) = run.payments
    assert view.payment.claim_id == claim.id
    assert view.payment.payment_method == "check"
    assert view.payment.account_number is None
    assert view.payment.account_number_encrypted is None


# --- a payment's life ---------------------------------------------------------------------


async def _one_payment(session: AsyncSession, w: ClaimWorld, claim: Claim) -> str:
    run = await payments.create_payment_run(
        session, provider_code=w.provider.provider_code, user=USER
    )
    (view,) = [v for v in run.payments if v.payment.claim_id == claim.id]
    return view.payment.payment_number


async def test_sent_then_paid_makes_the_claim_paid(session: AsyncSession) -> None:
    w = await payable_world(session)
    claim = await add_claim(session, w, paid="315000.00")
    number = await _one_payment(session, w, claim)

    sent = await payments.mark_sent(session, number, reference_number="TRF-0001", user=USER)
    assert sent.payment.payment_status == "sent"
    assert sent.payment.reference_number == "TRF-0001"
    assert sent.run_number == payments.run_number_of(number)  # the run is still known
    assert await claim_status(session, claim) == "payment_pending"

    today = payments.jakarta_today()
    paid = await payments.mark_paid(session, number, payment_date=today, user=USER)
    assert paid.payment.payment_status == "paid"
    assert paid.payment.payment_date == today
    row = (
        await session.execute(
            select(
                Claim.status,
                Claim.total_paid_amount,
                Claim.total_approved_amount,
                Claim.member_responsibility,
                Claim.updated_by,
            ).where(Claim.id == claim.id)
        )
    ).one()
    assert tuple(row) == ("paid", D("315000.00"), D("315000.00"), D("685000.00"), USER)
    # A paid claim is never paid again.
    again = await payments.create_payment_run(
        session, provider_code=w.provider.provider_code, user=USER
    )
    assert again.payments == []


async def test_failed_returns_the_claim_and_a_later_run_pays_it_once(
    session: AsyncSession,
) -> None:
    w = await payable_world(session, funding="aso", aso=D("1000000.00"))
    claim = await add_claim(
        session,
        w,
        status="partially_approved",
        paid="250000.50",
        item_statuses=("partially_approved", "denied"),
    )
    number = await _one_payment(session, w, claim)
    await payments.mark_sent(session, number, reference_number="TRF-0002", user=USER)
    failed = await payments.mark_failed(session, number, reason="account closed", user=USER)
    assert failed.payment.payment_status == "failed"
    assert await claim_status(session, claim) == "partially_approved"
    items = (
        await session.scalars(
            select(ClaimItem)
            .where(ClaimItem.claim_id == claim.id)
            .order_by(ClaimItem.paid_amount.desc())
            .execution_options(populate_existing=True)
        )
    ).all()
    assert items[0].adjudication_trace == [
        {
            "code": "payment_failed",
            "message": f"payment {number} failed by {USER}: account closed",
            "amount_before": "250000.50",
            "amount_after": "250000.50",
        }
    ]
    assert items[1].adjudication_trace == []  # a line that pays nothing is not noted
    # The ASO fund is not credited back: the claim still owes the same amount.
    balance = await session.scalar(select(Policy.aso_fund_balance).where(Policy.id == w.policy.id))
    assert balance == D("1000000.00")

    second = await _one_payment(session, w, claim)
    assert second != number
    third = await payments.create_payment_run(
        session, provider_code=w.provider.provider_code, user=USER
    )
    assert third.payments == []
    rows = await claim_payments(session, claim)
    assert [(p.payment_number, p.payment_status) for p in rows] == sorted(
        [(number, "failed"), (second, "pending")]
    )
    open_sum = sum(p.payment_amount for p in rows if p.payment_status != "failed")
    assert open_sum == D("250000.50")
    await payments.mark_sent(session, second, reference_number="TRF-0003", user=USER)
    await payments.mark_paid(session, second, payment_date=payments.jakarta_today(), user=USER)
    assert await claim_status(session, claim) == "paid"


async def test_cancel_returns_an_approved_claim(session: AsyncSession) -> None:
    w = await payable_world(session)
    claim = await add_claim(session, w, paid="1000.00")
    number = await _one_payment(session, w, claim)
    cancelled = await payments.cancel_payment(session, number, reason="duplicate", user=USER)
    assert cancelled.payment.payment_status == "cancelled"
    assert await claim_status(session, claim) == "approved"
    assert (await _one_payment(session, w, claim)) != number


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ((), "paid"),  # pending -> paid skips sent
        ((), "failed"),
        (("sent",), "sent"),
        (("sent",), "cancel"),
        (("sent", "paid"), "failed"),
        (("sent", "paid"), "cancel"),
        (("cancel",), "sent"),
        (("sent", "failed"), "paid"),
    ],
)
async def test_refused_moves_change_nothing(
    session: AsyncSession, setup: tuple[str, ...], action: str
) -> None:
    w = await payable_world(session)
    claim = await add_claim(session, w, paid="1000.00")
    number = await _one_payment(session, w, claim)

    async def do(step: str) -> None:
        if step == "sent":
            await payments.mark_sent(session, number, reference_number="TRF-9", user=USER)
        elif step == "paid":
            await payments.mark_paid(
                session, number, payment_date=payments.jakarta_today(), user=USER
            )
        elif step == "failed":
            await payments.mark_failed(session, number, reason="x", user=USER)
        else:
            await payments.cancel_payment(session, number, reason="x", user=USER)

    for step in setup:
        await do(step)
    before = [
        (p.payment_status, p.reference_number, p.payment_date)
        for p in await claim_payments(session, claim)
    ]
    status_before = await claim_status(session, claim)
    with pytest.raises(Conflict) as err:
        await do(action)
    assert err.value.type_ == "invalid-transition"
    after = [
        (p.payment_status, p.reference_number, p.payment_date)
        for p in await claim_payments(session, claim)
    ]
    assert after == before
    assert await claim_status(session, claim) == status_before


async def test_paid_date_rules_and_unknown_payment(session: AsyncSession) -> None:
    w = await payable_world(session)
    claim = await add_claim(session, w, paid="1000.00")
    number = await _one_payment(session, w, claim)
    await payments.mark_sent(session, number, reference_number="TRF-10", user=USER)
    with pytest.raises(BusinessRuleError):
        await payments.mark_paid(
            session, number, payment_date=payments.jakarta_today() + timedelta(days=1), user=USER
        )
    with pytest.raises(BusinessRuleError):
        await payments.mark_paid(session, number, payment_date=date(2020, 1, 1), user=USER)
    assert await claim_status(session, claim) == "payment_pending"
    with pytest.raises(NotFound) as missing:
        await payments.mark_sent(session, "PAY-NOPE", reference_number="x", user=USER)
    assert missing.value.type_ == "payment-not-found"


# --- concurrency --------------------------------------------------------------------------


async def test_concurrent_runs_pay_each_claim_exactly_once(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"), pool_size=10)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as s, s.begin():
            w = await payable_world(s)
            claims: list[Claim] = []
            for n in range(60):
                member = await add_member(s)
                await cover(s, member, w.policy, w.plan)
                claims.append(
                    await add_claim(
                        s,
                        w,
                        claim_type="cashless" if n % 3 else "reimbursement",
                        paid=f"{1000 + n * 137}.{n % 100:02d}",
                        member_id=member.id,
                    )
                )
        expected = sum((c.total_paid_amount or D(0) for c in claims), D("0.00"))

        async def one_run(limit: int | None) -> list[uuid.UUID]:
            async with maker() as s, s.begin():
                run = await payments.create_payment_run(s, limit=limit, user=USER)
                return [v.payment.claim_id for v in run.payments if v.payment.claim_id]

        for _ in range(3):  # three rounds of racing runs, the last takes what is left
            await asyncio.gather(one_run(15), one_run(15), one_run(None))
        async with maker() as s:
            rows = (
                await s.execute(
                    select(Payment.claim_id, Payment.payment_amount, Payment.payment_status)
                )
            ).all()
            statuses = set(
                (await s.scalars(select(Claim.status).where(Claim.policy_id == w.policy.id))).all()
            )
        paid_claims = [r.claim_id for r in rows]
        assert len(paid_claims) == len(set(paid_claims)) == 60
        assert set(paid_claims) == {c.id for c in claims}
        assert sum((r.payment_amount for r in rows), D("0.00")) == expected
        by_claim = {r.claim_id: r.payment_amount for r in rows}
        assert all(by_claim[c.id] == c.total_paid_amount for c in claims)
        assert statuses == {"payment_pending"}
    finally:
        await engine.dispose()


async def test_the_database_refuses_a_second_open_payment(session: AsyncSession) -> None:
    w = await payable_world(session)
    claim = await add_claim(session, w, paid="1000.00")
    number = await _one_payment(session, w, claim)

    def twin(n: int, status: str = "pending") -> Payment:
        return Payment(
            payment_number=f"PAY-TEST-{uuid.uuid4().hex[:8]}-{n}",
            claim_id=claim.id,
            payment_type="claim",
            payment_method="check",
            payment_amount=D("1000.00"),
            payee_type="provider",
            payee_id=w.provider.id,
            payment_status=status,
        )

    for status in ("pending", "sent", "paid"):
        with pytest.raises(IntegrityError, match="uq_payment_claim_open"):
            async with session.begin_nested():
                session.add(twin(1, status))
    # Closed payments do not hold the claim.
    async with session.begin_nested():
        session.add_all([twin(2, "failed"), twin(3, "cancelled"), twin(4, "reversed")])
    await payments.cancel_payment(session, number, reason="x", user=USER)
    async with session.begin_nested():
        session.add(twin(5))


async def test_a_run_skips_claims_another_transaction_holds(
    create_database: Callable[[], str],
) -> None:
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"), pool_size=4)
    try:
        maker = async_sessionmaker(engine, expire_on_commit=False)
        async with maker() as s, s.begin():
            w = await payable_world(s)
            held = await add_claim(s, w, paid="100.00")
            free = await add_claim(s, w, paid="200.00")
        async with maker() as holder, holder.begin():
            await holder.execute(select(Claim.id).where(Claim.id == held.id).with_for_update())
            async with maker() as s, s.begin():
                run = await asyncio.wait_for(payments.create_payment_run(s, user=USER), 10)
            assert [v.payment.claim_id for v in run.payments] == [free.id]
        async with maker() as s, s.begin():
            later = await payments.create_payment_run(s, user=USER)
        assert [v.payment.claim_id for v in later.payments] == [held.id]
    finally:
        await engine.dispose()
