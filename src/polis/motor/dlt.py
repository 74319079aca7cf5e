"""Motor DLT verification use cases: check a vehicle's registration at the Department of
Land Transport and keep each answer in motor.dlt_verifications (decision 0046).

An answered check (VALID, EXPIRED or NOT_FOUND) is one row with the raw JSON answer; a check
DLT did not answer (unreachable, 5xx or timed out after the retries, circuit breaker open) is
a 503 `dlt-unavailable` and writes nothing - `registration_valid` and `tax_paid` are NOT NULL
and a `false` there would read as DLT's verdict. A refused or unreadable answer is a 502
`dlt-rejected`, also without a row. The client lives on `app.state.dlt_client` (made from
the DLT_* settings on first use, or put there by whoever builds the app).
"""

from __future__ import annotations

import math
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from fastapi import Depends, Request
from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.integrations.dlt import DltClient, DltRejected, DltUnavailable
from polis.motor.models import DltVerification
from polis.motor.vehicles import vehicles as vehicle_service
from polis.platform.errors import NotFound, PolisError, ServiceUnavailable

log = structlog.get_logger("polis.motor.dlt")

ADMIN_ROLES = frozenset({"ADMIN", "SUPER_ADMIN"})


def dlt_client(request: Request) -> DltClient:
    """The app's DLT client (one per app, so its circuit breaker sees every call)."""
    client: DltClient | None = getattr(request.app.state, "dlt_client", None)
    if client is None:
        client = DltClient.from_settings(request.app.state.settings)
        request.app.state.dlt_client = client
    return client


DltClientDep = Annotated[DltClient, Depends(dlt_client)]


def verified_by(role: str) -> str:
    """The seed's verified_by vocabulary (system, agent, admin) for a user's role; `system`
    is left to checks no user asked for."""
    return "admin" if role in ADMIN_ROLES else "agent"


class DltVerificationService:
    """DLT checks of vehicles."""

    def statement(self, vehicle_id: uuid.UUID) -> Select[Any]:
        """select(DltVerification) of one vehicle's checks."""
        return select(DltVerification).where(DltVerification.vehicle_id == vehicle_id)

    async def get(
        self, session: AsyncSession, vehicle_id: uuid.UUID, verification_id: uuid.UUID
    ) -> DltVerification:
        """One check of the vehicle; NotFound otherwise."""
        row = await session.scalar(
            self.statement(vehicle_id).where(DltVerification.id == verification_id)
        )
        if row is None:
            raise NotFound(
                f"DLT verification {verification_id} does not exist.",
                type_="dlt-verification-not-found",
            )
        return row

    async def verify(
        self,
        session: AsyncSession,
        vehicle_id: uuid.UUID,
        client: DltClient,
        *,
        actor: uuid.UUID,
        role: str,
    ) -> DltVerification:
        """Check a live vehicle (404 otherwise) by registration number, province and chassis
        number; store the answer. 503 `dlt-unavailable` / 502 `dlt-rejected` write nothing."""
        vehicle = await vehicle_service.get(session, vehicle_id)
        try:
            result = await client.check_registration(
                vehicle.registration_number, vehicle.province, vehicle.chassis_number
            )
        except DltUnavailable as exc:
            log.warning("dlt_unavailable", vehicle_id=str(vehicle_id), error=str(exc))
            headers = None
            if exc.retry_after is not None:
                headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after)))}
            raise ServiceUnavailable(
                f"The DLT registration check is unavailable: {exc}",
                type_="dlt-unavailable",
                headers=headers,
            ) from None
        except DltRejected as exc:
            log.error("dlt_rejected", vehicle_id=str(vehicle_id), error=str(exc))
            raise PolisError(
                f"The DLT registration check failed: {exc}",
                502,
                type_="dlt-rejected",
                title="Bad Gateway",
            ) from None
        row = DltVerification(
            id=uuid.uuid4(),
            vehicle_id=vehicle.id,
            verification_date=datetime.now(UTC),
            registration_valid=result.registration_valid,
            tax_paid=result.tax_paid,
            registration_expiry=result.registration_expiry,
            dlt_response=result.raw,
            dlt_reference_number=result.reference_number,
            verified_by=verified_by(role),
            verification_method="api",
            created_by=actor,
        )
        session.add(row)
        await session.flush()
        await session.refresh(row)
        return row


verifications = DltVerificationService()
