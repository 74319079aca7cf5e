"""Health routes: documents attached to a claim (included by polis.health.endpoints under
/health). Files are checked (size, sniffed MIME type against the declared type and the
extension; polis.documents.checks), stored by content hash (polis.documents.storage) and
recorded as claims.claim_document rows (decision 0026)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, Response, UploadFile, status
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.concurrency import run_in_threadpool

from polis.config import Settings
from polis.db.session import DBSession
from polis.documents.checks import check_upload, content_disposition
from polis.documents.storage import DocumentStore, sha256_of_path
from polis.health import document_schemas as schemas
from polis.health.auth import DocumentsRead, DocumentsWrite
from polis.health.models import Claim, ClaimDocument
from polis.platform.errors import NotFound
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


async def _require_claim(session: AsyncSession, claim_id: uuid.UUID) -> None:
    found = await session.scalar(select(Claim.id).where(Claim.id == claim_id))
    if found is None:
        raise NotFound(f"Claim {claim_id} not found.", type_="claim-not-found")


def document_out(row: ClaimDocument) -> schemas.ClaimDocument:
    return schemas.ClaimDocument(
        id=row.id,
        claim_id=row.claim_id,
        document_type=row.document_type,
        file_name=row.file_name,
        file_size=row.file_size,
        mime_type=row.mime_type,
        sha256=sha256_of_path(row.file_path),
        uploaded_at=row.uploaded_at,
        uploaded_by=row.uploaded_by,
    )


@router.post(
    "/claims/{claim_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ClaimDocument,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def upload_claim_document(
    claim_id: uuid.UUID,
    request: Request,
    principal: DocumentsWrite,
    session: DBSession,
    document_type: Annotated[schemas.DocumentType, Form(description="The kind of document")],
    file: Annotated[UploadFile, File(description="PDF, JPEG, PNG or TIFF")],
) -> schemas.ClaimDocument:
    """Attach a file to a claim (multipart/form-data: `document_type`, `file`). The file is
    checked (not empty, within the size limit, content PDF/JPEG/PNG/TIFF matching the
    declared type and the extension), stored once by its SHA-256, and recorded."""
    settings = _settings(request)
    await _require_claim(session, claim_id)
    data = await file.read(settings.document_max_bytes + 1)
    row = await attach_claim_document(
        session,
        settings,
        claim_id,
        data,
        file_name=file.filename,
        declared_type=file.content_type,
        document_type=document_type,
        user_id=principal.user_id,
    )
    return document_out(row)


async def attach_claim_document(
    session: AsyncSession,
    settings: Settings,
    claim_id: uuid.UUID,
    data: bytes,
    *,
    file_name: str | None,
    declared_type: str | None,
    document_type: str,
    user_id: uuid.UUID | str,
) -> ClaimDocument:
    """Check the file (DocumentRejected otherwise), store it by content hash and record it
    on the claim (the caller checked that the claim exists). The upload route and the claim
    page both call this."""
    checked = check_upload(
        data,
        file_name=file_name,
        declared_type=declared_type,
        max_bytes=settings.document_max_bytes,
    )
    stored = await run_in_threadpool(DocumentStore.from_settings(settings).put, data)
    row = ClaimDocument(
        claim_id=claim_id,
        document_type=document_type,
        file_name=checked.file_name,
        file_path=stored.relative_path,
        file_size=checked.size,
        mime_type=checked.mime_type,
        # The moment of the upload, not the transaction's start: uploads list in this order.
        uploaded_at=func.clock_timestamp(),
        uploaded_by=str(user_id),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


@router.get(
    "/claims/{claim_id}/documents",
    response_model=list[schemas.ClaimDocument],
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_claim_documents(
    claim_id: uuid.UUID, principal: DocumentsRead, session: DBSession
) -> list[schemas.ClaimDocument]:
    """The claim's documents, oldest upload first."""
    await _require_claim(session, claim_id)
    return [document_out(r) for r in await claim_document_rows(session, claim_id)]


async def claim_document_rows(session: AsyncSession, claim_id: uuid.UUID) -> list[ClaimDocument]:
    """A claim's documents, oldest upload first (this route and the claim pages)."""
    rows = await session.scalars(
        select(ClaimDocument)
        .where(ClaimDocument.claim_id == claim_id)
        .order_by(ClaimDocument.uploaded_at, ClaimDocument.id)
    )
    return list(rows.all())


@router.get(
    "/claims/{claim_id}/documents/{document_id}",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, with its MIME type and an attachment name",
            "content": {
                "application/pdf": {},
                "image/jpeg": {},
                "image/png": {},
                "image/tiff": {},
            },
        },
        403: _PROBLEM,
        404: _PROBLEM,
    },
)
async def download_claim_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    principal: DocumentsRead,
    session: DBSession,
) -> Response:
    """The stored file, byte for byte, as an attachment (RFC 6266 file name)."""
    row = await session.scalar(
        select(ClaimDocument).where(
            ClaimDocument.id == document_id, ClaimDocument.claim_id == claim_id
        )
    )
    if row is None:
        raise NotFound(
            f"Document {document_id} of claim {claim_id} not found.", type_="document-not-found"
        )
    store = DocumentStore.from_settings(_settings(request))
    data = await run_in_threadpool(store.read, sha256_of_path(row.file_path))
    return Response(
        content=data,
        media_type=row.mime_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(row.file_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )
