"""Motor payments through the payment gateway (decision 0048): card charges, signed
callbacks processed once per gateway transaction, PAYMENT_TIMEOUT_MINUTES expiry of
unanswered attempts, and refunds. Services only flush; the request's unit of work commits.

- One gateway transaction is one `payment_transactions` row (`gateway_provider`,
  `gateway_reference` = the gateway's transaction id, unique): a charge writes it (CAPTURE),
  a callback for a transaction we do not know yet writes it (WEBHOOK), a callback for a known
  final transaction changes nothing.
- Money received goes through `payments.confirm_payment` (the staff confirmation's path), so
  the policy activates and the receipt is issued exactly once.
- A declined or expired attempt leaves the scheduled payment PENDING (it is still due; the
  suspension job and cancellation read PENDING) and records the attempt FAILED or TIMEOUT.
- The card number never reaches the database or a log: the gateway tokenises it; the token is
  sealed with the Keyring (`kid$base64(nonce||ciphertext)`), only the last four are shown.
"""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings
from polis.integrations.gateway import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    GatewayClient,
    GatewayRejected,
    GatewayUnavailable,
    SignatureInvalid,
    new_idempotency_key,
    verify_signature,
)
from polis.motor import payments, policy_rules
from polis.motor.gateway_schemas import CardDetails, ChargeRequest, RefundRequest
from polis.motor.models import MotorPayment, MotorPolicy, PaymentTransaction
from polis.motor.payment_schemas import PaymentConfirm
from polis.platform.crypto import get_keyring
from polis.platform.errors import BadRequest, NotFound, PolisError, ServiceUnavailable, Unauthorized
from polis.reference.service import get_config

log = structlog.get_logger("polis.motor.gateway")

PROVIDER = GatewayClient.provider
TIMEOUT_KEY = "PAYMENT_TIMEOUT_MINUTES"
ATTEMPT_TYPES = ("AUTHORIZE", "CAPTURE")
CARD_METHODS = ("CREDIT_CARD", "DEBIT_CARD")


def gateway_client(request: Request) -> GatewayClient:
    """The app's gateway client (made from the PAYMENT_GATEWAY_* settings on first use)."""
    client: GatewayClient | None = getattr(request.app.state, "gateway_client", None)
    if client is None:
        client = GatewayClient.from_settings(request.app.state.settings)
        request.app.state.gateway_client = client
    return client


GatewayClientDep = Annotated[GatewayClient, Depends(gateway_client)]


class GatewayRefused(PolisError):
    """The gateway refused the request (a bad card, an unknown token)."""

    status_code = 422
    type_ = "payment-gateway-refused"
    title = "Payment Gateway Refused"


def _unavailable(exc: GatewayUnavailable) -> ServiceUnavailable:
    log.warning("payment_gateway_unavailable", error=str(exc))
    return ServiceUnavailable(
        f"The payment gateway is unavailable: {exc}", type_="payment-gateway-unavailable"
    )


def _refused(exc: GatewayRejected, field: str) -> GatewayRefused:
    message = str(exc)
    return GatewayRefused(
        message,
        extra={
            "gateway_code": exc.code,
            "errors": [{"field": field, "message": message, "type": exc.code or "refused"}],
        },
    )


def seal_token(token: str) -> str:
    """The card_token column's text: `kid$base64(nonce||ciphertext)` (decision 0032)."""
    blob = get_keyring().encrypt(token)
    kid, _, rest = blob.partition(b"$")
    return kid.decode() + "$" + base64.b64encode(rest).decode()


def open_token(sealed: str) -> str:
    """The gateway token of a card_token column value."""
    kid, _, rest = sealed.partition("$")
    return get_keyring().decrypt(kid.encode() + b"$" + base64.b64decode(rest))


@dataclass
class ChargeOutcome:
    payment: MotorPayment
    policy_number: str | None
    attempt: PaymentTransaction


async def _lock_policy(session: AsyncSession, payment: MotorPayment) -> MotorPolicy | None:
    if payment.policy_id is None:
        return None
    return (
        await session.execute(
            select(MotorPolicy).where(MotorPolicy.id == payment.policy_id).with_for_update()
        )
    ).scalar_one()


