"""Receipt numbering (decision 0049, migration 0014): the gap-free counter per year, and the
unique index that makes one receipt per payment and type a database rule.

A `*_models` module so that polis.db.base.load_all_models (and the models-against-schema
test) sees them beside polis.motor.models.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, DateTime, Index, Integer, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.sql.elements import conv

from polis.db.base import Base
from polis.motor.models import PaymentReceipt

COUNTER_COMMENT = (
    "Gap-free serial of receipt / tax invoice numbers RC-YYYY-NNNNNNN per calendar year"
    " (Asia/Bangkok): the row is locked by UPDATE until the issuing transaction ends, so a"
    " rolled-back issue gives its number back (decision 0049)"
)


class ReceiptNumberCounter(Base):
    """The last receipt serial handed out in a year."""

    __tablename__ = "receipt_number_counters"
    __table_args__ = (
        CheckConstraint(
            "year BETWEEN 2000 AND 9999", name=conv("receipt_number_counters_year_check")
        ),
        CheckConstraint(
            "last_number BETWEEN 0 AND 9999999",
            name=conv("receipt_number_counters_last_number_check"),
        ),
        {"schema": "motor", "comment": COUNTER_COMMENT},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )  # the audit trigger logs rows by id
    year: Mapped[int] = mapped_column(Integer, unique=True)
    last_number: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# One receipt of each type per payment (issue_receipt's idempotency, enforced).
UQ_PAYMENT_RECEIPT = Index(
    "uq_payment_receipts_payment_type",
    PaymentReceipt.__table__.c.payment_id,
    PaymentReceipt.__table__.c.receipt_type,
    unique=True,
)
