"""Motor routes: policy documents (list, download, regenerate) and payment receipts (JSON or
PDF); included by polis.motor.endpoints under /motor (decision 0049)."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from fastapi import APIRouter, Query, Response, status

from polis.db.session import DBSession
from polis.documents.checks import content_disposition
from polis.motor import documents, receipts
from polis.motor.auth import PaymentsRead, PoliciesRead, PoliciesWrite
from polis.motor.document_schemas import (
    PolicyDocumentList,
    PolicyDocumentOut,
    ReceiptOut,
    RegenerateRequest,
)
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
_PDF: dict[str, Any] = {"content": {"application/pdf": {}}}


def _pdf_response(data: bytes, file_name: str) -> Response:
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(file_name),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "private, no-store",
        },
    )


@router.get(
    "/policies/{policy_number}/documents",
    response_model=PolicyDocumentList,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def list_documents(
    policy_number: str, principal: PoliciesRead, session: DBSession
) -> PolicyDocumentList:
    """The policy's documents: the latest version of each, and every version newest first."""
    return await documents.list_documents(session, policy_number)


@router.get(
    "/policies/{policy_number}/documents/{document_id}",
    responses={200: _PDF, 403: _PROBLEM, 404: _PROBLEM},
    response_class=Response,
)
async def download_document(
    policy_number: str, document_id: uuid.UUID, principal: PoliciesRead, session: DBSession
) -> Response:
    """One stored document version, byte for byte (application/pdf, RFC 6266 file name)."""
    row, data = await documents.get_document(session, policy_number, document_id)
    name = row.document_name
    if (row.version_number or 1) > 1:
        name = name.removesuffix(".pdf") + f"-v{row.version_number}.pdf"
    return _pdf_response(data, name)


@router.post(
    "/policies/{policy_number}/documents/regenerate",
    status_code=status.HTTP_201_CREATED,
    response_model=PolicyDocumentOut,
    responses={403: _PROBLEM, 404: _PROBLEM, 422: _INVALID},
)
async def regenerate_document(
    policy_number: str, body: RegenerateRequest, principal: PoliciesWrite, session: DBSession
) -> PolicyDocumentOut:
    """Render SCHEDULE, CERTIFICATE (CMI policies) or RECEIPT (with payment_id) again, in
    `language`, as the next version of that document."""
    row = await documents.regenerate(session, policy_number, body, user_id=principal.user_id)
    return documents.document_out(row)


@router.get(
    "/payments/{payment_id}/receipt",
    response_model=ReceiptOut,
    responses={200: _PDF, 403: _PROBLEM, 404: _PROBLEM},
)
async def get_receipt(
    payment_id: uuid.UUID,
    principal: PaymentsRead,
    session: DBSession,
    lang: Literal["th", "en"] = Query(default="th"),
    format: Literal["json", "pdf"] = Query(default="json"),
) -> Any:
    """The payment's receipt / tax invoice: JSON by default, the PDF with ?format=pdf; in
    Thai (Buddhist-era dates, amount in Thai words) or English. The first PDF sets
    delivered_at."""
    if format == "pdf":
        data, name = await receipts.receipt_pdf(session, payment_id, lang)
        return _pdf_response(data, name)
    return await receipts.get_receipt(session, payment_id, lang)
