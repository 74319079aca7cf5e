"""Motor tables (seed 001 section 3, schema `motor`), mirroring migration 0005_motor.

CHECK names are the database's: the seed's where it names them, PostgreSQL's
`<table>_<column>_check` for inline ones (decision 0030). Sensitive ids are encrypted by the
application (decision 0032); payments are partitioned by month and referenced through
`payment_registry` (decision 0031).

Classes whose plain name a health model already uses (Policy, Claim, ClaimDocument, Payment)
carry a `Motor` prefix: one declarative registry resolves relationship names for both domains.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB, TSVECTOR
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import conv

from polis.db.base import Base

SCHEMA = "motor"
_ACTIVE = text("deleted_at IS NULL")
_CURRENCIES = "('THB', 'USD', 'EUR')"
_CHANNELS = "('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER', 'PAPER')"


def _tz() -> DateTime:
    return DateTime(timezone=True)


def _ck(sqltext: str, name: str) -> CheckConstraint:
    """A CHECK under its exact database name (bypassing the naming convention)."""
    return CheckConstraint(sqltext, name=conv(name))


def _in(table: str, column: str, values: str) -> CheckConstraint:
    """An inline `column IN (...)` CHECK, named as PostgreSQL names inline CHECKs."""
    return _ck(f"{column} IN {values}", f"{table}_{column}_check")


def _args(comment: str, **kw: Any) -> dict[str, Any]:
    return {"schema": SCHEMA, "comment": comment, **kw}


def _pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())


def _created() -> Mapped[datetime | None]:
    return mapped_column(_tz(), server_default=func.now())


class Customer(Base):
    """A motor customer (policyholder)."""

    __tablename__ = "customers"
    __table_args__ = (
        _in("customers", "gender", "('MALE', 'FEMALE', 'OTHER')"),
        _in("customers", "account_status", "('ACTIVE', 'INACTIVE', 'SUSPENDED', 'CLOSED')"),
        _in("customers", "kyc_status", "('PENDING', 'IN_PROGRESS', 'VERIFIED', 'REJECTED')"),
        _in("customers", "preferred_language", "('th', 'en')"),
        _ck("national_id_hash ~ '^[0-9a-f]{64}$'", "chk_customers_national_id_hash"),
        _ck(
            "(national_id_encrypted IS NULL AND national_id_hash IS NULL"
            " AND encryption_key_id IS NULL)"
            " OR (national_id_encrypted IS NOT NULL AND national_id_hash IS NOT NULL"
            " AND encryption_key_id IS NOT NULL)",
            "chk_customers_national_id_encryption",
        ),
        Index("idx_customers_email", "email", postgresql_where=_ACTIVE),
        Index("idx_customers_national_id", "national_id", postgresql_where=_ACTIVE),
        Index(
            "idx_customers_national_id_hash",
            "national_id_hash",
            unique=True,
            postgresql_where=_ACTIVE,
        ),
        Index("idx_customers_phone", "phone_number", postgresql_where=_ACTIVE),
        Index("idx_customers_status", "account_status", postgresql_where=_ACTIVE),
        Index("idx_customers_kyc_status", "kyc_status", postgresql_where=_ACTIVE),
        Index("idx_customers_created_at", "created_at"),
        Index(
            "idx_customers_address_gin",
            "address",
            postgresql_using="gin",
            postgresql_where=_ACTIVE,
        ),
        Index(
            "idx_customers_active",
            "id",
            postgresql_where=text("account_status = 'ACTIVE' AND deleted_at IS NULL"),
        ),
        _args("Customer master data with Thai-specific fields"),
    )

    id: Mapped[uuid.UUID] = _pk()
    email: Mapped[str] = mapped_column(String(255), unique=True)
    phone_number: Mapped[str | None] = mapped_column(String(20))
    national_id: Mapped[str | None] = mapped_column(
        String(13),
        comment=(
            "Thai national ID (13 digits): masked display value only, e.g. *********5635"
            " (decision 0032)"
        ),
    )
    national_id_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        comment=(
            "Thai national ID, AES-256-GCM ciphertext written by the application"
            " (kid$nonce||ciphertext)"
        ),
    )
    national_id_hash: Mapped[str | None] = mapped_column(
        String(64),
        comment=(
            "Blind index of the national ID: HMAC-SHA256 hex, unique among non-deleted customers"
        ),
    )
    encryption_key_id: Mapped[str | None] = mapped_column(
        String(50), comment="Id of the key national_id_encrypted is sealed under (key rotation)"
    )
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    first_name_en: Mapped[str | None] = mapped_column(String(100))
    last_name_en: Mapped[str | None] = mapped_column(String(100))
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    gender: Mapped[str | None] = mapped_column(String(10))
    address: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="Thai address in JSON format with tambon, amphoe, province"
    )
    account_status: Mapped[str | None] = mapped_column(String(20), server_default="ACTIVE")
    kyc_status: Mapped[str | None] = mapped_column(String(20), server_default="PENDING")
    preferred_language: Mapped[str | None] = mapped_column(String(5), server_default="th")
    marketing_consent: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    sms_notifications: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    email_notifications: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey("iam.users.id", ondelete="SET NULL"),
        unique=True,
        comment="The CUSTOMER login of this person (self-service)",
    )

    vehicles: Mapped[list[CustomerVehicle]] = relationship(back_populates="customer", lazy="raise")


class CustomerVehicle(Base):
    """A vehicle a customer owns and insures."""

    __tablename__ = "customer_vehicles"
    __table_args__ = (
        # now() in a CHECK: evaluated when a row is written only (decision 0030).
        _ck(
            "year_of_manufacture >= 1950 AND year_of_manufacture <= EXTRACT(YEAR FROM NOW()) + 1",
            "customer_vehicles_year_of_manufacture_check",
        ),
        _ck("engine_size > 0", "customer_vehicles_engine_size_check"),
        _in(
            "customer_vehicles",
            "vehicle_type",
            "('SEDAN', 'HATCHBACK', 'SUV', 'PICKUP', 'VAN', 'MOTORCYCLE')",
        ),
        _in(
            "customer_vehicles",
            "fuel_type",
            "('GASOLINE', 'DIESEL', 'HYBRID', 'ELECTRIC', 'LPG', 'CNG')",
        ),
        _in("customer_vehicles", "usage_type", "('PERSONAL', 'COMMERCIAL', 'TAXI', 'RENTAL')"),
        _ck("annual_mileage > 0", "customer_vehicles_annual_mileage_check"),
        _in(
            "customer_vehicles",
            "parking_location",
            "('GARAGE', 'COVERED', 'STREET', 'PARKING_LOT')",
        ),
        Index(
            "idx_customer_vehicles_registration",
            "registration_number",
            "province",
            unique=True,
            postgresql_where=_ACTIVE,
        ),
        Index("idx_customer_vehicles_customer", "customer_id", postgresql_where=_ACTIVE),
        Index("idx_customer_vehicles_make_model", "make", "model", postgresql_where=_ACTIVE),
        Index("idx_customer_vehicles_year", "year_of_manufacture", postgresql_where=_ACTIVE),
        Index("idx_customer_vehicles_active", "is_active", postgresql_where=_ACTIVE),
        _args("Customer-owned vehicles for insurance"),
    )

    id: Mapped[uuid.UUID] = _pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    registration_number: Mapped[str] = mapped_column(
        String(20), comment="Thai vehicle registration number"
    )
    province: Mapped[str] = mapped_column(
        String(100), comment="Province where vehicle is registered"
    )
    make: Mapped[str] = mapped_column(String(50))
    model: Mapped[str] = mapped_column(String(100))
    year_of_manufacture: Mapped[int] = mapped_column(Integer)
    engine_size: Mapped[Decimal | None] = mapped_column(Numeric(4, 1))
    vehicle_type: Mapped[str] = mapped_column(String(50))
    fuel_type: Mapped[str] = mapped_column(String(20))
    color: Mapped[str | None] = mapped_column(String(30))
    chassis_number: Mapped[str | None] = mapped_column(String(50))
    usage_type: Mapped[str | None] = mapped_column(String(20), server_default="PERSONAL")
    annual_mileage: Mapped[int | None] = mapped_column(Integer)
    parking_location: Mapped[str | None] = mapped_column(String(20))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    customer: Mapped[Customer] = relationship(back_populates="vehicles", lazy="raise")


class DltVerification(Base):
    """A registration and tax check of a vehicle at the Department of Land Transport."""

    __tablename__ = "dlt_verifications"
    __table_args__ = (
        Index("idx_dlt_verifications_vehicle", "vehicle_id"),
        Index("idx_dlt_verifications_date", "verification_date"),
        Index("idx_dlt_verifications_valid", "registration_valid"),
        _args("Vehicle verifications from Department of Land Transport"),
    )

    id: Mapped[uuid.UUID] = _pk()
    vehicle_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customer_vehicles.id"))
    verification_date: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    registration_valid: Mapped[bool] = mapped_column(Boolean)
    tax_paid: Mapped[bool] = mapped_column(Boolean)
    registration_expiry: Mapped[date | None] = mapped_column(Date)
    dlt_response: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    dlt_reference_number: Mapped[str | None] = mapped_column(String(50))
    verified_by: Mapped[str | None] = mapped_column(String(50), comment="system, agent, admin")
    verification_method: Mapped[str | None] = mapped_column(
        String(20), comment="api, manual, document"
    )
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class MotorPolicy(Base):
    """A CMI or voluntary (class 1/2/3) motor policy."""

    __tablename__ = "policies"
    __table_args__ = (
        _in("policies", "policy_type", "('CMI', 'CLASS_1', 'CLASS_2', 'CLASS_3')"),
        _ck("base_premium > 0", "policies_base_premium_check"),
        _ck("total_premium > 0", "policies_total_premium_check"),
        _in("policies", "policy_period_months", "(6, 12, 24, 36)"),
        _in("policies", "status", "('DRAFT', 'ACTIVE', 'EXPIRED', 'CANCELLED', 'SUSPENDED')"),
        _ck(
            "no_claim_discount >= 0 AND no_claim_discount <= 50",
            "policies_no_claim_discount_check",
        ),
        _in("policies", "payment_plan", "('FULL', 'INSTALLMENT_6', 'INSTALLMENT_12')"),
        _in("policies", "payment_frequency", "('ANNUAL', 'SEMI_ANNUAL', 'MONTHLY')"),
        _ck("end_date > start_date", "chk_policy_dates"),
        _ck(
            "total_premium = base_premium - COALESCE(discounts, 0) + COALESCE(fees, 0)",
            "chk_policy_premium_calculation",
        ),
        Index(
            "idx_policies_vehicle_active",
            "vehicle_id",
            unique=True,
            postgresql_where=text("status = 'ACTIVE' AND deleted_at IS NULL"),
        ),
        Index("idx_policies_customer", "customer_id", postgresql_where=_ACTIVE),
        Index("idx_policies_number", "policy_number", postgresql_where=_ACTIVE),
        Index("idx_policies_status", "status", postgresql_where=_ACTIVE),
        Index("idx_policies_dates", "start_date", "end_date", postgresql_where=_ACTIVE),
        Index(
            "idx_policies_expiry",
            "end_date",
            postgresql_where=text("status IN ('ACTIVE') AND deleted_at IS NULL"),
        ),
        Index(
            "idx_policies_renewal_lookup",
            "customer_id",
            "end_date",
            "status",
            postgresql_where=text("status = 'ACTIVE' AND deleted_at IS NULL"),
        ),
        Index(
            "idx_policies_coverage_gin",
            "coverage_details",
            postgresql_using="gin",
            postgresql_where=_ACTIVE,
        ),
        Index(
            "idx_policies_cmi",
            "id",
            postgresql_where=text("policy_type = 'CMI' AND deleted_at IS NULL"),
        ),
        Index(
            "idx_policies_voluntary",
            "id",
            postgresql_where=text(
                "policy_type IN ('CLASS_1', 'CLASS_2', 'CLASS_3') AND deleted_at IS NULL"
            ),
        ),
        Index(
            "idx_policies_customer_start_date",
            "customer_id",
            text("start_date DESC"),
            postgresql_where=_ACTIVE,
        ),
        Index(
            "idx_policies_previous",
            "previous_policy_id",
            postgresql_where=text("previous_policy_id IS NOT NULL"),
        ),
        Index("idx_policies_agent", "agent_id", postgresql_where=text("agent_id IS NOT NULL")),
        _args("Motor insurance policies"),
    )

    id: Mapped[uuid.UUID] = _pk()
    policy_number: Mapped[str] = mapped_column(String(50), unique=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    vehicle_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customer_vehicles.id"))
    agent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    policy_type: Mapped[str] = mapped_column(
        String(20),
        comment="CMI=Compulsory Motor Insurance, CLASS_1/2/3=Voluntary insurance classes",
    )
    coverage_details: Mapped[dict[str, Any]] = mapped_column(
        JSONB, comment="JSON structure containing coverage specifics per policy type"
    )
    base_premium: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    discounts: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), server_default="0")
    fees: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), server_default="0")
    total_premium: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    policy_period_months: Mapped[int] = mapped_column(Integer, server_default="12")
    status: Mapped[str | None] = mapped_column(String(20), server_default="ACTIVE")
    no_claim_discount: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), server_default="0")
    auto_renewal: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    previous_policy_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("motor.policies.id")
    )
    renewal_count: Mapped[int | None] = mapped_column(Integer, server_default="0")
    payment_plan: Mapped[str | None] = mapped_column(String(20), server_default="FULL")
    payment_frequency: Mapped[str | None] = mapped_column(String(20), server_default="ANNUAL")
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)

    customer: Mapped[Customer] = relationship(lazy="raise")
    vehicle: Mapped[CustomerVehicle] = relationship(lazy="raise")


class PolicyDocument(Base):
    """A generated policy document (schedule, certificate, endorsement, receipt)."""

    __tablename__ = "policy_documents"
    __table_args__ = (
        _in(
            "policy_documents",
            "document_type",
            "('POLICY', 'CERTIFICATE', 'SCHEDULE', 'ENDORSEMENT', 'RECEIPT')",
        ),
        _in("policy_documents", "language", "('th', 'en')"),
        Index("idx_policy_documents_policy", "policy_id"),
        Index("idx_policy_documents_type", "document_type"),
        Index("idx_policy_documents_generated", "generated_at"),
        _args("Generated policy documents and certificates"),
    )

    id: Mapped[uuid.UUID] = _pk()
    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    document_type: Mapped[str] = mapped_column(String(30))
    document_name: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(500))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    language: Mapped[str | None] = mapped_column(String(5), server_default="th")
    is_official: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    version_number: Mapped[int | None] = mapped_column(Integer, server_default="1")
    generated_at: Mapped[datetime | None] = _created()
    template_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    template_version: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class PolicyRenewal(Base):
    """The link from a policy to the policy that renewed it."""

    __tablename__ = "policy_renewals"
    __table_args__ = (
        _in("policy_renewals", "renewal_type", "('AUTOMATIC', 'MANUAL', 'EARLY')"),
        _in("policy_renewals", "initiated_by", "('CUSTOMER', 'AGENT', 'SYSTEM')"),
        _in("policy_renewals", "renewal_channel", "('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER')"),
        Index("idx_policy_renewals_original", "original_policy_id"),
        Index("idx_policy_renewals_renewed", "renewed_policy_id"),
        Index("idx_policy_renewals_date", "renewal_date"),
        _args("Policy renewal history and relationships"),
    )

    id: Mapped[uuid.UUID] = _pk()
    original_policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    renewed_policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    renewal_type: Mapped[str] = mapped_column(String(20))
    renewal_date: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    premium_change: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), server_default="0")
    coverage_changes: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    discount_change: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), server_default="0")
    initiated_by: Mapped[str | None] = mapped_column(String(20))
    renewal_channel: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


_CLAIM_STATUSES = (
    "('REPORTED', 'ASSIGNED', 'INVESTIGATING', 'ASSESSED', 'APPROVED', 'REJECTED', "
    "'SETTLED', 'CLOSED')"
)


class MotorClaim(Base):
    """A motor claim against a policy."""

    __tablename__ = "claims"
    __table_args__ = (
        _in(
            "claims",
            "claim_type",
            "('ACCIDENT', 'THEFT', 'FIRE', 'FLOOD', 'VANDALISM', 'NATURAL_DISASTER')",
        ),
        _in("claims", "status", _CLAIM_STATUSES),
        _ck(
            "(estimated_amount IS NULL OR estimated_amount >= 0) AND"
            " (assessed_amount IS NULL OR assessed_amount >= 0) AND"
            " (approved_amount IS NULL OR approved_amount >= 0) AND"
            " (settled_amount IS NULL OR settled_amount >= 0)",
            "chk_claim_amounts",
        ),
        _ck(
            "reported_date >= incident_date AND"
            " (assessment_date IS NULL OR assessment_date >= incident_date::date) AND"
            " (settlement_date IS NULL OR settlement_date >= incident_date::date)",
            "chk_claim_dates",
        ),
        Index("idx_claims_policy", "policy_id", postgresql_where=_ACTIVE),
        Index("idx_claims_number", "claim_number", postgresql_where=_ACTIVE),
        Index("idx_claims_status", "status", postgresql_where=_ACTIVE),
        Index("idx_claims_type", "claim_type", postgresql_where=_ACTIVE),
        Index("idx_claims_reported_date", "reported_date"),
        Index("idx_claims_incident_date", "incident_date"),
        Index("idx_claims_status_reported", "status", "reported_date", postgresql_where=_ACTIVE),
        Index(
            "idx_claims_adjuster_status",
            "adjuster_id",
            "status",
            postgresql_where=text("adjuster_id IS NOT NULL AND deleted_at IS NULL"),
        ),
        Index(
            "idx_claims_location_gin",
            "incident_location",
            postgresql_using="gin",
            postgresql_where=_ACTIVE,
        ),
        Index(
            "idx_claims_fraud_gin",
            "fraud_flags",
            postgresql_using="gin",
            postgresql_where=_ACTIVE,
        ),
        Index(
            "idx_claims_active",
            "id",
            postgresql_where=text(
                "status IN ('REPORTED', 'ASSIGNED', 'INVESTIGATING', 'ASSESSED', 'APPROVED')"
                " AND deleted_at IS NULL"
            ),
        ),
        Index(
            "idx_claims_surveyor", "surveyor_id", postgresql_where=text("surveyor_id IS NOT NULL")
        ),
        # Thai-segmented full-text search (migration 0016, decision 0053).
        Index(
            "idx_claims_search", "search_vector", postgresql_using="gin", postgresql_where=_ACTIVE
        ),
        _args("Motor insurance claims"),
    )

    id: Mapped[uuid.UUID] = _pk()
    claim_number: Mapped[str] = mapped_column(String(50), unique=True)
    policy_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    adjuster_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    surveyor_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    incident_date: Mapped[datetime] = mapped_column(_tz())
    reported_date: Mapped[datetime | None] = _created()
    claim_type: Mapped[str] = mapped_column(String(30))
    status: Mapped[str | None] = mapped_column(String(20), server_default="REPORTED")
    sub_status: Mapped[str | None] = mapped_column(String(30))
    incident_description: Mapped[str] = mapped_column(Text)
    damage_description: Mapped[str | None] = mapped_column(Text)
    injury_description: Mapped[str | None] = mapped_column(Text)
    incident_location: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="JSON with lat/lng and Thai address"
    )
    estimated_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    assessed_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    approved_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    settled_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    deductible_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    assessment_date: Mapped[date | None] = mapped_column(Date)
    approval_date: Mapped[date | None] = mapped_column(Date)
    settlement_date: Mapped[date | None] = mapped_column(Date)
    closure_date: Mapped[date | None] = mapped_column(Date)
    police_report_number: Mapped[str | None] = mapped_column(String(50))
    court_case_number: Mapped[str | None] = mapped_column(String(50))
    other_party_info: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="Details of other party in accidents"
    )
    fraud_score: Mapped[Decimal | None] = mapped_column(Numeric(5, 2), server_default="0")
    fraud_flags: Mapped[list[Any] | None] = mapped_column(
        JSONB, comment="JSON array of fraud detection flags"
    )
    requires_investigation: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("false")
    )
    repair_shop_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    hospital_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Derived by polis.motor.claim_search (decision 0053); deferred: never loaded by default.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)
    ncd_effect: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB,
        comment="The claim's effect on the policy's next no-claim discount, recorded at settlement",
    )

    policy: Mapped[MotorPolicy] = relationship(lazy="raise")


class MotorClaimDocument(Base):
    """A file uploaded for a claim (photos, reports, estimates, invoices)."""

    __tablename__ = "claim_documents"
    __table_args__ = (
        _in(
            "claim_documents",
            "document_type",
            "('PHOTO', 'VIDEO', 'POLICE_REPORT', 'MEDICAL_REPORT', 'ESTIMATE', 'INVOICE', "
            "'RECEIPT', 'OTHER')",
        ),
        _in(
            "claim_documents",
            "document_category",
            "('DAMAGE', 'SCENE', 'MEDICAL', 'LEGAL', 'FINANCIAL')",
        ),
        _in("claim_documents", "upload_status", "('PENDING', 'PROCESSED', 'APPROVED', 'REJECTED')"),
        Index("idx_claim_documents_claim", "claim_id"),
        Index("idx_claim_documents_type", "document_type"),
        Index("idx_claim_documents_category", "document_category"),
        Index("idx_claim_documents_status", "upload_status"),
        Index("idx_claim_documents_uploaded", "uploaded_at"),
        Index(
            "idx_claim_documents_text",
            text("to_tsvector('english', extracted_text)"),
            postgresql_using="gin",
        ),
        Index("idx_claim_documents_search", "search_vector", postgresql_using="gin"),
        _args("Documents uploaded for claims processing"),
    )

    id: Mapped[uuid.UUID] = _pk()
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.claims.id"))
    document_type: Mapped[str] = mapped_column(String(30))
    document_category: Mapped[str | None] = mapped_column(String(20))
    original_filename: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(500))
    file_size: Mapped[int | None] = mapped_column(BigInteger)
    mime_type: Mapped[str | None] = mapped_column(String(100))
    description: Mapped[str | None] = mapped_column(Text)
    is_sensitive: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    is_required: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    upload_status: Mapped[str | None] = mapped_column(String(20), server_default="PENDING")
    review_notes: Mapped[str | None] = mapped_column(Text)
    extracted_text: Mapped[str | None] = mapped_column(Text)
    extracted_data: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    uploaded_at: Mapped[datetime | None] = _created()
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    reviewed_at: Mapped[datetime | None] = mapped_column(_tz())
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    # Derived by polis.motor.claim_search (decision 0053); deferred: never loaded by default.
    search_vector: Mapped[str | None] = mapped_column(TSVECTOR, deferred=True)


class ClaimAssessment(Base):
    """A surveyor's or adjuster's assessment of a claim."""

    __tablename__ = "claim_assessments"
    __table_args__ = (
        _in("claim_assessments", "assessor_type", "('SURVEYOR', 'ADJUSTER', 'SPECIALIST')"),
        _in(
            "claim_assessments",
            "assessment_type",
            "('INITIAL', 'DETAILED', 'RE_ASSESSMENT', 'FINAL')",
        ),
        _ck(
            "liability_percentage >= 0 AND liability_percentage <= 100",
            "claim_assessments_liability_percentage_check",
        ),
        _in(
            "claim_assessments",
            "recommended_action",
            "('APPROVE', 'REJECT', 'INVESTIGATE', 'REQUEST_MORE_INFO')",
        ),
        Index("idx_claim_assessments_claim", "claim_id"),
        Index("idx_claim_assessments_assessor", "assessor_id"),
        Index("idx_claim_assessments_date", "assessment_date"),
        Index("idx_claim_assessments_type", "assessment_type"),
        Index(
            "idx_claim_assessments_qa_reviewer",
            "qa_reviewer_id",
            postgresql_where=text("qa_reviewer_id IS NOT NULL"),
        ),
        _args("Professional assessments of claims"),
    )

    id: Mapped[uuid.UUID] = _pk()
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.claims.id"))
    assessor_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    assessor_type: Mapped[str] = mapped_column(String(20))
    assessment_date: Mapped[datetime] = mapped_column(_tz())
    assessment_type: Mapped[str] = mapped_column(String(20))
    damage_assessment: Mapped[dict[str, Any]] = mapped_column(JSONB)
    repair_estimates: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    total_loss_assessment: Mapped[bool | None] = mapped_column(
        Boolean, server_default=text("false")
    )
    salvage_value: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    liability_percentage: Mapped[Decimal | None] = mapped_column(Numeric(5, 2))
    contributing_factors: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    recommended_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    recommended_action: Mapped[str | None] = mapped_column(String(30))
    assessment_notes: Mapped[str | None] = mapped_column(Text)
    qa_reviewed: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    qa_reviewer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    qa_notes: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="1")


_PAYMENT_METHODS = (
    "('CREDIT_CARD', 'DEBIT_CARD', 'BANK_TRANSFER', 'PROMPTPAY', 'TRUEMONEY', "
    "'RABBIT_LINE_PAY', 'K_PLUS', 'CASH')"
)
_PAYMENT_STATUSES = (
    "('PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'PARTIAL_REFUND')"
)


class MotorPayment(Base):
    """A money movement: premium, instalment, claim settlement, refund or fee.

    Partitioned by month on created_at; (id, created_at) is the primary key and
    `payment_registry` keeps ids globally unique (decision 0031).
    """

    __tablename__ = "payments"
    __table_args__ = (
        _in(
            "payments",
            "payment_type",
            "('PREMIUM', 'INSTALLMENT', 'CLAIM_SETTLEMENT', 'REFUND', 'FEE')",
        ),
        _in("payments", "payment_direction", "('INCOMING', 'OUTGOING')"),
        _ck("amount > 0", "payments_amount_check"),
        _in("payments", "currency", _CURRENCIES),
        _ck("total_amount > 0", "payments_total_amount_check"),
        _in("payments", "payment_method", _PAYMENT_METHODS),
        _in(
            "payments",
            "payment_channel",
            "('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER', 'BANK', 'ATM')",
        ),
        _in("payments", "payment_status", _PAYMENT_STATUSES),
        _in("payments", "reconciliation_status", "('PENDING', 'MATCHED', 'UNMATCHED', 'DISPUTED')"),
        _ck("total_amount = amount + COALESCE(fees, 0)", "chk_payment_amounts"),
        _ck(
            "(installment_number IS NULL AND total_installments IS NULL) OR"
            " (installment_number > 0 AND total_installments > 0"
            " AND installment_number <= total_installments)",
            "chk_payment_installments",
        ),
        _ck(
            "(installment_number IS NULL) = (total_installments IS NULL)",
            "chk_payment_installments_pair",
        ),
        Index("idx_payments_customer", "customer_id"),
        Index("idx_payments_policy", "policy_id"),
        Index("idx_payments_claim", "claim_id"),
        Index("idx_payments_status", "payment_status"),
        Index("idx_payments_method", "payment_method"),
        Index("idx_payments_date", "payment_date"),
        Index("idx_payments_due_date", "due_date"),
        Index("idx_payments_reference", "transaction_reference"),
        Index("idx_payments_customer_status", "customer_id", "payment_status"),
        Index(
            "idx_payments_due_status",
            "due_date",
            "payment_status",
            postgresql_where=text("due_date IS NOT NULL"),
        ),
        Index("idx_payments_reconciliation", "reconciliation_status", "processed_at"),
        Index(
            "idx_payments_pending",
            "id",
            postgresql_where=text("payment_status IN ('PENDING', 'PROCESSING')"),
        ),
        _args(
            "All payment transactions including premiums and claim settlements",
            postgresql_partition_by="RANGE (created_at)",
        ),
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    claim_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("motor.claims.id"))
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    payment_type: Mapped[str] = mapped_column(String(20))
    payment_direction: Mapped[str] = mapped_column(String(10), server_default="INCOMING")
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3), server_default="THB")
    fees: Mapped[Decimal | None] = mapped_column(Numeric(12, 2), server_default="0")
    total_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    payment_method: Mapped[str] = mapped_column(String(30))
    payment_channel: Mapped[str | None] = mapped_column(String(20))
    payment_status: Mapped[str | None] = mapped_column(String(20), server_default="PENDING")
    transaction_reference: Mapped[str | None] = mapped_column(String(100))
    gateway_transaction_id: Mapped[str | None] = mapped_column(String(100))
    authorization_code: Mapped[str | None] = mapped_column(String(50))
    payment_date: Mapped[datetime | None] = mapped_column(_tz())
    due_date: Mapped[date | None] = mapped_column(Date)
    processed_at: Mapped[datetime | None] = mapped_column(_tz())
    installment_number: Mapped[int | None] = mapped_column(Integer)
    total_installments: Mapped[int | None] = mapped_column(Integer)
    gateway_provider: Mapped[str | None] = mapped_column(String(50))
    gateway_response: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="Full gateway response for debugging"
    )
    card_last_four: Mapped[str | None] = mapped_column(String(4))
    card_type: Mapped[str | None] = mapped_column(String(20))
    card_token: Mapped[str | None] = mapped_column(
        String(255),
        comment="Gateway card token, encrypted by the application: kid$base64(nonce||ciphertext)",
    )
    bank_code: Mapped[str | None] = mapped_column(String(10))
    bank_account_number: Mapped[str | None] = mapped_column(
        String(50), comment="Masked bank account number (display only)"
    )
    bank_account_number_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        comment="Bank account number, AES-256-GCM ciphertext written by the application",
    )
    reconciliation_status: Mapped[str | None] = mapped_column(String(20), server_default="PENDING")
    reconciled_at: Mapped[datetime | None] = mapped_column(_tz())
    created_at: Mapped[datetime] = mapped_column(
        _tz(),
        primary_key=True,
        server_default=func.now(),
        comment="Partition key (monthly); immutable",
    )
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")


class PaymentRegistry(Base):
    """Every payment id once: maintained by triggers on motor.payments (decision 0031)."""

    __tablename__ = "payment_registry"
    __table_args__ = (
        _args(
            "Every payment id once (global uniqueness across partitions;"
            " FK target for payment references)"
        ),
    )

    payment_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(
        _tz(), comment="The payment's created_at: the partition holding it"
    )


class PaymentReceipt(Base):
    """A receipt or tax invoice for a payment."""

    __tablename__ = "payment_receipts"
    __table_args__ = (
        _in("payment_receipts", "receipt_type", "('PAYMENT', 'TAX_INVOICE', 'RECEIPT')"),
        _in("payment_receipts", "language", "('th', 'en')"),
        _in("payment_receipts", "delivery_method", "('EMAIL', 'SMS', 'POSTAL', 'DOWNLOAD')"),
        Index("idx_payment_receipts_payment", "payment_id"),
        Index("idx_payment_receipts_number", "receipt_number"),
        Index("idx_payment_receipts_type", "receipt_type"),
        Index("idx_payment_receipts_issued", "issued_date"),
        _args("Payment receipts and tax invoices"),
    )

    id: Mapped[uuid.UUID] = _pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("motor.payment_registry.payment_id")
    )
    receipt_number: Mapped[str] = mapped_column(String(50), unique=True)
    receipt_type: Mapped[str] = mapped_column(String(20))
    file_path: Mapped[str | None] = mapped_column(String(500))
    file_format: Mapped[str | None] = mapped_column(String(10), server_default="PDF")
    tax_invoice_number: Mapped[str | None] = mapped_column(String(50))
    vat_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    withholding_tax: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    issued_date: Mapped[date] = mapped_column(Date, server_default=func.current_date())
    issued_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    language: Mapped[str | None] = mapped_column(String(5), server_default="th")
    delivery_method: Mapped[str | None] = mapped_column(String(20))
    delivered_at: Mapped[datetime | None] = mapped_column(_tz())
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


# --- The four tables the seed's diagram names without DDL (decision 0033). ---------------


class CustomerDocument(Base):
    """An identity or vehicle document of a customer (KYC)."""

    __tablename__ = "customer_documents"
    __table_args__ = (
        _in(
            "customer_documents",
            "document_type",
            "('ID_CARD', 'DRIVING_LICENSE', 'VEHICLE_REGISTRATION', 'HOUSE_REGISTRATION',"
            " 'PASSPORT', 'OTHER')",
        ),
        _ck("file_size > 0", "customer_documents_file_size_check"),
        _ck("sha256 ~ '^[0-9a-f]{64}$'", "customer_documents_sha256_check"),
        _in(
            "customer_documents",
            "verification_status",
            "('PENDING', 'VERIFIED', 'REJECTED', 'EXPIRED')",
        ),
        _ck(
            "expiry_date IS NULL OR issue_date IS NULL OR expiry_date >= issue_date",
            "chk_customer_documents_dates",
        ),
        _ck(
            "verification_status NOT IN ('VERIFIED', 'REJECTED')"
            " OR (verified_by IS NOT NULL AND verified_at IS NOT NULL)",
            "chk_customer_documents_review",
        ),
        _ck(
            "verification_status <> 'REJECTED' OR rejection_reason IS NOT NULL",
            "chk_customer_documents_rejection",
        ),
        Index("idx_customer_documents_customer", "customer_id", postgresql_where=_ACTIVE),
        Index(
            "idx_customer_documents_vehicle",
            "vehicle_id",
            postgresql_where=text("vehicle_id IS NOT NULL"),
        ),
        Index("idx_customer_documents_type", "document_type"),
        Index("idx_customer_documents_status", "verification_status", postgresql_where=_ACTIVE),
        Index(
            "idx_customer_documents_verified_by",
            "verified_by",
            postgresql_where=text("verified_by IS NOT NULL"),
        ),
        Index(
            "idx_customer_documents_uploaded_by",
            "uploaded_by",
            postgresql_where=text("uploaded_by IS NOT NULL"),
        ),
        Index("idx_customer_documents_sha256", "sha256"),
        _args("Identity and vehicle documents uploaded by or for a customer (KYC)"),
    )

    id: Mapped[uuid.UUID] = _pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid,
        ForeignKey("motor.customer_vehicles.id"),
        comment="The vehicle a registration book belongs to",
    )
    document_type: Mapped[str] = mapped_column(String(30))
    document_number: Mapped[str | None] = mapped_column(
        String(50), comment="Masked document number (display only)"
    )
    document_number_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        comment=(
            "Document number (passport, licence...), AES-256-GCM ciphertext written by the"
            " application"
        ),
    )
    issue_date: Mapped[date | None] = mapped_column(Date)
    expiry_date: Mapped[date | None] = mapped_column(Date)
    original_filename: Mapped[str] = mapped_column(String(255))
    file_path: Mapped[str] = mapped_column(String(500))
    file_size: Mapped[int] = mapped_column(BigInteger)
    mime_type: Mapped[str] = mapped_column(String(100))
    sha256: Mapped[str] = mapped_column(
        String(64), comment="SHA-256 hex of the stored file (integrity, duplicate detection)"
    )
    verification_status: Mapped[str] = mapped_column(String(20), server_default="PENDING")
    verified_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    verified_at: Mapped[datetime | None] = mapped_column(_tz())
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    is_sensitive: Mapped[bool] = mapped_column(
        Boolean,
        server_default=text("true"),
        comment="Restricted to KYC staff; never shown in listings",
    )
    uploaded_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    uploaded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ConsentRecord(Base):
    """One PDPA consent decision (grant or refusal); the latest per type is current."""

    __tablename__ = "consent_records"
    __table_args__ = (
        _in(
            "consent_records",
            "consent_type",
            "('MARKETING', 'SMS', 'EMAIL', 'PHONE', 'DATA_SHARING', 'PROFILING',"
            " 'SENSITIVE_DATA', 'CROSS_BORDER_TRANSFER', 'PRIVACY_NOTICE')",
        ),
        _in("consent_records", "channel", _CHANNELS),
        _in("consent_records", "withdrawal_channel", _CHANNELS),
        _ck(
            "(withdrawn_at IS NULL AND withdrawal_channel IS NULL)"
            " OR (granted AND withdrawn_at IS NOT NULL AND withdrawal_channel IS NOT NULL"
            " AND withdrawn_at >= granted_at)",
            "chk_consent_withdrawal",
        ),
        Index(
            "idx_consent_records_customer",
            "customer_id",
            "consent_type",
            text("granted_at DESC"),
        ),
        Index(
            "idx_consent_records_type_active",
            "consent_type",
            postgresql_where=text("granted AND withdrawn_at IS NULL"),
        ),
        Index(
            "idx_consent_records_recorded_by",
            "recorded_by",
            postgresql_where=text("recorded_by IS NOT NULL"),
        ),
        _args("PDPA consent decisions, one row per decision (the latest per type is current)"),
    )

    id: Mapped[uuid.UUID] = _pk()
    customer_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    consent_type: Mapped[str] = mapped_column(String(30))
    purpose: Mapped[str] = mapped_column(Text)
    granted: Mapped[bool] = mapped_column(Boolean, comment="TRUE = consent given, FALSE = refused")
    channel: Mapped[str] = mapped_column(String(20))
    consent_text_version: Mapped[str] = mapped_column(
        String(20), comment="Version of the consent / privacy notice text shown"
    )
    granted_at: Mapped[datetime] = mapped_column(
        _tz(),
        server_default=func.now(),
        comment="When the decision (grant or refusal) was made",
    )
    withdrawn_at: Mapped[datetime | None] = mapped_column(_tz())
    withdrawal_channel: Mapped[str | None] = mapped_column(String(20))
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB, comment="Proof of the decision: form id, recording reference, signature file"
    )
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class PaymentTransaction(Base):
    """One gateway or bank event of a payment (request, confirmation, webhook, refund)."""

    __tablename__ = "payment_transactions"
    __table_args__ = (
        _in(
            "payment_transactions",
            "transaction_type",
            "('AUTHORIZE', 'CAPTURE', 'CONFIRM', 'REFUND', 'REVERSAL', 'WEBHOOK')",
        ),
        _ck("amount >= 0", "payment_transactions_amount_check"),
        _in("payment_transactions", "currency", _CURRENCIES),
        _in("payment_transactions", "status", "('PENDING', 'SUCCESS', 'FAILED', 'TIMEOUT')"),
        UniqueConstraint("gateway_provider", "gateway_reference"),
        Index("idx_payment_transactions_payment", "payment_id", "occurred_at"),
        Index("idx_payment_transactions_occurred", "occurred_at"),
        Index(
            "idx_payment_transactions_pending", "id", postgresql_where=text("status = 'PENDING'")
        ),
        _args("Each gateway or bank event of a payment (requests, confirmations, webhooks)"),
    )

    id: Mapped[uuid.UUID] = _pk()
    payment_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("motor.payment_registry.payment_id")
    )
    transaction_type: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    currency: Mapped[str | None] = mapped_column(String(3), server_default="THB")
    status: Mapped[str] = mapped_column(String(20))
    gateway_provider: Mapped[str] = mapped_column(String(50))
    gateway_reference: Mapped[str | None] = mapped_column(
        String(100),
        comment="The gateway's own id of the event, unique per gateway (replays are refused)",
    )
    idempotency_key: Mapped[str | None] = mapped_column(
        String(100),
        unique=True,
        comment="Key we sent (or received) so that a retry is never applied twice",
    )
    request_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_payload: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    response_code: Mapped[str | None] = mapped_column(String(50))
    response_message: Mapped[str | None] = mapped_column(Text)
    signature_valid: Mapped[bool | None] = mapped_column(
        Boolean, comment="Gateway signature check: TRUE valid, FALSE invalid, NULL not signed"
    )
    occurred_at: Mapped[datetime] = mapped_column(
        _tz(), server_default=func.now(), comment="When the gateway says the event happened"
    )
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class ClaimSettlement(Base):
    """What a claim pays to one payee, and the payment that carried it."""

    __tablename__ = "claim_settlements"
    __table_args__ = (
        _in(
            "claim_settlements",
            "payee_type",
            "('CUSTOMER', 'REPAIR_SHOP', 'HOSPITAL', 'THIRD_PARTY')",
        ),
        _ck("gross_amount > 0", "claim_settlements_gross_amount_check"),
        _ck("deductible_amount >= 0", "claim_settlements_deductible_amount_check"),
        _ck("net_amount >= 0", "claim_settlements_net_amount_check"),
        _in("claim_settlements", "currency", _CURRENCIES),
        _in(
            "claim_settlements",
            "settlement_method",
            "('BANK_TRANSFER', 'PROMPTPAY', 'CHEQUE', 'CASH')",
        ),
        _in("claim_settlements", "status", "('PENDING', 'APPROVED', 'PAID', 'CANCELLED')"),
        _in(
            "claim_settlements",
            "head_of_loss",
            "('OWN_DAMAGE', 'THIRD_PARTY_PROPERTY', 'BODILY_INJURY')",
        ),
        _ck("net_amount = gross_amount - deductible_amount", "chk_settlement_amounts"),
        _ck(
            "status NOT IN ('APPROVED', 'PAID')"
            " OR (approved_by IS NOT NULL AND approved_at IS NOT NULL)",
            "chk_settlement_approval",
        ),
        _ck(
            "status <> 'PAID' OR (paid_at IS NOT NULL AND payment_id IS NOT NULL)",
            "chk_settlement_paid",
        ),
        _ck("status <> 'CANCELLED' OR cancelled_at IS NOT NULL", "chk_settlement_cancelled"),
        Index("idx_claim_settlements_claim", "claim_id"),
        Index(
            "idx_claim_settlements_payment",
            "payment_id",
            postgresql_where=text("payment_id IS NOT NULL"),
        ),
        Index("idx_claim_settlements_status", "status"),
        Index(
            "idx_claim_settlements_approved_by",
            "approved_by",
            postgresql_where=text("approved_by IS NOT NULL"),
        ),
        _args("Amounts a claim pays out, per payee, and the payment that carried each"),
    )

    id: Mapped[uuid.UUID] = _pk()
    settlement_number: Mapped[str] = mapped_column(String(50), unique=True)
    claim_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("motor.claims.id"))
    payee_type: Mapped[str] = mapped_column(String(20))
    payee_name: Mapped[str] = mapped_column(String(255))
    payee_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, comment="Customer, repair shop, hospital or third party id (by payee_type)"
    )
    gross_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    deductible_amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), server_default="0")
    net_amount: Mapped[Decimal] = mapped_column(
        Numeric(12, 2), comment="gross_amount - deductible_amount (CHECK)"
    )
    currency: Mapped[str | None] = mapped_column(String(3), server_default="THB")
    settlement_method: Mapped[str] = mapped_column(String(20))
    payment_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("motor.payment_registry.payment_id")
    )
    status: Mapped[str] = mapped_column(String(20), server_default="PENDING")
    approved_by: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    approved_at: Mapped[datetime | None] = mapped_column(_tz())
    paid_at: Mapped[datetime | None] = mapped_column(_tz())
    cancelled_at: Mapped[datetime | None] = mapped_column(_tz())
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    bank_code: Mapped[str | None] = mapped_column(String(10))
    bank_account_name: Mapped[str | None] = mapped_column(String(255))
    bank_account_number: Mapped[str | None] = mapped_column(
        String(50), comment="Masked bank account number (display only)"
    )
    bank_account_number_encrypted: Mapped[bytes | None] = mapped_column(
        LargeBinary,
        comment="Bank account number, AES-256-GCM ciphertext written by the application",
    )
    notes: Mapped[str | None] = mapped_column(Text)
    head_of_loss: Mapped[str | None] = mapped_column(
        String(30),
        comment="Head of loss the row pays: the deductible falls on OWN_DAMAGE, the CMI limits"
        " on BODILY_INJURY",
    )
    loss_details: Mapped[dict[str, Any] | None] = mapped_column(
        JSONB,
        comment="CMI breakdown of a bodily-injury row: stage, injured person, medical, death"
        " or disability, inpatient days",
    )
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
