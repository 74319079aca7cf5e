"""Health claim payments (billing.payment) and payment runs (decision 0028).

`create_payment_run` pays every payable claim once: a claim in status `approved` or
`partially_approved` whose `total_paid_amount` is above zero, submitted on or before the run
date (Asia/Jakarta). Cashless claims pay the provider (payment_type `claim`, the provider's
bank details, the account number's ciphertext copied as is), reimbursement claims pay the
member (payment_type `reimbursement`, by `check`: the member table has no bank details). The
amount is the claim's `total_paid_amount`; the claim moves to `payment_pending`.

Numbers: the seed has no run table, so a run is its number. `PRUN-YYYYMMDD-TTTTTTTT` (run
date, 8 random Crockford base-32 characters) is written in `reference_number` when the
payment is created; the payment number `PAY-YYYYMMDD-TTTTTTTT-NNNNN` carries the same run
date and token and the payment's place in the run, so the run stays known after
`reference_number` is replaced by the bank's transfer reference (`mark_sent`).

Concurrency: the run locks its claims with `SELECT ... FOR UPDATE SKIP LOCKED` (oldest
first), re-checking the status on the locked row, so two runs at the same time split the
claims between them and never wait on each other; the partial unique index
`uq_payment_claim_open` (one payment per claim that is not failed, cancelled or reversed;
migration 0010) refuses a second open payment whatever the code path.

A payment's status moves by `PAYMENT_TRANSITIONS` (pure): pending -> sent -> paid | failed,
pending -> cancelled. `paid` makes the claim `paid`; `failed` and `cancelled` return it to its
decided status (`approved` when every line is approved, else `partially_approved`) so a later
run pays it again. Every claim move asks `polis.health.transitions.check_transition`. Amounts
on the claim never change here. Services only flush; the caller's transaction commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import transitions
from polis.health.models import (
    Claim,
    ClaimItem,
    ClaimRegistry,
    Member,
    Payment,
    Provider,
)
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.ids import random_code

ZERO = Decimal("0.00")
JAKARTA = ZoneInfo("Asia/Jakarta")

# --- payment statuses and their transition table (pure) -----------------------------------

PENDING = "pending"
PROCESSING = "processing"
SENT = "sent"
PAID = "paid"
FAILED = "failed"
CANCELLED = "cancelled"
REVERSED = "reversed"

# `processing` and `reversed` are in the seed's vocabulary; no route writes them yet.
PAYMENT_TRANSITIONS: Mapping[str, frozenset[str]] = {
    PENDING: frozenset({SENT, CANCELLED}),
    PROCESSING: frozenset(),
    SENT: frozenset({PAID, FAILED}),
    PAID: frozenset(),
    FAILED: frozenset(),
    CANCELLED: frozenset(),
    REVERSED: frozenset(),
}
# A payment in one of these no longer holds its claim (the unique index's complement).
CLOSED_WITHOUT_PAYING = frozenset({FAILED, CANCELLED, REVERSED})

PAYEE_CLAIM_TYPE = {"provider": "cashless", "member": "reimbursement"}
MAX_RUN_SIZE = 10_000


def payment_allowed(current: str, target: str) -> bool:
    """Whether a payment in `current` may move to `target`."""
    return target in PAYMENT_TRANSITIONS.get(current, frozenset())


def check_payment_transition(current: str, target: str, payment_number: str = "") -> None:
    """Raise 409 `invalid-transition` unless `current -> target` is in the table."""
    if not payment_allowed(current, target):
        what = f"Payment {payment_number}" if payment_number else "The payment"
        raise Conflict(
            f"{what} cannot move from {current} to {target}.", type_="invalid-transition"
        )


def decided_status(item_statuses: Sequence[str]) -> str:
    """The status a claim was decided with, from its lines (as submit_claim derives it):
    `approved` when every line is approved, else `partially_approved`."""
    statuses = set(item_statuses)
    return transitions.APPROVED if statuses == {"approved"} else transitions.PARTIALLY_APPROVED


# --- numbers ------------------------------------------------------------------------------


def new_run_number(run_date: date) -> str:
    """PRUN-YYYYMMDD-TTTTTTTT: the run date and 8 random Crockford base-32 characters."""
    token = random_code(8)
    return f"PRUN-{run_date:%Y%m%d}-{token}"


def payment_number_of(run_number: str, seq: int) -> str:
    """PAY-YYYYMMDD-TTTTTTTT-NNNNN: the run's date and token, then the place in the run."""
    return f"PAY-{run_number.removeprefix('PRUN-')}-{seq:05d}"


