"""One error base class, rendered once as RFC 9457 problem+json (decision 0040).

Domain code raises `PolisError` subclasses; `install_error_handlers` turns them, request
validation errors, HTTP errors, database constraint errors and anything unexpected into
`application/problem+json` bodies: {type, title, status, detail, instance, request_id}.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from polis.platform.context import current_request_id

PROBLEM_MEDIA_TYPE = "application/problem+json"
TYPE_PREFIX = "urn:polis:problem:"

log = structlog.get_logger("polis.errors")


def problem_type(slug: str) -> str:
    """The stable `type` URI of a problem: `urn:polis:problem:<slug>`."""
    return TYPE_PREFIX + slug


class PolisError(Exception):
    """Base of every expected failure; carries its HTTP status and problem type."""

    status_code: int = 500
    type_: str = "internal-error"
    title: str = "Internal Server Error"

    def __init__(
        self,
        message: str,
        status_code: int | None = None,
        *,
        type_: str | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code
        if type_ is not None:
            self.type_ = type_
        if title is not None:
            self.title = title
        self.headers = headers
        self.extra = extra or {}


class BadRequest(PolisError):
    """The request cannot be understood (a malformed cursor, header or parameter)."""

    status_code = 400
    type_ = "bad-request"
    title = "Bad Request"


class Unauthorized(PolisError):
    """No valid credentials: missing, unknown or expired token, or a failed login."""

    status_code = 401
    type_ = "unauthorized"
    title = "Unauthorized"

    def __init__(self, message: str = "Authentication required", **kwargs: Any) -> None:
        kwargs.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(message, **kwargs)


class Forbidden(PolisError):
    """Authenticated, but the role lacks the permission."""

    status_code = 403
    type_ = "forbidden"
    title = "Forbidden"


class NotFound(PolisError):
    """The record does not exist (or the caller may not know that it does)."""

    status_code = 404
    type_ = "not-found"
    title = "Not Found"


class Conflict(PolisError):
    """The request conflicts with the current state: a duplicate, a stale version."""

    status_code = 409
    type_ = "conflict"
    title = "Conflict"


class BusinessRuleError(PolisError):
    """A business rule refuses the request (422 by default; pass 409 for state conflicts)."""

    status_code = 422
    type_ = "business-rule"
    title = "Business Rule Violated"


class ServiceUnavailable(PolisError):
    """A dependency (the database, an integration) is not answering; retry later."""

    status_code = 503
    type_ = "service-unavailable"
    title = "Service Unavailable"


class ProblemResponse(JSONResponse):
    """A JSON response with the problem+json media type."""

    media_type = PROBLEM_MEDIA_TYPE


def problem(
    request: Request,
    status: int,
    *,
    type_: str,
    title: str,
    detail: str,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ProblemResponse:
    """Render one problem document; `type_` is a slug or a full URI ('about:blank')."""
    body: dict[str, Any] = {
        "type": type_ if ":" in type_ else problem_type(type_),
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": current_request_id(),
    }
    body.update(extra or {})
    if status == 422:
        # Every 422 is documented as a ValidationProblem (polis.platform.openapi): a business
        # rule refused without a field to name still carries the (empty) list.
        body.setdefault("errors", [])
    return ProblemResponse(body, status_code=status, headers=headers)


def error_response(request: Request, exc: PolisError) -> ProblemResponse:
    """The problem response of a PolisError (also used by endpoints that must commit first)."""
    return problem(
        request,
        exc.status_code,
        type_=exc.type_,
        title=exc.title,
        detail=exc.message,
        headers=exc.headers,
        extra=exc.extra,
    )


def internal_error(request: Request) -> ProblemResponse:
    """The 500 problem: no internals, only the request id to quote."""
    return problem(
        request,
        500,
        type_="internal-error",
        title="Internal Server Error",
        detail="An unexpected error occurred. Quote the request_id when reporting it.",
    )


async def _polis_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PolisError)
    return error_response(request, exc)


def field_errors(errors: Any) -> list[dict[str, str]]:
    """Pydantic errors as [{field: 'body.items.0.quantity', message, type}], inputs dropped."""
    return [
        {
            "field": ".".join(str(part) for part in err.get("loc", ())),
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in errors
    ]


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    # The input values are never echoed: they may hold passwords or national ids.
    errors = field_errors(exc.errors())
    noun = "field is" if len(errors) == 1 else "fields are"
    return problem(
        request,
        422,
        type_="validation-error",
        title="Invalid Request",
        detail=f"{len(errors)} {noun} invalid.",
        extra={"errors": errors},
    )


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code in (204, 304) or exc.status_code < 400:
        return Response(status_code=exc.status_code, headers=exc.headers)
    phrase = _phrase(exc.status_code)
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != phrase else phrase
    # Plain HTTP errors carry no more meaning than their status (RFC 9457 section 4.2.1).
    return problem(
        request,
        exc.status_code,
        type_="about:blank",
        title=phrase,
        detail=detail,
        headers=dict(exc.headers) if exc.headers else None,
    )


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


UNIQUE_VIOLATION = "23505"  # SQLSTATE, for callers that turn it into a specific 409

# SQLSTATE -> (status, slug, title); the constraint is named, the offending value never is.
_SQLSTATES: dict[str, tuple[int, str, str]] = {
    UNIQUE_VIOLATION: (409, "unique-violation", "Duplicate Record"),
    "23P01": (409, "exclusion-violation", "Conflicting Record"),
    "23503": (422, "foreign-key-violation", "Unknown Reference"),
    "23514": (422, "check-violation", "Invalid Value"),
    "23502": (422, "not-null-violation", "Missing Value"),
    "23001": (409, "restrict-violation", "Record In Use"),
    "40001": (409, "serialization-failure", "Concurrent Update"),
    "40P01": (409, "deadlock", "Concurrent Update"),
    "57014": (503, "statement-timeout", "Query Timed Out"),
}
_DETAILS = {
    "unique-violation": "A record with the same unique value already exists",
    "exclusion-violation": "The record conflicts with an existing record",
    "foreign-key-violation": "A referenced record does not exist, or is still referenced",
    "check-violation": "A value is outside what the database accepts",
    "not-null-violation": "A required value is missing",
    "restrict-violation": "The record is still referenced",
    "serialization-failure": "The record changed concurrently; retry the request",
    "deadlock": "The record changed concurrently; retry the request",
    "statement-timeout": "The database did not answer in time; retry later",
}


def pg_error(exc: sa_exc.DBAPIError) -> tuple[str | None, str | None, str | None]:
    """(sqlstate, constraint, column) of a database error, from asyncpg or psycopg."""
    sqlstate = constraint = column = None
    candidates = [exc.orig, getattr(exc.orig, "orig", None), getattr(exc.orig, "__cause__", None)]
    for err in candidates:
        if err is None:
            continue
        diag = getattr(err, "diag", None)
        sqlstate = sqlstate or getattr(err, "sqlstate", None)
        constraint = constraint or getattr(err, "constraint_name", None)
        column = column or getattr(err, "column_name", None)
        if diag is not None:
            constraint = constraint or getattr(diag, "constraint_name", None)
            column = column or getattr(diag, "column_name", None)
    return sqlstate, constraint, column


async def _database_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, sa_exc.DBAPIError)
    sqlstate, constraint, column = pg_error(exc)
    if sqlstate in _SQLSTATES:
        status, slug, title = _SQLSTATES[sqlstate]
    elif sqlstate and sqlstate.startswith("22"):
        # Data exceptions: a value too long, out of range or malformed for its column.
        status, slug, title = 422, "invalid-value", "Invalid Value"
    elif (
        isinstance(exc, sa_exc.OperationalError | sa_exc.InterfaceError)
        or exc.connection_invalidated
    ):
        # Unreachable, or the connection died mid-request (a server restart, a failover):
        # asyncpg's "connection was closed" is a plain DBAPIError with the flag set.
        status, slug, title = 503, "database-unavailable", "Service Unavailable"
    else:
        log.exception("database_error", sqlstate=sqlstate)
        return internal_error(request)
    detail = _DETAILS.get(slug, "The database refused a value")
    extra: dict[str, Any] = {}
    if constraint:
        detail += f" (constraint {constraint})"
        extra["constraint"] = constraint
    elif column:
        detail += f" (column {column})"
        extra["column"] = column
    log.info("database_refused", sqlstate=sqlstate, constraint=constraint, status=status)
    return problem(request, status, type_=slug, title=title, detail=detail + ".", extra=extra)


def install_error_handlers(app: FastAPI) -> None:
    """Register the problem+json renderers; unexpected exceptions are caught by the
    request middleware (polis.platform.logging), which renders `internal_error`."""
    app.add_exception_handler(PolisError, _polis_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(sa_exc.DBAPIError, _database_error)
