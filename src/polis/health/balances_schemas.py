"""Response bodies of a member's eligibility and benefit balances (decision 0019).

Field names are the seed's column names where a column exists (member_number, plan_code,
limit_amount, used_amount, remaining_amount, visit_limit, visit_count, remaining_visits,
deductible_met, annual_limit, ...); derived figures are named after them (annual_used,
lifetime_used, family_deductible_met, oop_used). Amounts are decimal strings.
"""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import Field

from polis.platform.money import Money
from polis.platform.schemas import Schema

ClaimTypeName = Literal["cashless", "reimbursement"]


# --- eligibility --------------------------------------------------------------------------


class EligibilityReason(Schema):
    """Why the member is not eligible: a reason code of the engine's eligibility step
    (polis.health.rules: member_inactive, coverage_inactive, policy_inactive,
    no_provider_contract, contract_inactive, claim_type_not_allowed) and its message."""

    code: str = Field(examples=["coverage_inactive"])
    message: str = Field(examples=["no coverage on 2026-03-10"])


class EligibilityCoverage(Schema):
    """A coverage whose period holds the date, with its policy and plan."""

    policy_number: str
    plan_code: str
    relationship: str
    coverage_start_date: date
    coverage_end_date: date | None
    inner_limit_applicable: bool
    annual_cap_applicable: bool
    status: str = Field(description="The coverage's own status")
    policy_status: str
    funding_type: str | None


class EligibilityProvider(Schema):
    """The provider asked about and its contract on the date."""

    provider_code: str
    provider_name: str
    is_network: bool
    status: str = Field(description="The provider's status (the engine does not check it)")
    contract_number: str | None = Field(description="The contract adjudication would use")
    contract_active: bool = Field(description="A contract is active on the date")
    claim_types: list[ClaimTypeName] = Field(
        description="Claim types the contract allows on the date (empty: none)"
    )


class Eligibility(Schema):
    """Whether a claim on `date` would pass the engine's eligibility step."""

    member_number: str
    date: date
    claim_type: ClaimTypeName | None = Field(
        description="The claim type judged (only with provider_code)"
    )
    eligible: bool
    reasons: list[EligibilityReason] = Field(
        description="Every reason the eligibility step denies, in its order; the first is "
        "the denial reason adjudication would give"
    )
    status: str = Field(description="The member's status")
    coverages: list[EligibilityCoverage] = Field(
        description="Coverages holding the date; the first is the one claims use"
    )
    provider: EligibilityProvider | None = None


# --- benefits -----------------------------------------------------------------------------


class BenefitBalance(Schema):
    """One benefit of the plan and what the member used of it in the year."""

    benefit_code: str
    benefit_name: str
    benefit_category: str
    coverage_type: str | None
    limit_type: str | None = Field(
        description="per_year: limit_amount is for the year and remaining_amount applies; "
        "per_incident: per claim; per_day: per day, up to limit_days a claim; null: none"
    )
    limit_amount: Money | None
    limit_days: int | None
    used_amount: Money = Field(description="Paid by the plan for this benefit in the year")
    remaining_amount: Money | None = Field(
        description="per_year only: limit_amount - used_amount, as "
        "benefit.calculate_remaining_benefit answers"
    )
    visit_limit: int | None
    visit_count: int
    remaining_visits: int | None


class PlanBalance(Schema):
    """One plan of the member in the year (per policy), its plan-level figures and its
    benefits."""

    policy_number: str
    plan_code: str
    plan_name: str
    relationship: str
    inner_limit_applicable: bool = Field(description="Per-benefit limits apply to the member")
    annual_cap_applicable: bool = Field(description="The plan's annual limit applies")
    annual_limit: Money | None
    annual_used: Money
    annual_remaining: Money | None
    individual_deductible: Money
    deductible_met: Money
    deductible_remaining: Money
    family_deductible: Money
    family_deductible_met: Money = Field(
        description="Deductible met by every member the policy covers under this plan"
    )
    family_deductible_remaining: Money | None
    lifetime_limit: Money | None
    lifetime_used: Money = Field(description="Paid under this plan in every year")
    lifetime_remaining: Money | None
    individual_oop_max: Money | None
    oop_used: Money = Field(
        description="Deductible + copay + coinsurance of the member's counted claims"
    )
    oop_remaining: Money | None
    family_oop_max: Money | None
    family_oop_used: Money = Field(description="The same, over the policy's members of the plan")
    family_oop_remaining: Money | None
    benefits: list[BenefitBalance]


class Benefits(Schema):
    """A member's benefit balances for a year."""

    member_number: str
    year: int
    plans: list[PlanBalance] = Field(description="The plans of coverages overlapping the year")
