"""Health (seed 000) tables: claims, member, provider, benefit, policy, billing.

Migration 0004_health creates them; these models mirror it (Alembic finds no difference).
claims.claim is partitioned by service_date; its ids and claim numbers are kept globally
unique by claims.claim_registry, which the other tables reference (decision 0011).
Encrypted columns hold AES-GCM ciphertext written by the application (decision 0012).
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, MappedColumn, foreign, mapped_column, relationship

from polis.db.base import Base

MONEY = Numeric(15, 2)
PERCENT = Numeric(5, 2)
UUID_DEFAULT = text("gen_random_uuid()")

CLAIM_TYPES = ("cashless", "reimbursement")
SERVICE_TYPES = ("inpatient", "outpatient", "dental", "optical")
CLAIM_STATUSES = (
    "submitted",
    "adjudicating",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "payment_pending",
    "paid",
    "closed",
    "appealed",
    "voided",
    "cancelled",
)
CLAIM_ITEM_STATUSES = (
    "pending",
    "pended",
    "approved",
    "partially_approved",
    "denied",
    "voided",
    "cancelled",
)
AUTHORIZATION_STATUSES = ("pending", "approved", "denied", "expired", "cancelled")
GENDERS = ("male", "female", "other")
MEMBER_STATUSES = ("pending", "active", "suspended", "terminated")
RELATIONSHIPS = ("employee", "spouse", "child")
PROVIDER_TYPES = ("hospital", "clinic", "pharmacy", "lab")
PROVIDER_CLASSES = ("A", "B", "C", "D")
PROVIDER_STATUSES = ("active", "inactive", "suspended", "terminated")
CONTRACT_PAYMENT_METHODS = ("fee_for_service", "capitation")
CONTRACT_STATUSES = ("draft", "active", "suspended", "expired", "terminated")
PLAN_TYPES = ("basic", "standard", "premium")
COVERAGE_TYPES = ("covered", "not_covered", "limited")
LIMIT_TYPES = ("per_incident", "per_day", "per_year")
EXCLUSION_TYPES = ("diagnosis", "procedure", "condition")
POLICY_TYPES = ("group", "individual")
FUNDING_TYPES = ("aso", "full_insured")
POLICY_STATUSES = ("draft", "active", "suspended", "lapsed", "terminated", "cancelled")
PAYMENT_TYPES = ("claim", "reimbursement")
PAYMENT_METHODS = ("bank_transfer", "check")
PAYEE_TYPES = ("provider", "member")
PAYMENT_STATUSES = ("pending", "processing", "sent", "paid", "failed", "cancelled", "reversed")


def _in(column: str, values: tuple[str, ...]) -> CheckConstraint:
    """CHECK (column IN (...)), named ck_<table>_<column>."""
    listed = ", ".join(f"'{v}'" for v in values)
    return CheckConstraint(f"{column} IN ({listed})", name=column)


def _nonnegative(*columns: str) -> list[CheckConstraint]:
    """CHECK (column >= 0) per column, named ck_<table>_<column>_nonnegative."""
    return [CheckConstraint(f"{c} >= 0", name=f"{c}_nonnegative") for c in columns]


def _created_at() -> MappedColumn[Any]:
    return mapped_column(DateTime(timezone=True), server_default=func.now())


def _id() -> MappedColumn[Any]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4, server_default=UUID_DEFAULT)


# --- claims -------------------------------------------------------------------------------


class Claim(Base):
    """A health claim (cashless or reimbursement); partitioned by service_date, by year."""

    __tablename__ = "claim"
    __table_args__ = (
        _in("claim_type", CLAIM_TYPES),
        _in("service_type", SERVICE_TYPES),
        _in("status", CLAIM_STATUSES),
        CheckConstraint("discharge_date >= admission_date", name="discharge_after_admission"),
        *_nonnegative(
            "total_charged_amount",
            "total_approved_amount",
            "total_paid_amount",
            "member_responsibility",
        ),
        Index("idx_claim_member", "member_id"),
        Index("idx_claim_provider", "provider_id"),
        Index("idx_claim_status", "status"),
        Index("idx_claim_service_date", "service_date"),
        Index("idx_claim_submission_date", "submission_date"),
        Index("ix_claim_policy_id", "policy_id"),
        Index("ix_claim_claim_number", "claim_number"),
        {
            "schema": "claims",
            "postgresql_partition_by": "RANGE (service_date)",
            "comment": "Health claims, one row per claim; partitioned by service_date (yearly)",
        },
    )

    id: Mapped[uuid.UUID] = _id()
    claim_number: Mapped[str] = mapped_column(
        String(50), comment="Business claim number; unique across partitions via claim_registry"
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.member.id"))
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider.provider.id"))
    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("policy.policy.id"))
    claim_type: Mapped[str] = mapped_column(String(20), comment="cashless | reimbursement")
    service_type: Mapped[str] = mapped_column(
        String(20), comment="inpatient | outpatient | dental | optical"
    )
    admission_date: Mapped[date | None] = mapped_column(Date)
    discharge_date: Mapped[date | None] = mapped_column(Date)
    service_date: Mapped[date] = mapped_column(
        Date, primary_key=True, comment="Date of service; the partition key"
    )
    status: Mapped[str] = mapped_column(
        String(30), server_default=text("'submitted'"), comment="Claim lifecycle status"
    )
    submission_date: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    total_charged_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Sum of line charged amounts"
    )
    total_approved_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Sum of line approved amounts"
    )
    total_paid_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Sum of line paid amounts: what the plan pays"
    )
    member_responsibility: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Charged minus paid: what the member owes"
    )
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    created_by: Mapped[str | None] = mapped_column(String(100))
    updated_by: Mapped[str | None] = mapped_column(String(100))

    items: Mapped[list[ClaimItem]] = relationship(
        "polis.health.models.ClaimItem",
        primaryjoin=lambda: Claim.id == foreign(ClaimItem.claim_id),
        lazy="raise",
    )
    documents: Mapped[list[ClaimDocument]] = relationship(
        "polis.health.models.ClaimDocument",
        primaryjoin=lambda: Claim.id == foreign(ClaimDocument.claim_id),
        lazy="raise",
    )


class ClaimRegistry(Base):
    """One row per claim, kept by triggers on claims.claim: global uniqueness and FK target."""

    __tablename__ = "claim_registry"
    __table_args__ = (
        {
            "schema": "claims",
            "comment": "One row per claim (maintained by triggers): globally unique id and number",
        },
    )

    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, comment="claims.claim.id")
    claim_number: Mapped[str] = mapped_column(
        String(50), unique=True, comment="claims.claim.claim_number, unique across partitions"
    )
    service_date: Mapped[date] = mapped_column(
        Date, comment="claims.claim.service_date: locates the partition"
    )


class ClaimItem(Base):
    """A claim line: one benefit and service, with its adjudication result."""

    __tablename__ = "claim_item"
    __table_args__ = (
        _in("status", CLAIM_ITEM_STATUSES),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        *_nonnegative(
            "unit_price",
            "charged_amount",
            "approved_amount",
            "paid_amount",
            "deductible_amount",
            "coinsurance_amount",
            "copay_amount",
        ),
        CheckConstraint("line_number > 0", name="line_number_positive"),
        Index("ix_claim_item_claim_id", "claim_id"),
        Index("uq_claim_item_claim_line", "claim_id", "line_number", unique=True),
        {"schema": "claims", "comment": "Claim lines with charged and adjudicated amounts"},
    )

    id: Mapped[uuid.UUID] = _id()
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claim_registry.claim_id"))
    line_number: Mapped[int | None] = mapped_column(
        SmallInteger,
        comment="Position of the line in the submitted claim, from 1: the order lines are read in",
    )
    benefit_code: Mapped[str] = mapped_column(String(50), comment="benefit.plan_benefit code")
    service_code: Mapped[str | None] = mapped_column(String(50))
    diagnosis_code: Mapped[str | None] = mapped_column(String(20), comment="ICD-10 code")
    procedure_code: Mapped[str | None] = mapped_column(String(20))
    quantity: Mapped[int | None] = mapped_column(Integer, server_default=text("1"))
    unit_price: Mapped[Decimal | None] = mapped_column(MONEY)
    charged_amount: Mapped[Decimal] = mapped_column(MONEY, comment="Amount billed")
    approved_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Paid + deductible + copay + coinsurance"
    )
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY, comment="What the plan pays")
    deductible_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    coinsurance_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    copay_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    status: Mapped[str] = mapped_column(String(30), server_default=text("'pending'"))
    denial_reason: Mapped[str | None] = mapped_column(String(500))
    adjudication_trace: Mapped[list[dict[str, str]] | None] = mapped_column(
        JSONB,
        comment=(
            "Ordered rule steps of adjudication: [{code, message, amount_before, amount_after}]"
        ),
    )
    created_at: Mapped[datetime] = _created_at()


class ClaimDocument(Base):
    """A file attached to a claim (invoice, receipt, medical report)."""

    __tablename__ = "claim_document"
    __table_args__ = (
        *_nonnegative("file_size"),
        Index("ix_claim_document_claim_id", "claim_id"),
        {"schema": "claims", "comment": "Documents attached to claims (stored files)"},
    )

    id: Mapped[uuid.UUID] = _id()
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claim_registry.claim_id"))
    document_type: Mapped[str] = mapped_column(String(50))
    file_name: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(500), comment="Storage path of the file")
    file_size: Mapped[int | None] = mapped_column(Integer, comment="Bytes")
    mime_type: Mapped[str | None] = mapped_column(String(100))
    uploaded_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    uploaded_by: Mapped[str | None] = mapped_column(String(100))


class Authorization(Base):
    """A pre-authorisation (guarantee letter) for a member's treatment at a provider."""

    __tablename__ = "authorization"
    __table_args__ = (
        _in("status", AUTHORIZATION_STATUSES),
        CheckConstraint("valid_to >= valid_from", name="valid_period"),
        *_nonnegative("approved_amount", "approved_days", "requested_amount", "requested_days"),
        Index("ix_authorization_claim_id", "claim_id"),
        Index("ix_authorization_member_id", "member_id"),
        Index("ix_authorization_provider_id", "provider_id"),
        Index("ix_authorization_status_valid_to", "status", "valid_to"),
        {"schema": "claims", "comment": "Pre-authorisations: approved amount and days, validity"},
    )

    id: Mapped[uuid.UUID] = _id()
    authorization_number: Mapped[str] = mapped_column(String(50), unique=True)
    claim_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("claims.claim_registry.claim_id")
    )
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.member.id"))
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider.provider.id"))
    service_type: Mapped[str] = mapped_column(String(50))
    procedure_code: Mapped[str | None] = mapped_column(String(20))
    diagnosis_code: Mapped[str | None] = mapped_column(String(20))
    valid_from: Mapped[date] = mapped_column(Date)
    valid_to: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(30), server_default=text("'pending'"))
    requested_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Amount the provider asked to be guaranteed (IDR)"
    )
    requested_days: Mapped[int | None] = mapped_column(
        Integer, comment="Inpatient days the provider asked for"
    )
    approved_amount: Mapped[Decimal | None] = mapped_column(
        MONEY, comment="Cap on the allowed amount"
    )
    approved_days: Mapped[int | None] = mapped_column(Integer, comment="Cap on inpatient days")
    decision_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_by: Mapped[str | None] = mapped_column(String(100))
    decision_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = _created_at()


