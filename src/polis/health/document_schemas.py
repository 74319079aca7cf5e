"""Response bodies of the claim document and EOB routes (field names: the seed's columns of
claims.claim_document and billing.eob; amounts as decimal strings)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from polis.platform.money import Money
from polis.platform.schemas import Schema

DOCUMENT_TYPES = (
    "invoice",
    "receipt",
    "medical_report",
    "prescription",
    "referral",
    "lab_result",
    "discharge_summary",
    "other",
)
DocumentType = Literal[
    "invoice",
    "receipt",
    "medical_report",
    "prescription",
    "referral",
    "lab_result",
    "discharge_summary",
    "other",
]
EobLanguage = Literal["id", "en"]
EobFormat = Literal["json", "pdf"]


class ClaimDocument(Schema):
    """A stored file attached to a claim (claims.claim_document); `sha256` is the content
    hash, the last part of the row's file_path."""

    id: uuid.UUID
    claim_id: uuid.UUID
    document_type: str
    file_name: str
    file_size: int | None
    mime_type: str | None
    sha256: str
    uploaded_at: datetime
    uploaded_by: str | None


class EobTraceStep(Schema):
    """One adjudication step of a line: the engine's code and message, the amounts, and
    the step in plain words in the requested language."""

    code: str
    message: str
    amount_before: Money | None
    amount_after: Money | None
    text: str


class EobLine(Schema):
    """One claim line as the EOB explains it."""

    benefit_code: str
    service_code: str | None
    diagnosis_code: str | None
    quantity: int | None
    charged: Money
    approved: Money | None
    paid: Money | None
    deductible: Money | None
    copay: Money | None
    coinsurance: Money | None
    status: str
    denial_reason: str | None
    denial_reason_text: str | None
    trace: list[EobTraceStep]


class Eob(Schema):
    """An explanation of benefits (billing.eob) with the claim's member, provider and lines."""

    id: uuid.UUID
    eob_number: str
    claim_id: uuid.UUID
    claim_number: str
    claim_status: str
    member_id: uuid.UUID
    member_number: str
    member_name: str
    provider_name: str | None
    service_date: date
    total_charged: Money | None
    total_approved: Money | None
    total_paid: Money | None
    member_responsibility: Money | None
    deductible_applied: Money | None
    coinsurance_amount: Money | None
    copay_amount: Money | None
    generated_date: datetime
    sent_date: datetime | None
    lang: EobLanguage
    lines: list[EobLine]
