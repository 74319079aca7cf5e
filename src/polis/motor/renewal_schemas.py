"""Request and response bodies of the motor renewal endpoints (decision 0047). Field names
are seed 001's column names (motor.policy_renewals); amounts are decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from polis.motor.policy_schemas import PolicyWithPayments
from polis.platform.money import Money, Quantized
from polis.platform.schemas import RequestSchema, Schema

Percent = Annotated[Decimal, Quantized(2)]


class RenewalCreate(RequestSchema):
    """Renew a policy: MANUAL (from 60 days before the end date, or within the grace period
    after it) or EARLY (from 90 days before; starts on the old end date)."""

    renewal_type: Literal["MANUAL", "EARLY"] = "MANUAL"
    start_date: date | None = Field(
        default=None,
        description="Default: the old end date (today after a lapse). EARLY: the end date only",
    )
    initiated_by: Literal["CUSTOMER", "AGENT"] = "AGENT"
    renewal_channel: Literal["WEB", "MOBILE", "AGENT", "CALL_CENTER"] | None = None


class NoClaimDiscount(Schema):
    """How the renewal's NCD was reached from the expiring policy's claims."""

    previous: Percent
    no_claim_discount: Percent
    steps: int = Field(description="+1 claim-free, 0 kept, -1 or -2 dropped")
    counted_claims: int
    claims_paid: Money
    reason: str


class PolicyRenewal(Schema):
    """A motor.policy_renewals row, with both policies' numbers."""

    id: uuid.UUID
    original_policy_id: uuid.UUID
    original_policy_number: str
    renewed_policy_id: uuid.UUID
    renewed_policy_number: str
    renewed_policy_status: str
    renewal_type: str
    renewal_date: datetime | None
    premium_change: Money = Field(description="renewed total_premium - original total_premium")
    discount_change: Percent = Field(description="no_claim_discount change, percentage points")
    coverage_changes: dict[str, Any] = Field(
        description='{field: {"from": ..., "to": ...}} over policy and coverage fields'
    )
    initiated_by: str | None
    renewal_channel: str | None
    created_at: datetime | None
    created_by: uuid.UUID | None


class RenewalCreated(PolicyRenewal):
    """The renewal row, the new DRAFT policy with its payment schedule, and the NCD."""

    ncd: NoClaimDiscount
    policy: PolicyWithPayments