# --- member -------------------------------------------------------------------------------


class Member(Base):
    """An insured person (employee or dependant)."""

    __tablename__ = "member"
    __table_args__ = (
        _in("gender", GENDERS),
        _in("status", MEMBER_STATUSES),
        CheckConstraint("termination_date >= enrollment_date", name="termination_after_enrollment"),
        Index("idx_member_status", "status"),
        Index("ix_member_passport_number_hash", "passport_number_hash"),
        {"schema": "member", "comment": "Insured persons: identity, contact, enrolment status"},
    )

    id: Mapped[uuid.UUID] = _id()
    member_number: Mapped[str] = mapped_column(String(50), unique=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    birth_date: Mapped[date] = mapped_column(Date)
    gender: Mapped[str] = mapped_column(String(10), comment="male | female | other")
    national_id: Mapped[str | None] = mapped_column(
        String(50), comment="Masked NIK for display; the value is in national_id_encrypted"
    )
    passport_number: Mapped[str | None] = mapped_column(
        String(50), comment="Masked passport number; the value is in passport_number_encrypted"
    )
    national_id_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="AES-GCM ciphertext of the national id (application key)"
    )
    national_id_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, comment="Keyed hash (blind index) of the national id"
    )
    passport_number_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="AES-GCM ciphertext of the passport number"
    )
    passport_number_hash: Mapped[str | None] = mapped_column(
        String(64), comment="Keyed hash (blind index) of the passport number"
    )
    encryption_key_id: Mapped[str | None] = mapped_column(
        String(50), comment="Id of the key that encrypted this row's ciphertexts"
    )
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(50))
    address_line1: Mapped[str | None] = mapped_column(String(255))
    address_line2: Mapped[str | None] = mapped_column(String(255))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    enrollment_date: Mapped[date] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey("iam.users.id", ondelete="SET NULL"),
        unique=True,
        comment="The MEMBER login of this person (self-service)",
    )

    coverages: Mapped[list[MemberCoverage]] = relationship(
        "polis.health.models.MemberCoverage", lazy="raise"
    )


