"""Motor claim documents (issue 5 item 6, seed 001 `claim_documents`; decision 0052).

Uploads reuse the platform's document checks and content-addressed store (polis.documents,
decision 0026): the file is checked (size, MIME sniffed with `filetype` against the declared
type and the extension, safe file name), then stored once by its SHA-256, then recorded; a
refused upload writes no file and no row. On top of that each `document_type` allows only
some kinds of file (`ALLOWED_MIME`), and videos have their own size limit.

A new document is PENDING. Its text is read afterwards (`process_document`: OCR of images
and scanned PDF pages in Thai and English, the text layer of other PDFs; polis.documents.ocr),
outside the upload's request:

- right after the response, by a FastAPI background task with its own session from the app's
  Database (`ocr_after_upload`), and
- by the sweep `ocr_pending` (CLI `polis motor ocr-pending`; the job worker later), which
  takes PENDING rows with FOR UPDATE SKIP LOCKED, so two sweeps, or a sweep and a background
  task, never read the same document twice, and a crash or restart leaves the row PENDING
  for the next sweep: nothing is lost.

Either way the row ends PROCESSED with extracted_text and extracted_data["ocr"]; a video or a
file OCR cannot read ends PROCESSED too, the reason in extracted_data["ocr"] (it is not tried
again). A reviewer then APPROVES or REJECTS it, once.

Sensitive documents (medical reports by default) show their extracted text, and give their
content, only to users who may write claims (motor.claims:write); readers see the metadata.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings, get_settings
from polis.db.session import Database
from polis.documents import ocr
from polis.documents.checks import (
    CheckedFile,
    DocumentRejected,
    check_upload,
    human_size,
    normalise_mime,
    sanitise_file_name,
    sniff,
)
from polis.documents.storage import DocumentStore, sha256_of_path
from polis.iam.auth import Principal
from polis.motor import claim_search
from polis.motor.claim_document_schemas import ClaimDocumentOut, ReviewRequest
from polis.motor.claims import get_claim
from polis.motor.models import MotorClaimDocument
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, NotFound
from polis.reference.service import ConfigurationNotFoundError, get_config

log = structlog.get_logger("polis.motor.claim_documents")

SENSITIVE_PERMISSION = "motor.claims:write"
VIDEO_LIMIT_KEY = "MOTOR_CLAIM_VIDEO_MAX_BYTES"

_DOCUMENT_MIME = ("application/pdf", "image/jpeg", "image/png", "image/tiff")
_IMAGE_MIME = ("image/jpeg", "image/png", "image/tiff")
# Video types `filetype` recognises that phones and dash cameras record, and their extensions.
VIDEO_TYPES: dict[str, tuple[str, ...]] = {
    "video/mp4": (".mp4",),
    "video/x-m4v": (".m4v", ".mp4"),
    "video/quicktime": (".mov", ".qt"),
    "video/3gpp": (".3gp",),
    "video/webm": (".webm",),
}
ALLOWED_MIME: dict[str, tuple[str, ...]] = {
    "PHOTO": _IMAGE_MIME,
    "VIDEO": tuple(VIDEO_TYPES),
    "POLICE_REPORT": _DOCUMENT_MIME,
    "MEDICAL_REPORT": _DOCUMENT_MIME,
    "ESTIMATE": _DOCUMENT_MIME,
    "INVOICE": _DOCUMENT_MIME,
    "RECEIPT": _DOCUMENT_MIME,
    "OTHER": _DOCUMENT_MIME,
}
DEFAULT_CATEGORY: dict[str, str | None] = {
    "PHOTO": "DAMAGE",
    "VIDEO": "SCENE",
    "POLICE_REPORT": "LEGAL",
    "MEDICAL_REPORT": "MEDICAL",
    "ESTIMATE": "FINANCIAL",
    "INVOICE": "FINANCIAL",
    "RECEIPT": "FINANCIAL",
    "OTHER": None,
}
SENSITIVE_BY_DEFAULT = frozenset({"MEDICAL_REPORT"})


# --- checks ----------------------------------------------------------------------------------


def _check_video(
    data: bytes, *, file_name: str | None, declared_type: str | None, max_bytes: int
) -> CheckedFile:
    """check_upload's rules (polis.documents.checks) for the video types of VIDEO_TYPES."""
    size = len(data)
    if size == 0:
        raise DocumentRejected("The file is empty.", type_="document-empty")
    if size > max_bytes:
        raise DocumentRejected(
            f"The file is larger than the limit of {human_size(max_bytes)}.",
            type_="document-too-large",
        )
    mime = sniff(data)
    if mime is None or mime not in VIDEO_TYPES:
        found = f" (it is {mime})" if mime else ""
        raise DocumentRejected(
            f"A VIDEO must be one of {', '.join(VIDEO_TYPES)}{found}.",
            type_="document-type-not-allowed",
        )
    declared = normalise_mime(declared_type)
    if declared not in ("", "application/octet-stream", "binary/octet-stream", mime):
        raise DocumentRejected(
            f"The declared content type {declared} does not match the file's content ({mime}).",
            type_="document-type-mismatch",
        )
    name = sanitise_file_name(file_name).rstrip(". ")
    extensions = VIDEO_TYPES[mime]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        name = (name or "video")[: 255 - len(extensions[0])] + extensions[0]
    elif "." + ext.lower() not in extensions:
        raise DocumentRejected(
            f"The file name's extension .{ext} does not match the file's content ({mime}).",
            type_="document-type-mismatch",
        )
    return CheckedFile(mime_type=mime, size=size, file_name=name)


