"""Motor documents and receipts: request and response bodies (decision 0049). Field names are
the seed's columns (policy_documents, payment_receipts); amounts are decimal strings."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from polis.platform.money import Money

DocumentType = Literal["SCHEDULE", "CERTIFICATE", "RECEIPT"]
Language = Literal["th", "en"]


class PolicyDocumentOut(BaseModel):
    """One stored version of a generated document (the file by its SHA-256, never its path)."""

    id: uuid.UUID
    policy_id: uuid.UUID
    document_type: str
    document_name: str
    file_size: int | None
    mime_type: str | None
    language: str | None
    is_official: bool | None
    version_number: int | None
    generated_at: datetime | None
    template_id: uuid.UUID | None
    template_version: int | None
    created_at: datetime | None
    created_by: uuid.UUID | None
    sha256: str


class PolicyDocumentList(BaseModel):
    """A policy's documents: the latest version of each document (type, language and, for
    receipts, receipt number), and every version newest first."""

    policy_number: str
    latest: list[PolicyDocumentOut]
    history: list[PolicyDocumentOut]


class RegenerateRequest(BaseModel):
    """Render a document again as a new version. RECEIPT needs the payment_id whose receipt
    to render; CERTIFICATE exists for CMI policies only."""

    model_config = ConfigDict(extra="forbid")

    document_type: DocumentType
    language: Language = "th"
    payment_id: uuid.UUID | None = None


class Party(BaseModel):
    """Seller or buyer particulars as printed on a tax invoice."""

    name: str
    address: str
    tax_id: str | None = None
    branch: str | None = None


class ReceiptOut(BaseModel):
    """A payment_receipts row with what the printed receipt / tax invoice shows: the amount
    split into net premium, stamp duty, amount before VAT and VAT (the parts sum exactly to
    the amount), the amount in words and the issue date in the requested language (Thai:
    Buddhist era)."""

    id: uuid.UUID
    payment_id: uuid.UUID
    receipt_number: str
    receipt_type: str
    file_format: str | None
    tax_invoice_number: str | None
    vat_amount: Money | None
    withholding_tax: Money | None
    issued_date: date
    issued_by: uuid.UUID | None
    language: str | None
    delivery_method: str | None
    delivered_at: datetime | None
    created_at: datetime | None
    created_by: uuid.UUID | None
    sha256: str | None = Field(description="SHA-256 of the stored PDF (language of the row)")
    policy_number: str
    installment_number: int | None
    total_installments: int | None
    payment_date: datetime | None
    payment_method: str
    transaction_reference: str | None
    description: str
    amount: Money
    net_premium: Money
    stamp_duty: Money
    amount_before_vat: Money
    amount_in_words: str
    issued_date_text: str
    display_language: Language
    seller: Party
    buyer: Party