class MemberCoverage(Base):
    """A member's coverage under a policy and plan, for a period."""

    __tablename__ = "member_coverage"
    __table_args__ = (
        _in("relationship", RELATIONSHIPS),
        _in("status", MEMBER_STATUSES),
        CheckConstraint("coverage_end_date >= coverage_start_date", name="coverage_period"),
        Index("idx_member_coverage_member", "member_id"),
        Index("ix_member_coverage_policy_id", "policy_id"),
        Index("ix_member_coverage_plan_id", "plan_id"),
        {"schema": "member", "comment": "Coverage of a member under a policy and plan"},
    )

    id: Mapped[uuid.UUID] = _id()
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.member.id"))
    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("policy.policy.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("benefit.plan.id"))
    relationship: Mapped[str] = mapped_column(String(20), comment="employee | spouse | child")
    coverage_start_date: Mapped[date] = mapped_column(Date)
    coverage_end_date: Mapped[date | None] = mapped_column(Date)
    inner_limit_applicable: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("true"), comment="Per-benefit (inner) limits apply"
    )
    annual_cap_applicable: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("false"), comment="The plan's annual limit applies"
    )
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    created_at: Mapped[datetime] = _created_at()


class Accumulator(Base):
    """Usage of a limit by a member in a year: one row per benefit, plus a plan-level row."""

    __tablename__ = "accumulator"
    __table_args__ = (
        UniqueConstraint(
            "member_id", "plan_id", "benefit_code", "year", postgresql_nulls_not_distinct=True
        ),
        *_nonnegative(
            "limit_amount",
            "used_amount",
            "visit_limit",
            "visit_count",
            "deductible_limit",
            "deductible_met",
        ),
        Index("idx_accumulator_member", "member_id", "year"),
        Index("ix_accumulator_plan_id", "plan_id"),
        {
            "schema": "member",
            "comment": "Yearly usage per member, plan and benefit (NULL benefit: plan level)",
        },
    )

    id: Mapped[uuid.UUID] = _id()
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.member.id"))
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("benefit.plan.id"))
    benefit_code: Mapped[str | None] = mapped_column(
        String(50), comment="NULL for the plan-level row (annual and deductible totals)"
    )
    year: Mapped[int] = mapped_column(Integer)
    limit_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    used_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    remaining_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    visit_limit: Mapped[int | None] = mapped_column(Integer)
    visit_count: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    remaining_visits: Mapped[int | None] = mapped_column(Integer)
    deductible_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    deductible_met: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    last_updated: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )


