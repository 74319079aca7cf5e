"""Motor rate tables and quotes (migration 0011_motor_rate_tables, decision 0036).

Neither table is in seed 001: quotes are priced before a policy exists, and voluntary rates
are data (effective-dated versions), so a new version takes effect without a code change.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    Date,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import conv

from polis.db.base import Base
from polis.motor.models import _args, _ck, _created, _in, _pk, _tz


class RateTableVersion(Base):
    """One effective-dated version of the voluntary rate table."""

    __tablename__ = "rate_tables"
    __table_args__ = (
        _in("rate_tables", "table_code", "('VOLUNTARY')"),
        _ck("jsonb_typeof(data) = 'object'", "rate_tables_data_check"),
        _ck("effective_to IS NULL OR effective_to > effective_from", "chk_rate_tables_period"),
        UniqueConstraint("table_code", "version", name=conv("uq_rate_tables_version")),
        UniqueConstraint(
            "table_code", "effective_from", name=conv("uq_rate_tables_effective_from")
        ),
        _args("Effective-dated versions of the voluntary motor rate table (decision 0036)"),
    )

    id: Mapped[uuid.UUID] = _pk()
    table_code: Mapped[str] = mapped_column(String(30), server_default="VOLUNTARY")
    version: Mapped[str] = mapped_column(String(20))
    effective_from: Mapped[date] = mapped_column(
        Date, comment="First policy start date the version rates"
    )
    effective_to: Mapped[date | None] = mapped_column(
        Date, comment="First start date it no longer rates (NULL: until a later version)"
    )
    data: Mapped[dict[str, Any]] = mapped_column(
        JSONB, comment="Bands, factors, riders and discounts (polis.motor.rating.RateTable)"
    )
    description: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


class Quote(Base):
    """A priced CMI or voluntary quote, bindable until it expires."""

    __tablename__ = "quotes"
    __table_args__ = (
        _in("quotes", "policy_type", "('CMI', 'CLASS_1', 'CLASS_2', 'CLASS_3')"),
        _in("quotes", "coverage_option", "('STANDARD', 'PLUS')"),
        _in("quotes", "policy_period_months", "(6, 12, 24, 36)"),
        _ck("sum_insured > 0", "quotes_sum_insured_check"),
        _ck("no_claim_discount >= 0 AND no_claim_discount <= 50", "quotes_no_claim_discount_check"),
        _ck("base_premium > 0", "quotes_base_premium_check"),
        _ck("discounts >= 0", "quotes_discounts_check"),
        _ck("fees >= 0", "quotes_fees_check"),
        _ck("total_premium > 0", "quotes_total_premium_check"),
        _in("quotes", "status", "('QUOTED', 'BOUND', 'EXPIRED', 'WITHDRAWN')"),
        _ck("end_date > start_date", "chk_quote_dates"),
        _ck("total_premium = base_premium - discounts + fees", "chk_quote_premium_calculation"),
        _ck("policy_type = 'CMI' OR rate_table_id IS NOT NULL", "chk_quote_rate_table"),
        _ck("status <> 'BOUND' OR policy_id IS NOT NULL", "chk_quote_bound"),
        Index(
            "idx_quotes_customer", "customer_id", postgresql_where=text("customer_id IS NOT NULL")
        ),
        Index("idx_quotes_vehicle", "vehicle_id", postgresql_where=text("vehicle_id IS NOT NULL")),
        Index(
            "idx_quotes_rate_table",
            "rate_table_id",
            postgresql_where=text("rate_table_id IS NOT NULL"),
        ),
        Index("idx_quotes_policy", "policy_id", postgresql_where=text("policy_id IS NOT NULL")),
        Index("idx_quotes_open", "expires_at", postgresql_where=text("status = 'QUOTED'")),
        Index("idx_quotes_created_at", "created_at"),
        _args("Priced motor quotes, itemised as policies store premiums (decision 0036)"),
    )

    id: Mapped[uuid.UUID] = _pk()
    quote_number: Mapped[str] = mapped_column(String(50), unique=True)
    customer_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("motor.customers.id"))
    vehicle_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("motor.customer_vehicles.id")
    )
    policy_type: Mapped[str] = mapped_column(String(20))
    coverage_option: Mapped[str] = mapped_column(String(20), server_default="STANDARD")
    vehicle_class: Mapped[str] = mapped_column(
        String(10), comment="OIC CMI tariff code (1.10) or voluntary vehicle code (110)"
    )
    vehicle_facts: Mapped[dict[str, Any]] = mapped_column(JSONB)
    start_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date] = mapped_column(Date)
    policy_period_months: Mapped[int] = mapped_column(Integer, server_default="12")
    sum_insured: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    options: Mapped[dict[str, Any]] = mapped_column(JSONB, server_default="{}")
    no_claim_discount: Mapped[Decimal] = mapped_column(Numeric(5, 2), server_default="0")
    base_premium: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    discounts: Mapped[Decimal] = mapped_column(Numeric(12, 2), server_default="0")
    fees: Mapped[Decimal] = mapped_column(Numeric(12, 2), server_default="0")
    total_premium: Mapped[Decimal] = mapped_column(Numeric(12, 2))
    breakdown: Mapped[dict[str, Any]] = mapped_column(
        JSONB, comment="Factors, riders, discounts and fees that produced the total"
    )
    coverage_details: Mapped[dict[str, Any]] = mapped_column(JSONB)
    rate_table_id: Mapped[uuid.UUID | None] = mapped_column(
        Uuid, ForeignKey("motor.rate_tables.id")
    )
    rate_table_version: Mapped[str | None] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(20), server_default="QUOTED")
    policy_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, ForeignKey("motor.policies.id"))
    expires_at: Mapped[datetime] = mapped_column(_tz())
    created_at: Mapped[datetime | None] = _created()
    updated_at: Mapped[datetime | None] = _created()
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
