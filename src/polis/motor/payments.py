"""Motor premium payments: the schedule written with a policy, staff-recorded confirmations
(idempotent by reference), PromptPay QR payloads (decision 0039). Services only flush; the
request's unit of work commits."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import raw
from polis.db.raw import Statement
from polis.db.rows import Prefixed, adopt, columns, flush_pending, returned, sync
from polis.motor import policy_rules, promptpay, receipts
from polis.motor.models import MotorPayment, MotorPolicy, PaymentTransaction
from polis.motor.payment_schemas import Payment, PaymentConfirm, PromptPayQR
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.reference.service import get_config

GRACE_KEY = "POLICY_GRACE_PERIOD_DAYS"
BILLER_KEY = "MOTOR_PROMPTPAY_BILLER_ID"
MANUAL_PROVIDER = "STAFF"  # payment_transactions.gateway_provider of staff-recorded money
PREMIUM_TYPES = ("PREMIUM", "INSTALLMENT")


class PolicyTransitionRefused(Conflict):
    """The policy's status does not allow this move (the transition table)."""

    type_ = "policy-transition-refused"
    title = "Policy Transition Refused"

    def __init__(self, number: str, current: str, target: str) -> None:
        super().__init__(
            f"Policy {number} is {current}: it cannot become {target}.",
            extra={"status_current": current, "allowed": policy_rules.allowed_from(current)},
        )


class PaymentConflict(Conflict):
    """The payment's state refuses the confirmation."""

    type_ = "payment-conflict"
    title = "Payment Conflict"


class InvalidPayment(BusinessRuleError):
    """A confirmation that does not match the payment, field by field."""

    type_ = "invalid-payment"
    title = "Invalid Payment"

    def __init__(self, field: str, message: str, kind: str) -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": kind}]},
        )


def set_status(policy: MotorPolicy, target: str, user_id: uuid.UUID | None) -> None:
    """Move a policy by the transition table (PolicyTransitionRefused, 409, otherwise)."""
    current = policy.status or "ACTIVE"
    if not policy_rules.can_transition(current, target):
        raise PolicyTransitionRefused(policy.policy_number, current, target)
    policy.status = target
    policy.updated_by = user_id
    policy.version = (policy.version or 0) + 1


def payment_out(row: MotorPayment | Prefixed, policy_number: str | None) -> Payment:
    """The response of a payment; premium rows carry their bill-payment reference."""
    reference = None
    if policy_number is not None and row.payment_type in PREMIUM_TYPES:
        reference = policy_rules.payment_reference(policy_number, row.installment_number)
    return Payment(
        id=row.id,
        policy_id=row.policy_id,
        customer_id=row.customer_id,
        payment_type=row.payment_type,
        payment_direction=row.payment_direction,
        amount=row.amount,
        currency=row.currency or "THB",
        fees=row.fees if row.fees is not None else Decimal("0.00"),
        total_amount=row.total_amount,
        payment_method=row.payment_method,
        payment_channel=row.payment_channel,
        payment_status=row.payment_status or "PENDING",
        transaction_reference=row.transaction_reference,
        payment_date=row.payment_date,
        due_date=row.due_date,
        processed_at=row.processed_at,
        installment_number=row.installment_number,
        total_installments=row.total_installments,
        reconciliation_status=row.reconciliation_status,
        reference=reference,
        created_at=row.created_at,
        updated_at=row.updated_at,
        version=row.version or 0,
    )


def schedule_values(
    policy: MotorPolicy,
    *,
    method: str,
    channel: str | None,
    user_id: uuid.UUID | None,
) -> list[dict[str, Any]]:
    """The column values of the policy's scheduled premium payments (PENDING), in order."""
    return [
        {
            "policy_id": policy.id,
            "customer_id": policy.customer_id,
            "payment_type": item.payment_type,
            "payment_direction": "INCOMING",
            "amount": item.amount,
            "currency": "THB",
            "fees": Decimal("0.00"),
            "total_amount": item.amount,
            "payment_method": method,
            "payment_channel": channel,
            "payment_status": "PENDING",
            "due_date": item.due_date,
            "installment_number": item.installment_number,
            "total_installments": item.total_installments,
            "created_by": user_id,
            "updated_by": user_id,
        }
        for item in policy_rules.schedule(
            policy.total_premium,
            policy.payment_plan or "FULL",
            policy.start_date,
            policy.policy_period_months,
        )
    ]


