"""Request and response bodies of the health payment routes (decision 0028).

Field names are the seed's column names of billing.payment; amounts are decimal strings in
responses. Only the masked account number is ever returned.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from polis.platform.money import Money
from polis.platform.schemas import RequestSchema, Schema

PayeeType = Literal["provider", "member"]
PaymentStatus = Literal["pending", "processing", "sent", "paid", "failed", "cancelled", "reversed"]


class PaymentRunCreate(RequestSchema):
    """Which payable claims a run takes; every field is optional."""

    run_date: date | None = Field(
        default=None,
        description="Business date of the run (Asia/Jakarta; default today): claims "
        "submitted on or before it are paid",
    )
    payee_type: PayeeType | None = Field(
        default=None, description="provider: cashless claims only; member: reimbursements only"
    )
    provider_code: str | None = Field(
        default=None, min_length=1, max_length=50, description="Only claims at this provider"
    )
    limit: int | None = Field(
        default=None, ge=1, le=10_000, description="At most this many claims, oldest first"
    )


class Payment(Schema):
    """A claim payment (billing.payment)."""

    id: uuid.UUID
    payment_number: str = Field(examples=["PAY-20261123-7K3QX2AB-00001"])
    run_number: str | None = Field(examples=["PRUN-20261123-7K3QX2AB"])
    claim_id: uuid.UUID | None
    claim_number: str | None
    payment_type: str = Field(examples=["claim"])
    payment_method: str = Field(examples=["bank_transfer"])
    payment_amount: Money
    payee_type: str = Field(examples=["provider"])
    payee_id: uuid.UUID
    payee_code: str | None = Field(description="provider_code or member_number of the payee")
    bank_name: str | None
    account_number: str | None = Field(description="Masked", examples=["******7890"])
    reference_number: str | None = Field(
        description="The run number until the payment is sent, then the bank's reference"
    )
    payment_status: str = Field(examples=["pending"])
    payment_date: date | None
    created_at: datetime


class PaymentRun(Schema):
    """What a run created; run_number is null when no claim was payable."""

    run_number: str | None
    run_date: date
    payment_count: int
    total_amount: Money
    payments: list[Payment]


class PaymentSent(RequestSchema):
    """The bank accepted the transfer instruction."""

    reference_number: str = Field(
        min_length=1, max_length=50, description="The bank's transfer reference"
    )


class PaymentPaid(RequestSchema):
    """The money reached the payee."""

    payment_date: date | None = Field(
        default=None, description="Date the payee was paid (Asia/Jakarta; default today)"
    )


class PaymentFailed(RequestSchema):
    """The bank returned the transfer."""

    reason: str = Field(min_length=1, max_length=400)


class PaymentCancel(RequestSchema):
    """Withdraw a payment that was not sent yet."""

    reason: str = Field(default="cancelled", min_length=1, max_length=400)