def run_number_of(payment_number: str) -> str | None:
    """The run a payment number belongs to (None for a number of another shape)."""
    parts = payment_number.split("-")
    if len(parts) != 4 or parts[0] != "PAY":
        return None
    return f"PRUN-{parts[1]}-{parts[2]}"


def jakarta_today() -> date:
    """Today's business date in Indonesia."""
    return datetime.now(JAKARTA).date()


async def _pairs(session: AsyncSession, stmt: Select[uuid.UUID, str]) -> dict[uuid.UUID, str]:
    """{first column: second column} of a two-column select."""
    return {row[0]: row[1] for row in (await session.execute(stmt)).all()}


# --- runs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentView:
    """A payment with the numbers the API shows next to it."""

    payment: Payment
    claim_number: str | None
    payee_code: str | None

    @property
    def run_number(self) -> str | None:
        return run_number_of(self.payment.payment_number)


@dataclass(frozen=True)
class PaymentRun:
    """What a run created: its number (None when nothing was payable) and the payments."""

    run_number: str | None
    run_date: date
    payments: list[PaymentView]

    @property
    def total_amount(self) -> Decimal:
        return sum((v.payment.payment_amount for v in self.payments), ZERO)


def _payable(
    run_date: date, payee_type: str | None, provider_id: uuid.UUID | None
) -> Select[Claim]:
    end = datetime.combine(run_date + timedelta(days=1), time(0), tzinfo=JAKARTA)
    stmt = select(Claim).where(
        Claim.status.in_(transitions.PAYABLE),
        Claim.total_paid_amount > 0,
        Claim.submission_date < end,
    )
    if payee_type is not None:
        stmt = stmt.where(Claim.claim_type == PAYEE_CLAIM_TYPE[payee_type])
    if provider_id is not None:
        stmt = stmt.where(Claim.provider_id == provider_id)
    return stmt


async def create_payment_run(
    session: AsyncSession,
    *,
    run_date: date | None = None,
    payee_type: str | None = None,
    provider_code: str | None = None,
    limit: int | None = None,
    user: uuid.UUID | str,
) -> PaymentRun:
    """One pending payment per payable claim (oldest submission first, at most `limit`);
    the claims move to `payment_pending`. Claims another transaction holds are skipped
    (a later run takes them)."""
    run_date = run_date or jakarta_today()
    if payee_type is not None and payee_type not in PAYEE_CLAIM_TYPE:
        raise BusinessRuleError(
            "payee_type must be provider or member.", type_="invalid-payment-run"
        )
    if limit is not None and not 1 <= limit <= MAX_RUN_SIZE:
        raise BusinessRuleError(
            f"limit must be between 1 and {MAX_RUN_SIZE}.", type_="invalid-payment-run"
        )
    if run_date > jakarta_today():
        raise BusinessRuleError("run_date must not be in the future.", type_="invalid-payment-run")
    provider_id = None
    if provider_code is not None:
        provider_id = await session.scalar(
            select(Provider.id).where(Provider.provider_code == provider_code)
        )
        if provider_id is None:
            raise NotFound(f"Provider {provider_code} not found.", type_="provider-not-found")

    stmt = (
        _payable(run_date, payee_type, provider_id)
        .order_by(Claim.submission_date, Claim.id)
        .limit(limit or MAX_RUN_SIZE)
        .with_for_update(skip_locked=True)
        .execution_options(populate_existing=True)
    )
    claims = list((await session.scalars(stmt)).all())
    if not claims:
        return PaymentRun(run_number=None, run_date=run_date, payments=[])

    provider_ids = {c.provider_id for c in claims if c.claim_type == "cashless"}
    providers = {
        p.id: p
        for p in (await session.scalars(select(Provider).where(Provider.id.in_(provider_ids))))
    }
    member_ids = {c.member_id for c in claims if c.claim_type != "cashless"}
    members = await _pairs(
        session, select(Member.id, Member.member_number).where(Member.id.in_(member_ids))
    )

    run_number = new_run_number(run_date)
    who = str(user)
    # The column's default, now() (the transaction's start), set here so the answer has it.
    created_at = await session.scalar(select(func.now()))
    views: list[PaymentView] = []
    for seq, claim in enumerate(claims, start=1):
        transitions.check_transition(claim.status, transitions.PAYMENT_PENDING, claim.claim_number)
        payment = Payment(
            id=uuid.uuid4(),
            payment_number=payment_number_of(run_number, seq),
            claim_id=claim.id,
            payment_amount=claim.total_paid_amount,
            reference_number=run_number,
            payment_status=PENDING,
            created_at=created_at,
        )
        if claim.claim_type == "cashless":
            provider = providers[claim.provider_id]
            payment.payment_type = "claim"
            payment.payee_type = "provider"
            payment.payee_id = provider.id
            payment.bank_name = provider.bank_name
            if provider.bank_account_encrypted:
                # The ciphertext is bound to its key id only, so a copy decrypts as is.
                payment.payment_method = "bank_transfer"
                payment.account_number = provider.bank_account
                payment.account_number_encrypted = provider.bank_account_encrypted
                payment.encryption_key_id = provider.encryption_key_id
            else:
                payment.payment_method = "check"
            payee_code: str | None = provider.provider_code
        else:
            payment.payment_type = "reimbursement"
            payment.payee_type = "member"
            payment.payee_id = claim.member_id
            payment.payment_method = "check"
            payee_code = members.get(claim.member_id)
        session.add(payment)
        claim.status = transitions.PAYMENT_PENDING
        claim.updated_by = who
        claim.updated_at = func.now()
        views.append(PaymentView(payment, claim.claim_number, payee_code))
    await session.flush()
    return PaymentRun(run_number=run_number, run_date=run_date, payments=views)


