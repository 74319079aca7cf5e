"""Motor routes: vehicles (included by polis.motor.endpoints under /motor). Decision 0035."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from polis.db.session import DBSession
from polis.motor import customer_rules as rules
from polis.motor import schemas
from polis.motor.auth import VehiclesRead, VehiclesWrite
from polis.motor.customers import InvalidFields, field_error, find_province
from polis.motor.customers import customers as customer_service
from polis.motor.models import CustomerVehicle
from polis.motor.vehicles import VehicleFilter
from polis.motor.vehicles import vehicles as vehicle_service
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}

_VEHICLES_NEWEST_FIRST = Keyset(
    "motor.customer_vehicles.created_at",
    CustomerVehicle.created_at,
    CustomerVehicle.id,
    descending=True,
)


def _vehicle(vehicle: CustomerVehicle) -> schemas.Vehicle:
    return schemas.Vehicle.model_validate(vehicle)


@router.post(
    "/customers/{customer_id}/vehicles",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Vehicle,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_vehicle(
    customer_id: uuid.UUID,
    body: schemas.VehicleCreate,
    principal: VehiclesWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Register a vehicle of a customer. The seed's CHECKs (year 1950..next year, engine
    size > 0, the type vocabularies) are 422 field by field; an unknown province is a 422;
    the plate already registered in that province (live vehicles) is a 409 naming
    registration_number and province."""
    vehicle = await vehicle_service.create(session, customer_id, body, principal.user_id)
    response = await idem.respond(session, _vehicle(vehicle), status_code=201)
    response.headers["Location"] = f"/api/v1/motor/vehicles/{vehicle.id}"
    return response


async def _list(session: DBSession, page: PageQuery, where: VehicleFilter) -> Page[schemas.Vehicle]:
    items, next_cursor = await paginate(
        session, vehicle_service.statement(where), _VEHICLES_NEWEST_FIRST, page
    )
    return Page[schemas.Vehicle](items=[_vehicle(v) for v in items], next_cursor=next_cursor)


@router.get(
    "/customers/{customer_id}/vehicles",
    response_model=Page[schemas.Vehicle],
    responses={404: _PROBLEM},
)
async def list_customer_vehicles(
    customer_id: uuid.UUID, principal: VehiclesRead, session: DBSession, page: PageQuery
) -> Page[schemas.Vehicle]:
    """A live customer's live vehicles, newest first."""
    await customer_service.get(session, customer_id)
    return await _list(session, page, VehicleFilter(customer_id=customer_id))


@router.get("/vehicles", response_model=Page[schemas.Vehicle], responses={422: _INVALID})
async def list_vehicles(
    principal: VehiclesRead,
    session: DBSession,
    page: PageQuery,
    customer_id: uuid.UUID | None = None,
    registration_number: Annotated[str | None, Query(max_length=30)] = None,
    province: Annotated[
        str | None, Query(max_length=100, description="Thai or English name, or 2-digit code")
    ] = None,
    make: Annotated[str | None, Query(max_length=50)] = None,
    vehicle_type: schemas.VehicleType | None = None,
    is_active: bool | None = None,
) -> Page[schemas.Vehicle]:
    """Live vehicles, newest first; registration_number is normalised as on input."""
    plate = None
    if registration_number is not None:
        try:
            plate = rules.normalise_registration(registration_number)
        except ValueError as exc:
            raise InvalidFields(
                [field_error("query.registration_number", str(exc), "value_error")]
            ) from None
    province_th = None
    if province is not None:
        found = await find_province(session, province)
        if found is None:
            raise InvalidFields(
                [field_error("query.province", "Unknown province", "unknown_province")]
            )
        province_th = found.name_th
    where = VehicleFilter(
        customer_id=customer_id,
        registration_number=plate,
        province=province_th,
        make=make,
        vehicle_type=vehicle_type,
        is_active=is_active,
    )
    return await _list(session, page, where)


@router.get("/vehicles/{vehicle_id}", response_model=schemas.Vehicle, responses={404: _PROBLEM})
async def get_vehicle(
    vehicle_id: uuid.UUID, principal: VehiclesRead, session: DBSession
) -> schemas.Vehicle:
    """One live vehicle."""
    return _vehicle(await vehicle_service.get(session, vehicle_id))


@router.patch(
    "/vehicles/{vehicle_id}",
    response_model=schemas.Vehicle,
    responses={404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def update_vehicle(
    vehicle_id: uuid.UUID,
    body: schemas.VehicleUpdate,
    principal: VehiclesWrite,
    session: DBSession,
) -> schemas.Vehicle:
    """Change vehicle fields (absent ones stay), checked as on registration."""
    vehicle = await vehicle_service.update(
        session, vehicle_id, body.model_dump(exclude_unset=True), principal.user_id
    )
    return _vehicle(vehicle)


@router.delete(
    "/vehicles/{vehicle_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _PROBLEM, 409: _PROBLEM},
)
async def delete_vehicle(
    vehicle_id: uuid.UUID, principal: VehiclesWrite, session: DBSession
) -> Response:
    """Soft delete: the vehicle leaves reads and lists and its plate is free again. Refused
    while a policy on it is active or suspended."""
    await vehicle_service.delete(session, vehicle_id, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
