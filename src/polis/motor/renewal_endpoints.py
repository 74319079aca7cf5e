"""Motor routes: renewals (create, history); included by polis.motor.endpoints under /motor
(decision 0047)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response, status

from polis.db.session import DBSession
from polis.motor import renewals
from polis.motor.auth import PoliciesRead, PoliciesWrite
from polis.motor.models import MotorPolicy, PolicyRenewal
from polis.motor.policy_endpoints import with_payments
from polis.motor.renewal_schemas import (
    NoClaimDiscount,
    RenewalCreate,
    RenewalCreated,
)
from polis.motor.renewal_schemas import (
    PolicyRenewal as PolicyRenewalOut,
)
from polis.platform.idempotency import IdempotencyKey
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

PolicyNumber = Annotated[str, Path(min_length=1, max_length=50)]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def renewal_out(row: PolicyRenewal, original: MotorPolicy, renewed: MotorPolicy) -> dict[str, Any]:
    """The fields of a policy_renewals row and both policies' numbers."""
    return {
        "id": row.id,
        "original_policy_id": row.original_policy_id,
        "original_policy_number": original.policy_number,
        "renewed_policy_id": row.renewed_policy_id,
        "renewed_policy_number": renewed.policy_number,
        "renewed_policy_status": renewed.status or "ACTIVE",
        "renewal_type": row.renewal_type,
        "renewal_date": row.renewal_date,
        "premium_change": row.premium_change or 0,
        "discount_change": row.discount_change or 0,
        "coverage_changes": row.coverage_changes or {},
        "initiated_by": row.initiated_by,
        "renewal_channel": row.renewal_channel,
        "created_at": row.created_at,
        "created_by": row.created_by,
    }


@router.post(
    "/policies/{policy_number}/renewals",
    status_code=status.HTTP_201_CREATED,
    response_model=RenewalCreated,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def renew_policy(
    policy_number: PolicyNumber,
    body: RenewalCreate,
    principal: PoliciesWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Renew an ACTIVE policy (or one EXPIRED within POLICY_GRACE_PERIOD_DAYS): the next
    period re-rated through the quote service with the NCD after the policy's claims, bound
    as a DRAFT policy (previous_policy_id, renewal_count + 1) with its payment schedule, and
    a policy_renewals row. It becomes ACTIVE, and the old policy EXPIRED, once paid and on
    its start date. A policy already renewed: 409."""
    made = await renewals.renew_policy(
        session,
        policy_number,
        renewal_type=body.renewal_type,
        start_date=body.start_date,
        initiated_by=body.initiated_by,
        renewal_channel=body.renewal_channel,
        user_id=principal.user_id,
    )
    out = RenewalCreated.model_validate(
        {
            **renewal_out(made.row, made.original, made.renewed),
            "ncd": NoClaimDiscount(
                previous=made.ncd.previous,
                no_claim_discount=made.renewed.no_claim_discount or 0,
                steps=made.ncd.steps,
                counted_claims=made.ncd.counted_claims,
                claims_paid=made.ncd.claims_paid,
                reason=made.ncd.reason,
            ),
            "policy": with_payments(made.renewed, made.payments),
        }
    )
    return await idem.respond(session, out, status_code=201)


@router.get(
    "/policies/{policy_number}/renewals",
    response_model=list[PolicyRenewalOut],
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def renewal_history(
    policy_number: PolicyNumber, principal: PoliciesRead, session: DBSession
) -> list[PolicyRenewalOut]:
    """The renewals of the policy's chain (its predecessors and successors), oldest first."""
    rows = await renewals.renewal_history(session, policy_number)
    return [PolicyRenewalOut.model_validate(renewal_out(r, o, n)) for r, o, n in rows]