def check_claim_upload(
    data: bytes,
    document_type: str,
    *,
    file_name: str | None,
    declared_type: str | None,
    max_bytes: int,
) -> CheckedFile:
    """The platform's checks, then the kinds of file this document_type allows."""
    if document_type == "VIDEO":
        return _check_video(
            data, file_name=file_name, declared_type=declared_type, max_bytes=max_bytes
        )
    checked = check_upload(
        data, file_name=file_name, declared_type=declared_type, max_bytes=max_bytes
    )
    allowed = ALLOWED_MIME[document_type]
    if checked.mime_type not in allowed:
        raise DocumentRejected(
            f"A {document_type} must be one of {', '.join(allowed)}"
            f" (the file is {checked.mime_type}).",
            type_="document-type-not-allowed",
        )
    return checked


async def max_bytes_for(session: AsyncSession, settings: Settings, document_type: str) -> int:
    """DOCUMENT_MAX_BYTES, or MOTOR_CLAIM_VIDEO_MAX_BYTES (configuration) for videos."""
    if document_type != "VIDEO":
        return settings.document_max_bytes
    try:
        return int(await get_config(session, VIDEO_LIMIT_KEY))
    except (ConfigurationNotFoundError, ValueError, TypeError):
        return settings.document_max_bytes


# --- views ----------------------------------------------------------------------------------


def may_read_sensitive(principal: Principal) -> bool:
    """Whether the caller sees sensitive documents' text and content."""
    return principal.can(SENSITIVE_PERMISSION)


def document_out(row: MotorClaimDocument, *, sensitive_allowed: bool) -> ClaimDocumentOut:
    """The API view of a row; a sensitive row's text withheld unless `sensitive_allowed`."""
    withheld = bool(row.is_sensitive) and not sensitive_allowed
    return ClaimDocumentOut(
        id=row.id,
        claim_id=row.claim_id,
        document_type=row.document_type,
        document_category=row.document_category,
        original_filename=row.original_filename,
        file_size=row.file_size,
        mime_type=row.mime_type,
        sha256=sha256_of_path(row.file_path),
        description=row.description,
        is_sensitive=bool(row.is_sensitive),
        is_required=bool(row.is_required),
        upload_status=row.upload_status,
        review_notes=row.review_notes,
        extracted_text=None if withheld else row.extracted_text,
        extracted_data=None if withheld else row.extracted_data,
        text_withheld=withheld,
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
        reviewed_at=row.reviewed_at,
        reviewed_by=row.reviewed_by,
    )