# --- provider -----------------------------------------------------------------------------


class Provider(Base):
    """A healthcare provider (hospital, clinic, pharmacy, lab)."""

    __tablename__ = "provider"
    __table_args__ = (
        _in("provider_type", PROVIDER_TYPES),
        _in("provider_class", PROVIDER_CLASSES),
        _in("status", PROVIDER_STATUSES),
        CheckConstraint("contract_end_date >= contract_start_date", name="contract_period"),
        Index("idx_provider_status", "status"),
        Index("idx_provider_type", "provider_type"),
        {"schema": "provider", "comment": "Healthcare providers, network and banking details"},
    )

    id: Mapped[uuid.UUID] = _id()
    provider_code: Mapped[str] = mapped_column(String(50), unique=True)
    provider_name: Mapped[str] = mapped_column(String(255))
    provider_type: Mapped[str] = mapped_column(
        String(50), comment="hospital | clinic | pharmacy | lab"
    )
    provider_class: Mapped[str | None] = mapped_column(String(20), comment="A | B | C | D")
    is_network: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    address: Mapped[str | None] = mapped_column(String(500))
    city: Mapped[str | None] = mapped_column(String(100))
    province: Mapped[str | None] = mapped_column(String(100))
    phone: Mapped[str | None] = mapped_column(String(50))
    email: Mapped[str | None] = mapped_column(String(255))
    bank_name: Mapped[str | None] = mapped_column(String(100))
    bank_account: Mapped[str | None] = mapped_column(
        String(50), comment="Masked account number; the value is in bank_account_encrypted"
    )
    bank_account_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="AES-GCM ciphertext of the bank account number"
    )
    encryption_key_id: Mapped[str | None] = mapped_column(
        String(50), comment="Id of the key that encrypted bank_account_encrypted"
    )
    tax_id: Mapped[str | None] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    contract_start_date: Mapped[date | None] = mapped_column(Date)
    contract_end_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()

    contracts: Mapped[list[ProviderContract]] = relationship(
        "polis.health.models.ProviderContract", lazy="raise"
    )


