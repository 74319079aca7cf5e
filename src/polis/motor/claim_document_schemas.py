"""Motor claim documents and claim search: request and response bodies (decisions 0052,
0053). Field names are the seed's columns of motor.claim_documents."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

DocumentType = Literal[
    "PHOTO",
    "VIDEO",
    "POLICE_REPORT",
    "MEDICAL_REPORT",
    "ESTIMATE",
    "INVOICE",
    "RECEIPT",
    "OTHER",
]
DocumentCategory = Literal["DAMAGE", "SCENE", "MEDICAL", "LEGAL", "FINANCIAL"]
ReviewStatus = Literal["APPROVED", "REJECTED"]


class ClaimDocumentOut(BaseModel):
    """A claim document (motor.claim_documents) with the file's SHA-256, never its path.

    `extracted_text` and `extracted_data` are null with `text_withheld` true when the
    document is sensitive and the caller may not read sensitive documents
    (motor.claims:write)."""

    id: uuid.UUID
    claim_id: uuid.UUID
    document_type: str
    document_category: str | None
    original_filename: str
    file_size: int | None
    mime_type: str | None
    sha256: str
    description: str | None
    is_sensitive: bool
    is_required: bool
    upload_status: str | None
    review_notes: str | None
    extracted_text: str | None
    extracted_data: dict[str, Any] | None
    text_withheld: bool = False
    uploaded_at: datetime | None
    uploaded_by: uuid.UUID | None
    reviewed_at: datetime | None
    reviewed_by: uuid.UUID | None


class ReviewRequest(BaseModel):
    """A reviewer's decision on a processed document; REJECTED needs review_notes."""

    model_config = ConfigDict(extra="forbid")

    upload_status: ReviewStatus
    review_notes: str | None = Field(default=None, max_length=2000)


class SearchDocumentHit(BaseModel):
    """A document of the claim that matches the query, with a piece of its text."""

    id: uuid.UUID
    document_type: str
    document_category: str | None
    original_filename: str
    upload_status: str | None
    is_sensitive: bool
    rank: float
    snippet: str | None


class SearchClaimHit(BaseModel):
    """A claim that matches the query itself (`matched_claim`) or through its documents."""

    id: uuid.UUID
    claim_number: str
    policy_id: uuid.UUID
    claim_type: str
    status: str | None
    incident_date: datetime
    reported_date: datetime | None
    rank: float
    matched_claim: bool
    documents: list[SearchDocumentHit]


class ClaimSearchPage(BaseModel):
    """One page of search results, best match first."""

    q: str
    words: list[str] = Field(description="The query's words after Thai segmentation")
    items: list[SearchClaimHit]
    next_cursor: str | None = Field(
        description="Opaque cursor of the next page; null on the last page"
    )
