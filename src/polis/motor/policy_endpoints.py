"""Motor routes: policies (bind, read, list, cancel); included by polis.motor.endpoints under
/motor (decision 0039)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from polis.db.raw import Row
from polis.db.rows import Prefixed
from polis.db.session import DBSession, ReadSession
from polis.motor import payments, policies
from polis.motor.auth import PaymentsRead, PoliciesCancel, PoliciesRead, PoliciesWrite
from polis.motor.models import MotorPayment, MotorPolicy
from polis.motor.payment_schemas import Payment
from polis.motor.policy_schemas import (
    CancellationRefund,
    Policy,
    PolicyBind,
    PolicyCancel,
    PolicyCancelled,
    PolicyStatus,
    PolicyWithPayments,
)
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Page, PageQuery
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

PolicyNumber = Annotated[str, Path(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def policy_out(policy: MotorPolicy | Row) -> Policy:
    """The response of a motor.policies row (NULL seed defaults read as their defaults)."""
    return Policy.model_validate(
        {
            **{c: getattr(policy, c) for c in Policy.model_fields},
            "discounts": policy.discounts or 0,
            "fees": policy.fees or 0,
            "no_claim_discount": policy.no_claim_discount or 0,
            "auto_renewal": bool(policy.auto_renewal),
            "renewal_count": policy.renewal_count or 0,
            "payment_plan": policy.payment_plan or "FULL",
            "payment_frequency": policy.payment_frequency or "ANNUAL",
            "status": policy.status or "ACTIVE",
            "version": policy.version or 0,
        }
    )


def with_payments(
    policy: MotorPolicy | Row, rows: Sequence[MotorPayment | Prefixed]
) -> PolicyWithPayments:
    """A policy and its payments (ORM objects, or rows of policies.get_policy_with_payments)."""
    return PolicyWithPayments(
        **policy_out(policy).model_dump(),
        payments=[payments.payment_out(r, policy.policy_number) for r in rows],
    )


@router.post(
    "/policies",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyWithPayments,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def bind_policy(
    body: PolicyBind, principal: PoliciesWrite, session: DBSession, idem: IdempotencyKey
) -> Response:
    """Bind a QUOTED, unexpired quote: a DRAFT policy with the quote's premium and its payment
    schedule (FULL: one payment; INSTALLMENT_6/12: monthly instalments summing exactly to
    total_premium). It becomes ACTIVE when the FULL payment or first instalment is paid."""
    policy, rows = await policies.bind_quote(session, body, user_id=principal.user_id)
    return await idem.respond(session, with_payments(policy, rows), status_code=201)


@router.get("/policies", response_model=Page[Policy], responses={400: _PROBLEM, 403: _PROBLEM})
async def list_policies(
    principal: PoliciesRead,
    session: ReadSession,
    page: PageQuery,
    customer_id: uuid.UUID | None = None,
    vehicle_id: uuid.UUID | None = None,
    status: Annotated[PolicyStatus | None, Query()] = None,
) -> Page[Policy]:
    """Policies, newest first, filtered by customer, vehicle and status (cursor paging)."""
    items, cursor = await policies.list_policies(
        session, page, customer_id=customer_id, vehicle_id=vehicle_id, status=status
    )
    return Page[Policy](items=[policy_out(p) for p in items], next_cursor=cursor)


@router.get(
    "/policies/{policy_number}",
    response_model=PolicyWithPayments,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def get_policy(
    policy_number: PolicyNumber, principal: PoliciesRead, session: DBSession
) -> PolicyWithPayments:
    """One policy with its payments."""
    return with_payments(*await policies.get_policy_with_payments(session, policy_number))


@router.get(
    "/policies/{policy_number}/payments",
    response_model=list[Payment],
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_policy_payments(
    policy_number: PolicyNumber, principal: PaymentsRead, session: DBSession
) -> list[Payment]:
    """A policy's payments: the schedule by instalment, then refunds."""
    policy, rows = await policies.get_policy_with_payments(session, policy_number)
    return [payments.payment_out(r, policy.policy_number) for r in rows]


@router.post(
    "/policies/{policy_number}/cancel",
    response_model=PolicyCancelled,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def cancel_policy(
    policy_number: PolicyNumber,
    body: PolicyCancel,
    principal: PoliciesCancel,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Cancel a DRAFT, ACTIVE or SUSPENDED policy from effective_date: unpaid instalments are
    cancelled and the paid premium beyond the earned premium (short-rate refund scale) is
    recorded as a PENDING outgoing REFUND payment."""
    policy, refund, row = await policies.cancel_policy(
        session, policy_number, body, user_id=principal.user_id
    )
    rows = await payments.policy_payments(session, policy.id)
    out = PolicyCancelled(
        **with_payments(policy, rows).model_dump(),
        refund=CancellationRefund(
            days_in_force=refund.days_in_force,
            refund_percent=refund.refund_percent,
            unearned_premium=refund.unearned_premium,
            earned_premium=refund.earned_premium,
            paid=refund.paid,
            amount=refund.amount,
            refund_payment_id=None if row is None else row.id,
        ),
    )
    return await idem.respond(session, out, status_code=200)
