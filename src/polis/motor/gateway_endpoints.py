"""Motor routes: card charges, the gateway's callback (webhook), refunds and bank statement
reconciliation; included by polis.motor.endpoints under /motor (decision 0048)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Request, UploadFile

from polis.db.session import DBSession
from polis.iam.auth import PUBLIC
from polis.motor import gateway, payments, reconciliation
from polis.motor.auth import PaymentsReconcile, PaymentsRefund, PaymentsWrite
from polis.motor.gateway_schemas import (
    CallbackResult,
    ChargeRequest,
    ChargeResult,
    ReconciliationResult,
    RefundRequest,
)
from polis.motor.payment_schemas import Payment
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


@router.post(
    "/payments/{payment_id}/charge",
    response_model=ChargeResult,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID, 503: _PROBLEM},
)
async def charge_payment(
    payment_id: uuid.UUID,
    body: ChargeRequest,
    principal: PaymentsWrite,
    session: DBSession,
    client: gateway.GatewayClientDep,
) -> ChargeResult:
    """Charge a PENDING premium payment's amount due to a card at the payment gateway: a
    gateway `card_token`, or `card` details that are tokenised there (never stored; the
    token is kept encrypted, the last four digits shown). `status` SUCCESS pays the payment
    (as a staff confirmation: the policy activates); FAILED (declined) and PENDING (3-D
    Secure, the result comes by callback) leave it PENDING with the attempt recorded."""
    outcome = await gateway.charge(session, client, payment_id, body, user_id=principal.user_id)
    attempt = outcome.attempt
    return ChargeResult(
        payment=payments.payment_out(outcome.payment, outcome.policy_number),
        gateway_provider=attempt.gateway_provider,
        gateway_transaction_id=attempt.gateway_reference or "",
        status=attempt.status,
        authorization_code=(attempt.response_payload or {}).get("authorization_code"),
        response_code=attempt.response_code,
        response_message=attempt.response_message,
        card_last_four=outcome.payment.card_last_four,
        card_type=outcome.payment.card_type,
    )


@router.post(
    "/payments/gateway/callback",
    response_model=CallbackResult,
    responses={400: _PROBLEM, 401: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
    openapi_extra={"x-permission": PUBLIC},
)
async def gateway_callback(request: Request, session: DBSession) -> CallbackResult:
    """The payment gateway's callback (machine to machine, no bearer token): the raw JSON body
    signed with HMAC-SHA256 under the shared secret, `X-Timestamp: <unix seconds>` and
    `X-Signature: sha256=<hex of HMAC(timestamp + "." + body)>`. A bad signature or a
    timestamp outside the window is 401 and writes nothing. Processed once per gateway
    transaction id: a repeated callback answers `duplicate` and changes nothing."""
    raw = await request.body()
    gateway.verify_callback(request.app.state.settings, raw, request.headers)
    body = gateway.callback_json(raw)
    outcome = await gateway.process_callback(session, body)
    return CallbackResult(
        result=outcome.result,
        gateway_transaction_id=outcome.transaction_id,
        payment_id=outcome.payment.id if outcome.payment else None,
        payment_status=outcome.payment.payment_status if outcome.payment else None,
    )


@router.post(
    "/payments/{payment_id}/refund",
    response_model=Payment,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID, 503: _PROBLEM},
)
async def refund_payment(
    payment_id: uuid.UUID,
    body: RefundRequest,
    principal: PaymentsRefund,
    session: DBSession,
    client: gateway.GatewayClientDep,
) -> Payment:
    """Refund received money through the gateway: answers the new OUTGOING REFUND payment
    (SUCCESS). The refunds of a payment never exceed what was paid (422). On a PENDING
    REFUND payment (a cancellation refund) it pays that refund out; `amount` must be its
    amount."""
    row, number = await gateway.refund(session, client, payment_id, body, user_id=principal.user_id)
    return payments.payment_out(row, number)


@router.post(
    "/payments/reconciliations",
    response_model=ReconciliationResult,
    responses={403: _PROBLEM, 422: _INVALID},
)
async def reconcile_statement(
    request: Request,
    principal: PaymentsReconcile,
    session: DBSession,
    file: Annotated[UploadFile, File(description="Bank statement CSV")],
) -> ReconciliationResult:
    """Upload a bank statement CSV (multipart/form-data, field `file`; header
    `date,amount,reference,bank_transaction_id`): each line MATCHED, UNMATCHED or DISPUTED.
    Uploading the same statement again changes nothing."""
    limit = request.app.state.settings.document_max_bytes
    data = await file.read(limit + 1)
    if len(data) > limit:
        raise reconciliation.InvalidStatement(
            [{"field": "file", "message": f"at most {limit} bytes", "type": "too_large"}]
        )
    lines = reconciliation.parse_statement(data)
    return await reconciliation.reconcile(session, lines, user_id=principal.user_id)
