"""Motor claim routes: documents (upload, list, read, download, review) and the claims search
(issue 5 item 6; decisions 0052, 0053). See polis.motor.claim_documents and
polis.motor.claim_search for the rules. Included before polis.motor.claim_endpoints so that
`GET /claims/search` is not taken for `GET /claims/{claim_id}`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    BackgroundTasks,
    File,
    Form,
    Query,
    Request,
    Response,
    UploadFile,
    status,
)

from polis.config import Settings
from polis.db.session import Database, DBSession
from polis.documents.checks import content_disposition
from polis.documents.storage import DocumentStore
from polis.motor import claim_documents, claim_search
from polis.motor.auth import ClaimsRead, ClaimsWrite
from polis.motor.claim_document_schemas import (
    ClaimDocumentOut,
    ClaimSearchPage,
    DocumentCategory,
    DocumentType,
    ReviewRequest,
    SearchClaimHit,
    SearchDocumentHit,
)
from polis.platform.pagination import PageQuery
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor claims"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}


def _settings(request: Request) -> Settings:
    settings = getattr(request.app.state, "settings", None)
    return settings if isinstance(settings, Settings) else Settings()


def _store(request: Request) -> DocumentStore:
    return DocumentStore.from_settings(_settings(request))


@router.get(
    "/claims/search",
    response_model=ClaimSearchPage,
    responses={400: _PROBLEM, 403: _PROBLEM, 422: _INVALID},
)
async def search_claims(
    principal: ClaimsRead,
    session: DBSession,
    page: PageQuery,
    q: Annotated[
        str,
        Query(
            min_length=1,
            max_length=200,
            description="Words to find (Thai, English, numbers); every word must match",
        ),
    ],
) -> ClaimSearchPage:
    """Claims whose number, descriptions, police report number, other party or location, or
    whose documents' file name, description or extracted text, contain every word of `q`
    (Thai segmented with pythainlp; each word matched as a prefix), best match first. Sensitive
    documents take part only for users who may read them (motor.claims:write)."""
    hits, next_cursor = await claim_search.search(
        session, q, page, include_sensitive=claim_documents.may_read_sensitive(principal)
    )
    return ClaimSearchPage(
        q=q,
        words=claim_search.query_words(q),
        items=[
            SearchClaimHit(
                id=h.id,
                claim_number=h.claim_number,
                policy_id=h.policy_id,
                claim_type=h.claim_type,
                status=h.status,
                incident_date=h.incident_date,
                reported_date=h.reported_date,
                rank=h.rank,
                matched_claim=h.matched_claim,
                documents=[SearchDocumentHit(**d.__dict__) for d in h.documents],
            )
            for h in hits
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/claims/{claim_id}/documents",
    status_code=status.HTTP_201_CREATED,
    response_model=ClaimDocumentOut,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def upload_document(
    claim_id: uuid.UUID,
    request: Request,
    background: BackgroundTasks,
    principal: ClaimsWrite,
    session: DBSession,
    file: Annotated[UploadFile, File(description="The file (PDF, JPEG, PNG, TIFF; videos)")],
    document_type: Annotated[DocumentType, Form(description="The kind of document")],
    document_category: Annotated[
        DocumentCategory | None, Form(description="Default from the type")
    ] = None,
    description: Annotated[str | None, Form(max_length=2000)] = None,
    is_sensitive: Annotated[
        bool | None, Form(description="Default true for MEDICAL_REPORT, else false")
    ] = None,
    is_required: Annotated[bool, Form()] = False,
) -> ClaimDocumentOut:
    """Attach a file to a claim (multipart/form-data). The file is checked (size; content
    sniffed and matching the declared type and the extension; a kind the document_type
    allows: images for PHOTO, videos for VIDEO, PDF or images for the others), stored once by
    its SHA-256 and recorded PENDING; its text is read after the response (OCR, Thai and
    English) and the document becomes PROCESSED."""
    settings = _settings(request)
    store = DocumentStore.from_settings(settings)
    limit = await claim_documents.max_bytes_for(session, settings, document_type)
    data = await file.read(limit + 1)
    row = await claim_documents.upload(
        session,
        store,
        claim_id,
        data,
        file_name=file.filename,
        declared_type=file.content_type,
        max_bytes=limit,
        document_type=document_type,
        document_category=document_category,
        description=description,
        is_sensitive=is_sensitive,
        is_required=is_required,
        user_id=principal.user_id,
    )
    database: Database = request.app.state.db
    background.add_task(claim_documents.ocr_after_upload, database, store, row.id)
    return claim_documents.document_out(row, sensitive_allowed=True)


@router.get(
    "/claims/{claim_id}/documents",
    response_model=list[ClaimDocumentOut],
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_documents(
    claim_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> list[ClaimDocumentOut]:
    """The claim's documents, oldest upload first (a sensitive document's text withheld from
    users who may not read it)."""
    allowed = claim_documents.may_read_sensitive(principal)
    rows = await claim_documents.list_documents(session, claim_id)
    return [claim_documents.document_out(r, sensitive_allowed=allowed) for r in rows]


@router.get(
    "/claims/{claim_id}/documents/{document_id}",
    response_model=ClaimDocumentOut,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def get_document(
    claim_id: uuid.UUID, document_id: uuid.UUID, principal: ClaimsRead, session: DBSession
) -> ClaimDocumentOut:
    """One document's metadata with its extracted text and data."""
    row = await claim_documents.get_document(session, claim_id, document_id)
    return claim_documents.document_out(
        row, sensitive_allowed=claim_documents.may_read_sensitive(principal)
    )


@router.get(
    "/claims/{claim_id}/documents/{document_id}/content",
    response_class=Response,
    responses={
        200: {
            "description": "The file's bytes, with its MIME type and an attachment name",
            "content": {"application/pdf": {}, "image/*": {}, "video/*": {}},
        },
        403: _PROBLEM,
        404: _PROBLEM,
    },
)
async def download_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    principal: ClaimsRead,
    session: DBSession,
) -> Response:
    """The stored file, byte for byte, as an attachment (RFC 6266 file name); 403 for a
    sensitive document without motor.claims:write."""
    row, data = await claim_documents.read_content(
        session,
        _store(request),
        claim_id,
        document_id,
        sensitive_allowed=claim_documents.may_read_sensitive(principal),
    )
    return Response(
        content=data,
        media_type=row.mime_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(row.original_filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/claims/{claim_id}/documents/{document_id}/review",
    response_model=ClaimDocumentOut,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def review_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    body: ReviewRequest,
    principal: ClaimsWrite,
    session: DBSession,
) -> ClaimDocumentOut:
    """APPROVE or REJECT (with review_notes) a PROCESSED document, once: 409 when it is
    still PENDING or already reviewed."""
    row = await claim_documents.review(
        session, claim_id, document_id, body, user_id=principal.user_id
    )
    return claim_documents.document_out(row, sensitive_allowed=True)