# --- one payment --------------------------------------------------------------------------


async def _locked_payment(session: AsyncSession, payment_number: str) -> Payment:
    payment = await session.scalar(
        select(Payment)
        .where(Payment.payment_number == payment_number)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if payment is None:
        raise NotFound(f"Payment {payment_number} not found.", type_="payment-not-found")
    return payment


async def _locked_claim(session: AsyncSession, payment: Payment) -> Claim:
    claim = await session.scalar(
        select(Claim)
        .where(Claim.id == payment.claim_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if claim is None:  # pragma: no cover - foreign key
        raise NotFound("The payment refers to a missing claim.", type_="claim-not-found")
    return claim


async def mark_sent(
    session: AsyncSession, payment_number: str, *, reference_number: str, user: uuid.UUID | str
) -> PaymentView:
    """pending -> sent: the bank took the instruction; its reference replaces the run
    number in `reference_number` (the payment number still names the run)."""
    payment = await _locked_payment(session, payment_number)
    check_payment_transition(payment.payment_status, SENT, payment_number)
    payment.payment_status = SENT
    payment.reference_number = reference_number
    await session.flush()
    return await view(session, payment)


async def mark_paid(
    session: AsyncSession, payment_number: str, *, payment_date: date, user: uuid.UUID | str
) -> PaymentView:
    """sent -> paid on `payment_date`; the claim becomes `paid`. The claim's amounts stay
    as adjudicated: the payment must equal its `total_paid_amount` (else 409)."""
    payment = await _locked_payment(session, payment_number)
    check_payment_transition(payment.payment_status, PAID, payment_number)
    if payment_date > jakarta_today():
        raise BusinessRuleError(
            "payment_date must not be in the future.", type_="invalid-payment-date"
        )
    if payment_date < payment.created_at.astimezone(JAKARTA).date():
        raise BusinessRuleError(
            "payment_date must not be before the payment was created.",
            type_="invalid-payment-date",
        )
    claim = await _locked_claim(session, payment)
    transitions.check_transition(claim.status, transitions.PAID, claim.claim_number)
    if claim.total_paid_amount != payment.payment_amount:
        raise Conflict(
            f"Payment {payment_number} is {payment.payment_amount} but claim "
            f"{claim.claim_number} pays {claim.total_paid_amount}.",
            type_="payment-amount-mismatch",
        )
    payment.payment_status = PAID
    payment.payment_date = payment_date
    claim.status = transitions.PAID
    claim.updated_by = str(user)
    claim.updated_at = func.now()
    await session.flush()
    return await view(session, payment)


async def _release_claim(
    session: AsyncSession, payment: Payment, *, event: str, reason: str, user: uuid.UUID | str
) -> None:
    """Return the payment's claim to its decided status; note the event and reason in a
    trace step of each paying line (billing.payment has no column for a reason)."""
    claim = await _locked_claim(session, payment)
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
    target = decided_status([i.status for i in items])
    transitions.check_transition(claim.status, target, claim.claim_number)
    who = str(user)
    claim.status = target
    claim.updated_by = who
    claim.updated_at = func.now()
    for item in items:
        if not item.paid_amount:
            continue
        paid = str(item.paid_amount)
        item.adjudication_trace = [
            *(item.adjudication_trace or []),
            {
                "code": event,
                "message": f"payment {payment.payment_number} {event.removeprefix('payment_')}"
                f" by {who}: {reason}",
                "amount_before": paid,
                "amount_after": paid,
            },
        ]


async def mark_failed(
    session: AsyncSession, payment_number: str, *, reason: str, user: uuid.UUID | str
) -> PaymentView:
    """sent -> failed; the claim returns to its decided status for a later run. An ASO
    claim's fund draw stays drawn: the claim still owes the same amount (decision 0028)."""
    payment = await _locked_payment(session, payment_number)
    check_payment_transition(payment.payment_status, FAILED, payment_number)
    payment.payment_status = FAILED
    await _release_claim(session, payment, event="payment_failed", reason=reason, user=user)
    await session.flush()
    return await view(session, payment)


async def cancel_payment(
    session: AsyncSession, payment_number: str, *, reason: str, user: uuid.UUID | str
) -> PaymentView:
    """pending -> cancelled; the claim returns to its decided status for a later run."""
    payment = await _locked_payment(session, payment_number)
    check_payment_transition(payment.payment_status, CANCELLED, payment_number)
    payment.payment_status = CANCELLED
    await _release_claim(session, payment, event="payment_cancelled", reason=reason, user=user)
    await session.flush()
    return await view(session, payment)


# --- reading ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PaymentFilter:
    payment_status: str | None = None
    payee_type: str | None = None
    claim_id: uuid.UUID | None = None
    run_number: str | None = None


def statement(where: PaymentFilter) -> Select[Payment]:
    """Payments matching the filter (unordered; the caller pages it)."""
    stmt = select(Payment)
    if where.payment_status is not None:
        stmt = stmt.where(Payment.payment_status == where.payment_status)
    if where.payee_type is not None:
        stmt = stmt.where(Payment.payee_type == where.payee_type)
    if where.claim_id is not None:
        stmt = stmt.where(Payment.claim_id == where.claim_id)
    if where.run_number is not None:
        prefix = "PAY-" + where.run_number.removeprefix("PRUN-") + "-"
        stmt = stmt.where(
            Payment.payment_number.startswith(prefix, autoescape=True),
        )
    return stmt


async def views(session: AsyncSession, payments: Sequence[Payment]) -> list[PaymentView]:
    """Each payment with its claim number and its payee's code (provider_code or
    member_number), read in three queries whatever the number of payments."""
    claim_ids = {p.claim_id for p in payments if p.claim_id is not None}
    numbers = await _pairs(
        session,
        select(ClaimRegistry.claim_id, ClaimRegistry.claim_number).where(
            ClaimRegistry.claim_id.in_(claim_ids)
        ),
    )
    provider_ids = {p.payee_id for p in payments if p.payee_type == "provider"}
    member_ids = {p.payee_id for p in payments if p.payee_type == "member"}
    codes: dict[uuid.UUID, str] = {}
    if provider_ids:
        codes |= await _pairs(
            session,
            select(Provider.id, Provider.provider_code).where(Provider.id.in_(provider_ids)),
        )
    if member_ids:
        codes |= await _pairs(
            session, select(Member.id, Member.member_number).where(Member.id.in_(member_ids))
        )
    return [
        PaymentView(
            p, numbers.get(p.claim_id) if p.claim_id is not None else None, codes.get(p.payee_id)
        )
        for p in payments
    ]


async def view(session: AsyncSession, payment: Payment) -> PaymentView:
    """One payment's view."""
    return (await views(session, [payment]))[0]


async def get(session: AsyncSession, payment_number: str) -> PaymentView:
    """A payment by number; 404 `payment-not-found`."""
    payment = await session.scalar(select(Payment).where(Payment.payment_number == payment_number))
    if payment is None:
        raise NotFound(f"Payment {payment_number} not found.", type_="payment-not-found")
    return await view(session, payment)
