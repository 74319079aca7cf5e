"""Health routes: a claim's explanation of benefits (included by polis.health.endpoints under
/health), as JSON or as a PDF in Indonesian or English (polis.health.eob, decision 0027)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response

from polis.db.session import DBSession
from polis.documents.checks import content_disposition
from polis.health import document_schemas as schemas
from polis.health import eob as eob_service
from polis.health.auth import ClaimsRead
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["health"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
PDF = "application/pdf"


def _wants_pdf(format_: str | None, accept: str | None) -> bool:
    """`?format=` decides; without it, an Accept header naming application/pdf (and not
    application/json first) asks for the PDF."""
    if format_ is not None:
        return format_ == "pdf"
    accept = (accept or "").lower()
    if PDF not in accept:
        return False
    json_at = accept.find("application/json")
    return json_at < 0 or accept.find(PDF) < json_at


@router.get(
    "/claims/{claim_id}/eob",
    response_model=schemas.Eob,
    responses={
        200: {
            "description": "The EOB as JSON, or as a PDF (format=pdf or Accept: application/pdf)",
            "content": {PDF: {}},
        },
        403: _PROBLEM,
        404: _PROBLEM,
        422: _INVALID,
    },
)
async def get_claim_eob(
    claim_id: uuid.UUID,
    principal: ClaimsRead,
    session: DBSession,
    format_: Annotated[
        schemas.EobFormat | None, Query(alias="format", description="json (default) or pdf")
    ] = None,
    lang: Annotated[
        schemas.EobLanguage, Query(description="Indonesian (id, default) or English (en)")
    ] = "id",
    accept: Annotated[str | None, Header()] = None,
) -> Any:
    """The claim's explanation of benefits: totals, the member's share and each line with
    its adjudication steps in plain words. 404 when the claim has none (not decided yet).
    The first PDF produced sets the EOB's sent_date."""
    record = await eob_service.find_eob(session, claim_id)
    if not _wants_pdf(format_, accept):
        return await eob_service.eob_view(session, record, lang)
    await eob_service.mark_sent(session, record.eob.id)
    await session.refresh(record.eob)
    view = await eob_service.eob_view(session, record, lang)
    data = eob_service.render_pdf(view)
    return Response(
        content=data,
        media_type=PDF,
        headers={
            "Content-Disposition": content_disposition(f"{view.eob_number}-{lang}.pdf"),
            "Cache-Control": "private, no-store",
        },
    )