# A policy's payments: the schedule by instalment, then refunds, oldest first.
PAYMENT_ORDER = (
    MotorPayment.payment_direction,  # INCOMING before OUTGOING
    func.coalesce(MotorPayment.installment_number, 0),
    MotorPayment.created_at,
    MotorPayment.id,
)
_POLICY_PAYMENTS = (
    select(MotorPayment)
    .where(MotorPayment.policy_id == bindparam("policy_id"))
    .order_by(*PAYMENT_ORDER)
)


async def policy_payments(session: AsyncSession, policy_id: uuid.UUID) -> list[MotorPayment]:
    """A policy's payments: the schedule by instalment, then refunds, oldest first."""
    return list(await session.scalars(_POLICY_PAYMENTS, {"policy_id": policy_id}))


async def get_payment(
    session: AsyncSession, payment_id: uuid.UUID, *, lock: bool = False
) -> tuple[MotorPayment, str | None]:
    """A payment and its policy's number; NotFound when there is none."""
    stmt = (
        select(MotorPayment, MotorPolicy.policy_number)
        .outerjoin(MotorPolicy, MotorPolicy.id == MotorPayment.policy_id)
        .where(MotorPayment.id == payment_id)
    )
    if lock:
        stmt = stmt.with_for_update(of=MotorPayment)
    row = (await session.execute(stmt)).one_or_none()
    if row is None:
        raise NotFound(f"Payment {payment_id} does not exist.")
    return row[0], row[1]


# A payment's confirmation as one UPDATE ... RETURNING the row as stored (updated_at from the
# trigger, payment_date in UTC): the response needs no read-back. The partition key
# (created_at) is in the WHERE so only the payment's partition is touched. Sent by
# polis.db.raw, as confirm_payment's other fixed statements (decision 0073).
_PAY = Statement(
    "UPDATE motor.payments SET payment_status = :payment_status,"
    " payment_method = :payment_method,"
    " payment_channel = coalesce(CAST(:payment_channel AS varchar), payment_channel),"
    " transaction_reference = :transaction_reference, payment_date = :payment_date,"
    " processed_at = :processed_at, updated_by = :updated_by,"
    " version = coalesce(version, 0) + 1"
    " WHERE id = :payment_id AND created_at = :created_at"
    f" RETURNING {columns(MotorPayment)}"
)


async def overdue_instalments(
    session: AsyncSession, policy_id: uuid.UUID, today: date, grace_days: int
) -> int:
    """How many of the policy's scheduled payments are unpaid past the grace period."""
    rows = await session.execute(
        select(MotorPayment.due_date).where(
            MotorPayment.policy_id == policy_id,
            MotorPayment.payment_direction == "INCOMING",
            MotorPayment.payment_type.in_(PREMIUM_TYPES),
            MotorPayment.payment_status == "PENDING",
        )
    )
    return sum(1 for (due,) in rows if policy_rules.is_overdue(due, today, grace_days))


async def _vehicle_has_other_active(session: AsyncSession, policy: MotorPolicy) -> bool:
    found = await session.scalar(
        select(MotorPolicy.id).where(
            MotorPolicy.vehicle_id == policy.vehicle_id,
            MotorPolicy.id != policy.id,
            MotorPolicy.status == "ACTIVE",
            MotorPolicy.deleted_at.is_(None),
        )
    )
    return found is not None


# confirm_payment's reads, built once: the policy of a payment, locked (lock order: policy,
# then payment, as the jobs), with its customer's preferred language (the receipt's); then the
# payment, locked, with whether another ACTIVE policy covers the policy's vehicle (read after
# the policy's lock is held, as the activation needs it).
_CONFIRM_POLICY = Statement(
    f"SELECT {columns(MotorPolicy, 'p')}, c.preferred_language"
    " FROM motor.policies p LEFT JOIN motor.customers c ON c.id = p.customer_id"
    " WHERE p.id = (SELECT m.policy_id FROM motor.payments m WHERE m.id = :payment_id)"
    " FOR UPDATE OF p"
)
_CONFIRM_PAYMENT = Statement(
    f"SELECT {columns(MotorPayment, 'm')}, EXISTS (SELECT 1 FROM motor.policies o"
    "  WHERE o.vehicle_id = :vehicle_id AND o.id != :policy_id AND o.status = 'ACTIVE'"
    "  AND o.deleted_at IS NULL) AS vehicle_taken"
    " FROM motor.payments m WHERE m.id = :payment_id FOR UPDATE OF m"
)
# The staff's confirmation, kept when no gateway event is (decision 0048).
_CONFIRM_TRANSACTION = Statement(
    "INSERT INTO motor.payment_transactions (payment_id, transaction_type, amount, currency,"
    " status, gateway_provider, gateway_reference, request_payload, occurred_at, created_by,"
    " updated_by) VALUES (:payment_id, 'CONFIRM', :amount, :currency, 'SUCCESS',"
    f" '{MANUAL_PROVIDER}', :reference, CAST(:payload AS jsonb), :occurred_at, :user_id,"
    " :user_id)"
)


