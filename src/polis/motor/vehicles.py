"""Motor vehicle use cases: register a customer's vehicle, read, change, soft delete.

A registration number is unique per province among live (not deleted) vehicles - the seed's
partial unique index `idx_customer_vehicles_registration`; the service checks first so the
409 names the fields, and turns a concurrent duplicate at flush into the same 409. The
province is stored as its Thai name from ref.provinces (as on the plate). Decision 0035.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import schemas
from polis.motor.customers import LIVE_POLICY_STATUSES, field_error, resolve_province
from polis.motor.customers import customers as customer_service
from polis.motor.models import CustomerVehicle, MotorPolicy
from polis.platform.errors import UNIQUE_VIOLATION, Conflict, NotFound, pg_error


@dataclass(frozen=True)
class VehicleFilter:
    """Filters of the vehicle list (None: not filtered)."""

    customer_id: uuid.UUID | None = None
    registration_number: str | None = None  # normalised
    province: str | None = None  # Thai name, resolved from ref.provinces
    make: str | None = None
    vehicle_type: str | None = None
    is_active: bool | None = None


def _registration_taken() -> Conflict:
    return Conflict(
        "A vehicle with this registration_number is already registered in this province.",
        type_="registration-exists",
        extra={
            "errors": [
                field_error("body.registration_number", "Already registered", "duplicate"),
                field_error("body.province", "Already registered", "duplicate"),
            ]
        },
    )


async def _flush(session: AsyncSession) -> None:
    try:
        await session.flush()
    except IntegrityError as exc:
        sqlstate, constraint, _ = pg_error(exc)
        if sqlstate == UNIQUE_VIOLATION and constraint == "idx_customer_vehicles_registration":
            raise _registration_taken() from None
        raise


class VehicleService:
    """Customers' vehicles."""

    def statement(self, where: VehicleFilter) -> Select[Any]:
        """select(CustomerVehicle) of the live vehicles matching the filter."""
        stmt = select(CustomerVehicle).where(CustomerVehicle.deleted_at.is_(None))
        if where.customer_id is not None:
            stmt = stmt.where(CustomerVehicle.customer_id == where.customer_id)
        if where.registration_number is not None:
            stmt = stmt.where(CustomerVehicle.registration_number == where.registration_number)
        if where.province is not None:
            stmt = stmt.where(CustomerVehicle.province == where.province)
        if where.make is not None:
            stmt = stmt.where(func.upper(CustomerVehicle.make) == where.make.upper())
        if where.vehicle_type is not None:
            stmt = stmt.where(CustomerVehicle.vehicle_type == where.vehicle_type)
        if where.is_active is not None:
            stmt = stmt.where(CustomerVehicle.is_active.is_(where.is_active))
        return stmt

    async def get(self, session: AsyncSession, vehicle_id: uuid.UUID) -> CustomerVehicle:
        """A live vehicle; NotFound when there is none or it was deleted."""
        vehicle = await session.scalar(
            select(CustomerVehicle)
            .where(CustomerVehicle.id == vehicle_id, CustomerVehicle.deleted_at.is_(None))
            .execution_options(populate_existing=True)
        )
        if vehicle is None:
            raise NotFound(f"Vehicle {vehicle_id} does not exist.", type_="vehicle-not-found")
        return vehicle

    async def _check_registration_free(
        self,
        session: AsyncSession,
        registration_number: str,
        province: str,
        vehicle_id: uuid.UUID | None = None,
    ) -> None:
        stmt = select(CustomerVehicle.id).where(
            CustomerVehicle.registration_number == registration_number,
            CustomerVehicle.province == province,
            CustomerVehicle.deleted_at.is_(None),
        )
        if vehicle_id is not None:
            stmt = stmt.where(CustomerVehicle.id != vehicle_id)
        if await session.scalar(stmt) is not None:
            raise _registration_taken()

    async def create(
        self,
        session: AsyncSession,
        customer_id: uuid.UUID,
        body: schemas.VehicleCreate,
        actor: uuid.UUID,
    ) -> CustomerVehicle:
        """Register a vehicle of a live customer (404 otherwise); 422 for an unknown
        province, 409 when the plate is already registered in that province."""
        customer = await customer_service.get(session, customer_id)
        province = await resolve_province(session, body.province, "body.province")
        await self._check_registration_free(session, body.registration_number, province.name_th)
        vehicle = CustomerVehicle(
            id=uuid.uuid4(),
            customer_id=customer.id,
            **body.model_dump(exclude={"province"}),
            province=province.name_th,
            created_by=actor,
            updated_by=actor,
        )
        session.add(vehicle)
        await _flush(session)
        await session.refresh(vehicle)
        return vehicle

    async def update(
        self,
        session: AsyncSession,
        vehicle_id: uuid.UUID,
        changes: dict[str, Any],
        actor: uuid.UUID,
    ) -> CustomerVehicle:
        """Change vehicle fields; a new plate or province is checked like a new vehicle."""
        vehicle = await self.get(session, vehicle_id)
        if "province" in changes:
            province = await resolve_province(session, changes["province"], "body.province")
            changes["province"] = province.name_th
        plate = changes.get("registration_number", vehicle.registration_number)
        where = changes.get("province", vehicle.province)
        if (plate, where) != (vehicle.registration_number, vehicle.province):
            await self._check_registration_free(session, plate, where, vehicle.id)
        for name, value in changes.items():
            setattr(vehicle, name, value)
        vehicle.updated_by = actor
        await _flush(session)
        await session.refresh(vehicle)
        return vehicle

    async def delete(self, session: AsyncSession, vehicle_id: uuid.UUID, actor: uuid.UUID) -> None:
        """Soft delete (deleted_at/by, is_active false); the plate is free again. Refused
        (409) while a policy on the vehicle is ACTIVE or SUSPENDED."""
        vehicle = await self.get(session, vehicle_id)
        live = await session.scalar(
            select(func.count())
            .select_from(MotorPolicy)
            .where(
                MotorPolicy.vehicle_id == vehicle.id,
                MotorPolicy.status.in_(LIVE_POLICY_STATUSES),
                MotorPolicy.deleted_at.is_(None),
            )
        )
        if live:
            raise Conflict(
                f"Vehicle {vehicle_id} has an active or suspended policy; cancel it first.",
                type_="vehicle-has-policy",
            )
        vehicle.deleted_at = datetime.now(UTC)
        vehicle.deleted_by = actor
        vehicle.is_active = False
        vehicle.updated_by = actor
        await session.flush()


vehicles = VehicleService()
