"""Request and response bodies of the health configuration endpoints (plans, providers,
policies with their ASO funds, members with their coverages).

Field names are the seed's column names. Amounts are Decimal: strings in responses, strings
or numbers in requests (polis.platform.money). Bank account numbers are accepted in clear
and only ever returned masked.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, Self, TypeVar

from pydantic import Field, field_validator, model_validator

from polis.platform.money import Money, NonNegativeMoney, PositiveMoney, Quantized
from polis.platform.schemas import RequestSchema, Schema
from polis.reference.icd10 import is_valid_icd10

Percentage = Annotated[Decimal, Quantized(2, ge=0, le=100)]
Code = Annotated[str, Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$")]

PlanType = Literal["basic", "standard", "premium"]
CoverageType = Literal["covered", "not_covered", "limited"]
LimitType = Literal["per_incident", "per_day", "per_year"]
ExclusionType = Literal["diagnosis", "procedure", "condition"]
ProviderType = Literal["hospital", "clinic", "pharmacy", "lab"]
ProviderClass = Literal["A", "B", "C", "D"]
ProviderStatus = Literal["active", "inactive", "suspended", "terminated"]
ContractPaymentMethod = Literal["fee_for_service", "capitation"]
ContractStatus = Literal["draft", "active", "suspended", "expired", "terminated"]


def _check_unique(values: list[str], message: str) -> None:
    """ValueError `message: a, b` naming each value that occurs more than once, sorted."""
    duplicates = sorted(v for v, n in Counter(values).items() if n > 1)
    if duplicates:
        raise ValueError(f"{message}: {', '.join(duplicates)}")


def _check_period(start: date | None, end: date | None, names: str) -> None:
    if start is not None and end is not None and end < start:
        raise ValueError(f"{names} must not be before its start")


# --- plans --------------------------------------------------------------------------------

# The rules of a benefit's and an exclusion's fields, written once: the create schemas below
# use them, the PATCH schemas use them as optional fields, and a change is then checked as
# the whole row it leaves by the create schema (`merged`).
BenefitName = Annotated[str, Field(min_length=1, max_length=255)]
BenefitCategory = Annotated[str, Field(min_length=1, max_length=50)]
Count = Annotated[int, Field(ge=0)]
ExclusionDescription = Annotated[str, Field(min_length=1, max_length=2000)]
IcdCode = Annotated[str, Field(max_length=20)]

_M = TypeVar("_M", bound=RequestSchema)

BENEFIT_CODE_UNIQUE = "benefit_code must be unique within a plan"


def check_benefit_codes(codes: list[str]) -> None:
    """ValueError naming each benefit code that occurs more than once in a plan."""
    _check_unique(codes, BENEFIT_CODE_UNIQUE)


class BenefitCreate(RequestSchema):
    """One benefit of a plan (benefit.plan_benefit), in a new plan or added to one."""

    benefit_code: Code = Field(examples=["IP-ROOM"])
    benefit_name: BenefitName = Field(examples=["Room and board"])
    benefit_category: BenefitCategory = Field(examples=["inpatient"])
    coverage_type: CoverageType = "covered"
    limit_type: LimitType | None = None
    limit_amount: NonNegativeMoney | None = None
    limit_days: Count | None = None
    limit_visits: Count | None = None
    coinsurance_percentage: Percentage = Decimal("0.00")
    copay_amount: NonNegativeMoney = Decimal("0.00")
    requires_authorization: bool = False
    waiting_period_days: Count = 0
    in_network_covered: bool = True
    out_network_covered: bool = False


class BenefitUpdate(RequestSchema):
    """Benefit fields to change; absent fields stay as they are. The benefit_code names the
    benefit and is not changed. The benefit the change leaves must pass BenefitCreate: a
    value create refuses (or null for a field create requires) is refused here too.
    coverage_type not_covered deactivates the benefit."""

    benefit_name: BenefitName | None = None
    benefit_category: BenefitCategory | None = None
    coverage_type: CoverageType | None = None
    limit_type: LimitType | None = None
    limit_amount: NonNegativeMoney | None = None
    limit_days: Count | None = None
    limit_visits: Count | None = None
    coinsurance_percentage: Percentage | None = None
    copay_amount: NonNegativeMoney | None = None
    requires_authorization: bool | None = None
    waiting_period_days: Count | None = None
    in_network_covered: bool | None = None
    out_network_covered: bool | None = None


class ExclusionCreate(RequestSchema):
    """One exclusion of a plan (benefit.exclusion), in a new plan or added to one."""

    exclusion_code: Code = Field(examples=["EX-COSMETIC"])
    exclusion_description: ExclusionDescription
    exclusion_type: ExclusionType | None = None
    icd_code: IcdCode | None = Field(default=None, examples=["Z41"])
    effective_date: date | None = None
    termination_date: date | None = None

    @model_validator(mode="after")
    def _period(self) -> Self:
        _check_period(self.effective_date, self.termination_date, "termination_date")
        return self


class ExclusionUpdate(RequestSchema):
    """Exclusion fields to change (it is named by its id, so its code may change too); the
    exclusion the change leaves must pass ExclusionCreate (its period included)."""

    exclusion_code: Code | None = None
    exclusion_description: ExclusionDescription | None = None
    exclusion_type: ExclusionType | None = None
    icd_code: IcdCode | None = None
    effective_date: date | None = None
    termination_date: date | None = None


def merged(model: type[_M], stored: Any, changes: Mapping[str, Any]) -> _M:
    """`model` validated on the stored row's fields with `changes` over them, so that a change
    is accepted exactly when creating the row it leaves would be. Stored NULLs are left to
    the model's defaults (they are only read here, never written). Raises ValidationError
    whose locations are the field names."""
    values = {
        name: getattr(stored, name)
        for name in model.model_fields
        if getattr(stored, name, None) is not None
    }
    values.update(changes)
    return model.model_validate(values)


class _PlanFields(RequestSchema):
    plan_name: str = Field(min_length=1, max_length=255, examples=["Corporate Standard"])
    plan_type: PlanType
    annual_limit: NonNegativeMoney | None = None
    lifetime_limit: NonNegativeMoney | None = None
    individual_deductible: NonNegativeMoney = Decimal("0.00")
    family_deductible: NonNegativeMoney = Decimal("0.00")
    individual_oop_max: NonNegativeMoney | None = None
    family_oop_max: NonNegativeMoney | None = None
    effective_date: date
    termination_date: date | None = None


class PlanCreate(_PlanFields):
    """A new plan with its benefits and exclusions, written in one transaction."""

    plan_code: Code = Field(examples=["CORP-STD-2026"])
    benefits: list[BenefitCreate] = Field(default_factory=list, max_length=500)
    exclusions: list[ExclusionCreate] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_period(self.effective_date, self.termination_date, "termination_date")
        check_benefit_codes([b.benefit_code for b in self.benefits])
        return self


class PlanUpdate(RequestSchema):
    """Plan fields to change; absent fields stay as they are (benefits are not changed here)."""

    plan_name: str | None = Field(default=None, min_length=1, max_length=255)
    plan_type: PlanType | None = None
    annual_limit: NonNegativeMoney | None = None
    lifetime_limit: NonNegativeMoney | None = None
    individual_deductible: NonNegativeMoney | None = None
    family_deductible: NonNegativeMoney | None = None
    individual_oop_max: NonNegativeMoney | None = None
    family_oop_max: NonNegativeMoney | None = None
    effective_date: date | None = None
    termination_date: date | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("plan_name", "plan_type", "effective_date"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        _check_period(self.effective_date, self.termination_date, "termination_date")
        return self


class Benefit(Schema):
    """A benefit of a plan."""

    id: uuid.UUID
    benefit_code: str
    benefit_name: str
    benefit_category: str
    coverage_type: str | None
    limit_type: str | None
    limit_amount: NonNegativeMoney | None
    limit_days: int | None
    limit_visits: int | None
    coinsurance_percentage: Percentage | None
    copay_amount: NonNegativeMoney | None
    requires_authorization: bool | None
    waiting_period_days: int | None
    in_network_covered: bool | None
    out_network_covered: bool | None


class Exclusion(Schema):
    """An exclusion of a plan."""

    id: uuid.UUID
    exclusion_code: str
    exclusion_description: str
    exclusion_type: str | None
    icd_code: str | None
    effective_date: date | None
    termination_date: date | None


class Plan(Schema):
    """A benefit plan (without its benefits: see PlanDetail)."""

    id: uuid.UUID
    plan_code: str
    plan_name: str
    plan_type: str
    annual_limit: NonNegativeMoney | None
    lifetime_limit: NonNegativeMoney | None
    individual_deductible: NonNegativeMoney | None
    family_deductible: NonNegativeMoney | None
    individual_oop_max: NonNegativeMoney | None
    family_oop_max: NonNegativeMoney | None
    effective_date: date
    termination_date: date | None
    created_at: datetime | None


class PlanDetail(Plan):
    """A plan with its benefits and its own exclusions."""

    benefits: list[Benefit]
    exclusions: list[Exclusion]


# --- providers ----------------------------------------------------------------------------


class ContractCreate(RequestSchema):
    """One contract of a new provider (provider.provider_contract)."""

    contract_number: Code = Field(examples=["CTR-2026-0001"])
    effective_date: date
    expiry_date: date
    payment_method: ContractPaymentMethod | None = "fee_for_service"
    discount_percentage: Percentage | None = None
    cashless_enabled: bool = True
    reimbursement_enabled: bool = True
    status: ContractStatus = "active"

    @model_validator(mode="after")
    def _period(self) -> Self:
        _check_period(self.effective_date, self.expiry_date, "expiry_date")
        return self


class _ProviderFields(RequestSchema):
    provider_class: ProviderClass | None = None
    is_network: bool = True
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    bank_name: str | None = Field(default=None, max_length=100)
    bank_account: str | None = Field(
        default=None,
        min_length=4,
        max_length=50,
        pattern=r"^[0-9][0-9 -]*[0-9]$",
        description="In clear on input; stored encrypted, returned masked",
    )
    tax_id: str | None = Field(default=None, max_length=50)
    status: ProviderStatus = "active"
    contract_start_date: date | None = None
    contract_end_date: date | None = None


class ProviderCreate(_ProviderFields):
    """A new provider with its contracts, written in one transaction."""

    provider_code: Code = Field(examples=["PRV-00001"])
    provider_name: str = Field(min_length=1, max_length=255, examples=["RS Harapan Sehat"])
    provider_type: ProviderType
    contracts: list[ContractCreate] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_period(self.contract_start_date, self.contract_end_date, "contract_end_date")
        _check_unique([c.contract_number for c in self.contracts], "contract_number must be unique")
        return self


class ProviderUpdate(RequestSchema):
    """Provider fields to change; absent fields stay as they are (contracts are not)."""

    provider_name: str | None = Field(default=None, min_length=1, max_length=255)
    provider_type: ProviderType | None = None
    provider_class: ProviderClass | None = None
    is_network: bool | None = None
    address: str | None = Field(default=None, max_length=500)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    phone: str | None = Field(default=None, max_length=50)
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    bank_name: str | None = Field(default=None, max_length=100)
    bank_account: str | None = Field(
        default=None, min_length=4, max_length=50, pattern=r"^[0-9][0-9 -]*[0-9]$"
    )
    tax_id: str | None = Field(default=None, max_length=50)
    status: ProviderStatus | None = None
    contract_start_date: date | None = None
    contract_end_date: date | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("provider_name", "provider_type", "is_network", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        _check_period(self.contract_start_date, self.contract_end_date, "contract_end_date")
        return self


class Contract(Schema):
    """A provider contract."""

    id: uuid.UUID
    contract_number: str
    effective_date: date
    expiry_date: date
    payment_method: str | None
    discount_percentage: Percentage | None
    cashless_enabled: bool | None
    reimbursement_enabled: bool | None
    status: str
    created_at: datetime | None


class Provider(Schema):
    """A provider; `bank_account` is masked (the number itself is stored encrypted)."""

    id: uuid.UUID
    provider_code: str
    provider_name: str
    provider_type: str
    provider_class: str | None
    is_network: bool | None
    address: str | None
    city: str | None
    province: str | None
    phone: str | None
    email: str | None
    bank_name: str | None
    bank_account: str | None = Field(description="Masked: only the last 4 digits are shown")
    tax_id: str | None
    status: str
    contract_start_date: date | None
    contract_end_date: date | None
    created_at: datetime | None


class ProviderDetail(Provider):
    """A provider with its contracts."""

    contracts: list[Contract]


# --- policies -----------------------------------------------------------------------------

PolicyType = Literal["group", "individual"]
FundingType = Literal["aso", "full_insured"]
PolicyStatus = Literal["draft", "active", "suspended", "lapsed", "terminated", "cancelled"]
FundName = Literal["aso", "buffer"]
FundTransactionType = Literal["top_up", "withdrawal"]


def _check_policy_dates(effective: date | None, renewal: date | None, end: date | None) -> None:
    _check_period(effective, renewal, "renewal_date")
    _check_period(effective, end, "termination_date")


class PolicyCreate(RequestSchema):
    """A new group or individual policy under an existing plan (named by its plan_code)."""

    policy_number: Code = Field(examples=["GRP-2026-0001"])
    policy_type: PolicyType
    plan_code: Code = Field(examples=["CORP-STD-2026"])
    company_name: str | None = Field(default=None, min_length=1, max_length=255)
    company_id: str | None = Field(default=None, max_length=50)
    effective_date: date
    renewal_date: date
    termination_date: date | None = None
    total_premium: NonNegativeMoney | None = None
    funding_type: FundingType = "full_insured"
    aso_fund_balance: NonNegativeMoney = Decimal("0.00")
    buffer_fund_balance: NonNegativeMoney = Decimal("0.00")
    status: PolicyStatus = "active"

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _check_policy_dates(self.effective_date, self.renewal_date, self.termination_date)
        if self.policy_type == "group" and not self.company_name:
            raise ValueError("company_name is required for a group policy")
        if self.funding_type != "aso" and (self.aso_fund_balance or self.buffer_fund_balance):
            raise ValueError("only an aso policy holds fund balances")
        return self


class PolicyUpdate(RequestSchema):
    """Policy fields to change; absent fields stay as they are. Fund balances move only
    through fund transactions; the number, type and funding type do not change."""

    plan_code: Code | None = None
    company_name: str | None = Field(default=None, min_length=1, max_length=255)
    company_id: str | None = Field(default=None, max_length=50)
    effective_date: date | None = None
    renewal_date: date | None = None
    termination_date: date | None = None
    total_premium: NonNegativeMoney | None = None
    status: PolicyStatus | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("plan_code", "effective_date", "renewal_date", "status"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        _check_policy_dates(self.effective_date, self.renewal_date, self.termination_date)
        return self


class Policy(Schema):
    """A policy, its plan (by code) and its fund balances."""

    id: uuid.UUID
    policy_number: str
    policy_type: str
    plan_id: uuid.UUID
    plan_code: str
    company_name: str | None
    company_id: str | None
    effective_date: date
    renewal_date: date
    termination_date: date | None
    total_members: int | None
    total_premium: NonNegativeMoney | None
    funding_type: str | None
    aso_fund_balance: NonNegativeMoney | None
    buffer_fund_balance: NonNegativeMoney | None
    status: str
    created_at: datetime | None


class FundTransactionCreate(RequestSchema):
    """A top-up or withdrawal of an ASO policy's fund."""

    transaction_type: FundTransactionType
    amount: PositiveMoney = Field(examples=["150000000.00"])
    fund: FundName = Field(default="aso", description="aso_fund_balance or buffer_fund_balance")
    reference: str | None = Field(
        default=None,
        max_length=50,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]*$",
        description="Kept in the audit trail's business_context",
    )