async def confirm_payment(
    session: AsyncSession,
    payment_id: uuid.UUID,
    body: PaymentConfirm,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
    today: date | None = None,
    event: PaymentTransaction | None = None,
    before_receipt: Callable[[MotorPayment], Awaitable[None]] | None = None,
) -> tuple[MotorPayment, str | None, bool]:
    """Record money received for a scheduled payment: (payment, policy number, changed).

    `event`: the gateway's payment_transactions row of the money (polis.motor.gateway), kept
    instead of the STAFF CONFIRM row this writes otherwise (decision 0048).
    `before_receipt`: the caller's own changes to the paid payment (the gateway's fields),
    made and flushed before the receipt takes its number, so that nothing but the commit
    follows the number (decision 0072).

    Same reference again: nothing changes (changed False). Another reference on a paid
    payment: 409. The amount must be the amount due (422). Paying the FULL payment or the
    first instalment activates a DRAFT policy; paying the last overdue instalment of a
    SUSPENDED policy reactivates it. The receipt is issued last (its number locks the
    year's counter until commit, decision 0072): the payment returned is as stored."""
    from polis.motor.quotes import today_bangkok

    now = now or datetime.now(UTC)
    today = today or today_bangkok(now)
    await flush_pending(session)  # what the ORM's locking reads flushed first
    found = await raw.fetchrow(session, _CONFIRM_POLICY, {"payment_id": payment_id})
    policy = None if found is None else adopt(session, MotorPolicy, found)
    language = None if found is None else found.preferred_language
    locked = await raw.fetchrow(
        session,
        _CONFIRM_PAYMENT,
        {
            "payment_id": payment_id,
            "vehicle_id": None if policy is None else policy.vehicle_id,
            "policy_id": None if policy is None else policy.id,
        },
    )
    if locked is None:
        raise NotFound(f"Payment {payment_id} does not exist.")
    sync(session, MotorPayment, locked)  # a payment the session holds reads the locked row
    vehicle_taken = bool(locked.vehicle_taken)
    number = None if policy is None else policy.policy_number
    if locked.payment_direction != "INCOMING" or locked.payment_type not in PREMIUM_TYPES:
        raise PaymentConflict(f"Payment {payment_id} is not a premium payment to confirm.")
    if locked.payment_status == "SUCCESS":
        if locked.transaction_reference == body.reference:
            return adopt(session, MotorPayment, locked), number, False
        raise PaymentConflict(
            f"Payment {payment_id} was already paid with another reference.",
            extra={"transaction_reference": locked.transaction_reference},
        )
    if locked.payment_status != "PENDING":
        raise PaymentConflict(f"Payment {payment_id} is {locked.payment_status}: not payable.")
    if policy is not None and policy.status not in policy_rules.LIVE_STATUSES:
        raise PaymentConflict(
            f"Policy {policy.policy_number} is {policy.status}: its payments cannot be paid.",
            extra={"policy_status": policy.status},
        )
    if body.amount != locked.total_amount:
        raise InvalidPayment(
            "amount",
            f"the amount due is {locked.total_amount}, not {body.amount}",
            "amount_mismatch",
        )
    if body.paid_at > now:
        raise InvalidPayment("paid_at", "paid_at must not be in the future", "future")

    # The payment as stored (UPDATE ... RETURNING: no read-back), then the transaction row.
    paid = await returned(
        session,
        _PAY,
        {
            "payment_id": locked.id,
            "created_at": locked.created_at,
            "payment_status": "SUCCESS",
            "payment_method": body.method,
            "payment_channel": body.payment_channel,
            "transaction_reference": body.reference,
            "payment_date": body.paid_at,
            "processed_at": now,
            "updated_by": user_id,
        },
    )
    payment = adopt(session, MotorPayment, paid)
    if event is not None:
        session.add(event)
    if policy is not None:
        await _after_payment(
            session, policy, payment, today=today, user_id=user_id, vehicle_taken=vehicle_taken
        )
    await session.flush()
    if event is None:  # after the flush, as the ORM's unit of work ordered it
        await raw.execute(
            session,
            _CONFIRM_TRANSACTION,
            {
                "payment_id": payment.id,
                "amount": body.amount,
                "currency": payment.currency or "THB",
                "reference": body.reference,
                "payload": json.dumps(body.model_dump(mode="json")),
                "occurred_at": body.paid_at,
                "user_id": user_id,
            },
        )
    if before_receipt is not None:
        await before_receipt(payment)
    await receipts.issue_receipt(  # decision 0049; the last statement (decision 0072)
        session, payment, user_id=user_id, now=now, policy=policy, language=language or "th"
    )
    return payment, number, True