class ProviderContract(Base):
    """A provider's contract terms: discount, payment method, claim types allowed."""

    __tablename__ = "provider_contract"
    __table_args__ = (
        _in("payment_method", CONTRACT_PAYMENT_METHODS),
        _in("status", CONTRACT_STATUSES),
        CheckConstraint("discount_percentage BETWEEN 0 AND 100", name="discount_percentage_range"),
        CheckConstraint("expiry_date >= effective_date", name="contract_period"),
        Index("ix_provider_contract_provider_id", "provider_id"),
        {"schema": "provider", "comment": "Provider contracts: discount and payment terms"},
    )

    id: Mapped[uuid.UUID] = _id()
    provider_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("provider.provider.id"))
    contract_number: Mapped[str] = mapped_column(String(50), unique=True)
    effective_date: Mapped[date] = mapped_column(Date)
    expiry_date: Mapped[date] = mapped_column(Date)
    payment_method: Mapped[str | None] = mapped_column(
        String(20), comment="fee_for_service | capitation"
    )
    discount_percentage: Mapped[Decimal | None] = mapped_column(
        PERCENT, comment="Discount on charged amounts, 0-100"
    )
    cashless_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    reimbursement_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    created_at: Mapped[datetime] = _created_at()


# --- benefit ------------------------------------------------------------------------------


class Plan(Base):
    """A benefit plan: limits, deductibles and out-of-pocket maxima."""

    __tablename__ = "plan"
    __table_args__ = (
        _in("plan_type", PLAN_TYPES),
        *_nonnegative(
            "annual_limit",
            "lifetime_limit",
            "individual_deductible",
            "family_deductible",
            "individual_oop_max",
            "family_oop_max",
        ),
        CheckConstraint("termination_date >= effective_date", name="plan_period"),
        {"schema": "benefit", "comment": "Benefit plans: annual and lifetime limits, deductibles"},
    )

    id: Mapped[uuid.UUID] = _id()
    plan_code: Mapped[str] = mapped_column(String(50), unique=True)
    plan_name: Mapped[str] = mapped_column(String(255))
    plan_type: Mapped[str] = mapped_column(String(50), comment="basic | standard | premium")
    annual_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    lifetime_limit: Mapped[Decimal | None] = mapped_column(MONEY)
    individual_deductible: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    family_deductible: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    individual_oop_max: Mapped[Decimal | None] = mapped_column(MONEY)
    family_oop_max: Mapped[Decimal | None] = mapped_column(MONEY)
    effective_date: Mapped[date] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()

    benefits: Mapped[list[PlanBenefit]] = relationship(
        "polis.health.models.PlanBenefit", lazy="raise"
    )