class FundTransaction(Schema):
    """The movement made and the policy's balances after it."""

    policy_number: str
    transaction_type: str
    fund: str
    amount: NonNegativeMoney
    reference: str | None
    aso_fund_balance: NonNegativeMoney
    buffer_fund_balance: NonNegativeMoney


# --- members ------------------------------------------------------------------------------

Gender = Literal["male", "female", "other"]
Relationship = Literal["employee", "spouse", "child"]
Nik = Annotated[
    str,
    Field(
        pattern=r"^[0-9]{16}$",
        description="Indonesian NIK, 16 digits; stored encrypted, returned masked",
    ),
]
Passport = Annotated[
    str,
    Field(
        min_length=5,
        max_length=20,
        pattern=r"^[A-Za-z0-9]+$",
        description="Stored encrypted, returned masked",
    ),
]


class CoverageCreate(RequestSchema):
    """One coverage of a new member: a policy and plan, by their numbers and codes."""

    policy_number: Code = Field(examples=["GRP-2026-0001"])
    plan_code: Code = Field(examples=["CORP-STD-2026"])
    relationship: Relationship
    coverage_start_date: date
    coverage_end_date: date | None = None
    inner_limit_applicable: bool = True
    annual_cap_applicable: bool = False

    @model_validator(mode="after")
    def _period(self) -> Self:
        _check_period(self.coverage_start_date, self.coverage_end_date, "coverage_end_date")
        return self