# --- upload, reads, review ------------------------------------------------------------------


async def upload(
    session: AsyncSession,
    store: DocumentStore,
    claim_id: uuid.UUID,
    data: bytes,
    *,
    file_name: str | None,
    declared_type: str | None,
    max_bytes: int,
    document_type: str,
    document_category: str | None,
    description: str | None,
    is_sensitive: bool | None,
    is_required: bool,
    user_id: uuid.UUID | None,
) -> MotorClaimDocument:
    """Check, store and record a document of a live claim that is not CLOSED (PENDING: its
    text is read afterwards)."""
    claim = await get_claim(session, claim_id)
    if claim.status == "CLOSED":
        raise Conflict(
            f"Claim {claim.claim_number} is CLOSED: no more documents.", type_="claim-closed"
        )
    checked = check_claim_upload(
        data, document_type, file_name=file_name, declared_type=declared_type, max_bytes=max_bytes
    )
    stored = await asyncio.to_thread(store.put, data)
    row = MotorClaimDocument(
        claim_id=claim.id,
        document_type=document_type,
        document_category=document_category or DEFAULT_CATEGORY[document_type],
        original_filename=checked.file_name,
        file_path=stored.relative_path,
        file_size=checked.size,
        mime_type=checked.mime_type,
        description=(description or "").strip() or None,
        is_sensitive=(
            is_sensitive if is_sensitive is not None else document_type in SENSITIVE_BY_DEFAULT
        ),
        is_required=is_required,
        upload_status="PENDING",
        # the moment of the upload, not the transaction's start: uploads list in this order
        uploaded_at=func.clock_timestamp(),
        uploaded_by=user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await claim_search.index_document(session, row)
    return row


async def list_documents(session: AsyncSession, claim_id: uuid.UUID) -> list[MotorClaimDocument]:
    """The documents of a live claim, oldest upload first."""
    await get_claim(session, claim_id)
    rows = await session.scalars(
        select(MotorClaimDocument)
        .where(MotorClaimDocument.claim_id == claim_id)
        .order_by(MotorClaimDocument.uploaded_at, MotorClaimDocument.id)
    )
    return list(rows)


async def get_document(
    session: AsyncSession, claim_id: uuid.UUID, document_id: uuid.UUID, *, lock: bool = False
) -> MotorClaimDocument:
    """One document of a live claim; NotFound otherwise."""
    await get_claim(session, claim_id)
    stmt = select(MotorClaimDocument).where(
        MotorClaimDocument.id == document_id, MotorClaimDocument.claim_id == claim_id
    )
    if lock:
        stmt = stmt.with_for_update()
    row = await session.scalar(stmt)
    if row is None:
        raise NotFound(
            f"Document {document_id} of claim {claim_id} not found.", type_="document-not-found"
        )
    return row


async def read_content(
    session: AsyncSession,
    store: DocumentStore,
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    *,
    sensitive_allowed: bool,
) -> tuple[MotorClaimDocument, bytes]:
    """A document and its stored bytes; 403 for a sensitive one without the permission."""
    row = await get_document(session, claim_id, document_id)
    if row.is_sensitive and not sensitive_allowed:
        raise Forbidden(
            f"Document {document_id} is sensitive: reading it needs {SENSITIVE_PERMISSION}.",
            type_="document-sensitive",
        )
    data = await asyncio.to_thread(store.read, sha256_of_path(row.file_path))
    return row, data


class ReviewRefused(BusinessRuleError):
    """A review the rules refuse (field by field, 422)."""

    type_ = "invalid-review"
    title = "Invalid Review"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": "missing"}]},
        )


