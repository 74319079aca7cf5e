"""Motor routes: DLT verifications of a vehicle (included by polis.motor.endpoints under
/motor). Decision 0046."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from polis.db.session import DBSession
from polis.motor import dlt_schemas as schemas
from polis.motor.auth import VehiclesRead, VehiclesWrite
from polis.motor.dlt import DltClientDep, verifications
from polis.motor.models import DltVerification
from polis.motor.vehicles import vehicles as vehicle_service
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}

_NEWEST_FIRST = Keyset(
    "motor.dlt_verifications.verification_date",
    DltVerification.verification_date,
    DltVerification.id,
    descending=True,
)


@router.post(
    "/vehicles/{vehicle_id}/verifications",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.DltVerification,
    responses={403: _PROBLEM, 404: _PROBLEM, 502: _PROBLEM, 503: _PROBLEM},
)
async def verify_vehicle(
    vehicle_id: uuid.UUID,
    principal: VehiclesWrite,
    session: DBSession,
    idem: IdempotencyKey,
    client: DltClientDep,
) -> Response:
    """Check the vehicle's registration number, province and chassis number at the
    Department of Land Transport and store the answer (VALID, EXPIRED or NOT_FOUND) with
    DLT's raw JSON. DLT unreachable, failing or its circuit breaker open: 503
    `dlt-unavailable` (Retry-After when the breaker is open), nothing stored; DLT refusing
    the request: 502 `dlt-rejected`, nothing stored."""
    row = await verifications.verify(
        session, vehicle_id, client, actor=principal.user_id, role=principal.role
    )
    body = schemas.DltVerification.model_validate(row)
    response = await idem.respond(session, body, status_code=201)
    response.headers["Location"] = f"/api/v1/motor/vehicles/{vehicle_id}/verifications/{row.id}"
    return response


@router.get(
    "/vehicles/{vehicle_id}/verifications",
    response_model=Page[schemas.DltVerification],
    responses={404: _PROBLEM},
)
async def list_verifications(
    vehicle_id: uuid.UUID, principal: VehiclesRead, session: DBSession, page: PageQuery
) -> Page[schemas.DltVerification]:
    """A live vehicle's DLT checks, newest first."""
    await vehicle_service.get(session, vehicle_id)
    items, next_cursor = await paginate(
        session, verifications.statement(vehicle_id), _NEWEST_FIRST, page
    )
    return Page[schemas.DltVerification](
        items=[schemas.DltVerification.model_validate(v) for v in items],
        next_cursor=next_cursor,
    )


@router.get(
    "/vehicles/{vehicle_id}/verifications/{verification_id}",
    response_model=schemas.DltVerification,
    responses={404: _PROBLEM},
)
async def get_verification(
    vehicle_id: uuid.UUID, verification_id: uuid.UUID, principal: VehiclesRead, session: DBSession
) -> schemas.DltVerification:
    """One DLT check of a live vehicle."""
    await vehicle_service.get(session, vehicle_id)
    return schemas.DltVerification.model_validate(
        await verifications.get(session, vehicle_id, verification_id)
    )