class _MemberContact(RequestSchema):
    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    phone: str | None = Field(default=None, max_length=50)
    address_line1: str | None = Field(default=None, max_length=255)
    address_line2: str | None = Field(default=None, max_length=255)
    city: str | None = Field(default=None, max_length=100)
    province: str | None = Field(default=None, max_length=100)
    postal_code: str | None = Field(default=None, max_length=20)


class MemberCreate(_MemberContact):
    """Enrolment: a member with at least one coverage, written in one transaction."""

    member_number: Code = Field(examples=["MBR-00000001"])
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    birth_date: date
    gender: Gender
    national_id: Nik | None = None
    passport_number: Passport | None = None
    enrollment_date: date
    coverages: list[CoverageCreate] = Field(min_length=1, max_length=20)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.national_id is None and self.passport_number is None:
            raise ValueError("national_id or passport_number is required")
        if self.birth_date > self.enrollment_date:
            raise ValueError("birth_date must not be after enrollment_date")
        return self


class MemberUpdate(_MemberContact):
    """Member fields to change; absent fields stay as they are (coverages do not change
    here; termination is its own request)."""

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    birth_date: date | None = None
    gender: Gender | None = None
    national_id: Nik | None = None
    passport_number: Passport | None = None

    @model_validator(mode="after")
    def _not_null(self) -> Self:
        for name in ("first_name", "last_name", "birth_date", "gender", "national_id"):
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class MemberTermination(RequestSchema):
    """The last day of cover of the member and of each of their coverages."""

    termination_date: date