class PlanBenefit(Base):
    """One benefit of a plan: coverage, limits, cost sharing, authorisation rule."""

    __tablename__ = "plan_benefit"
    __table_args__ = (
        UniqueConstraint("plan_id", "benefit_code"),
        _in("coverage_type", COVERAGE_TYPES),
        _in("limit_type", LIMIT_TYPES),
        CheckConstraint(
            "coinsurance_percentage BETWEEN 0 AND 100", name="coinsurance_percentage_range"
        ),
        *_nonnegative(
            "limit_amount", "limit_days", "limit_visits", "copay_amount", "waiting_period_days"
        ),
        Index("idx_plan_benefit_plan", "plan_id"),
        Index("idx_plan_benefit_code", "benefit_code"),
        {"schema": "benefit", "comment": "Benefits of each plan: coverage, limits, cost sharing"},
    )

    id: Mapped[uuid.UUID] = _id()
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("benefit.plan.id"))
    benefit_code: Mapped[str] = mapped_column(String(50))
    benefit_name: Mapped[str] = mapped_column(String(255))
    benefit_category: Mapped[str] = mapped_column(String(50))
    coverage_type: Mapped[str | None] = mapped_column(
        String(20), server_default=text("'covered'"), comment="covered | not_covered | limited"
    )
    limit_type: Mapped[str | None] = mapped_column(
        String(20), comment="per_incident | per_day | per_year"
    )
    limit_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    limit_days: Mapped[int | None] = mapped_column(Integer)
    limit_visits: Mapped[int | None] = mapped_column(Integer)
    coinsurance_percentage: Mapped[Decimal | None] = mapped_column(
        PERCENT, server_default=text("0"), comment="Member's share after deductible, 0-100"
    )
    copay_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    requires_authorization: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("false")
    )
    waiting_period_days: Mapped[int | None] = mapped_column(
        Integer, server_default=text("0"), comment="Days from coverage start before it applies"
    )
    in_network_covered: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    out_network_covered: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    created_at: Mapped[datetime] = _created_at()


class Exclusion(Base):
    """An exclusion (diagnosis, procedure or condition), for one plan or all (NULL plan)."""

    __tablename__ = "exclusion"
    __table_args__ = (
        _in("exclusion_type", EXCLUSION_TYPES),
        CheckConstraint("termination_date >= effective_date", name="exclusion_period"),
        Index("ix_exclusion_plan_id", "plan_id"),
        {"schema": "benefit", "comment": "Exclusions by ICD-10 code, procedure or condition"},
    )

    id: Mapped[uuid.UUID] = _id()
    plan_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("benefit.plan.id"), comment="NULL: applies to every plan"
    )
    exclusion_code: Mapped[str] = mapped_column(String(50))
    exclusion_description: Mapped[str] = mapped_column(Text)
    exclusion_type: Mapped[str | None] = mapped_column(
        String(50), comment="diagnosis | procedure | condition"
    )
    icd_code: Mapped[str | None] = mapped_column(
        String(20), comment="ICD-10 code or category excluded"
    )
    effective_date: Mapped[date | None] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()


# --- policy -------------------------------------------------------------------------------


class Policy(Base):
    """A health policy (group or individual), its plan, period and funding."""

    __tablename__ = "policy"
    __table_args__ = (
        _in("policy_type", POLICY_TYPES),
        _in("funding_type", FUNDING_TYPES),
        _in("status", POLICY_STATUSES),
        CheckConstraint("renewal_date >= effective_date", name="renewal_after_effective"),
        CheckConstraint("termination_date >= effective_date", name="policy_period"),
        *_nonnegative("total_members", "total_premium", "aso_fund_balance", "buffer_fund_balance"),
        Index("ix_policy_plan_id", "plan_id"),
        {"schema": "policy", "comment": "Health policies: holder, plan, period, ASO funding"},
    )

    id: Mapped[uuid.UUID] = _id()
    policy_number: Mapped[str] = mapped_column(String(50), unique=True)
    company_name: Mapped[str | None] = mapped_column(String(255))
    company_id: Mapped[str | None] = mapped_column(String(50))
    policy_type: Mapped[str] = mapped_column(String(30), comment="group | individual")
    plan_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("benefit.plan.id"))
    effective_date: Mapped[date] = mapped_column(Date)
    renewal_date: Mapped[date] = mapped_column(Date)
    termination_date: Mapped[date | None] = mapped_column(Date)
    total_members: Mapped[int | None] = mapped_column(Integer, server_default=text("0"))
    total_premium: Mapped[Decimal | None] = mapped_column(MONEY)
    funding_type: Mapped[str | None] = mapped_column(
        String(20), comment="aso (self-funded, administered) | full_insured"
    )
    aso_fund_balance: Mapped[Decimal | None] = mapped_column(
        MONEY, server_default=text("0"), comment="ASO fund claims are paid from first"
    )
    buffer_fund_balance: Mapped[Decimal | None] = mapped_column(
        MONEY, server_default=text("0"), comment="Buffer fund used when the ASO fund is short"
    )
    status: Mapped[str] = mapped_column(String(20), server_default=text("'active'"))
    created_at: Mapped[datetime] = _created_at()


