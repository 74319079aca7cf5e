"""Reading the audit trail (GET /api/v1/audit): filters, keyset pages, masked row images.

The row images are what the audit trigger copied from the business row. Sensitive columns
are already stored encrypted (decision 0007) and are never decrypted here; personal values
are masked so that an auditor sees that and when something changed, not the value itself.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, select

from polis.audit.models import AuditLog
from polis.platform.crypto import mask

REDACTED = "[REDACTED]"

# Secrets and ciphertexts: never shown, not even in part.
_SECRET_KEYS = frozenset(
    {
        "password_hash",
        "password",
        "card_token",
        "two_factor_secret",
        "totp_secret",
        "token",
        "token_hash",
        "refresh_token",
        "refresh_token_hash",
        "session_token",
        "recovery_codes",
        "backup_codes",
        "otp",
        "otp_hash",
        "evidence",
    }
)
_SECRET_SUFFIXES = ("_encrypted", "_hash", "_secret", "_token")

# Personal data: at most the last 4 characters are shown.
_PERSONAL_KEYS = frozenset(
    {
        "national_id",
        "passport_number",
        "email",
        "phone",
        "phone_number",
        "mobile",
        "first_name",
        "last_name",
        "first_name_en",
        "last_name_en",
        "full_name",
        "payee_name",
        "bank_account_name",
        "account_number",
        "bank_account",
        "bank_account_number",
        "document_number",
        "chassis_number",
        "engine_number",
        "date_of_birth",
        "birth_date",
        "address",
        "address_line1",
        "address_line2",
        "postal_code",
        "original_filename",
        "file_name",
        "other_party_info",
    }
)


def is_secret(key: str) -> bool:
    """Whether a column holds a secret or a ciphertext (shown as [REDACTED])."""
    return key in _SECRET_KEYS or key.endswith(_SECRET_SUFFIXES)


def is_personal(key: str) -> bool:
    """Whether a column holds personal data (shown masked)."""
    return key in _PERSONAL_KEYS


# Personal values of which no part is shown (the last 4 characters of a date are its day).
_WHOLLY_MASKED = frozenset({"date_of_birth", "birth_date"})


def _mask_value(key: str, value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, str) and key in _WHOLLY_MASKED:
        return "*" * len(value)
    if isinstance(value, str):
        # Short values (a 3-letter name) would be shown whole by the last-4 rule.
        return mask(value) if len(value) > 8 else "*" * len(value)
    return REDACTED  # an address object, a date as number...: nothing of it is shown


def mask_values(values: dict[str, Any] | None) -> dict[str, Any] | None:
    """A row image with secrets redacted and personal values masked."""
    if values is None:
        return None
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is not None and is_secret(key):
            out[key] = REDACTED
        elif is_personal(key):
            out[key] = _mask_value(key, value)
        else:
            out[key] = value
    return out


@dataclass(frozen=True)
class AuditFilter:
    """The filters of GET /audit; None means any."""

    table_name: str | None = None
    record_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    operation: str | None = None
    request_id: uuid.UUID | None = None
    time_from: datetime | None = None
    time_to: datetime | None = None


def statement(where: AuditFilter) -> Select[Any]:
    """SELECT audit rows matching the filter (from inclusive, to exclusive)."""
    stmt = select(AuditLog)
    if where.table_name is not None:
        stmt = stmt.where(AuditLog.table_name == where.table_name)
    if where.record_id is not None:
        stmt = stmt.where(AuditLog.record_id == where.record_id)
    if where.user_id is not None:
        stmt = stmt.where(AuditLog.user_id == where.user_id)
    if where.operation is not None:
        stmt = stmt.where(AuditLog.operation == where.operation)
    if where.request_id is not None:
        stmt = stmt.where(AuditLog.request_id == where.request_id)
    if where.time_from is not None:
        stmt = stmt.where(AuditLog.timestamp >= where.time_from)
    if where.time_to is not None:
        stmt = stmt.where(AuditLog.timestamp < where.time_to)
    return stmt


def entry(row: AuditLog) -> dict[str, Any]:
    """The API view of one audit row (masked images, the IP as text)."""
    return {
        "id": row.id,
        "timestamp": row.timestamp,
        "table_name": row.table_name,
        "record_id": row.record_id,
        "operation": row.operation,
        "changed_fields": row.changed_fields,
        "old_values": mask_values(row.old_values),
        "new_values": mask_values(row.new_values),
        "user_id": row.user_id,
        "user_role": row.user_role,
        "ip_address": str(row.ip_address) if row.ip_address is not None else None,
        "user_agent": row.user_agent,
        "business_context": row.business_context,
        "request_id": row.request_id,
    }
