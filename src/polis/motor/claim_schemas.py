"""Request and response bodies of the motor claim routes: first notice of loss, workflow
moves, the list and the customer dashboard (issue 5; decision 0050). Field names are seed
001's column names; amounts are decimal strings in responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, Field, field_validator, model_validator

from polis.motor.customer_rules import normalise_national_id
from polis.motor.schemas import Line, Place
from polis.platform.money import Money, NonNegativeMoney, Quantized
from polis.platform.schemas import RequestSchema, Schema

ClaimType = Literal["ACCIDENT", "THEFT", "FIRE", "FLOOD", "VANDALISM", "NATURAL_DISASTER"]
ClaimStatus = Literal[
    "REPORTED",
    "ASSIGNED",
    "INVESTIGATING",
    "ASSESSED",
    "APPROVED",
    "REJECTED",
    "SETTLED",
    "CLOSED",
]
SubStatus = Annotated[
    str,
    Field(
        pattern=r"^[A-Z][A-Z0-9_]{0,29}$",
        description="A code refining the status (claims.sub_status), e.g. FRAUD_REVIEW",
        examples=["SITE_VISIT"],
    ),
]
Text = Annotated[str, Field(min_length=1, max_length=5000)]
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="Kept in the audit trail's business_context of the status change",
    ),
]


# --- first notice of loss --------------------------------------------------------------------


class IncidentAddress(RequestSchema):
    """Where the incident happened, as a Thai address. `tambon`, `amphoe` and `province`
    take the Thai or English name or the DOPA code (6, 4, 2 digits), checked against ref
    geography exactly as a customer's address is (the tambon lies in the amphoe, the amphoe
    in the province, the postal code is the tambon's); names and codes are stored. `text`
    is free text (a road and kilometre, a landmark)."""

    text: Line | None = Field(default=None, examples=["ถนนพหลโยธิน กม. 42 ขาเข้า"])
    house_no: str | None = Field(default=None, min_length=1, max_length=50)
    moo: str | None = Field(default=None, max_length=10)
    village: Line | None = None
    building: Line | None = None
    soi: Line | None = None
    road: Line | None = Field(default=None, examples=["พหลโยธิน"])
    tambon: Place = Field(examples=["คลองหนึ่ง", "130202"])
    amphoe: Place = Field(examples=["คลองหลวง", "1302"])
    province: Place = Field(examples=["ปทุมธานี", "13"])
    postal_code: str = Field(pattern=r"^[1-9][0-9]{4}$", examples=["12120"])


class IncidentLocation(RequestSchema):
    """claims.incident_location: WGS 84 coordinates and/or a Thai address (at least one)."""

    lat: float | None = Field(default=None, ge=-90, le=90, allow_inf_nan=False, examples=[14.07])
    lng: float | None = Field(default=None, ge=-180, le=180, allow_inf_nan=False, examples=[100.61])
    address: IncidentAddress | None = None

    @model_validator(mode="after")
    def _complete(self) -> IncidentLocation:
        if (self.lat is None) != (self.lng is None):
            raise ValueError("lat and lng go together: give both or neither")
        if self.lat is None and self.address is None:
            raise ValueError("give the coordinates (lat, lng), the address, or both")
        return self


class OtherParty(RequestSchema):
    """claims.other_party_info: the other party of an accident. The national id is checked
    (Thai PIN), stored masked with a keyed hash (never in clear, decision 0050); the
    registration number, national id hash, phone and driving licence identify the party to
    the fraud rules (the same party across claims)."""

    name: str | None = Field(default=None, min_length=1, max_length=200)
    national_id: str | None = Field(default=None, min_length=13, max_length=17)
    phone: str | None = Field(default=None, min_length=9, max_length=20)
    driver_license_number: str | None = Field(default=None, min_length=1, max_length=30)
    registration_number: str | None = Field(
        default=None, min_length=1, max_length=20, examples=["1กข 1234"]
    )
    registration_province: str | None = Field(default=None, min_length=1, max_length=100)
    vehicle_make: str | None = Field(default=None, min_length=1, max_length=50)
    vehicle_model: str | None = Field(default=None, min_length=1, max_length=100)
    insurer: str | None = Field(default=None, min_length=1, max_length=200)
    insurer_policy_number: str | None = Field(default=None, min_length=1, max_length=50)
    at_fault: bool | None = Field(
        default=None, description="Whether the other party caused the accident, as reported"
    )
    injured: bool | None = None
    notes: str | None = Field(default=None, min_length=1, max_length=1000)

    @field_validator("national_id")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        return None if value is None else normalise_national_id(value)


class ClaimCreate(RequestSchema):
    """First notice of loss against an ACTIVE policy that covers the incident date and the
    claim type (decision 0050)."""

    policy_number: str | None = Field(
        default=None, min_length=1, max_length=50, examples=["MTR-2026-00000042"]
    )
    policy_id: uuid.UUID | None = Field(default=None, description="Instead of policy_number")
    claim_type: ClaimType
    incident_date: AwareDatetime = Field(
        description="When it happened, with a UTC offset; not in the future",
        examples=["2026-11-20T18:30:00+07:00"],
    )
    incident_description: Text
    damage_description: Text | None = Field(
        default=None, description="Damage to the insured vehicle (own damage)"
    )
    injury_description: Text | None = Field(
        default=None, description="Injury or death of any person (bodily injury)"
    )
    incident_location: IncidentLocation | None = None
    other_party_info: OtherParty | None = None
    police_report_number: str | None = Field(default=None, min_length=1, max_length=50)
    estimated_amount: NonNegativeMoney | None = Field(
        default=None, description="At most MAX_CLAIM_AMOUNT (configuration)"
    )
    repair_shop_id: uuid.UUID | None = None
    hospital_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _one_policy(self) -> ClaimCreate:
        if (self.policy_number is None) == (self.policy_id is None):
            raise ValueError("give exactly one of policy_number and policy_id")
        return self


class ClaimUpdate(RequestSchema):
    """Corrections after first notice (PATCH, If-Match required). Absent fields stay; null
    clears an optional one. The claim must still be covered and within MAX_CLAIM_AMOUNT."""

    incident_description: Text | None = None
    damage_description: Text | None = None
    injury_description: Text | None = None
    incident_location: IncidentLocation | None = None
    other_party_info: OtherParty | None = None
    police_report_number: str | None = Field(default=None, min_length=1, max_length=50)
    estimated_amount: NonNegativeMoney | None = None
    repair_shop_id: uuid.UUID | None = None
    hospital_id: uuid.UUID | None = None

    @model_validator(mode="after")
    def _something(self) -> ClaimUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        if "incident_description" in self.model_fields_set and self.incident_description is None:
            raise ValueError("incident_description cannot be cleared")
        return self


# --- workflow --------------------------------------------------------------------------------


class Assignment(RequestSchema):
    """Assign (or re-assign) the adjuster and/or the surveyor: ACTIVE users of role ADJUSTER
    and SURVEYOR. A REPORTED claim moves to ASSIGNED and must then have an adjuster; in the
    other open statuses only the people change."""

    adjuster_id: uuid.UUID | None = None
    surveyor_id: uuid.UUID | None = None
    sub_status: SubStatus | None = None

    @model_validator(mode="after")
    def _someone(self) -> Assignment:
        if self.adjuster_id is None and self.surveyor_id is None:
            raise ValueError("give adjuster_id, surveyor_id or both")
        return self


class Investigation(RequestSchema):
    """Open an investigation: REPORTED, ASSIGNED or ASSESSED -> INVESTIGATING."""

    reason: Reason
    sub_status: SubStatus | None = "INVESTIGATION"


class Rejection(RequestSchema):
    """Reject the claim: REPORTED, ASSIGNED, INVESTIGATING or ASSESSED -> REJECTED."""

    reason: Reason
    sub_status: SubStatus | None = None


class Closure(RequestSchema):
    """Close the file: SETTLED or REJECTED -> CLOSED (terminal)."""

    notes: Reason
    sub_status: SubStatus | None = None


# --- responses -------------------------------------------------------------------------------


class HeadOfLoss(Schema):
    """One head of loss the first-notice facts claim, and whether the policy covers it
    (claim_rules.coverage). Derived, not stored: decision 0050."""

    head: str = Field(examples=["OWN_DAMAGE"])
    covered: bool
    reason: str
    limit: Money | None = None


class FraudFlag(Schema):
    """One fired fraud rule (claims.fraud_flags)."""

    code: str = Field(examples=["LATE_REPORTING"])
    message: str
    weight: int


class Claim(Schema):
    """A motor claim (motor.claims)."""

    id: uuid.UUID
    claim_number: str = Field(examples=["MCL-20261123-7K3M9Q2X"])
    policy_id: uuid.UUID
    policy_number: str
    adjuster_id: uuid.UUID | None
    surveyor_id: uuid.UUID | None
    incident_date: datetime
    reported_date: datetime | None
    claim_type: str
    status: str
    sub_status: str | None
    incident_description: str
    damage_description: str | None
    injury_description: str | None
    incident_location: dict[str, Any] | None
    estimated_amount: Money | None
    assessed_amount: Money | None
    approved_amount: Money | None
    settled_amount: Money | None
    deductible_amount: Money | None
    assessment_date: date | None
    approval_date: date | None
    settlement_date: date | None
    closure_date: date | None
    police_report_number: str | None
    court_case_number: str | None
    other_party_info: dict[str, Any] | None
    fraud_score: Annotated[Decimal, Quantized(2)]
    fraud_flags: list[FraudFlag]
    requires_investigation: bool
    repair_shop_id: uuid.UUID | None
    hospital_id: uuid.UUID | None
    heads_of_loss: list[HeadOfLoss]
    created_at: datetime | None
    updated_at: datetime | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    version: int


class StatusChange(Schema):
    """One status change of a claim as the audit trigger recorded it (the first one is the
    first notice: from null)."""

    changed_at: datetime
    operation: str
    from_status: str | None
    to_status: str | None
    sub_status: str | None
    user_id: uuid.UUID | None
    username: str | None
    user_role: str | None
    request_id: uuid.UUID | None
    business_context: str | None = Field(description="The reason or notes given with the move")


class ClaimHistory(Schema):
    """A claim's status changes, oldest first."""

    claim_id: uuid.UUID
    claim_number: str
    status: str
    changes: list[StatusChange]


class DashboardPolicy(Schema):
    """One policy of the customer dashboard (seed 001 section 5.1)."""

    id: uuid.UUID
    policy_number: str
    policy_type: str
    status: str | None
    start_date: date
    end_date: date
    total_premium: Money
    registration_number: str
    make: str
    model: str
    claim_count: int
    total_claims_settled: Money = Field(
        description="Sum of settled_amount of the policy's SETTLED claims (0.00 when none)"
    )


class CustomerDashboard(Schema):
    """A customer's policies, newest start first, with their claim numbers."""

    customer_id: uuid.UUID
    policies: list[DashboardPolicy]