class Coverage(Schema):
    """A member's coverage, with its policy and plan by number and code."""

    id: uuid.UUID
    policy_number: str
    plan_code: str
    relationship: str
    coverage_start_date: date
    coverage_end_date: date | None
    inner_limit_applicable: bool | None
    annual_cap_applicable: bool | None
    status: str
    created_at: datetime | None


class Member(Schema):
    """A member; `national_id` and `passport_number` are masked (the values are encrypted)."""

    id: uuid.UUID
    member_number: str
    first_name: str
    last_name: str
    birth_date: date
    gender: str
    national_id: str | None = Field(description="Masked: only the last 4 digits are shown")
    passport_number: str | None = Field(description="Masked")
    email: str | None
    phone: str | None
    address_line1: str | None
    address_line2: str | None
    city: str | None
    province: str | None
    postal_code: str | None
    status: str
    enrollment_date: date
    termination_date: date | None
    created_at: datetime | None
    updated_at: datetime | None


class MemberDetail(Member):
    """A member with their coverages."""

    coverages: list[Coverage]


# --- claims -------------------------------------------------------------------------------

ClaimType = Literal["cashless", "reimbursement"]
ServiceType = Literal["inpatient", "outpatient", "dental", "optical"]
ShortCode = Annotated[str, Field(min_length=1, max_length=20)]


