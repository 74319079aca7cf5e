"""Motor routes: payments (read, staff confirmation, PromptPay QR); included by
polis.motor.endpoints under /motor (decision 0039)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Response

from polis.db.session import DBSession
from polis.motor import payments
from polis.motor.auth import PaymentsRead, PaymentsWrite
from polis.motor.payment_schemas import Payment, PaymentConfirm, PromptPayQR
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


@router.get(
    "/payments/{payment_id}", response_model=Payment, responses={403: _PROBLEM, 404: _PROBLEM}
)
async def get_payment(
    payment_id: uuid.UUID, principal: PaymentsRead, session: DBSession
) -> Payment:
    """One payment."""
    row, number = await payments.get_payment(session, payment_id)
    return payments.payment_out(row, number)


@router.post(
    "/payments/{payment_id}/confirm",
    response_model=Payment,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def confirm_payment(
    payment_id: uuid.UUID, body: PaymentConfirm, principal: PaymentsWrite, session: DBSession
) -> Payment:
    """Record money received for a scheduled payment (SUCCESS). The same reference again
    changes nothing; another reference on a paid payment is 409; an amount other than the
    amount due is 422. The FULL payment or first instalment activates a DRAFT policy; paying
    a SUSPENDED policy's overdue instalments reactivates it."""
    row, number, _ = await payments.confirm_payment(
        session, payment_id, body, user_id=principal.user_id
    )
    return payments.payment_out(row, number)


@router.get(
    "/payments/{payment_id}/promptpay",
    response_model=PromptPayQR,
    responses={
        200: {"content": {"image/png": {}}},
        403: _PROBLEM,
        404: _PROBLEM,
        409: _PROBLEM,
    },
)
async def promptpay(
    payment_id: uuid.UUID,
    principal: PaymentsRead,
    session: DBSession,
    format: Literal["json", "png"] = "json",
) -> Any:
    """The PromptPay bill-payment QR of a PENDING premium payment: {payload, amount,
    reference} (EMVCo payload with CRC; tag 30 ref1 = the payment reference), or the image
    with `?format=png`."""
    qr = await payments.promptpay_qr(session, payment_id)
    if format == "png":
        return Response(payments.qr_png(qr), media_type="image/png")
    return qr