async def review(
    session: AsyncSession,
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    body: ReviewRequest,
    *,
    user_id: uuid.UUID | None,
) -> MotorClaimDocument:
    """APPROVE or REJECT a PROCESSED document, once (the row locked meanwhile): 409 while it
    is still PENDING or when it has been reviewed; REJECTED needs review_notes (422)."""
    notes = (body.review_notes or "").strip() or None
    if body.upload_status == "REJECTED" and notes is None:
        raise ReviewRefused("review_notes", "a rejection needs review_notes saying why")
    row = await get_document(session, claim_id, document_id, lock=True)
    if row.upload_status in ("APPROVED", "REJECTED"):
        raise Conflict(
            f"Document {document_id} was already reviewed ({row.upload_status}).",
            type_="document-already-reviewed",
        )
    if row.upload_status != "PROCESSED":
        raise Conflict(
            f"Document {document_id} is still {row.upload_status}: its text has not been"
            " read yet; review it once it is PROCESSED.",
            type_="document-not-processed",
        )
    row.upload_status = body.upload_status
    row.review_notes = notes
    row.reviewed_by = user_id
    row.reviewed_at = datetime.now(UTC)
    await session.flush()
    return row


# --- text extraction (background) ------------------------------------------------------------


def _store() -> DocumentStore:
    return DocumentStore.from_settings(get_settings())


async def process_document(
    session: AsyncSession, row: MotorClaimDocument, store: DocumentStore
) -> None:
    """Read the text of a PENDING document (the caller holds its row lock): OCR or the PDF's
    text layer; videos and other files get no text. The row ends PROCESSED either way, the
    outcome in extracted_data["ocr"] (an error does not make it PENDING again)."""
    started = datetime.now(UTC)
    info: dict[str, Any]
    text: str | None = None
    if not ocr.can_extract(row.mime_type):
        info = {"skipped": f"no text extraction for {row.mime_type}"}
    else:
        try:
            data = await asyncio.to_thread(store.read, sha256_of_path(row.file_path))
            result = await asyncio.to_thread(ocr.extract_text, data, row.mime_type or "")
        except (ocr.OcrError, NotFound, ValueError) as exc:
            info = {"languages": ocr.LANGUAGES, "error": str(exc)[:500]}
            log.warning("claim document text not read", document_id=str(row.id), error=str(exc))
        else:
            text = result.text
            info = result.summary()
    info["processed_at"] = datetime.now(UTC).isoformat()
    info["seconds"] = round((datetime.now(UTC) - started).total_seconds(), 3)
    row.extracted_text = text or None
    row.extracted_data = {**(row.extracted_data or {}), "ocr": info}
    row.upload_status = "PROCESSED"
    await session.flush()
    await claim_search.index_document(session, row)


async def ocr_pending(
    session: AsyncSession, limit: int = 20, *, store: DocumentStore | None = None
) -> list[uuid.UUID]:
    """Process up to `limit` PENDING documents, oldest first, skipping rows another
    transaction holds (FOR UPDATE SKIP LOCKED); the ids processed. Safe to run anywhere, any
    number of times: the caller commits."""
    rows = list(
        await session.scalars(
            select(MotorClaimDocument)
            .where(MotorClaimDocument.upload_status == "PENDING")
            .order_by(MotorClaimDocument.uploaded_at, MotorClaimDocument.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    target = store or _store()
    for row in rows:
        await process_document(session, row, target)
    return [row.id for row in rows]


async def ocr_after_upload(
    database: Database, store: DocumentStore, document_id: uuid.UUID
) -> None:
    """The background task of an upload: read the document's text in a transaction of its
    own, unless a sweep has it (SKIP LOCKED) or did it. A failure is logged and the row left
    PENDING for the sweep."""
    try:
        async with database.transaction() as session:
            row = await session.scalar(
                select(MotorClaimDocument)
                .where(
                    MotorClaimDocument.id == document_id,
                    MotorClaimDocument.upload_status == "PENDING",
                )
                .with_for_update(skip_locked=True)
            )
            if row is not None:
                await process_document(session, row, store)
    except Exception as exc:  # the sweep tries again
        log.warning("claim document OCR deferred", document_id=str(document_id), error=repr(exc))
