"""Motor claim routes (issue 5): settlement of approved claims, the payments that carry it,
cancellation. The rules are in `polis.motor.claim_settlements` (decision 0051)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from polis.db.session import DBSession
from polis.motor import claim_settlements
from polis.motor.auth import ClaimsRead, ClaimsSettle
from polis.motor.claim_settlement_schemas import (
    ClaimSettlements,
    SettlementCancel,
    SettlementCreate,
    SettlementPaid,
)
from polis.platform.idempotency import IdempotencyKey
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor claims"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


@router.post(
    "/claims/{claim_id}/settlements",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimSettlements,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_settlements(
    claim_id: uuid.UUID,
    body: SettlementCreate,
    principal: ClaimsSettle,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Settle an APPROVED claim: one claim_settlements row per payee (gross less the claim's
    deductible on own damage = net), each positive net with a PENDING OUTGOING
    CLAIM_SETTLEMENT payment. The live rows never total more than approved_amount; CMI rows
    keep to the per-person limits. A claim whose rows all net 0 is SETTLED at once at 0.
    Send an Idempotency-Key: a retry then replays the answer instead of paying twice."""
    result = await claim_settlements.create_settlements(
        session, claim_id, body, user_id=principal.user_id
    )
    return await idem.respond(session, result, status_code=201)


@router.get(
    "/claims/{claim_id}/settlements",
    response_model=ClaimSettlements,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_settlements(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> ClaimSettlements:
    """A claim's settlements with their payments, its deductible and NCD effect."""
    return await claim_settlements.get_settlements(session, claim_id)


@router.post(
    "/claims/{claim_id}/settlements/{settlement_id}/paid",
    response_model=ClaimSettlements,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def settlement_paid(
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    body: SettlementPaid,
    principal: ClaimsSettle,
    session: DBSession,
) -> ClaimSettlements:
    """Record the bank's confirmation: payment SUCCESS, settlement PAID; when every row is
    paid (or cancelled, or nets 0) the claim is SETTLED with settled_amount, settlement_date
    and its NCD effect. The same reference again changes nothing; another reference on a
    paid settlement is 409."""
    result, _ = await claim_settlements.mark_paid(
        session, claim_id, settlement_id, body, user_id=principal.user_id
    )
    return result


@router.post(
    "/claims/{claim_id}/settlements/{settlement_id}/cancel",
    response_model=ClaimSettlements,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def cancel_settlement(
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    body: SettlementCancel,
    principal: ClaimsSettle,
    session: DBSession,
) -> ClaimSettlements:
    """Cancel an unpaid settlement and its payment (409 once paid or cancelled)."""
    return await claim_settlements.cancel(
        session, claim_id, settlement_id, body.reason, user_id=principal.user_id
    )
