"""Operations routes under /api/v1/ops (issue 7): the detailed database health report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from polis.iam.auth import Principal, require
from polis.ops import health

router = APIRouter(prefix="/ops", tags=["ops"])

OpsRead = Annotated[Principal, Depends(require("ops:read"))]


@router.get("/health", summary="Database health, every check with its details")
async def database_health(request: Request, _: OpsRead) -> Any:
    """check_database_health on the primary and, when configured, the replica: the status is
    the worst of the checks; 503 when a database does not answer (CRITICAL)."""
    db = request.app.state.db
    settings = request.app.state.settings
    report = await health.check(db.engine, settings)
    body: dict[str, Any] = {"primary": report.detailed(), "status": report.status}
    levels = [report.status]
    if db.read_engine is not None:
        replica = await health.check(db.read_engine, settings)
        body["replica"] = replica.detailed()
        levels.append(replica.status)
    body["status"] = health.worst(levels)
    code = 503 if body["status"] == health.CRITICAL else 200
    return JSONResponse(body, status_code=code)
