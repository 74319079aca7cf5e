"""Request and response bodies of the motor policy endpoints (decision 0039). Field names
are seed 001's column names; amounts are decimal strings in responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field

from polis.motor.payment_schemas import Payment, PaymentMethod
from polis.platform.money import Money, Quantized
from polis.platform.schemas import RequestSchema, Schema

PaymentPlan = Literal["FULL", "INSTALLMENT_6", "INSTALLMENT_12"]
PolicyStatus = Literal["DRAFT", "ACTIVE", "EXPIRED", "CANCELLED", "SUSPENDED"]
PaymentChannel = Literal["WEB", "MOBILE", "AGENT", "CALL_CENTER", "BANK", "ATM"]


class PolicyBind(RequestSchema):
    """Bind a QUOTED, unexpired quote: a DRAFT policy and its payment schedule."""

    quote_number: str = Field(min_length=1, max_length=50, examples=["QT-2026-7K3M9Q2X4ZP1"])
    payment_plan: PaymentPlan = "FULL"
    auto_renewal: bool = False
    agent_id: uuid.UUID | None = Field(default=None, description="iam.users id of the agent")
    payment_method: PaymentMethod = Field(
        default="PROMPTPAY",
        description="Intended method of the scheduled payments (motor.payments.payment_method "
        "is NOT NULL); the confirmation records the method actually used",
    )
    payment_channel: PaymentChannel | None = None


class PolicyCancel(RequestSchema):
    """Cancel a DRAFT, ACTIVE or SUSPENDED policy from `effective_date`."""

    reason: str = Field(min_length=1, max_length=500)
    effective_date: date


class Policy(Schema):
    """A motor policy (motor.policies)."""

    id: uuid.UUID
    policy_number: str = Field(examples=["MTR-2026-00000042"])
    customer_id: uuid.UUID
    vehicle_id: uuid.UUID
    agent_id: uuid.UUID | None
    policy_type: str
    coverage_details: dict[str, Any]
    base_premium: Money
    discounts: Money
    fees: Money
    total_premium: Money
    start_date: date
    end_date: date
    policy_period_months: int
    status: str
    no_claim_discount: Annotated[Decimal, Quantized(2)]
    auto_renewal: bool
    previous_policy_id: uuid.UUID | None
    renewal_count: int
    payment_plan: str
    payment_frequency: str
    created_at: datetime | None
    updated_at: datetime | None
    version: int


class PolicyWithPayments(Policy):
    """A policy and its payments (the schedule, then any refund)."""

    payments: list[Payment]


class CancellationRefund(Schema):
    """How the refund of a cancellation was computed (short-rate scale, decision 0039)."""

    days_in_force: int
    refund_percent: Annotated[Decimal, Quantized(2)]
    unearned_premium: Money
    earned_premium: Money
    paid: Money
    amount: Money
    refund_payment_id: uuid.UUID | None


class PolicyCancelled(PolicyWithPayments):
    """The cancelled policy, its payments and the refund."""

    refund: CancellationRefund