def _payable(payment: MotorPayment, policy: MotorPolicy | None) -> None:
    if (
        payment.payment_direction != "INCOMING"
        or payment.payment_type not in payments.PREMIUM_TYPES
    ):
        raise payments.PaymentConflict(f"Payment {payment.id} is not a premium payment.")
    if payment.payment_status != "PENDING":
        raise payments.PaymentConflict(
            f"Payment {payment.id} is {payment.payment_status}: nothing to pay.",
            extra={"payment_status": payment.payment_status},
        )
    if policy is not None and policy.status not in policy_rules.LIVE_STATUSES:
        raise payments.PaymentConflict(
            f"Policy {policy.policy_number} is {policy.status}: its payments cannot be paid.",
            extra={"policy_status": policy.status},
        )


async def _tokenize(client: GatewayClient, card: CardDetails) -> dict[str, Any]:
    number = "".join(ch for ch in card.number if ch.isdigit())
    try:
        return await client.tokenize(
            number, card.exp_month, card.exp_year, card.cvc, card.holder_name
        )
    except GatewayUnavailable as exc:
        raise _unavailable(exc) from exc
    except GatewayRejected as exc:
        raise _refused(exc, "body.card.number") from exc


def _method(funding: str | None) -> str:
    return "DEBIT_CARD" if funding == "debit" else "CREDIT_CARD"


