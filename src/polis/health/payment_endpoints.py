"""Health routes: payment runs and claim payments (included by polis.health.endpoints under
/health; service polis.health.payments, decision 0028)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from polis.db.session import DBSession
from polis.health import payment_schemas as schemas
from polis.health import payments as service
from polis.health.auth import BillingRead, BillingWrite, ClaimsPay
from polis.health.models import Payment
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
_PAYMENTS_NEWEST_FIRST = Keyset(
    "health.payments.created_at", Payment.created_at, Payment.id, descending=True
)

PaymentNumber = Annotated[str, Path(min_length=1, max_length=50)]
RunNumber = Annotated[
    str | None, Query(min_length=1, max_length=50, pattern=r"^PRUN-[0-9]{8}-[0-9A-Z]+$")
]


def _payment(view: service.PaymentView) -> schemas.Payment:
    p = view.payment
    return schemas.Payment(
        id=p.id,
        payment_number=p.payment_number,
        run_number=view.run_number,
        claim_id=p.claim_id,
        claim_number=view.claim_number,
        payment_type=p.payment_type,
        payment_method=p.payment_method,
        payment_amount=p.payment_amount,
        payee_type=p.payee_type,
        payee_id=p.payee_id,
        payee_code=view.payee_code,
        bank_name=p.bank_name,
        account_number=p.account_number,
        reference_number=p.reference_number,
        payment_status=p.payment_status,
        payment_date=p.payment_date,
        created_at=p.created_at,
    )


@router.post(
    "/payments/runs",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.PaymentRun,
    responses={
        200: {"model": schemas.PaymentRun, "description": "Nothing was payable"},
        403: _PROBLEM,
        404: _PROBLEM,
        422: _INVALID,
    },
)
async def create_payment_run(
    principal: ClaimsPay,
    session: DBSession,
    idem: IdempotencyKey,
    body: schemas.PaymentRunCreate | None = None,
) -> Response:
    """Create one pending payment per payable claim (approved or partially approved, paying
    more than zero, submitted on or before run_date); the claims move to payment_pending.
    201 with the payments, or 200 with payment_count 0 when nothing was payable."""
    body = body or schemas.PaymentRunCreate()
    run = await service.create_payment_run(
        session,
        run_date=body.run_date,
        payee_type=body.payee_type,
        provider_code=body.provider_code,
        limit=body.limit,
        user=principal.user_id,
    )
    answer = schemas.PaymentRun(
        run_number=run.run_number,
        run_date=run.run_date,
        payment_count=len(run.payments),
        total_amount=run.total_amount,
        payments=[_payment(v) for v in run.payments],
    )
    return await idem.respond(session, answer, status_code=201 if run.payments else 200)


@router.get("/payments", response_model=Page[schemas.Payment], responses={422: _INVALID})
async def list_payments(
    principal: BillingRead,
    session: DBSession,
    page: PageQuery,
    payment_status: schemas.PaymentStatus | None = None,
    payee_type: schemas.PayeeType | None = None,
    claim_id: uuid.UUID | None = None,
    run_number: RunNumber = None,
) -> Page[schemas.Payment]:
    """List payments, newest first, one cursor page at a time."""
    where = service.PaymentFilter(
        payment_status=payment_status,
        payee_type=payee_type,
        claim_id=claim_id,
        run_number=run_number,
    )
    items, next_cursor = await paginate(
        session, service.statement(where), _PAYMENTS_NEWEST_FIRST, page
    )
    found = await service.views(session, items)
    return Page[schemas.Payment](items=[_payment(v) for v in found], next_cursor=next_cursor)


@router.get("/payments/{payment_number}", response_model=schemas.Payment, responses={404: _PROBLEM})
async def get_payment(
    payment_number: PaymentNumber, principal: BillingRead, session: DBSession
) -> schemas.Payment:
    """One payment."""
    return _payment(await service.get(session, payment_number))


_CHANGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    403: _PROBLEM,
    404: _PROBLEM,
    409: _PROBLEM,
    422: _INVALID,
}


@router.post(
    "/payments/{payment_number}/sent",
    response_model=schemas.Payment,
    responses=_CHANGE_RESPONSES,
)
async def mark_payment_sent(
    payment_number: PaymentNumber,
    body: schemas.PaymentSent,
    principal: BillingWrite,
    session: DBSession,
) -> schemas.Payment:
    """pending -> sent, with the bank's transfer reference."""
    view = await service.mark_sent(
        session, payment_number, reference_number=body.reference_number, user=principal.user_id
    )
    return _payment(view)


@router.post(
    "/payments/{payment_number}/paid",
    response_model=schemas.Payment,
    responses=_CHANGE_RESPONSES,
)
async def mark_payment_paid(
    payment_number: PaymentNumber,
    body: schemas.PaymentPaid,
    principal: BillingWrite,
    session: DBSession,
) -> schemas.Payment:
    """sent -> paid on payment_date; the claim becomes paid."""
    view = await service.mark_paid(
        session,
        payment_number,
        payment_date=body.payment_date or service.jakarta_today(),
        user=principal.user_id,
    )
    return _payment(view)


@router.post(
    "/payments/{payment_number}/failed",
    response_model=schemas.Payment,
    responses=_CHANGE_RESPONSES,
)
async def mark_payment_failed(
    payment_number: PaymentNumber,
    body: schemas.PaymentFailed,
    principal: BillingWrite,
    session: DBSession,
) -> schemas.Payment:
    """sent -> failed; the claim returns to approved / partially_approved for a later run."""
    view = await service.mark_failed(
        session, payment_number, reason=body.reason, user=principal.user_id
    )
    return _payment(view)


@router.post(
    "/payments/{payment_number}/cancel",
    response_model=schemas.Payment,
    responses=_CHANGE_RESPONSES,
)
async def cancel_payment(
    payment_number: PaymentNumber,
    principal: BillingWrite,
    session: DBSession,
    body: schemas.PaymentCancel | None = None,
) -> schemas.Payment:
    """pending -> cancelled; the claim returns to approved / partially_approved."""
    body = body or schemas.PaymentCancel()
    view = await service.cancel_payment(
        session, payment_number, reason=body.reason, user=principal.user_id
    )
    return _payment(view)
