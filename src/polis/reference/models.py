"""Reference data (seed 001 "System and Reference Data Schema"): Thai geography, configuration."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from polis.db.base import Base

REGIONS = ("CENTRAL", "NORTH", "NORTHEAST", "SOUTH", "EAST", "WEST")
CONFIG_TYPES = ("STRING", "INTEGER", "DECIMAL", "BOOLEAN", "JSON")
ENVIRONMENTS = ("ALL", "DEVELOPMENT", "STAGING", "PRODUCTION")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Province(Base):
    """A changwat, keyed by its 2-digit DOPA code."""

    __tablename__ = "provinces"
    __table_args__ = (
        CheckConstraint(_in("region", REGIONS), name="region"),
        {"schema": "ref", "comment": "Thai provinces master data"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    province_code: Mapped[str] = mapped_column(
        String(2), unique=True, comment="DOPA province code, 2 digits"
    )
    name_th: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    region: Mapped[str] = mapped_column(String(20))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))

    amphoes: Mapped[list[Amphoe]] = relationship(back_populates="province", lazy="raise")


class Amphoe(Base):
    """An amphoe (khet in Bangkok), keyed by its 4-digit DOPA code."""

    __tablename__ = "amphoes"
    __table_args__ = (
        Index("idx_amphoes_province", "province_id"),
        {"schema": "ref", "comment": "Thai districts (amphoe) master data"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    amphoe_code: Mapped[str] = mapped_column(
        String(4),
        unique=True,
        comment="DOPA district code, 4 digits, starts with the province code",
    )
    province_id: Mapped[int] = mapped_column(ForeignKey("ref.provinces.id"))
    name_th: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))

    province: Mapped[Province] = relationship(back_populates="amphoes", lazy="raise")
    tambons: Mapped[list[Tambon]] = relationship(back_populates="amphoe", lazy="raise")


class Tambon(Base):
    """A tambon (khwaeng in Bangkok), keyed by its 6-digit DOPA code."""

    __tablename__ = "tambons"
    __table_args__ = (
        Index("idx_tambons_amphoe", "amphoe_id"),
        Index("idx_tambons_postal_code", "postal_code"),
        {"schema": "ref", "comment": "Thai sub-districts (tambon) master data"},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tambon_code: Mapped[str] = mapped_column(
        String(6),
        unique=True,
        comment="DOPA sub-district code, 6 digits, starts with the district code",
    )
    amphoe_id: Mapped[int] = mapped_column(ForeignKey("ref.amphoes.id"))
    name_th: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100))
    postal_code: Mapped[str | None] = mapped_column(
        String(5), comment="Main Thailand Post code of the tambon"
    )
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))

    amphoe: Mapped[Amphoe] = relationship(back_populates="tambons", lazy="raise")


class SystemConfiguration(Base):
    """One typed configuration parameter; read it with polis.reference.service.get_config."""

    __tablename__ = "system_configurations"
    __table_args__ = (
        CheckConstraint(_in("config_type", CONFIG_TYPES), name="config_type"),
        CheckConstraint(_in("environment", ENVIRONMENTS), name="environment"),
        Index("idx_system_configurations_key", "config_key"),
        Index("idx_system_configurations_category", "config_category"),
        Index("idx_system_configurations_environment", "environment"),
        {"schema": "ref", "comment": "Application configuration parameters"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    config_key: Mapped[str] = mapped_column(String(100), unique=True)
    config_category: Mapped[str] = mapped_column(String(50))
    config_value: Mapped[str] = mapped_column(Text)
    config_type: Mapped[str] = mapped_column(String(20))
    description: Mapped[str | None] = mapped_column(Text)
    is_sensitive: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    is_readonly: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    environment: Mapped[str | None] = mapped_column(String(20), server_default=text("'ALL'"))
    validation_regex: Mapped[str | None] = mapped_column(String(500))
    min_value: Mapped[Decimal | None] = mapped_column(Numeric)
    max_value: Mapped[Decimal | None] = mapped_column(Numeric)
    created_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    updated_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default=text("1"))

    # Optimistic lock (DESIGN.md): an ORM update checks and bumps the version it read.
    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