async def _after_payment(
    session: AsyncSession,
    policy: MotorPolicy,
    payment: MotorPayment,
    *,
    today: date,
    user_id: uuid.UUID | None,
    vehicle_taken: bool | None = None,
) -> None:
    """`vehicle_taken`: whether another ACTIVE policy covers the vehicle, when the caller
    read it under the policy's lock (None: read it here)."""
    first = payment.installment_number in (None, 1)
    if policy.status == "DRAFT" and first:
        # One ACTIVE policy per vehicle (the seed's unique index): a paid renewal that starts
        # while the current policy is still ACTIVE waits as DRAFT (decision 0039), unless its
        # start date has come: then it takes over from the policy it renews (decision 0047).
        from polis.motor.policies import activate_paid_renewal  # policies imports this module

        if await activate_paid_renewal(session, policy, today, user_id):
            return
        if vehicle_taken is None or policy.previous_policy_id is not None:
            # a renewal's predecessor may have just been expired: read again
            vehicle_taken = await _vehicle_has_other_active(session, policy)
        if not vehicle_taken:
            set_status(policy, "ACTIVE", user_id)
    elif policy.status == "SUSPENDED":
        await session.flush()  # the payment's new status counts in the overdue count
        grace = int(await get_config(session, GRACE_KEY))
        if await overdue_instalments(session, policy.id, today, grace) == 0:
            set_status(policy, "ACTIVE", user_id)


async def promptpay_qr(session: AsyncSession, payment_id: uuid.UUID) -> PromptPayQR:
    """A dynamic bill-payment payload (tag 30) for a PENDING premium payment: biller id from
    MOTOR_PROMPTPAY_BILLER_ID, ref1 the payment reference, the amount due."""
    payment, number = await get_payment(session, payment_id)
    if (
        number is None
        or payment.payment_direction != "INCOMING"
        or payment.payment_type not in PREMIUM_TYPES
    ):
        raise PaymentConflict(f"Payment {payment_id} is not a premium payment.")
    if payment.payment_status != "PENDING":
        raise PaymentConflict(
            f"Payment {payment_id} is {payment.payment_status}: nothing to pay.",
            extra={"payment_status": payment.payment_status},
        )
    biller = str(await get_config(session, BILLER_KEY))
    reference = policy_rules.payment_reference(number, payment.installment_number)
    payload = promptpay.bill_payment(biller, ref1=reference, amount=payment.total_amount)
    return PromptPayQR(
        payload=payload, amount=payment.total_amount, reference=reference, biller_id=biller
    )


def qr_png(qr: PromptPayQR) -> bytes:
    """The QR code image of a payload (PNG)."""
    return promptpay.render_png(qr.payload)


