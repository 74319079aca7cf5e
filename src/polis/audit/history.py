"""Status histories read from the audit trail: every row the audit trigger wrote for a record
that set its `status` (the INSERT and each UPDATE whose changed_fields hold `status`), oldest
first. The health claim lifecycle and the motor claim workflow both answer their history
routes from it."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, and_, any_, literal, or_, select

from polis.audit.models import AuditLog
from polis.iam.models import User

NEW = AuditLog.new_values
OLD = AuditLog.old_values


def status_changes(table_name: str, record_id: uuid.UUID, *columns: Any) -> Select[Any]:
    """SELECT `columns` over the audit rows that set the status of `table_name`'s row
    `record_id`, with the acting user (iam.users, outer-joined on user_id) available as
    `User`; ordered by time, then by the log's id. `NEW` and `OLD` are the row images,
    e.g. `OLD["status"].astext` is the status moved from."""
    return (
        select(*columns)
        .select_from(AuditLog)
        .outerjoin(User, User.id == AuditLog.user_id)
        .where(
            AuditLog.table_name == table_name,
            AuditLog.record_id == record_id,
            or_(
                AuditLog.operation == "INSERT",
                and_(
                    AuditLog.operation == "UPDATE",
                    literal("status") == any_(AuditLog.changed_fields),
                ),
            ),
        )
        .order_by(AuditLog.timestamp, AuditLog.id)
    )
