"""Audit routes: the audit trail for auditors (GET /audit), and the PDPA / UU PDP routes
(polis.audit.pdpa_endpoints: export and anonymisation of motor customers and health
members), included here so the whole privacy surface lives in one package (decision 0059)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from polis.audit import pdpa_endpoints, schemas
from polis.audit import service as audit_service
from polis.audit.models import AuditLog
from polis.db.session import DBSession
from polis.iam.auth import Principal, require
from polis.platform.errors import BadRequest
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter()

AuditRead = Annotated[Principal, Depends(require("audit:read"))]

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}
_NEWEST_FIRST = Keyset("audit.timestamp", AuditLog.timestamp, AuditLog.id, descending=True)


@router.get(
    "/audit",
    tags=["audit"],
    response_model=Page[schemas.AuditEntry],
    responses={400: _PROBLEM, 422: _INVALID},
)
async def list_audit(
    principal: AuditRead,
    session: DBSession,
    page: PageQuery,
    table_name: Annotated[
        str | None,
        Query(min_length=1, max_length=50, description="e.g. motor.customers, claims.claim"),
    ] = None,
    record_id: uuid.UUID | None = None,
    user_id: Annotated[uuid.UUID | None, Query(description="Who made the change")] = None,
    operation: schemas.Operation | None = None,
    request_id: Annotated[
        uuid.UUID | None, Query(description="X-Request-ID of the request that wrote the rows")
    ] = None,
    time_from: Annotated[
        datetime | None, Query(alias="from", description="From this time, inclusive (RFC 3339)")
    ] = None,
    time_to: Annotated[
        datetime | None, Query(alias="to", description="Before this time, exclusive (RFC 3339)")
    ] = None,
) -> Page[schemas.AuditEntry]:
    """The audit trail, newest first, one cursor page at a time. Row images are masked:
    secrets and ciphertexts `[REDACTED]`, personal values to their last 4 characters."""
    for name, value in (("from", time_from), ("to", time_to)):
        if value is not None and value.tzinfo is None:
            raise BadRequest(
                f"'{name}' needs a time zone offset (e.g. 2026-11-23T10:00:00+07:00).",
                type_="invalid-time",
            )
    if time_from is not None and time_to is not None and time_from > time_to:
        raise BadRequest("'from' must not be after 'to'.", type_="invalid-time-range")
    where = audit_service.AuditFilter(
        table_name=table_name,
        record_id=record_id,
        user_id=user_id,
        operation=operation.value if operation is not None else None,
        request_id=request_id,
        time_from=time_from,
        time_to=time_to,
    )
    rows, next_cursor = await paginate(session, audit_service.statement(where), _NEWEST_FIRST, page)
    return Page[schemas.AuditEntry](
        items=[schemas.AuditEntry.model_validate(audit_service.entry(r)) for r in rows],
        next_cursor=next_cursor,
    )


router.include_router(pdpa_endpoints.router)
