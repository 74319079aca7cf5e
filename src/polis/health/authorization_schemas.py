"""Request and response bodies of the pre-authorisation (guarantee letter) endpoints.

Field names are claims.authorization's columns (seed 000), with requested_amount and
requested_days from migration 0009, and member_number / provider_code in place of the ids
(as claims do). Amounts are decimal strings in responses; strings or numbers in requests.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import Field, ValidationInfo, field_validator

from polis.health.schemas import Code, ServiceType, ShortCode
from polis.platform.money import Money, PositiveMoney
from polis.platform.schemas import RequestSchema, Schema
from polis.reference.icd10 import is_valid_icd10, normalise_icd10

AuthorizationStatus = Literal["pending", "approved", "denied", "expired", "cancelled"]
Days = Annotated[int, Field(ge=1, le=366)]


class AuthorizationCreate(RequestSchema):
    """A provider's request for a guarantee letter; it starts `pending`."""

    member_number: Code = Field(examples=["MBR-2026-000123"])
    provider_code: Code = Field(examples=["RS-MEDIKA-JKT"])
    service_type: ServiceType
    procedure_code: ShortCode | None = Field(default=None, examples=["47.01"])
    diagnosis_code: ShortCode = Field(examples=["K35.8"], description="ICD-10")
    valid_from: date
    valid_to: date
    requested_amount: PositiveMoney = Field(examples=["15000000.00"])
    requested_days: Days | None = Field(
        default=None, validate_default=True, examples=[3], description="Required for inpatient"
    )

    @field_validator("diagnosis_code")
    @classmethod
    def _icd10(cls, value: str) -> str:
        if not is_valid_icd10(value):
            raise ValueError("must be an ICD-10 code (e.g. K35.8)")
        return normalise_icd10(value)

    @field_validator("valid_to")
    @classmethod
    def _period(cls, value: date, info: ValidationInfo) -> date:
        start = info.data.get("valid_from")
        if start is not None and value < start:
            raise ValueError("valid_to must not be before valid_from")
        return value

    @field_validator("requested_days")
    @classmethod
    def _days(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("service_type") == "inpatient":
            raise ValueError("requested_days is required for inpatient care")
        return value


class AuthorizationDecision(RequestSchema):
    """A reviewer's decision on a pending authorisation. The rules that need the letter
    (amount within the request, days for inpatient care) are checked by the service."""

    decision: Literal["approved", "denied"]
    approved_amount: PositiveMoney | None = Field(
        default=None, examples=["12000000.00"], description="Required to approve"
    )
    approved_days: Days | None = Field(
        default=None, examples=[3], description="Required to approve inpatient care"
    )
    decision_notes: str | None = Field(
        default=None, min_length=1, max_length=4000, description="Required to deny"
    )


class Authorization(Schema):
    """A pre-authorisation. `status` is as of today: a pending or approved letter whose
    valid_to has passed reads `expired` even before the expiry job has stored it."""

    id: uuid.UUID
    authorization_number: str
    claim_id: uuid.UUID | None = Field(description="The latest claim that used it")
    member_number: str
    provider_code: str
    service_type: str
    procedure_code: str | None
    diagnosis_code: str | None
    valid_from: date
    valid_to: date
    status: AuthorizationStatus
    requested_amount: Money | None
    requested_days: int | None
    approved_amount: Money | None
    approved_days: int | None
    used_amount: Money = Field(
        description="Allowed amount of the claim lines that used it (voided claims excluded)"
    )
    used_days: int = Field(description="Per-day (room) days those lines used")
    decision_date: datetime | None
    decision_by: str | None
    decision_notes: str | None
    created_at: datetime