class ClaimItemCreate(RequestSchema):
    """One line of a submitted claim (claims.claim_item)."""

    benefit_code: Code = Field(examples=["OP-GP"])
    service_code: Code | None = Field(default=None, examples=["CONSULT-GP"])
    diagnosis_code: ShortCode | None = Field(default=None, examples=["J06.9"])
    procedure_code: ShortCode | None = Field(default=None, examples=["89.03"])
    quantity: int = Field(default=1, ge=1, le=10000)
    unit_price: NonNegativeMoney | None = None
    charged_amount: NonNegativeMoney = Field(examples=["1000000.00"])

    @field_validator("diagnosis_code")
    @classmethod
    def _icd10(cls, value: str | None) -> str | None:
        if value is not None and not is_valid_icd10(value):
            raise ValueError("must be an ICD-10 code (e.g. J06.9)")
        return value


class ClaimCreate(RequestSchema):
    """A claim to adjudicate synchronously."""

    member_number: Code = Field(examples=["MBR-2026-000123"])
    provider_code: Code = Field(examples=["RS-MEDIKA-JKT"])
    claim_type: ClaimType
    service_type: ServiceType
    service_date: date
    admission_date: date | None = None
    discharge_date: date | None = None
    authorization_number: Code | None = None
    items: list[ClaimItemCreate] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _period(self) -> Self:
        if (
            self.admission_date is not None
            and self.discharge_date is not None
            and self.discharge_date < self.admission_date
        ):
            raise ValueError("discharge_date must not be before admission_date")
        return self