# --- billing ------------------------------------------------------------------------------


class Payment(Base):
    """A payment of a claim to a provider or a member."""

    __tablename__ = "payment"
    __table_args__ = (
        _in("payment_type", PAYMENT_TYPES),
        _in("payment_method", PAYMENT_METHODS),
        _in("payee_type", PAYEE_TYPES),
        _in("payment_status", PAYMENT_STATUSES),
        CheckConstraint("payment_amount > 0", name="payment_amount_positive"),
        Index("ix_payment_claim_id", "claim_id"),
        Index("ix_payment_payee_type_payee_id", "payee_type", "payee_id"),
        # At most one open payment per claim (migration 0010, decision 0028).
        Index(
            "uq_payment_claim_open",
            "claim_id",
            unique=True,
            postgresql_where=text("payment_status NOT IN ('failed', 'cancelled', 'reversed')"),
        ),
        {"schema": "billing", "comment": "Claim payments to providers and members"},
    )

    id: Mapped[uuid.UUID] = _id()
    payment_number: Mapped[str] = mapped_column(String(50), unique=True)
    claim_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("claims.claim_registry.claim_id")
    )
    payment_type: Mapped[str] = mapped_column(String(20), comment="claim | reimbursement")
    payment_method: Mapped[str] = mapped_column(String(20), comment="bank_transfer | check")
    payment_amount: Mapped[Decimal] = mapped_column(MONEY)
    payee_type: Mapped[str] = mapped_column(String(20), comment="provider | member")
    payee_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, comment="provider.provider.id or member.member.id, per payee_type"
    )
    bank_name: Mapped[str | None] = mapped_column(String(100))
    account_number: Mapped[str | None] = mapped_column(
        String(50), comment="Masked account number; the value is in account_number_encrypted"
    )
    account_number_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary, comment="AES-GCM ciphertext of the account number"
    )
    encryption_key_id: Mapped[str | None] = mapped_column(
        String(50), comment="Id of the key that encrypted account_number_encrypted"
    )
    reference_number: Mapped[str | None] = mapped_column(String(50))
    payment_status: Mapped[str] = mapped_column(String(20), server_default=text("'pending'"))
    payment_date: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = _created_at()


class Eob(Base):
    """An explanation of benefits sent to the member for a claim."""

    __tablename__ = "eob"
    __table_args__ = (
        *_nonnegative(
            "total_charged",
            "total_approved",
            "total_paid",
            "member_responsibility",
            "deductible_applied",
            "coinsurance_amount",
            "copay_amount",
        ),
        Index("ix_eob_claim_id", "claim_id"),
        Index("ix_eob_member_id", "member_id"),
        {"schema": "billing", "comment": "Explanations of benefits: the claim outcome per member"},
    )

    id: Mapped[uuid.UUID] = _id()
    eob_number: Mapped[str] = mapped_column(String(50), unique=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("claims.claim_registry.claim_id"))
    member_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("member.member.id"))
    service_date: Mapped[date] = mapped_column(Date)
    provider_name: Mapped[str | None] = mapped_column(String(255))
    total_charged: Mapped[Decimal | None] = mapped_column(MONEY)
    total_approved: Mapped[Decimal | None] = mapped_column(MONEY)
    total_paid: Mapped[Decimal | None] = mapped_column(MONEY)
    member_responsibility: Mapped[Decimal | None] = mapped_column(MONEY)
    deductible_applied: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    coinsurance_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    copay_amount: Mapped[Decimal | None] = mapped_column(MONEY, server_default=text("0"))
    generated_date: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    sent_date: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
