"""Request and response bodies of motor claim settlement (issue 5 item 5; decision 0051).
Field names are seed 001's column names (plus head_of_loss, loss_details and ncd_effect of
migration 0017); amounts are decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, model_validator

from polis.motor.claim_assessment_schemas import ClaimState
from polis.motor.payment_schemas import Payment
from polis.platform.money import Money, NonNegativeMoney, PositiveMoney, Quantized
from polis.platform.schemas import RequestSchema, Schema

PayeeType = Literal["CUSTOMER", "REPAIR_SHOP", "HOSPITAL", "THIRD_PARTY"]
SettlementMethod = Literal["BANK_TRANSFER", "PROMPTPAY", "CHEQUE", "CASH"]
HeadOfLoss = Literal["OWN_DAMAGE", "THIRD_PARTY_PROPERTY", "BODILY_INJURY"]
CmiStage = Literal["INITIAL", "AFTER_FAULT"]
_MAX = Decimal("9999999999.99")  # NUMERIC(12,2)


class CmiDetails(RequestSchema):
    """What CMI pays one injured person on this row (THAI_MOTOR.md limits per person:
    INITIAL medical 30,000 / death or disability 35,000; AFTER_FAULT, inclusive of the
    initial payment, medical 80,000 / death or disability 500,000 / inpatient 200 THB a day
    for at most 20 days)."""

    stage: CmiStage
    injured_person: str = Field(
        min_length=1, max_length=200, description="Name or id of the person (the limit key)"
    )
    medical: NonNegativeMoney = Decimal("0.00")
    death_or_disability: NonNegativeMoney = Decimal("0.00")
    inpatient_days: int = Field(default=0, ge=0, le=366)

    @model_validator(mode="after")
    def _something(self) -> CmiDetails:
        if self.medical == 0 and self.death_or_disability == 0 and self.inpatient_days == 0:
            raise ValueError("give medical, death_or_disability or inpatient_days")
        if self.medical > _MAX or self.death_or_disability > _MAX:
            raise ValueError("amounts must fit NUMERIC(12,2)")
        return self


class PayeeCreate(RequestSchema):
    """One payee of a settlement: a claim_settlements row (and its payment when net > 0)."""

    payee_type: PayeeType
    payee_name: str = Field(min_length=1, max_length=255)
    payee_id: uuid.UUID | None = Field(
        default=None, description="Customer, repair shop, hospital or third party id"
    )
    settlement_method: SettlementMethod
    head_of_loss: HeadOfLoss
    gross_amount: PositiveMoney | None = Field(
        default=None,
        description="Before the deductible; required except on CMI rows, where it is the sum "
        "of `cmi` (and checked when given)",
    )
    cmi: CmiDetails | None = Field(
        default=None, description="Required on CMI policies (bodily injury per person)"
    )
    bank_code: str | None = Field(default=None, min_length=1, max_length=10)
    bank_account_name: str | None = Field(default=None, min_length=1, max_length=255)
    bank_account_number: str | None = Field(
        default=None,
        pattern=r"^[0-9][0-9 -]{4,28}[0-9]$",
        description="Stored encrypted; answered masked",
    )
    notes: str | None = Field(default=None, min_length=1, max_length=2000)

    @model_validator(mode="after")
    def _amounts(self) -> PayeeCreate:
        if self.cmi is None and self.gross_amount is None:
            raise ValueError("gross_amount is required (except on CMI rows)")
        if self.cmi is not None and self.head_of_loss != "BODILY_INJURY":
            raise ValueError("cmi goes with head_of_loss BODILY_INJURY")
        if self.gross_amount is not None and self.gross_amount > _MAX:
            raise ValueError("gross_amount must fit NUMERIC(12,2)")
        return self


class SettlementCreate(RequestSchema):
    """Settle an APPROVED claim: one row per payee; the total gross of the claim's live
    settlements never exceeds approved_amount."""

    payees: list[PayeeCreate] = Field(min_length=1, max_length=20)


class SettlementPaid(RequestSchema):
    """The bank's confirmation that a settlement's payment went out."""

    transaction_reference: str = Field(min_length=1, max_length=100, pattern=r"^[\x21-\x7e]+$")
    paid_at: datetime


class SettlementCancel(RequestSchema):
    """Cancel an unpaid settlement (its payment is cancelled with it)."""

    reason: str = Field(min_length=1, max_length=1000)


class Settlement(Schema):
    """One claim settlement row (motor.claim_settlements) and its payment."""

    id: uuid.UUID
    settlement_number: str = Field(examples=["STL-2026-7K3M9Q2X4ZP1"])
    claim_id: uuid.UUID
    payee_type: str
    payee_name: str
    payee_id: uuid.UUID | None
    head_of_loss: str | None
    loss_details: dict[str, Any] | None
    gross_amount: Money
    deductible_amount: Money
    net_amount: Money
    currency: str
    settlement_method: str
    payment_id: uuid.UUID | None
    status: str
    approved_by: uuid.UUID | None
    approved_at: datetime | None
    paid_at: datetime | None
    cancelled_at: datetime | None
    cancellation_reason: str | None
    bank_code: str | None
    bank_account_name: str | None
    bank_account_number: str | None = Field(description="Masked")
    notes: str | None
    created_at: datetime | None
    updated_at: datetime | None
    version: int
    payment: Payment | None


class NcdEffect(Schema):
    """The claim's effect on the policy's next no-claim discount (renewal_rules.next_ncd over
    the policy's claims, decision 0047), recorded when the claim settles."""

    policy_id: uuid.UUID
    policy_number: str
    current_ncd: int
    next_ncd: int
    steps: int
    next_ncd_without_this_claim: int
    counts_against_ncd: bool
    insured_at_fault: bool
    counted_claims: int
    claims_paid: Money
    reason: str
    computed_on: date


class Deductible(Schema):
    """The claim's deductible: policy excess plus the 2+/3+ at-fault deductible."""

    policy_excess: Money
    at_fault_deductible: Money
    insured_at_fault: bool
    total: Money
    applied: Money


class ClaimSettlements(Schema):
    """A claim's settlements, its settlement columns, deductible and NCD effect."""

    claim: ClaimState
    approved_amount: Money | None
    settled_gross: Annotated[Decimal, Quantized(2)]
    deductible: Deductible | None
    settlements: list[Settlement]
    ncd_effect: NcdEffect | None