class TraceStep(Schema):
    """One rule applied to a line, with the amount before and after it."""

    code: str
    message: str
    amount_before: Money
    amount_after: Money


class ClaimItem(Schema):
    """One adjudicated line."""

    id: uuid.UUID
    benefit_code: str
    service_code: str | None
    diagnosis_code: str | None
    procedure_code: str | None
    quantity: int | None
    unit_price: Money | None
    charged_amount: Money
    approved_amount: Money | None
    paid_amount: Money | None
    deductible_amount: Money | None
    coinsurance_amount: Money | None
    copay_amount: Money | None
    status: str
    denial_reason: str | None
    trace: list[TraceStep]


class Claim(Schema):
    """A claim with its totals (list entries carry no lines)."""

    id: uuid.UUID
    claim_number: str
    member_number: str
    provider_code: str
    claim_type: str
    service_type: str
    service_date: date
    admission_date: date | None
    discharge_date: date | None
    status: str
    total_charged_amount: Money | None
    total_approved_amount: Money | None
    total_paid_amount: Money | None
    member_responsibility: Money | None
    submission_date: datetime


class ClaimListItem(Claim):
    """A claim in the list, read from claims.claim_summary_view: with the member's name and
    the provider's name."""

    member_name: str = Field(examples=["Siti Rahma"])
    provider_name: str = Field(examples=["RS Medika Jakarta"])


class ClaimDetail(Claim):
    """A claim with its adjudicated lines and their traces."""

    items: list[ClaimItem]
