"""Request and response bodies of motor claim assessments, QA review, send-back and approval
(issue 5 items 3 and 4; decision 0051). Field names are seed 001's column names; amounts are
decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from polis.motor.claim_settlement_rules import estimate_total
from polis.platform.money import Money, NonNegativeMoney, PositiveMoney, Quantized
from polis.platform.schemas import RequestSchema, Schema

AssessmentType = Literal["INITIAL", "DETAILED", "RE_ASSESSMENT", "FINAL"]
RecommendedAction = Literal["APPROVE", "REJECT", "INVESTIGATE", "REQUEST_MORE_INFO"]
Percentage = Annotated[Decimal, Quantized(2, ge=0, le=100)]
Notes = Annotated[str, Field(min_length=1, max_length=5000)]
Reason = Annotated[
    str,
    Field(
        min_length=1,
        max_length=100,
        description="Kept in the audit trail's business_context of the status change",
    ),
]


class RepairLine(RequestSchema):
    """One line of a repair estimate (a part or labour)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    description: str = Field(min_length=1, max_length=500, examples=["Rear bumper, replace"])
    amount: PositiveMoney = Field(examples=["8500.00"])


class RepairEstimates(RequestSchema):
    """claim_assessments.repair_estimates: line items and their total (computed when
    omitted, checked when given). Other keys (repair shop, quote number, ...) are kept."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    line_items: list[RepairLine] = Field(min_length=1, max_length=500)
    total: NonNegativeMoney | None = Field(
        default=None, description="The sum of the line amounts; computed when omitted"
    )

    @model_validator(mode="after")
    def _total(self) -> RepairEstimates:
        computed = estimate_total(line.amount for line in self.line_items)
        if self.total is not None and self.total != computed:
            raise ValueError(f"total {self.total} is not the sum of the line items ({computed})")
        self.total = computed
        return self


class AssessmentCreate(RequestSchema):
    """A surveyor's or adjuster's assessment of a claim (decision 0051 says which statuses
    accept which type). assessor_type comes from the user's role."""

    assessment_type: AssessmentType
    damage_assessment: dict[str, Any] = Field(
        min_length=1,
        description="What was found, by part or area (free JSON; not empty)",
        examples=[{"rear_bumper": "cracked", "tailgate": "dented", "severity": "moderate"}],
    )
    repair_estimates: RepairEstimates | None = None
    total_loss_assessment: bool = False
    salvage_value: NonNegativeMoney | None = Field(
        default=None, description="Only with total_loss_assessment"
    )
    liability_percentage: Percentage | None = Field(
        default=None,
        description="The insured's share of liability, 0..100 (> 0: the insured is at fault)",
    )
    contributing_factors: dict[str, Any] | None = None
    recommended_amount: NonNegativeMoney | None = Field(
        default=None,
        description="Required with APPROVE; not above the repair-estimate total unless a "
        "total loss; becomes claims.assessed_amount",
    )
    recommended_action: RecommendedAction | None = None
    assessment_notes: Notes | None = None

    @model_validator(mode="after")
    def _consistent(self) -> AssessmentCreate:
        if self.salvage_value is not None and not self.total_loss_assessment:
            raise ValueError("salvage_value goes with total_loss_assessment: true")
        if self.recommended_action == "APPROVE" and self.recommended_amount is None:
            raise ValueError("recommended_amount is required when recommending APPROVE")
        estimates = self.repair_estimates
        if (
            estimates is not None
            and estimates.total is not None
            and self.recommended_amount is not None
            and not self.total_loss_assessment
            and self.recommended_amount > estimates.total
        ):
            raise ValueError(
                f"recommended_amount {self.recommended_amount} is above the repair estimate "
                f"total {estimates.total}"
            )
        return self


class QaReview(RequestSchema):
    """QA review of an assessment by a user other than its assessor."""

    qa_notes: Notes


class SendBack(RequestSchema):
    """Send an assessment back: the claim goes ASSESSED -> INVESTIGATING for a RE_ASSESSMENT."""

    reason: Reason


class ApprovalCreate(RequestSchema):
    """Approve an ASSESSED claim for `approved_amount` (within the approver's authority)."""

    approved_amount: PositiveMoney = Field(examples=["30000.00"])
    notes: Reason | None = None

    @field_validator("approved_amount")
    @classmethod
    def _bounded(cls, value: Decimal) -> Decimal:
        if value >= Decimal("10000000000"):
            raise ValueError("approved_amount does not fit NUMERIC(12,2)")
        return value


class Assessment(Schema):
    """One claim assessment (motor.claim_assessments)."""

    id: uuid.UUID
    claim_id: uuid.UUID
    assessor_id: uuid.UUID
    assessor_type: str
    assessment_date: datetime
    assessment_type: str
    damage_assessment: dict[str, Any]
    repair_estimates: dict[str, Any] | None
    total_loss_assessment: bool
    salvage_value: Money | None
    liability_percentage: Annotated[Decimal, Quantized(2)] | None
    contributing_factors: dict[str, Any] | None
    recommended_amount: Money | None
    recommended_action: str | None
    assessment_notes: str | None
    qa_reviewed: bool
    qa_reviewer_id: uuid.UUID | None
    qa_notes: str | None
    created_at: datetime | None
    created_by: uuid.UUID | None
    version: int


class ClaimState(Schema):
    """The claim columns assessments, approval and settlement change."""

    id: uuid.UUID
    claim_number: str
    policy_id: uuid.UUID
    status: str
    sub_status: str | None
    assessed_amount: Money | None
    approved_amount: Money | None
    settled_amount: Money | None
    deductible_amount: Money | None
    assessment_date: date | None
    approval_date: date | None
    settlement_date: date | None
    version: int

    @classmethod
    def of(cls, claim: Any) -> ClaimState:
        """The state of a motor.claims row (NULL seed defaults read as their defaults)."""
        return cls.model_validate(
            {
                **{c: getattr(claim, c) for c in cls.model_fields},
                "status": claim.status or "REPORTED",
                "version": claim.version or 0,
            }
        )


class AssessmentResult(Schema):
    """An assessment and the claim after it."""

    assessment: Assessment
    claim: ClaimState


class ApprovalResult(Schema):
    """The approved claim, and the authority that allowed it."""

    claim: ClaimState
    approved_by: uuid.UUID
    approver_role: str
    authority_limit: Money | None = Field(description="The role's limit; null: unlimited")
