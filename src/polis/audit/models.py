"""audit.audit_log: the append-only trail written by the audit trigger (seed 001 audit_logs)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    CheckConstraint,
    DateTime,
    Index,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from polis.db.base import Base


class AuditLog(Base):
    """One row per insert, update, delete, export or anonymisation of a business record."""

    __tablename__ = "audit_log"
    __table_args__ = (
        CheckConstraint(
            "operation IN ('INSERT', 'UPDATE', 'DELETE', 'EXPORT', 'ANONYMIZE')",
            name="operation",
        ),
        Index("idx_audit_logs_table_record", "table_name", "record_id"),
        Index("idx_audit_logs_user", "user_id", "timestamp"),
        Index("idx_audit_logs_timestamp", "timestamp"),
        Index("idx_audit_logs_operation", "operation", "timestamp"),
        {
            "schema": "audit",
            "postgresql_partition_by": "RANGE (timestamp)",
            "comment": "Complete audit trail of all data changes",
        },
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    table_name: Mapped[str] = mapped_column(String(50))
    record_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    operation: Mapped[str] = mapped_column(String(10))
    old_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    new_values: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    changed_fields: Mapped[list[str] | None] = mapped_column(ARRAY(Text))
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    user_role: Mapped[str | None] = mapped_column(String(20))
    ip_address: Mapped[str | None] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    business_context: Mapped[str | None] = mapped_column(String(100))
    request_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    timestamp: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), primary_key=True, server_default=func.now()
    )