async def cancel_pending(
    session: AsyncSession, policy_id: uuid.UUID, user_id: uuid.UUID | None
) -> int:
    """Cancel a policy's unpaid scheduled payments; how many."""
    result = await session.execute(
        update(MotorPayment)
        .where(
            MotorPayment.policy_id == policy_id,
            MotorPayment.payment_direction == "INCOMING",
            MotorPayment.payment_status == "PENDING",
        )
        .values(
            payment_status="CANCELLED",
            updated_by=user_id,
            version=func.coalesce(MotorPayment.version, 0) + 1,
        )
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def paid_total(session: AsyncSession, policy_id: uuid.UUID) -> tuple[Decimal, str | None]:
    """Premium received for a policy, and the method of the latest receipt."""
    rows = (
        await session.execute(
            select(MotorPayment.total_amount, MotorPayment.payment_method)
            .where(
                MotorPayment.policy_id == policy_id,
                MotorPayment.payment_direction == "INCOMING",
                MotorPayment.payment_status == "SUCCESS",
            )
            .order_by(MotorPayment.payment_date)
        )
    ).all()
    total = sum((r[0] for r in rows), Decimal("0.00"))
    return total, (rows[-1][1] if rows else None)


def refund_row(
    policy: MotorPolicy, amount: Decimal, method: str, due: date, user_id: uuid.UUID | None
) -> MotorPayment:
    """A PENDING outgoing REFUND payment (paid out by finance later)."""
    return MotorPayment(
        policy_id=policy.id,
        customer_id=policy.customer_id,
        payment_type="REFUND",
        payment_direction="OUTGOING",
        amount=amount,
        currency="THB",
        fees=Decimal("0.00"),
        total_amount=amount,
        payment_method=method,
        payment_status="PENDING",
        due_date=due,
        created_by=user_id,
        updated_by=user_id,
    )


def claim_settlement_row(
    policy: MotorPolicy,
    claim_id: uuid.UUID,
    amount: Decimal,
    method: str,
    due: date,
    user_id: uuid.UUID | None,
    *,
    bank_code: str | None = None,
    bank_account_number: str | None = None,
) -> MotorPayment:
    """A PENDING outgoing CLAIM_SETTLEMENT payment of a claim settlement row (decision 0051):
    the policy's customer is the payment's customer whoever the payee is (the settlement row
    names the payee); paid out by finance and recorded by `record_outgoing_paid`."""
    return MotorPayment(
        policy_id=policy.id,
        claim_id=claim_id,
        customer_id=policy.customer_id,
        payment_type="CLAIM_SETTLEMENT",
        payment_direction="OUTGOING",
        amount=amount,
        currency="THB",
        fees=Decimal("0.00"),
        total_amount=amount,
        payment_method=method,
        payment_status="PENDING",
        due_date=due,
        bank_code=bank_code,
        bank_account_number=bank_account_number,
        created_by=user_id,
        updated_by=user_id,
    )


async def record_outgoing_paid(
    session: AsyncSession,
    payment: MotorPayment,
    reference: str,
    paid_at: datetime,
    *,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> bool:
    """Record an OUTGOING payment (locked by the caller) as paid: SUCCESS with the bank's
    reference and one STAFF CONFIRM payment_transactions row. Same reference again: nothing
    changes (False). Another reference on a paid payment, a payment not PENDING, or a
    reference that already paid another payment: 409."""
    now = now or datetime.now(UTC)
    if payment.payment_direction != "OUTGOING":
        raise PaymentConflict(f"Payment {payment.id} is not an outgoing payment.")
    if payment.payment_status == "SUCCESS":
        if payment.transaction_reference == reference:
            return False
        raise PaymentConflict(
            f"Payment {payment.id} was already paid with another reference.",
            extra={"transaction_reference": payment.transaction_reference},
        )
    if payment.payment_status != "PENDING":
        raise PaymentConflict(f"Payment {payment.id} is {payment.payment_status}: not payable.")
    used = await session.scalar(
        select(PaymentTransaction.payment_id).where(
            PaymentTransaction.gateway_provider == MANUAL_PROVIDER,
            PaymentTransaction.gateway_reference == reference,
        )
    )
    if used is not None:
        raise PaymentConflict(
            f"Reference {reference} already recorded payment {used}.",
            extra={"payment_id": str(used)},
        )
    payment.payment_status = "SUCCESS"
    payment.transaction_reference = reference
    payment.payment_date = paid_at
    payment.processed_at = now
    payment.updated_by = user_id
    payment.version = (payment.version or 0) + 1
    session.add(
        PaymentTransaction(
            payment_id=payment.id,
            transaction_type="CONFIRM",
            amount=payment.total_amount,
            currency=payment.currency or "THB",
            status="SUCCESS",
            gateway_provider=MANUAL_PROVIDER,
            gateway_reference=reference,
            request_payload={"transaction_reference": reference, "paid_at": paid_at.isoformat()},
            occurred_at=paid_at,
            created_by=user_id,
            updated_by=user_id,
        )
    )
    await session.flush()
    return True
