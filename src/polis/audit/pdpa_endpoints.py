"""PDPA (motor customers) and UU PDP (health members) routes: a person's data export and
anonymisation (decision 0059). Each writes one audit row (EXPORT / ANONYMIZE) naming who
asked. Export needs `pdpa:export`; anonymisation `pdpa:anonymize`."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path
from fastapi.responses import JSONResponse

from polis.audit import pdpa, schemas
from polis.db.session import DBSession
from polis.iam.auth import Principal, require
from polis.platform.schemas import Problem

router = APIRouter()

PdpaExport = Annotated[Principal, Depends(require("pdpa:export"))]
PdpaAnonymize = Annotated[Principal, Depends(require("pdpa:anonymize"))]
MemberRef = Annotated[
    str,
    Path(min_length=1, max_length=50, description="The member's id (UUID) or member number"),
]

_PROBLEM: dict[str, Any] = {"model": Problem}
_EXPORT_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The person's data as JSON (amounts as decimal strings)",
        "content": {"application/json": {"schema": {"type": "object"}}},
    },
    404: _PROBLEM,
}


def _export_response(kind: str, subject_id: uuid.UUID, data: dict[str, Any]) -> JSONResponse:
    return JSONResponse(
        data,
        headers={
            "Content-Disposition": f'attachment; filename="{kind}-{subject_id}-export.json"',
            "Cache-Control": "no-store",
        },
    )


def _anonymization(outcome: pdpa.Anonymized) -> schemas.Anonymization:
    return schemas.Anonymization(
        subject=outcome.subject,
        id=outcome.id,
        anonymized_at=outcome.anonymized_at,
        already_anonymized=outcome.already_anonymized,
    )


@router.get(
    "/motor/customers/{customer_id}/pdpa-export",
    tags=["motor", "pdpa"],
    response_class=JSONResponse,
    responses=_EXPORT_DOC,
)
async def export_customer(
    customer_id: uuid.UUID, principal: PdpaExport, session: DBSession
) -> JSONResponse:
    """PDPA access / portability request: everything held about one customer (profile with
    the national id decrypted, vehicles, policies and their documents' metadata, claims and
    their documents' metadata, settlements, payments, receipts, documents, consents).
    Deleted customers too. Writes one EXPORT audit row (DATA_PORTABILITY)."""
    data = await pdpa.export_customer(session, customer_id)
    return _export_response("customer", customer_id, data)


@router.post(
    "/motor/customers/{customer_id}/anonymize",
    tags=["motor", "pdpa"],
    response_model=schemas.Anonymization,
    responses={404: _PROBLEM, 409: _PROBLEM},
)
async def anonymize_customer(
    customer_id: uuid.UUID, principal: PdpaAnonymize, session: DBSession
) -> schemas.Anonymization:
    """PDPA erasure: names, national id, contact data, birth date and address replaced,
    account closed; policies, claims, payments and receipts keep their rows and amounts.
    409 while a policy is ACTIVE or SUSPENDED or a claim is open; a repeat answers 200
    with `already_anonymized` and changes nothing. Writes one ANONYMIZE audit row."""
    return _anonymization(await pdpa.anonymize_customer(session, customer_id))


@router.get(
    "/health/members/{member}/pdpa-export",
    tags=["health", "pdpa"],
    response_class=JSONResponse,
    responses=_EXPORT_DOC,
)
async def export_member(
    member: MemberRef, principal: PdpaExport, session: DBSession
) -> JSONResponse:
    """UU PDP access request: everything held about one member (profile with NIK and
    passport number decrypted, coverages, claims with their lines, pre-authorisations,
    EOBs, payments, claim documents' metadata). Writes one EXPORT audit row."""
    data = await pdpa.export_member(session, member)
    return _export_response("member", uuid.UUID(str(data["member"]["id"])), data)


@router.post(
    "/health/members/{member}/anonymize",
    tags=["health", "pdpa"],
    response_model=schemas.Anonymization,
    responses={404: _PROBLEM, 409: _PROBLEM},
)
async def anonymize_member(
    member: MemberRef, principal: PdpaAnonymize, session: DBSession
) -> schemas.Anonymization:
    """UU PDP erasure: member number, names, NIK, passport, contact data and address
    replaced, birth date kept to its year; claims, EOBs and payments keep their rows and
    amounts. 409 while the member is pending, active or suspended, or has an open claim or
    a payment in flight; a repeat (by id) answers 200 with `already_anonymized`."""
    return _anonymization(await pdpa.anonymize_member(session, member))