async def charge(
    session: AsyncSession,
    client: GatewayClient,
    payment_id: uuid.UUID,
    body: ChargeRequest,
    *,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> ChargeOutcome:
    """Charge the amount due of a PENDING premium payment to a card.

    SUCCESS pays the payment (payments.confirm_payment); FAILED (declined) and PENDING
    (3-D Secure: the result comes by callback) record the attempt and leave the payment
    PENDING. An attempt still PENDING at the gateway refuses another charge (409)."""
    now = now or datetime.now(UTC)
    payment, number = await payments.get_payment(session, payment_id)
    policy = await _lock_policy(session, payment)  # lock order: policy, then payment
    payment, number = await payments.get_payment(session, payment_id, lock=True)
    await session.refresh(payment)
    _payable(payment, policy)
    outstanding = await session.scalar(
        select(PaymentTransaction.gateway_reference).where(
            PaymentTransaction.payment_id == payment.id,
            PaymentTransaction.transaction_type.in_(ATTEMPT_TYPES),
            PaymentTransaction.status == "PENDING",
        )
    )
    if outstanding is not None:
        raise payments.PaymentConflict(
            f"Payment {payment_id} has a gateway attempt awaiting its result.",
            extra={"gateway_transaction_id": outstanding},
        )

    if body.card is not None:
        card = await _tokenize(client, body.card)
        token = str(card["token"])
    else:
        token = str(body.card_token)
    reference = (
        policy_rules.payment_reference(number, payment.installment_number)
        if number is not None
        else str(payment.id)
    )
    key = new_idempotency_key()
    try:
        txn = await client.charge(token, str(payment.total_amount), reference, key)
    except GatewayUnavailable as exc:
        raise _unavailable(exc) from exc
    except GatewayRejected as exc:
        raise _refused(exc, "body.card_token") from exc

    status = str(txn.get("status"))
    if status not in ("SUCCESS", "FAILED", "PENDING"):
        raise GatewayRefused(f"The payment gateway answered an unknown status {status!r}.")
    attempt = PaymentTransaction(
        payment_id=payment.id,
        transaction_type="CAPTURE",
        amount=payment.total_amount,
        currency=payment.currency or "THB",
        status=status,
        gateway_provider=PROVIDER,
        gateway_reference=str(txn["transaction_id"]),
        idempotency_key=key,
        request_payload={"amount": str(payment.total_amount), "reference": reference},
        response_payload=txn,
        response_code=txn.get("failure_code") or txn.get("authorization_code"),
        response_message=txn.get("failure_message"),
        occurred_at=now,
        created_by=user_id,
        updated_by=user_id,
    )

    async def record_charge(paid: MotorPayment) -> None:
        """The gateway's fields, stored as they are (refresh: updated_at)."""
        paid.gateway_provider = PROVIDER
        paid.gateway_transaction_id = attempt.gateway_reference
        paid.gateway_response = txn
        paid.card_last_four = txn.get("card_last_four")
        paid.card_type = txn.get("card_type")
        paid.card_token = seal_token(token)
        paid.updated_by = user_id
        if status == "SUCCESS":
            paid.authorization_code = txn.get("authorization_code")
        await session.flush()
        await session.refresh(paid)

    if status == "SUCCESS":
        confirm = PaymentConfirm(
            method=_method(txn.get("funding")),
            reference=attempt.gateway_reference or "",
            paid_at=now,
            amount=payment.total_amount,
            payment_channel=body.payment_channel,
        )
        # The gateway's fields are written before the receipt takes its number (0072).
        payment, number, changed = await payments.confirm_payment(
            session,
            payment_id,
            confirm,
            user_id=user_id,
            now=now,
            event=attempt,
            before_receipt=record_charge,
        )
        if not changed:  # paid already under this reference: no receipt, no hook
            await record_charge(payment)
    else:
        session.add(attempt)
        await record_charge(payment)
    log.info(
        "payment_gateway_charge",
        payment_id=str(payment.id),
        gateway_transaction_id=attempt.gateway_reference,
        status=status,
        card_last_four=payment.card_last_four,
    )
    return ChargeOutcome(payment, number, attempt)


# --- callbacks ---------------------------------------------------------------------------


@dataclass
class CallbackOutcome:
    result: str  # processed or duplicate
    transaction_id: str
    payment: MotorPayment | None


def callback_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("The callback body is not JSON.") from None
    if not isinstance(body, dict):
        raise BadRequest("The callback body is not a JSON object.")
    missing = [
        k for k in ("transaction_id", "kind", "status", "amount", "reference") if not body.get(k)
    ]
    if missing or body.get("status") not in ("SUCCESS", "FAILED"):
        raise BadRequest(
            "The callback lacks " + (", ".join(missing) or "a SUCCESS or FAILED status") + "."
        )
    return body


async def payment_by_reference(
    session: AsyncSession, reference: str, *, lock: bool = False
) -> MotorPayment | None:
    """The scheduled premium payment of a bill-payment reference (policy number without
    dashes + 2-digit instalment, policy_rules.payment_reference)."""
    if len(reference) < 3 or not reference[-2:].isdigit():
        return None
    stem, instalment = reference[:-2], int(reference[-2:])
    stmt = (
        select(MotorPayment)
        .join(MotorPolicy, MotorPolicy.id == MotorPayment.policy_id)
        .where(
            func.replace(MotorPolicy.policy_number, "-", "") == stem,
            MotorPayment.payment_direction == "INCOMING",
            MotorPayment.payment_type.in_(payments.PREMIUM_TYPES),
            func.coalesce(MotorPayment.installment_number, 1) == instalment,
        )
        .order_by(MotorPayment.created_at)
        .limit(1)
    )
    if lock:
        stmt = stmt.with_for_update(of=MotorPayment)
    return (await session.execute(stmt)).scalar_one_or_none()


def verify_callback(settings: Settings, raw: bytes, headers: Any) -> None:
    """Unauthorized (401) unless the callback is signed with our secret, recently."""
    try:
        verify_signature(
            settings.payment_gateway_webhook_secret,
            raw,
            headers.get(SIGNATURE_HEADER),
            headers.get(TIMESTAMP_HEADER),
            tolerance_seconds=settings.payment_gateway_callback_tolerance_seconds,
        )
    except SignatureInvalid as exc:
        log.warning("payment_gateway_callback_refused", reason=str(exc))
        raise Unauthorized(
            f"Callback refused: {exc}.", type_="invalid-signature", title="Invalid Signature"
        ) from exc


async def process_callback(
    session: AsyncSession, body: dict[str, Any], *, now: datetime | None = None
) -> CallbackOutcome:
    """Apply a verified callback once per gateway transaction id."""
    now = now or datetime.now(UTC)
    txn_id = str(body["transaction_id"])
    status = str(body["status"])
    existing = (
        await session.execute(
            select(PaymentTransaction)
            .where(
                PaymentTransaction.gateway_provider == PROVIDER,
                PaymentTransaction.gateway_reference == txn_id,
            )
            .with_for_update()
        )
    ).scalar_one_or_none()
    if existing is not None and existing.status in ("SUCCESS", "FAILED"):
        payment, _ = await payments.get_payment(session, existing.payment_id)
        return CallbackOutcome("duplicate", txn_id, payment)

    try:
        amount = Decimal(str(body["amount"]))
    except ArithmeticError:
        raise BadRequest("The callback's amount is not a decimal.") from None
    funding = body.get("funding")
    if existing is not None:  # a charge awaiting its result (or timed out meanwhile)
        payment, _ = await payments.get_payment(session, existing.payment_id)
        funding = (existing.response_payload or {}).get("funding") or funding
        existing.response_payload = body
        existing.signature_valid = True
        existing.response_code = body.get("failure_code") or body.get("authorization_code")
        existing.response_message = body.get("failure_message")
        existing.updated_at = now
        event = existing
    else:
        if body.get("kind") == "REFUND":
            raise NotFound(f"No refund {txn_id} of ours.")
        found = await payment_by_reference(session, str(body["reference"]))
        if found is None:
            raise NotFound(f"No payment with reference {body['reference']}.")
        payment = found
        event = PaymentTransaction(
            payment_id=payment.id,
            transaction_type="WEBHOOK",
            amount=amount,
            currency=str(body.get("currency") or "THB"),
            status=status,
            gateway_provider=PROVIDER,
            gateway_reference=txn_id,
            response_payload=body,
            response_code=body.get("failure_code") or body.get("authorization_code"),
            response_message=body.get("failure_message"),
            signature_valid=True,
            occurred_at=_occurred(body, now),
        )
    if status == "SUCCESS":
        event.status = "SUCCESS"
        confirm = PaymentConfirm(
            method="PROMPTPAY" if body.get("kind") == "PROMPTPAY" else _method(funding),
            reference=txn_id,
            paid_at=min(_occurred(body, now), now),
            amount=amount,
        )

        async def record_callback(paid: MotorPayment) -> None:
            """The gateway's fields, before the receipt takes its number (decision 0072)."""
            paid.gateway_provider = PROVIDER
            paid.gateway_transaction_id = txn_id
            paid.authorization_code = body.get("authorization_code")
            paid.gateway_response = body
            await session.flush()
            await session.refresh(paid)

        payment, _, changed = await payments.confirm_payment(
            session, payment.id, confirm, now=now, event=event, before_receipt=record_callback
        )
        if not changed:  # paid already under this reference: no receipt, no hook
            await record_callback(payment)
    else:
        event.status = "FAILED"
        session.add(event)
        payment.gateway_response = body
        await session.flush()
        await session.refresh(payment)
    log.info(
        "payment_gateway_callback",
        gateway_transaction_id=txn_id,
        status=status,
        payment_id=str(payment.id),
    )
    return CallbackOutcome("processed", txn_id, payment)


def _occurred(body: dict[str, Any], now: datetime) -> datetime:
    try:
        value = datetime.fromisoformat(str(body.get("occurred_at")))
    except ValueError:
        return now
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


# --- expiry ------------------------------------------------------------------------------


async def expire_pending_payments(
    session: AsyncSession, now: datetime | None = None
) -> list[PaymentTransaction]:
    """Gateway attempts still PENDING PAYMENT_TIMEOUT_MINUTES after they were made become
    TIMEOUT (the payment stays PENDING: it is still due). Safe to run again."""
    now = now or datetime.now(UTC)
    minutes = int(await get_config(session, TIMEOUT_KEY))
    cutoff = now - timedelta(minutes=minutes)
    rows = list(
        (
            await session.execute(
                select(PaymentTransaction)
                .where(
                    PaymentTransaction.gateway_provider == PROVIDER,
                    PaymentTransaction.transaction_type.in_(ATTEMPT_TYPES),
                    PaymentTransaction.status == "PENDING",
                    PaymentTransaction.occurred_at <= cutoff,
                )
                .order_by(PaymentTransaction.occurred_at)
                .with_for_update(skip_locked=True)
            )
        ).scalars()
    )
    for row in rows:
        row.status = "TIMEOUT"
        row.response_message = f"no result within {minutes} minutes"
        row.updated_at = now
    await session.flush()
    return rows


# --- refunds -----------------------------------------------------------------------------


async def refunded_total(session: AsyncSession, payment_id: uuid.UUID) -> Decimal:
    """What was refunded (or is being refunded) of a payment."""
    total = await session.scalar(
        select(func.coalesce(func.sum(PaymentTransaction.amount), 0)).where(
            PaymentTransaction.payment_id == payment_id,
            PaymentTransaction.transaction_type == "REFUND",
            PaymentTransaction.status.in_(("PENDING", "SUCCESS")),
        )
    )
    return Decimal(total or 0).quantize(Decimal("0.01"))


async def refund(
    session: AsyncSession,
    client: GatewayClient,
    payment_id: uuid.UUID,
    body: RefundRequest,
    *,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> tuple[MotorPayment, str | None]:
    """Refund a received payment (a new OUTGOING REFUND payment, SUCCESS), or execute a
    PENDING refund payment (a cancellation refund). The refunds of a payment never exceed what
    was paid: the payment row is locked while the earlier refunds are summed."""
    from polis.motor.quotes import today_bangkok

    now = now or datetime.now(UTC)
    payment, number = await payments.get_payment(session, payment_id, lock=True)
    await session.refresh(payment)
    if payment.payment_direction == "OUTGOING" and payment.payment_type == "REFUND":
        return await _execute_refund(session, client, payment, number, body, user_id, now)
    if payment.payment_direction != "INCOMING" or payment.payment_status != "SUCCESS":
        raise payments.PaymentConflict(
            f"Payment {payment_id} is not received money: nothing to refund.",
            extra={"payment_status": payment.payment_status},
        )
    already = await refunded_total(session, payment.id)
    left = payment.total_amount - already
    if body.amount > left:
        raise payments.InvalidPayment(
            "amount",
            f"at most {left} can be refunded ({payment.total_amount} paid, {already} refunded)",
            "exceeds_refundable",
        )
    charge_id = (
        payment.gateway_transaction_id
        if payment.gateway_provider == PROVIDER and payment.payment_method in CARD_METHODS
        else None
    )
    reference = payment.transaction_reference or str(payment.id)
    key = new_idempotency_key()
    try:
        txn = await client.refund(
            str(body.amount), reference, key, charge_id=charge_id, reason=body.reason
        )
    except GatewayUnavailable as exc:
        raise _unavailable(exc) from exc
    except GatewayRejected as exc:
        raise _refused(exc, "body.amount") from exc
    refund_id = uuid.uuid4()
    row = MotorPayment(
        id=refund_id,
        policy_id=payment.policy_id,
        customer_id=payment.customer_id,
        payment_type="REFUND",
        payment_direction="OUTGOING",
        amount=body.amount,
        currency=payment.currency or "THB",
        fees=Decimal("0.00"),
        total_amount=body.amount,
        payment_method=payment.payment_method,
        payment_status="SUCCESS",
        transaction_reference=str(txn["transaction_id"]),
        gateway_transaction_id=str(txn["transaction_id"]),
        gateway_provider=PROVIDER,
        gateway_response={**txn, "refund_of": str(payment.id), "reason": body.reason},
        payment_date=now,
        processed_at=now,
        due_date=today_bangkok(now),
        created_by=user_id,
        updated_by=user_id,
    )
    session.add(row)
    await session.flush()
    session.add(
        PaymentTransaction(
            payment_id=payment.id,
            transaction_type="REFUND",
            amount=body.amount,
            currency=payment.currency or "THB",
            status="SUCCESS",
            gateway_provider=PROVIDER,
            gateway_reference=str(txn["transaction_id"]),
            idempotency_key=key,
            request_payload={
                "amount": str(body.amount),
                "reason": body.reason,
                "refund_payment_id": str(refund_id),
            },
            response_payload=txn,
            occurred_at=now,
            created_by=user_id,
            updated_by=user_id,
        )
    )
    await session.flush()
    await session.refresh(row)
    return row, number


async def _execute_refund(
    session: AsyncSession,
    client: GatewayClient,
    row: MotorPayment,
    number: str | None,
    body: RefundRequest,
    user_id: uuid.UUID | None,
    now: datetime,
) -> tuple[MotorPayment, str | None]:
    if row.payment_status != "PENDING":
        raise payments.PaymentConflict(
            f"Refund {row.id} is {row.payment_status}: nothing to execute.",
            extra={"payment_status": row.payment_status},
        )
    if body.amount != row.total_amount:
        raise payments.InvalidPayment(
            "amount",
            f"this refund pays {row.total_amount}, not {body.amount}",
            "amount_mismatch",
        )
    key = new_idempotency_key()
    reference = number.replace("-", "") if number else str(row.id)
    try:
        txn = await client.refund(str(row.total_amount), reference, key, reason=body.reason)
    except GatewayUnavailable as exc:
        raise _unavailable(exc) from exc
    except GatewayRejected as exc:
        raise _refused(exc, "body.amount") from exc
    row.payment_status = "SUCCESS"
    row.transaction_reference = str(txn["transaction_id"])
    row.gateway_transaction_id = str(txn["transaction_id"])
    row.gateway_provider = PROVIDER
    row.gateway_response = {**txn, "reason": body.reason}
    row.payment_date = now
    row.processed_at = now
    row.updated_by = user_id
    row.version = (row.version or 0) + 1
    session.add(
        PaymentTransaction(
            payment_id=row.id,
            transaction_type="REFUND",
            amount=row.total_amount,
            currency=row.currency or "THB",
            status="SUCCESS",
            gateway_provider=PROVIDER,
            gateway_reference=str(txn["transaction_id"]),
            idempotency_key=key,
            request_payload={"amount": str(row.total_amount), "reason": body.reason},
            response_payload=txn,
            occurred_at=now,
            created_by=user_id,
            updated_by=user_id,
        )
    )
    await session.flush()
    await session.refresh(row)
    return row, number
