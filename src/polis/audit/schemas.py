"""Response schemas of the audit trail and of PDPA / UU PDP requests."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import Field

from polis.platform.schemas import Schema


class Operation(StrEnum):
    """What an audit row records (the audit_log CHECK)."""

    INSERT = "INSERT"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    EXPORT = "EXPORT"
    ANONYMIZE = "ANONYMIZE"


class AuditEntry(Schema):
    """One audit row. Personal and secret values in the row images are masked: ciphertexts,
    blind indexes, tokens and secrets as "[REDACTED]", personal values (names, national id,
    contact data, address, birth date, account numbers) showing at most their last 4
    characters. Nothing is decrypted."""

    id: int
    timestamp: datetime
    table_name: str = Field(examples=["motor.customers"])
    record_id: uuid.UUID
    operation: Operation
    changed_fields: list[str] | None = Field(examples=[["phone_number", "updated_at"]])
    old_values: dict[str, Any] | None
    new_values: dict[str, Any] | None
    user_id: uuid.UUID | None
    user_role: str | None = Field(examples=["ADMIN"])
    ip_address: str | None = Field(examples=["203.0.113.7"])
    user_agent: str | None
    business_context: str | None = Field(examples=["RIGHT_TO_ERASURE"])
    request_id: uuid.UUID | None


class Anonymization(Schema):
    """The outcome of an anonymisation request (PDPA / UU PDP erasure)."""

    subject: str = Field(examples=["motor.customers"])
    id: uuid.UUID
    anonymized_at: datetime
    already_anonymized: bool = Field(
        description="True when an earlier request had already anonymised the subject; "
        "nothing was changed by this one"
    )
