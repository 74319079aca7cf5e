"""Motor routes: customers and their consents (included by polis.motor.endpoints under /motor).

A customer's representation carries `ETag: "<version>"`; PATCH needs it back as If-Match
(missing: 428, stale: 409, nothing written). Decision 0035.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from polis.db.session import DBSession
from polis.motor import customer_rules as rules
from polis.motor import schemas
from polis.motor.auth import CustomersRead, CustomersWrite
from polis.motor.customers import (
    CustomerFilter,
    InvalidFields,
    field_error,
)
from polis.motor.customers import customers as customer_service
from polis.motor.models import ConsentRecord, Customer
from polis.platform import preconditions
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.preconditions import IfMatch, etag
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["motor"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_INVALID: dict[str, Any] = {"model": ValidationProblem}

_CUSTOMERS_NEWEST_FIRST = Keyset(
    "motor.customers.created_at", Customer.created_at, Customer.id, descending=True
)
_CONSENTS_NEWEST_FIRST = Keyset(
    "motor.consent_records.granted_at",
    ConsentRecord.granted_at,
    ConsentRecord.id,
    descending=True,
)


def if_match_version(value: str | None, *, required: bool) -> int | None:
    """The version an If-Match header names (polis.platform.preconditions), for a customer."""
    return preconditions.if_match_version(value, required=required, what="the customer")


def _customer(customer: Customer) -> schemas.Customer:
    return schemas.Customer.model_validate(customer)


def _query_value(check: Any, value: str | None, field: str) -> str | None:
    if value is None:
        return None
    try:
        result: str = check(value)
    except ValueError as exc:
        raise InvalidFields([field_error(field, str(exc), "value_error")]) from None
    return result


@router.post(
    "/customers",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.Customer,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _INVALID},
)
async def create_customer(
    body: schemas.CustomerCreate,
    principal: CustomersWrite,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Register a customer. The national id is checked (python-stdnum), stored encrypted with
    a blind index and answered masked; the address is checked against ref geography. 409
    for a taken email or the national id of an active customer."""
    customer = await customer_service.create(session, body, principal.user_id)
    response = await idem.respond(session, _customer(customer), status_code=201)
    response.headers["ETag"] = etag(customer.version)
    response.headers["Location"] = f"/api/v1/motor/customers/{customer.id}"
    return response


@router.get("/customers", response_model=Page[schemas.Customer], responses={422: _INVALID})
async def list_customers(
    principal: CustomersRead,
    session: DBSession,
    page: PageQuery,
    email: Annotated[str | None, Query(max_length=255)] = None,
    phone_number: Annotated[str | None, Query(max_length=25)] = None,
    national_id: Annotated[
        str | None,
        Query(max_length=17, description="Found through the blind index, never sent to SQL"),
    ] = None,
    kyc_status: schemas.KycStatus | None = None,
    account_status: schemas.AccountStatus | None = None,
) -> Page[schemas.Customer]:
    """Live customers, newest first, one cursor page at a time; filters are exact matches
    after the same normalisation as on input (email lower case, Thai phone form)."""
    where = CustomerFilter(
        email=_query_value(rules.normalise_email, email, "query.email"),
        phone_number=_query_value(rules.normalise_phone, phone_number, "query.phone_number"),
        national_id=_query_value(rules.normalise_national_id, national_id, "query.national_id"),
        kyc_status=kyc_status,
        account_status=account_status,
    )
    items, next_cursor = await paginate(
        session, customer_service.statement(where), _CUSTOMERS_NEWEST_FIRST, page
    )
    return Page[schemas.Customer](items=[_customer(c) for c in items], next_cursor=next_cursor)


@router.get(
    "/customers/{customer_id}",
    response_model=schemas.Customer,
    responses={404: _PROBLEM},
)
async def get_customer(
    customer_id: uuid.UUID, principal: CustomersRead, session: DBSession, response: Response
) -> schemas.Customer:
    """One live customer (national id masked), with its version as ETag."""
    customer = await customer_service.get(session, customer_id)
    response.headers["ETag"] = etag(customer.version)
    return _customer(customer)


@router.patch(
    "/customers/{customer_id}",
    response_model=schemas.Customer,
    responses={400: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _INVALID, 428: _PROBLEM},
)
async def update_customer(
    customer_id: uuid.UUID,
    body: schemas.CustomerUpdate,
    principal: CustomersWrite,
    session: DBSession,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.Customer:
    """Change customer fields (absent ones stay). Needs If-Match with the version read: 428
    without it, 409 when another change came first (nothing written). A refused KYC move
    is a 409; a new national id sends a VERIFIED KYC back to PENDING."""
    expected = if_match_version(if_match, required=True)
    assert expected is not None
    customer = await customer_service.update(
        session, customer_id, body.model_dump(exclude_unset=True), expected, principal.user_id
    )
    response.headers["ETag"] = etag(customer.version)
    return _customer(customer)


@router.delete(
    "/customers/{customer_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _PROBLEM, 409: _PROBLEM},
)
async def delete_customer(
    customer_id: uuid.UUID,
    principal: CustomersWrite,
    session: DBSession,
    if_match: IfMatch = None,
) -> Response:
    """Soft delete: the account is CLOSED, the customer and their vehicles leave reads and
    lists, the national id is free for a new record (the email stays taken). If-Match is
    optional here; a stale one is a 409. Refused while a policy is active or suspended."""
    expected = if_match_version(if_match, required=False)
    await customer_service.delete(session, customer_id, expected, principal.user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


# --- consents ------------------------------------------------------------------------------


def _client_ip(request: Request) -> str | None:
    host = request.client.host if request.client else None
    try:
        return str(ipaddress.ip_address(host)) if host else None
    except ValueError:
        return None


@router.post(
    "/customers/{customer_id}/consents",
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.ConsentRecord,
    responses={200: {"model": schemas.ConsentRecord}, 404: _PROBLEM, 422: _INVALID},
)
async def record_consent(
    customer_id: uuid.UUID,
    body: schemas.ConsentCreate,
    principal: CustomersWrite,
    session: DBSession,
    request: Request,
    response: Response,
) -> schemas.ConsentRecord:
    """Record a consent decision. granted true: a new grant (201). granted false: the open
    grant is withdrawn (withdrawn_at, withdrawal_channel; 200 with that record), or without
    one a refusal is recorded (201). marketing_consent, sms_notifications and
    email_notifications on the customer follow MARKETING, SMS and EMAIL."""
    user_agent = request.headers.get("user-agent")
    record, created = await customer_service.record_consent(
        session,
        customer_id,
        body,
        principal.user_id,
        ip_address=_client_ip(request),
        user_agent=user_agent[:1000] if user_agent else None,
    )
    response.status_code = status.HTTP_201_CREATED if created else status.HTTP_200_OK
    return schemas.ConsentRecord.model_validate(record)


@router.get(
    "/customers/{customer_id}/consents",
    response_model=Page[schemas.ConsentRecord],
    responses={404: _PROBLEM},
)
async def list_consents(
    customer_id: uuid.UUID,
    principal: CustomersRead,
    session: DBSession,
    page: PageQuery,
    consent_type: schemas.ConsentType | None = None,
) -> Page[schemas.ConsentRecord]:
    """A customer's consent decisions, newest first (the first of a type is current)."""
    await customer_service.get(session, customer_id)
    items, next_cursor = await paginate(
        session,
        customer_service.consents_statement(customer_id, consent_type),
        _CONSENTS_NEWEST_FIRST,
        page,
    )
    return Page[schemas.ConsentRecord](
        items=[schemas.ConsentRecord.model_validate(r) for r in items], next_cursor=next_cursor
    )
