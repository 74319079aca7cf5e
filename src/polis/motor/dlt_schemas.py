"""Response body of the motor DLT verification endpoints (decision 0046); field names are the
seed's dlt_verifications columns."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from pydantic import Field

from polis.platform.schemas import Schema


class DltVerification(Schema):
    """One registration and tax check of a vehicle at the Department of Land Transport."""

    id: uuid.UUID
    vehicle_id: uuid.UUID
    verification_date: datetime
    registration_valid: bool
    tax_paid: bool
    registration_expiry: date | None
    dlt_response: dict[str, Any] | None = Field(description="DLT's JSON answer, as received")
    dlt_reference_number: str | None
    verified_by: str | None = Field(description="system, agent or admin")
    verification_method: str | None = Field(description="api, manual or document")
    created_at: datetime | None
    created_by: uuid.UUID | None
