"""Motor back office pages: customers (search, registration, changes under the version read),
vehicles (registration, DLT checks), the quote -> bind -> pay wizard with the PromptPay QR,
policies (documents, payments, receipts, renewals, cancellation with its short-rate refund),
premium refunds through the payment gateway, bank-statement reconciliation, and claims (board
by status, first notice of loss, assignment, investigation, rejection, assessment, approval,
settlement paid or cancelled, closure).

Each page needs the permission of the matching API route and calls the same services
(polis.motor.*); refusals of the services are shown next to their form field.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar, get_args
from zoneinfo import ZoneInfo

from babel.numbers import format_decimal
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import func, or_, select
from starlette.datastructures import UploadFile as StarletteUploadFile

from polis.db.session import DBSession
from polis.documents.checks import content_disposition, human_size
from polis.iam.auth import Principal
from polis.iam.models import User
from polis.motor import (
    claim_assessments,
    claim_rules,
    claim_settlements,
    claims,
    documents,
    gateway,
    payments,
    policies,
    policy_rules,
    quotes,
    receipts,
    reconciliation,
    renewals,
)
from polis.motor import customer_rules as rules
from polis.motor import schemas as motor_schemas

# The API's own response builders and orderings, so that a page shows what the API answers.
from polis.motor.claim_assessment_schemas import ApprovalCreate, AssessmentCreate
from polis.motor.claim_endpoints import claim_out
from polis.motor.claim_schemas import Assignment, ClaimCreate, Closure, Investigation, Rejection
from polis.motor.claim_settlement_schemas import (
    SettlementCancel,
    SettlementCreate,
    SettlementPaid,
)
from polis.motor.customer_endpoints import _CUSTOMERS_NEWEST_FIRST, _client_ip
from polis.motor.customers import CustomerFilter, StaleVersion
from polis.motor.customers import customers as customer_service
from polis.motor.dlt import dlt_client, verifications
from polis.motor.dlt_endpoints import _NEWEST_FIRST as _VERIFICATIONS_NEWEST_FIRST
from polis.motor.gateway_schemas import ReconciliationResult, RefundRequest
from polis.motor.models import Customer, MotorClaim, MotorPayment, MotorPolicy
from polis.motor.payment_schemas import PaymentConfirm
from polis.motor.policy_endpoints import policy_out
from polis.motor.policy_schemas import PolicyBind, PolicyCancel
from polis.motor.rating_schemas import QuoteCreate, quote_out
from polis.motor.renewal_endpoints import renewal_out
from polis.motor.vehicle_endpoints import _VEHICLES_NEWEST_FIRST
from polis.motor.vehicles import VehicleFilter
from polis.motor.vehicles import vehicles as vehicle_service
from polis.platform.errors import BusinessRuleError, Conflict, PolisError, ServiceUnavailable
from polis.platform.pagination import PageParams, paginate
from polis.web import i18n
from polis.web.forms import field_messages, text
from polis.web.routing import WebRoute, redirect
from polis.web.session import CsrfChecked, require_page
from polis.web.templating import env, flash, render
from polis.web.words import STATUSES, words

router = APIRouter(prefix="/motor", route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_
BANGKOK = ZoneInfo("Asia/Bangkok")
M = TypeVar("M", bound=BaseModel)

CustomersRead = Annotated[Principal, Depends(require_page("motor.customers:read"))]
CustomersWrite = Annotated[Principal, Depends(require_page("motor.customers:write"))]
VehiclesRead = Annotated[Principal, Depends(require_page("motor.vehicles:read"))]
VehiclesWrite = Annotated[Principal, Depends(require_page("motor.vehicles:write"))]
QuotesWrite = Annotated[Principal, Depends(require_page("motor.quotes:write"))]
PoliciesRead = Annotated[Principal, Depends(require_page("motor.policies:read"))]
PoliciesWrite = Annotated[Principal, Depends(require_page("motor.policies:write"))]
PoliciesCancel = Annotated[Principal, Depends(require_page("motor.policies:cancel"))]
PaymentsRead = Annotated[Principal, Depends(require_page("motor.payments:read"))]
PaymentsWrite = Annotated[Principal, Depends(require_page("motor.payments:write"))]
ClaimsRead = Annotated[Principal, Depends(require_page("motor.claims:read"))]
ClaimsWrite = Annotated[Principal, Depends(require_page("motor.claims:write"))]
SurveysWrite = Annotated[Principal, Depends(require_page("motor.surveys:write"))]
ClaimsApprove = Annotated[Principal, Depends(require_page("motor.claims:approve"))]
ClaimsSettle = Annotated[Principal, Depends(require_page("motor.claims:settle"))]

PAGE_SIZE = 25
CLAIM_STATUSES = (
    "REPORTED",
    "ASSIGNED",
    "INVESTIGATING",
    "ASSESSED",
    "APPROVED",
    "REJECTED",
    "SETTLED",
    "CLOSED",
)
POLICY_TYPES = ("CMI", "CLASS_1", "CLASS_2", "CLASS_3")
PERIODS = (6, 12, 24, 36)
PAYMENT_PLANS = ("FULL", "INSTALLMENT_6", "INSTALLMENT_12")
CLAIM_TYPES = ("ACCIDENT", "THEFT", "FIRE", "FLOOD", "VANDALISM", "NATURAL_DISASTER")
ASSESSMENT_TYPES = ("INITIAL", "DETAILED", "RE_ASSESSMENT", "FINAL")
ACTIONS = ("APPROVE", "REJECT", "INVESTIGATE", "REQUEST_MORE_INFO")
PAYEE_TYPES = ("CUSTOMER", "REPAIR_SHOP", "HOSPITAL", "THIRD_PARTY")
SETTLEMENT_METHODS = ("BANK_TRANSFER", "PROMPTPAY", "CHEQUE", "CASH")
HEADS_OF_LOSS = ("OWN_DAMAGE", "THIRD_PARTY_PROPERTY", "BODILY_INJURY")
PREMIUM_TYPES = frozenset({"PREMIUM", "INSTALLMENT"})


def baht(amount: Decimal | str | None, lang: str | None = None) -> str:
    """A Thai baht amount: two decimals grouped the language's way, `THB 1,234.56`."""
    if amount is None or amount == "":
        return "-"
    lang = lang or i18n.current_language()
    value = Decimal(str(amount)).quantize(Decimal("0.01"))
    return "THB " + format_decimal(value, format="#,##0.00", locale=lang)


env.filters["baht"] = baht


# --- forms -----------------------------------------------------------------------------------


class FormInvalid(Exception):
    """A form refused field by field: {form field: message}."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid form")
        self.errors = errors


def parse(model: type[M], data: dict[str, Any], names: dict[str, str]) -> M:
    """`model` validated from `data`; FormInvalid naming the form fields (`names` maps the
    body's dotted field names to form fields; unmapped ones fall on `names['']`)."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        errors: dict[str, str] = {}
        for err in exc.errors():
            dotted = ".".join(str(p) for p in err["loc"])
            field = names.get(dotted) or names.get(dotted.split(".")[0]) or names.get("", "")
            message = str(err["msg"]).removeprefix("Value error, ")
            if field and field not in errors:
                errors[field] = message
        raise FormInvalid(errors) from None


def service_errors(exc: PolisError, names: dict[str, str]) -> dict[str, str]:
    """The service's field errors on the form's fields (else the message on `names['']`)."""
    found = field_messages(exc, names)
    return found or {names.get("", "form"): exc.message}


def _number(value: str) -> int | str:
    """A whole number typed in a form (as the JSON body would carry it), else the text."""
    return int(value) if value.isdigit() and len(value) < 10 else value


def _blank_none(values: dict[str, str]) -> dict[str, Any]:
    return {k: (v if v != "" else None) for k, v in values.items()}


# --- customers and vehicles ------------------------------------------------------------------


@dataclass(frozen=True)
class Search:
    """What the search box holds: a national id, an email, or part of a name."""

    where: CustomerFilter
    name: str | None


def _search(q: str) -> Search:
    compact = q.replace(" ", "").replace("-", "")
    if compact.isdigit() and len(compact) == 13:
        try:
            return Search(CustomerFilter(national_id=rules.normalise_national_id(q)), None)
        except ValueError:
            pass
    if "@" in q:
        try:
            return Search(CustomerFilter(email=rules.normalise_email(q)), None)
        except ValueError:
            pass
    return Search(CustomerFilter(), q)


@router.get("/customers")
async def customer_search(
    request: Request,
    session: DBSession,
    principal: CustomersRead,
    q: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Customers by national id (through the blind index, as GET /motor/customers does), by
    email, or by part of a Thai or English name; newest first."""
    q = q.strip()
    rows: list[motor_schemas.Customer] = []
    next_cursor = None
    if q:
        found = _search(q)
        stmt = customer_service.statement(found.where)
        if found.name:
            pattern = "%" + found.name.replace("\\", "\\\\").replace("%", r"\%") + "%"
            stmt = stmt.where(
                or_(
                    Customer.first_name.ilike(pattern),
                    Customer.last_name.ilike(pattern),
                    Customer.first_name_en.ilike(pattern),
                    Customer.last_name_en.ilike(pattern),
                    func.concat(Customer.first_name, " ", Customer.last_name).ilike(pattern),
                    func.concat(Customer.first_name_en, " ", Customer.last_name_en).ilike(pattern),
                )
            )
        items, next_cursor = await paginate(
            session, stmt, _CUSTOMERS_NEWEST_FIRST, PageParams(cursor=cursor, limit=PAGE_SIZE)
        )
        rows = [motor_schemas.Customer.model_validate(c) for c in items]
    context = {
        "q": q,
        "rows": rows,
        "next_cursor": next_cursor,
        "can_create": principal.can("motor.customers:write"),
    }
    return render(request, "motor/customers.html", context)


# The flash messages of the customer and vehicle forms; templating.render translates them when
# shown. `_` only marks them for extraction here (the gettext_noop idiom).
CONSENT_INPUTS = tuple(rules.FLAG_CONSENTS)  # marketing_consent, sms_notifications, ...
CONSENT_CHOICES = ("", "yes", "no")
CHANNELS = ("AGENT", "CALL_CENTER", "PAPER", "WEB", "MOBILE")
_ADDRESS_INPUTS = (
    "house_no",
    "moo",
    "village",
    "building",
    "soi",
    "road",
    "tambon",
    "amphoe",
    "province",
    "postal_code",
)
_PERSON_INPUTS = (
    "first_name",
    "last_name",
    "first_name_en",
    "last_name_en",
    "date_of_birth",
    "gender",
    "phone_number",
    "email",
    "preferred_language",
)
_CUSTOMER_FIELDS = {
    **{k: k for k in _PERSON_INPUTS},
    **{f"address.{k}": k for k in _ADDRESS_INPUTS},
    **{k: k for k in CONSENT_INPUTS},
    "national_id": "national_id",
    "address": "house_no",
    "consent_channel": "consent_channel",
    "": "form",
}


def _required(errors: dict[str, str], values: dict[str, str]) -> dict[str, str]:
    """The form's refusals, with one plain word for a required field left blank."""
    return {k: (_("Required.") if values.get(k) == "" else v) for k, v in errors.items()}


def _customer_words() -> dict[str, dict[str, str]]:
    """The words of the customer form's choices, in the current language."""
    return {
        "gender": {"": "-", "MALE": _("Male"), "FEMALE": _("Female"), "OTHER": _("Other")},
        "language": dict(i18n.LANGUAGE_NAMES),
        "consent": {"": _("Not asked"), "yes": _("Given"), "no": _("Not given")},
        "channel": {
            "AGENT": _("Agent or branch"),
            "CALL_CENTER": _("Call centre"),
            "PAPER": _("Paper form"),
            "WEB": _("Website"),
            "MOBILE": _("Mobile app"),
        },
    }


def _customer_values(form: Any, *, with_national_id: bool) -> dict[str, str]:
    names = (*_PERSON_INPUTS, *_ADDRESS_INPUTS, *CONSENT_INPUTS, "consent_channel")
    values = {k: text(form, k, 255) for k in names}
    if with_national_id:
        values["national_id"] = text(form, "national_id", 30)
    return values


def _customer_body(values: dict[str, str]) -> dict[str, Any]:
    """The API's customer fields of the form (blank: None; a blank address: no address)."""
    body = _blank_none({k: values[k] for k in _PERSON_INPUTS})
    address = {k: values[k] for k in _ADDRESS_INPUTS}
    body["address"] = _blank_none(address) if any(address.values()) else None
    return body


def _customer_form(
    request: Request,
    values: dict[str, str],
    *,
    customer: motor_schemas.Customer | None = None,
    errors: dict[str, str] | None = None,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    """The customer form: a new customer, or (`customer` given) the change of one."""
    consent_options = {
        flag: (
            CONSENT_CHOICES
            if customer is None or getattr(customer, flag) is None
            else CONSENT_CHOICES[1:]
        )
        for flag in CONSENT_INPUTS
    }
    context = {
        "customer": customer,
        "values": values,
        "errors": errors or {},
        "problem": problem,
        "genders": ("", *get_args(motor_schemas.Gender)),
        "languages": get_args(motor_schemas.Language),
        "consent_options": consent_options,
        "channels": CHANNELS,
        "words": _customer_words(),
    }
    return render(request, "motor/customer_form.html", context, status_code=status_code)


@router.get("/customers/new")
async def new_customer_form(request: Request, principal: CustomersWrite) -> Response:
    """The form registering a customer (POST /motor/customers)."""
    return _customer_form(request, {"preferred_language": "th", "consent_channel": "AGENT"})


@router.post("/customers/new", dependencies=[CsrfChecked])
async def create_customer(
    request: Request, session: DBSession, principal: CustomersWrite
) -> Response:
    """Register a customer (customers.create, as POST /motor/customers): the national id
    checked and sealed, the address checked against ref geography, the consents given
    recorded; refusals next to their field, nothing written."""
    form = await request.form()
    values = _customer_values(form, with_national_id=True)
    body = _customer_body(values)
    body["national_id"] = values["national_id"] or None
    for flag in CONSENT_INPUTS:
        body[flag] = {"yes": True, "no": False}.get(values[flag], values[flag] or None)
    body["consent_channel"] = values["consent_channel"] or "AGENT"
    try:
        parsed = parse(motor_schemas.CustomerCreate, body, _CUSTOMER_FIELDS)
        async with session.begin_nested():
            customer = await customer_service.create(session, parsed, principal.user_id)
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _CUSTOMER_FIELDS)
    else:
        response = redirect(request, f"/web/motor/customers/{customer.id}")
        flash(response, request, "customer_created")
        return response
    return _customer_form(request, values, errors=errors, status_code=422)


@router.get("/customers/{customer_id}")
async def customer_page(
    customer_id: uuid.UUID, request: Request, session: DBSession, principal: CustomersRead
) -> Response:
    """A customer (national id masked as the API answers it), their vehicles, policies and
    claims (each with its read permission)."""
    customer = motor_schemas.Customer.model_validate(
        await customer_service.get(session, customer_id)
    )
    vehicles: list[Any] = []
    if principal.can("motor.vehicles:read"):
        vehicles, _next = await paginate(
            session,
            vehicle_service.statement(VehicleFilter(customer_id=customer_id)),
            _VEHICLES_NEWEST_FIRST,
            PageParams(limit=50),
        )
    policy_rows: list[Any] = []
    if principal.can("motor.policies:read"):
        found, _next = await policies.list_policies(
            session, PageParams(limit=50), customer_id=customer_id
        )
        policy_rows = [policy_out(p) for p in found]
    claim_rows: list[Any] = []
    if principal.can("motor.claims:read"):
        items, _next = await claims.list_claims(
            session, claims.ClaimFilter(customer_id=customer_id), PageParams(limit=50)
        )
        claim_rows = [claim_out(c, p) for c, p in items]
    context = {
        "customer": customer,
        "vehicles": vehicles,
        "policies": policy_rows,
        "claims": claim_rows,
        "status_words": STATUSES,
        "can_edit": principal.can("motor.customers:write"),
        "can_add_vehicle": principal.can("motor.vehicles:write"),
    }
    return render(request, "motor/customer.html", context)


def _consent_value(flag: bool | None) -> str:
    return "" if flag is None else "yes" if flag else "no"


@router.get("/customers/{customer_id}/edit")
async def edit_customer_form(
    customer_id: uuid.UUID, request: Request, session: DBSession, principal: CustomersWrite
) -> Response:
    """The form changing a customer (PATCH /motor/customers/{id}), carrying the version read
    (the API's If-Match). The national id is not changed here."""
    customer = motor_schemas.Customer.model_validate(
        await customer_service.get(session, customer_id)
    )
    values = {k: "" if v is None else str(v) for k, v in customer.model_dump().items()}
    address = customer.address.model_dump() if customer.address else {}
    values.update({k: address.get(k) or "" for k in _ADDRESS_INPUTS})
    values.update({f: _consent_value(getattr(customer, f)) for f in CONSENT_INPUTS})
    values["consent_channel"] = "AGENT"
    values["version"] = str(customer.version or 0)
    return _customer_form(request, values, customer=customer)


@router.post("/customers/{customer_id}/edit", dependencies=[CsrfChecked])
async def update_customer(
    customer_id: uuid.UUID, request: Request, session: DBSession, principal: CustomersWrite
) -> Response:
    """Save the customer's fields (customers.update, as PATCH /motor/customers/{id} with
    If-Match: the form's version) and the consent decisions changed (as POST
    /motor/customers/{id}/consents). Another change since the form was read: 409, nothing
    written; refusals next to their field, nothing written."""
    form = await request.form()
    values = _customer_values(form, with_national_id=False)
    values["version"] = text(form, "version", 9)
    expected = int(values["version"]) if values["version"].isdigit() else -1
    errors: dict[str, str] = {}
    problem = None
    status_code = 422
    try:
        parsed = parse(motor_schemas.CustomerUpdate, _customer_body(values), _CUSTOMER_FIELDS)
        decisions = {
            flag: parse(
                motor_schemas.ConsentCreate,
                {
                    "consent_type": kind,
                    "granted": values[flag] == "yes",
                    "channel": values["consent_channel"] or "AGENT",
                },
                {"channel": "consent_channel", "": flag},
            )
            for flag, kind in rules.FLAG_CONSENTS.items()
            if values[flag] in ("yes", "no")
        }
        user_agent = request.headers.get("user-agent")
        async with session.begin_nested():
            changed = await customer_service.update(
                session,
                customer_id,
                parsed.model_dump(exclude_unset=True),
                expected,
                principal.user_id,
            )
            for flag, decision in decisions.items():
                if getattr(changed, flag) is not decision.granted:
                    await customer_service.record_consent(
                        session,
                        customer_id,
                        decision,
                        principal.user_id,
                        ip_address=_client_ip(request),
                        user_agent=user_agent[:1000] if user_agent else None,
                    )
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except StaleVersion:
        problem = _(
            "Someone else changed this customer after you opened the form. Nothing was saved:"
            " open the form again to see their changes, then make yours."
        )
        status_code = 409
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _CUSTOMER_FIELDS)
    else:
        response = redirect(request, f"/web/motor/customers/{customer_id}")
        flash(response, request, "customer_saved")
        return response
    customer = motor_schemas.Customer.model_validate(
        await customer_service.get(session, customer_id)
    )
    return _customer_form(
        request,
        values,
        customer=customer,
        errors=errors,
        problem=problem,
        status_code=status_code,
    )


_VEHICLE_INPUTS = (
    "registration_number",
    "province",
    "make",
    "model",
    "year_of_manufacture",
    "engine_size",
    "vehicle_type",
    "fuel_type",
    "color",
    "chassis_number",
    "usage_type",
    "annual_mileage",
    "parking_location",
)
_VEHICLE_FIELDS = {**{k: k for k in _VEHICLE_INPUTS}, "": "registration_number"}


def _vehicle_words() -> dict[str, dict[str, str]]:
    """The words of the vehicle form's choices, in the current language."""
    return {
        "vehicle_type": {
            "": "-",
            "SEDAN": _("Sedan"),
            "HATCHBACK": _("Hatchback"),
            "SUV": "SUV",
            "PICKUP": _("Pickup truck"),
            "VAN": _("Van"),
            "MOTORCYCLE": _("Motorcycle"),
        },
        "fuel_type": {
            "": "-",
            "GASOLINE": _("Petrol"),
            "DIESEL": _("Diesel"),
            "HYBRID": _("Hybrid"),
            "ELECTRIC": _("Electric"),
            "LPG": "LPG",
            "CNG": "CNG",
        },
        "usage_type": {
            "PERSONAL": _("Personal"),
            "COMMERCIAL": _("Commercial"),
            "TAXI": _("Taxi"),
            "RENTAL": _("Rental"),
        },
        "parking_location": {
            "": "-",
            "GARAGE": _("Garage"),
            "COVERED": _("Covered parking"),
            "STREET": _("On the street"),
            "PARKING_LOT": _("Parking lot"),
        },
    }


async def _vehicle_form(
    request: Request,
    session: DBSession,
    principal: Principal,
    customer_id: uuid.UUID,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    customer = await customer_service.get(session, customer_id)  # 404 when there is none
    owner = None
    if principal.can("motor.customers:read"):
        owner = motor_schemas.Customer.model_validate(customer)
    context = {
        "customer_id": customer_id,
        "owner": owner,
        "values": values,
        "errors": errors or {},
        "vehicle_types": ("", *get_args(motor_schemas.VehicleType)),
        "fuel_types": ("", *get_args(motor_schemas.FuelType)),
        "usage_types": get_args(motor_schemas.UsageType),
        "parking_locations": ("", *get_args(motor_schemas.ParkingLocation)),
        "words": _vehicle_words(),
    }
    return render(request, "motor/vehicle_form.html", context, status_code=status_code)


@router.get("/customers/{customer_id}/vehicles/new")
async def new_vehicle_form(
    customer_id: uuid.UUID, request: Request, session: DBSession, principal: VehiclesWrite
) -> Response:
    """The form registering a vehicle of the customer (POST /motor/customers/{id}/vehicles)."""
    values = {"usage_type": "PERSONAL"}
    return await _vehicle_form(request, session, principal, customer_id, values)


@router.post("/customers/{customer_id}/vehicles/new", dependencies=[CsrfChecked])
async def create_vehicle(
    customer_id: uuid.UUID, request: Request, session: DBSession, principal: VehiclesWrite
) -> Response:
    """Register the vehicle (vehicles.create, as POST /motor/customers/{id}/vehicles), then
    its page (with the DLT check); refusals next to their field, nothing written."""
    form = await request.form()
    values = {k: text(form, k, 100) for k in _VEHICLE_INPUTS}
    body = _blank_none(values)
    body["usage_type"] = values["usage_type"] or "PERSONAL"
    try:
        parsed = parse(motor_schemas.VehicleCreate, body, _VEHICLE_FIELDS)
        async with session.begin_nested():
            vehicle = await vehicle_service.create(session, customer_id, parsed, principal.user_id)
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _VEHICLE_FIELDS)
    else:
        response = redirect(request, f"/web/motor/vehicles/{vehicle.id}")
        flash(response, request, "vehicle_registered")
        return response
    return await _vehicle_form(
        request, session, principal, customer_id, values, errors=errors, status_code=422
    )


async def _vehicle_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    vehicle_id: uuid.UUID,
    *,
    problem: str | None = None,
    status_code: int = 200,
) -> Response:
    vehicle = motor_schemas.Vehicle.model_validate(await vehicle_service.get(session, vehicle_id))
    checks, _next = await paginate(
        session,
        verifications.statement(vehicle_id),
        _VERIFICATIONS_NEWEST_FIRST,
        PageParams(limit=20),
    )
    owner = None
    if principal.can("motor.customers:read"):
        owner = motor_schemas.Customer.model_validate(
            await customer_service.get(session, vehicle.customer_id)
        )
    policy_rows: list[Any] = []
    if principal.can("motor.policies:read"):
        found, _next = await policies.list_policies(
            session, PageParams(limit=50), vehicle_id=vehicle_id
        )
        policy_rows = [policy_out(p) for p in found]
    context = {
        "vehicle": vehicle,
        "checks": checks,
        "owner": owner,
        "policies": policy_rows,
        "can_verify": principal.can("motor.vehicles:write"),
        "can_quote": principal.can("motor.quotes:write"),
        "problem": problem,
        "status_words": STATUSES,
    }
    return render(request, "motor/vehicle.html", context, status_code=status_code)


@router.get("/vehicles/{vehicle_id}")
async def vehicle_page(
    vehicle_id: uuid.UUID, request: Request, session: DBSession, principal: VehiclesRead
) -> Response:
    """A vehicle, its DLT checks (newest first) and, with motor.vehicles:write, the button
    that checks it again now."""
    return await _vehicle_page(request, session, principal, vehicle_id)


@router.post("/vehicles/{vehicle_id}/verifications", dependencies=[CsrfChecked])
async def verify_vehicle(
    vehicle_id: uuid.UUID, request: Request, session: DBSession, principal: VehiclesWrite
) -> Response:
    """Check the vehicle at DLT now (POST /motor/vehicles/{id}/verifications): the answer is
    stored; DLT unavailable or refusing writes nothing and says so on the page."""
    client = dlt_client(request)
    try:
        async with session.begin_nested():
            await verifications.verify(
                session, vehicle_id, client, actor=principal.user_id, role=principal.role
            )
    except PolisError as exc:
        if exc.status_code not in (502, 503):
            raise
        message = (
            _("The Department of Land Transport did not answer. Nothing was stored; try later.")
            if exc.status_code == 503
            else _("The Department of Land Transport refused the check. Nothing was stored.")
        )
        return await _vehicle_page(
            request, session, principal, vehicle_id, problem=message, status_code=exc.status_code
        )
    response = redirect(request, f"/web/motor/vehicles/{vehicle_id}")
    flash(response, request, "dlt_verified")
    return response


# --- quote, bind, pay ------------------------------------------------------------------------

_QUOTE_FIELDS = {
    "policy_type": "policy_type",
    "coverage_option": "coverage_option",
    "start_date": "start_date",
    "policy_period_months": "policy_period_months",
    "end_date": "start_date",
    "sum_insured": "sum_insured",
    "options.voluntary_deductible": "voluntary_deductible",
    "options.ncd_percent": "ncd_percent",
    "options.driver_age": "driver_age",
    "options.dash_cam": "dash_cam",
    "options": "policy_type",
    "vehicle_id": "policy_type",
    "vehicle": "policy_type",
    "": "policy_type",
}
_QUOTE_INPUTS = (
    "policy_type",
    "coverage_option",
    "start_date",
    "policy_period_months",
    "sum_insured",
    "voluntary_deductible",
    "ncd_percent",
    "driver_age",
)


async def _quote_form(
    request: Request,
    session: DBSession,
    vehicle_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    vehicle = motor_schemas.Vehicle.model_validate(await vehicle_service.get(session, vehicle_id))
    start = quotes.today_bangkok().isoformat()
    context = {
        "vehicle": vehicle,
        "values": values
        or {"policy_type": "CLASS_1", "start_date": start, "policy_period_months": "12"},
        "errors": errors or {},
        "policy_types": POLICY_TYPES,
        "periods": PERIODS,
    }
    return render(request, "motor/quote_form.html", context, status_code=status_code)


@router.get("/vehicles/{vehicle_id}/quote")
async def quote_form(
    vehicle_id: uuid.UUID, request: Request, session: DBSession, principal: QuotesWrite
) -> Response:
    """The quote form of a vehicle (POST /motor/quotes with vehicle_id)."""
    return await _quote_form(request, session, vehicle_id)


@router.post("/vehicles/{vehicle_id}/quote", dependencies=[CsrfChecked])
async def create_quote(
    vehicle_id: uuid.UUID, request: Request, session: DBSession, principal: QuotesWrite
) -> Response:
    """Price and store the quote (quotes.create_quote, as POST /motor/quotes), then show its
    breakdown; refusals next to their field, nothing stored."""
    form = await request.form()
    values = {k: text(form, k, 100) for k in _QUOTE_INPUTS}
    values["dash_cam"] = "on" if form.get("dash_cam") else ""
    options: dict[str, Any] = {"dash_cam": bool(values["dash_cam"])}
    for name in ("voluntary_deductible", "ncd_percent", "driver_age"):
        if values[name]:
            options[name] = (
                _number(values[name]) if name != "voluntary_deductible" else values[name]
            )
    body = {
        "policy_type": values["policy_type"],
        "coverage_option": values["coverage_option"] or "STANDARD",
        "vehicle_id": str(vehicle_id),
        "start_date": values["start_date"],
        "policy_period_months": _number(values["policy_period_months"] or "12"),
        "sum_insured": values["sum_insured"] or None,
        "options": options,
    }
    try:
        parsed = parse(QuoteCreate, body, _QUOTE_FIELDS)
        async with session.begin_nested():
            made = await quotes.create_quote(session, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = exc.errors
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _QUOTE_FIELDS)
    else:
        return redirect(request, f"/web/motor/quotes/{made.quote_number}")
    return await _quote_form(
        request, session, vehicle_id, values=values, errors=errors, status_code=422
    )


async def _quote_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    quote_number: str,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    row = await quotes.get_quote(session, quote_number)
    quote = quote_out(row, quotes.effective_status(row))
    context = {
        "quote": quote,
        "can_bind": principal.can("motor.policies:write") and quote.status == "QUOTED",
        "plans": PAYMENT_PLANS,
        "values": values or {"payment_plan": "FULL"},
        "errors": errors or {},
        "status_words": STATUSES,
    }
    return render(request, "motor/quote.html", context, status_code=status_code)


@router.get("/quotes/{quote_number}")
async def quote_page(
    quote_number: str, request: Request, session: DBSession, principal: PoliciesRead
) -> Response:
    """A quote's premium as GET /motor/quotes/{n} answers it (base, itemised discounts,
    fees, total) and, while QUOTED, the bind form."""
    return await _quote_page(request, session, principal, quote_number[:50])


_BIND_FIELDS = {
    "quote_number": "payment_plan",
    "payment_plan": "payment_plan",
    "auto_renewal": "auto_renewal",
    "": "payment_plan",
}


@router.post("/quotes/{quote_number}/bind", dependencies=[CsrfChecked])
async def bind_quote(
    quote_number: str, request: Request, session: DBSession, principal: PoliciesWrite
) -> Response:
    """Bind the quote (POST /motor/policies): a DRAFT policy and its payment schedule, then
    the policy page with a PromptPay QR per payment due."""
    form = await request.form()
    values = {"payment_plan": text(form, "payment_plan", 20)}
    values["auto_renewal"] = "on" if form.get("auto_renewal") else ""
    body = {
        "quote_number": quote_number[:50],
        "payment_plan": values["payment_plan"],
        "auto_renewal": bool(values["auto_renewal"]),
        "payment_channel": "AGENT" if principal.role == "AGENT" else None,
    }
    try:
        parsed = parse(PolicyBind, body, _BIND_FIELDS)
        async with session.begin_nested():
            policy, _rows = await policies.bind_quote(session, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = exc.errors
    except Conflict as exc:
        errors = {
            "payment_plan": _("This quote can no longer be bound: %(why)s") % {"why": exc.message}
        }
    except BusinessRuleError as exc:
        errors = service_errors(exc, _BIND_FIELDS)
    else:
        response = redirect(request, f"/web/motor/policies/{policy.policy_number}")
        flash(response, request, "policy_bound")
        return response
    return await _quote_page(
        request,
        session,
        principal,
        quote_number[:50],
        values=values,
        errors=errors,
        status_code=422,
    )


# --- policies --------------------------------------------------------------------------------


async def _policy_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    policy_number: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    failed: str | None = None,
    form: str | None = None,
    status_code: int = 200,
) -> Response:
    row = await policies.get_policy(session, policy_number)
    policy = policy_out(row)
    values = values or {}
    payment_rows: list[dict[str, Any]] = []
    if principal.can("motor.payments:read"):
        for p in await payments.policy_payments(session, row.id):
            out = payments.payment_out(p, row.policy_number)
            qr = None
            if out.payment_status == "PENDING" and out.payment_type in PREMIUM_TYPES:
                qr = await payments.promptpay_qr(session, p.id)
            receipt = out.payment_status == "SUCCESS" and out.payment_type in PREMIUM_TYPES
            payment_rows.append({"payment": out, "qr": qr, "receipt": receipt})
        await _payment_finance(session, payment_rows)
    docs = await documents.list_documents(session, row.policy_number)
    chain = await renewals.renewal_history(session, row.policy_number)
    history = [renewal_out(r, o, n) for r, o, n in chain]
    claim_rows: list[Any] = []
    if principal.can("motor.claims:read"):
        items, _next = await claims.list_claims(
            session, claims.ClaimFilter(policy_number=row.policy_number), PageParams(limit=50)
        )
        claim_rows = [claim_out(c, p) for c, p in items]
    lang = i18n.current_language()
    # Cancellation (motor.policies:cancel, as POST /motor/policies/{n}/cancel): the form while
    # the status allows it (or to show its refusal), with the short-rate refund of the date.
    can_cancel = principal.can("motor.policies:cancel") and (
        policy_rules.can_transition(policy.status, "CANCELLED") or form == "cancellation"
    )
    refund = None
    if can_cancel:
        if form != "cancellation":
            values = {**values, "effective_date": quotes.today_bangkok().isoformat()}
        refund = await _refund_preview(session, row, _day(values.get("effective_date", "")))
    context = {
        "policy": policy,
        "payments": payment_rows,
        "documents": docs.latest,
        "renewals": history,
        "claims": claim_rows,
        "can_cancel": can_cancel,
        "refund": refund,
        "cancellation": _cancellation(policy.coverage_details),
        "form_shown": form,
        "can_confirm": principal.can("motor.payments:write"),
        "can_refund": principal.can("motor.payments:refund"),
        "show_reconciliation": True,
        "reconciliation_words": _reconciliation_words(),
        "reconciliation_badges": RECONCILIATION_BADGES,
        "can_renew": principal.can("motor.policies:write")
        and policy.status in ("ACTIVE", "EXPIRED"),
        "can_claim": principal.can("motor.claims:write") and policy.status == "ACTIVE",
        "receipt_lang": "th" if lang == "th" else "en",
        "errors": errors or {},
        "values": values,
        "failed": failed,
        "status_words": STATUSES,
    }
    return render(request, "motor/policy.html", context, status_code=status_code)


def _day(value: str) -> date | None:
    """A date typed in a form (ISO), else None."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


@dataclass(frozen=True)
class RefundShown:
    """The short-rate refund of a cancellation, as the page shows it."""

    effective_date: date
    days_in_force: int
    percent: str
    unearned_premium: Decimal
    earned_premium: Decimal
    paid: Decimal
    amount: Decimal
    table: str


def _percent(value: Decimal | str) -> str:
    return f"{Decimal(str(value)).normalize():f}%"


async def _refund_preview(
    session: DBSession, row: MotorPolicy, effective: date | None
) -> RefundShown | None:
    """What cancelling from `effective` would refund (policy_rules.cancellation_refund on
    the premium received, as policies.cancel_policy computes it); None for no date or one
    the service refuses (not before the end of the period)."""
    if effective is None or effective >= row.end_date:
        return None
    paid, _method = await payments.paid_total(session, row.id)
    refund = policy_rules.cancellation_refund(
        total_premium=row.total_premium,
        paid=paid,
        start=row.start_date,
        end=row.end_date,
        effective=effective,
        period_months=row.policy_period_months,
    )
    return RefundShown(
        effective,
        refund.days_in_force,
        _percent(refund.refund_percent),
        refund.unearned_premium,
        refund.earned_premium,
        refund.paid,
        refund.amount,
        policy_rules.short_rate_table().name,
    )


def _cancellation(details: dict[str, Any]) -> dict[str, Any] | None:
    """The cancellation policies.cancel_policy recorded in coverage_details, for the page."""
    done = details.get("cancellation")
    if not isinstance(done, dict):
        return None
    refund = done.get("refund") or {}
    return {
        "reason": done.get("reason"),
        "effective_date": _day(str(done.get("effective_date") or "")),
        "amount": refund.get("amount"),
        "paid": refund.get("paid"),
        "days_in_force": refund.get("days_in_force"),
        "percent": _percent(refund["refund_percent"]) if refund.get("refund_percent") else "",
        "table": done.get("short_rate_table"),
    }


@router.get("/policies/{policy_number}")
async def policy_page(
    policy_number: str, request: Request, session: DBSession, principal: PoliciesRead
) -> Response:
    """A policy: its facts, documents, payments (a PromptPay QR per payment due, receipts of
    paid ones), renewals and claims."""
    return await _policy_page(request, session, principal, policy_number[:50])


@router.get("/policies/{policy_number}/cancellation/refund")
async def refund_preview(
    policy_number: str,
    request: Request,
    session: DBSession,
    principal: PoliciesCancel,
    effective_date: Annotated[str, Query(max_length=20)] = "",
) -> Response:
    """The refund a cancellation from `effective_date` would give (the short-rate table on
    the premium received): the fragment the cancellation form asks for (htmx) when the date
    changes."""
    row = await policies.get_policy(session, policy_number[:50])
    refund = await _refund_preview(session, row, _day(effective_date))
    return render(request, "motor/_refund.html", {"refund": refund})


_CANCEL_FIELDS = {"reason": "cancel_reason", "effective_date": "effective_date", "": "cancellation"}


@router.post("/policies/{policy_number}/cancel", dependencies=[CsrfChecked])
async def cancel_policy(
    policy_number: str, request: Request, session: DBSession, principal: PoliciesCancel
) -> Response:
    """Cancel the policy from the effective date (policies.cancel_policy, as POST
    /motor/policies/{n}/cancel): unpaid instalments cancelled, the premium paid beyond the
    earned one (short-rate table) a PENDING outgoing refund; refusals next to their field,
    nothing written."""
    number = policy_number[:50]
    form = await request.form()
    values = {
        "cancel_reason": text(form, "cancel_reason", 1000),
        "effective_date": text(form, "effective_date", 20),
    }
    body = {"reason": values["cancel_reason"], "effective_date": values["effective_date"] or None}
    try:
        parsed = parse(PolicyCancel, body, _CANCEL_FIELDS)
        async with session.begin_nested():
            await policies.cancel_policy(session, number, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _CANCEL_FIELDS)
    else:
        response = redirect(request, f"/web/motor/policies/{number}")
        flash(response, request, "policy_cancelled")
        return response
    return await _policy_page(
        request,
        session,
        principal,
        number,
        errors=errors,
        values=values,
        form="cancellation",
        status_code=422,
    )


@router.get("/policies/{policy_number}/documents/{document_id}")
async def policy_document(
    policy_number: str, document_id: uuid.UUID, session: DBSession, principal: PoliciesRead
) -> Response:
    """One stored document version (GET /motor/policies/{n}/documents/{id}), as a PDF."""
    row, data = await documents.get_document(session, policy_number[:50], document_id)
    name = row.document_name
    if (row.version_number or 1) > 1:
        name = name.removesuffix(".pdf") + f"-v{row.version_number}.pdf"
    return _pdf(data, name)


def _pdf(data: bytes, name: str) -> Response:
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(name),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/payments/{payment_id}/promptpay.png")
async def promptpay_png(
    payment_id: uuid.UUID, session: DBSession, principal: PaymentsRead
) -> Response:
    """The PromptPay QR image of a payment due: the PNG of GET
    /motor/payments/{id}/promptpay?format=png."""
    qr = await payments.promptpay_qr(session, payment_id)
    return Response(
        payments.qr_png(qr),
        media_type="image/png",
        headers={"Cache-Control": "private, no-store"},
    )


@router.get("/payments/{payment_id}/receipt.pdf")
async def receipt_pdf(
    payment_id: uuid.UUID,
    session: DBSession,
    principal: PaymentsRead,
    lang: Annotated[Literal["th", "en"], Query()] = "th",
) -> Response:
    """The receipt / tax invoice of a paid premium (GET /motor/payments/{id}/receipt
    ?format=pdf)."""
    data, name = await receipts.receipt_pdf(session, payment_id, lang)
    return _pdf(data, name)


_CONFIRM_FIELDS = {"reference": "reference", "amount": "reference", "": "reference"}


@router.post("/payments/{payment_id}/confirm", dependencies=[CsrfChecked])
async def confirm_payment(
    payment_id: uuid.UUID, request: Request, session: DBSession, principal: PaymentsWrite
) -> Response:
    """Record the money of a payment due as received (POST /motor/payments/{id}/confirm):
    the amount due, now, by PromptPay, with the bank's reference."""
    row, number = await payments.get_payment(session, payment_id)
    if number is None:
        raise BusinessRuleError("This payment belongs to no policy.")
    form = await request.form()
    values = {"reference": text(form, "reference", 100)}
    body = {
        "method": "PROMPTPAY",
        "reference": values["reference"],
        "paid_at": datetime.now(UTC).isoformat(),
        "amount": str(row.total_amount),
    }
    try:
        parsed = parse(PaymentConfirm, body, _CONFIRM_FIELDS)
        async with session.begin_nested():
            await payments.confirm_payment(session, payment_id, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = exc.errors
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _CONFIRM_FIELDS)
    else:
        response = redirect(request, f"/web/motor/policies/{number}")
        flash(response, request, "payment_recorded")
        return response
    return await _policy_page(
        request,
        session,
        principal,
        number,
        errors=errors,
        values=values,
        failed=str(payment_id),
        status_code=422,
    )


@router.post("/policies/{policy_number}/renewals", dependencies=[CsrfChecked])
async def renew_policy(
    policy_number: str, request: Request, session: DBSession, principal: PoliciesWrite
) -> Response:
    """Renew the policy for the next period (POST /motor/policies/{n}/renewals, MANUAL,
    started by the agent): the new DRAFT policy's page."""
    try:
        async with session.begin_nested():
            made = await renewals.renew_policy(
                session,
                policy_number[:50],
                renewal_type="MANUAL",
                start_date=None,
                initiated_by="AGENT",
                renewal_channel="AGENT",
                user_id=principal.user_id,
            )
    except (BusinessRuleError, Conflict) as exc:
        errors = {"renewal": exc.message}
        return await _policy_page(
            request, session, principal, policy_number[:50], errors=errors, status_code=422
        )
    response = redirect(request, f"/web/motor/policies/{made.renewed.policy_number}")
    flash(response, request, "policy_renewed")
    return response


# --- claims ----------------------------------------------------------------------------------

BOARD_SIZE = 10


@router.get("/claims")
async def claims_board(
    request: Request,
    session: DBSession,
    principal: ClaimsRead,
    status: Annotated[str | None, Query(max_length=20)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The claims board: a column per status with its count and newest claims (GET
    /motor/claims?status=); with ?status= the whole list of that status, page by page."""
    counted = await session.execute(
        select(MotorClaim.status, func.count())
        .where(MotorClaim.deleted_at.is_(None))
        .group_by(MotorClaim.status)
    )
    counts = {s: int(n) for s, n in counted.all()}
    chosen = status if status in CLAIM_STATUSES else None
    columns = []
    next_cursor = None
    for s in (chosen,) if chosen else CLAIM_STATUSES:
        items, after = await claims.list_claims(
            session,
            claims.ClaimFilter(status=s),
            PageParams(
                cursor=cursor if chosen else None, limit=PAGE_SIZE if chosen else BOARD_SIZE
            ),
        )
        next_cursor = after if chosen else None
        columns.append(
            {
                "status": s,
                "count": counts.get(s or "", 0),
                "claims": [claim_out(c, p) for c, p in items],
            }
        )
    context = {
        "columns": columns,
        "chosen": chosen,
        "next_cursor": next_cursor,
        "status_words": STATUSES,
        "can_report": principal.can("motor.claims:write"),
    }
    return render(request, "motor/claims.html", context)


_FNOL_FIELDS = {
    "policy_number": "policy_number",
    "claim_type": "claim_type",
    "incident_date": "incident_date",
    "incident_description": "incident_description",
    "damage_description": "damage_description",
    "injury_description": "injury_description",
    "police_report_number": "police_report_number",
    "estimated_amount": "estimated_amount",
    "": "policy_number",
}
_FNOL_INPUTS = tuple(k for k in _FNOL_FIELDS if k)


def _bangkok_time(value: str) -> str | None:
    """A `datetime-local` value (Bangkok) as an aware ISO timestamp; None when unreadable."""
    try:
        local = datetime.fromisoformat(value)
    except ValueError:
        return None
    if local.tzinfo is None:
        local = local.replace(tzinfo=BANGKOK)
    return local.isoformat()


def _fnol_form(
    request: Request,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {"values": values, "errors": errors or {}, "claim_types": CLAIM_TYPES}
    return render(request, "motor/claim_new.html", context, status_code=status_code)


@router.get("/claims/new")
async def new_claim_form(
    request: Request,
    principal: ClaimsWrite,
    policy: Annotated[str, Query(max_length=50)] = "",
) -> Response:
    """The first notice of loss form (POST /motor/claims)."""
    now = datetime.now(BANGKOK).replace(second=0, microsecond=0, tzinfo=None)
    return _fnol_form(
        request,
        {"policy_number": policy, "claim_type": "ACCIDENT", "incident_date": now.isoformat()},
    )


@router.post("/claims/new", dependencies=[CsrfChecked])
async def report_claim(request: Request, session: DBSession, principal: ClaimsWrite) -> Response:
    """Report a claim (claims.report_claim, as POST /motor/claims): cover, dates and amounts
    checked and the claim fraud-scored; refusals next to their field, nothing written."""
    form = await request.form()
    values = {k: text(form, k, 5000) for k in _FNOL_INPUTS}
    body = _blank_none(values)
    errors: dict[str, str] = {}
    if values["incident_date"]:
        body["incident_date"] = _bangkok_time(values["incident_date"]) or values["incident_date"]
    try:
        parsed = parse(ClaimCreate, body, _FNOL_FIELDS)
        async with session.begin_nested():
            claim, _policy = await claims.report_claim(session, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = exc.errors
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _FNOL_FIELDS)
    else:
        response = redirect(request, f"/web/motor/claims/{claim.id}")
        flash(response, request, "claim_reported")
        return response
    return _fnol_form(request, values, errors, status_code=422)


async def _claim_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    form: str | None = None,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    failed: str | None = None,
    status_code: int = 200,
) -> Response:
    claim_row, policy_row = await claims.claim_with_policy(session, claim_id)
    claim = claim_out(claim_row, policy_row)
    assessments = await claim_assessments.assessments_of(session, claim_row.id)
    settled = await claim_settlements.get_settlements(session, claim_row.id)
    history = await claims.claim_history(session, claim_row.id)
    status = claim.status
    # The moves of claim_endpoints (motor.claims:write) the status allows; a refused one is
    # shown again with its refusal even when the status no longer allows it.
    can_write = principal.can("motor.claims:write")
    moves = {
        "assignment": can_write and status in claim_rules.OPEN_STATUSES,
        "investigation": can_write
        and claim_rules.can_transition(status, claim_rules.INVESTIGATING),
        "rejection": can_write and claim_rules.can_transition(status, claim_rules.REJECTED),
        "closure": can_write and claim_rules.can_transition(status, claim_rules.CLOSED),
    }
    if form in moves:
        moves[form] = True
    people = await _people(session, claim_row.adjuster_id, claim_row.surveyor_id)
    choices = await _assignable(session) if moves["assignment"] else {}
    defaults = {
        "adjuster_id": str(claim_row.adjuster_id or ""),
        "surveyor_id": str(claim_row.surveyor_id or ""),
        "paid_at": datetime.now(BANGKOK).strftime("%Y-%m-%dT%H:%M"),
    }
    context = {
        "claim": claim,
        "policy": policy_row,
        "assessments": assessments,
        "settled": settled,
        "history": history,
        "can_assess": principal.can("motor.surveys:write")
        and status in ("ASSIGNED", "INVESTIGATING", "ASSESSED"),
        "can_approve": principal.can("motor.claims:approve") and status == "ASSESSED",
        "can_settle": principal.can("motor.claims:settle") and status == "APPROVED",
        "moves": moves,
        "people": people,
        "choices": choices,
        "defaults": defaults,
        "version": claim.version,
        "settlement_words": _settlement_words(),
        "failed": failed,
        "form": form,
        "errors": errors or {},
        "values": values or {},
        "status_words": STATUSES,
        "assessment_types": ASSESSMENT_TYPES,
        "actions": ACTIONS,
        "payee_types": PAYEE_TYPES,
        "methods": SETTLEMENT_METHODS,
        "heads": HEADS_OF_LOSS,
    }
    return render(request, "motor/claim.html", context, status_code=status_code)


def _settlement_words() -> dict[str, str]:
    """The statuses of a settlement row in the current language."""
    return {
        "PENDING": _("Pending"),
        "APPROVED": _("Approved"),
        "PAID": _("Paid"),
        "CANCELLED": _("Cancelled"),
    }


def _person(first: str, last: str, username: str) -> str:
    return f"{first} {last} ({username})"


async def _people(
    session: DBSession, adjuster_id: uuid.UUID | None, surveyor_id: uuid.UUID | None
) -> dict[str, str]:
    """The names of the claim's adjuster and surveyor."""
    ids = {i for i in (adjuster_id, surveyor_id) if i is not None}
    if not ids:
        return {}
    rows = await session.execute(
        select(User.id, User.first_name, User.last_name, User.username).where(User.id.in_(ids))
    )
    names = {r.id: _person(r.first_name, r.last_name, r.username) for r in rows}
    found = {"adjuster": adjuster_id, "surveyor": surveyor_id}
    return {k: names[i] for k, i in found.items() if i is not None and i in names}


ASSIGNABLE = {"adjuster_id": "ADJUSTER", "surveyor_id": "SURVEYOR"}


async def _assignable(session: DBSession) -> dict[str, dict[str, str]]:
    """Who a claim may be assigned to, as claims.assign_claim accepts them: live ACTIVE users
    of role ADJUSTER (adjuster_id) and SURVEYOR (surveyor_id), by name; {"": "-"} first
    (nobody chosen: the assignee stays)."""
    rows = await session.execute(
        select(User.id, User.role, User.first_name, User.last_name, User.username)
        .where(
            User.role.in_(tuple(ASSIGNABLE.values())),
            User.deleted_at.is_(None),
            func.coalesce(User.account_status, "ACTIVE") == "ACTIVE",
        )
        .order_by(User.first_name, User.last_name, User.username)
        .limit(500)
    )
    choices: dict[str, dict[str, str]] = {field: {"": "-"} for field in ASSIGNABLE}
    by_role = {role: field for field, role in ASSIGNABLE.items()}
    for r in rows:
        choices[by_role[r.role]][str(r.id)] = _person(r.first_name, r.last_name, r.username)
    return choices


@router.get("/claims/{claim_id}")
async def claim_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsRead
) -> Response:
    """A claim: facts, heads of loss, fraud flags, assessments, settlements and history, with
    the forms the role and the status allow: assignment, investigation, rejection,
    assessment, approval, settlement (and paying or cancelling each one), closure."""
    return await _claim_page(request, session, principal, claim_id)


_ASSESSMENT_FIELDS = {
    "assessment_type": "assessment_type",
    "damage_assessment": "damage",
    "recommended_amount": "recommended_amount",
    "recommended_action": "recommended_action",
    "liability_percentage": "liability_percentage",
    "assessment_notes": "assessment_notes",
    "": "recommended_amount",
}
_ASSESSMENT_INPUTS = (
    "assessment_type",
    "damage",
    "recommended_amount",
    "recommended_action",
    "liability_percentage",
    "assessment_notes",
)


@router.post("/claims/{claim_id}/assessments", dependencies=[CsrfChecked])
async def create_assessment(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: SurveysWrite
) -> Response:
    """Record an assessment (POST /motor/claims/{id}/assessments); the damage found is kept
    as {"summary": ...}."""
    form = await request.form()
    values = {k: text(form, k, 5000) for k in _ASSESSMENT_INPUTS}
    body = _blank_none(values)
    del body["damage"]
    body["damage_assessment"] = {"summary": values["damage"]} if values["damage"] else {}
    try:
        parsed = parse(AssessmentCreate, body, _ASSESSMENT_FIELDS)
        async with session.begin_nested():
            await claim_assessments.record_assessment(
                session, claim_id, parsed, user_id=principal.user_id, role=principal.role
            )
    except FormInvalid as exc:
        errors = exc.errors
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _ASSESSMENT_FIELDS)
    else:
        response = redirect(request, f"/web/motor/claims/{claim_id}")
        flash(response, request, "assessment_recorded")
        return response
    return await _claim_page(
        request,
        session,
        principal,
        claim_id,
        form="assessment",
        errors=errors,
        values=values,
        status_code=422,
    )


_APPROVAL_FIELDS = {"approved_amount": "approved_amount", "notes": "notes", "": "approved_amount"}


@router.post("/claims/{claim_id}/approval", dependencies=[CsrfChecked])
async def approve_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsApprove
) -> Response:
    """Approve an ASSESSED claim within the role's authority (POST
    /motor/claims/{id}/approval)."""
    form = await request.form()
    values = {k: text(form, k, 100) for k in ("approved_amount", "notes")}
    try:
        parsed = parse(ApprovalCreate, _blank_none(values), _APPROVAL_FIELDS)
        async with session.begin_nested():
            await claim_assessments.approve(
                session,
                claim_id,
                parsed.approved_amount,
                parsed.notes,
                user_id=principal.user_id,
                role=principal.role,
            )
    except FormInvalid as exc:
        errors = exc.errors
    except PolisError as exc:
        if exc.status_code not in (403, 409, 422):
            raise
        errors = service_errors(exc, _APPROVAL_FIELDS)
    else:
        response = redirect(request, f"/web/motor/claims/{claim_id}")
        flash(response, request, "claim_approved")
        return response
    return await _claim_page(
        request,
        session,
        principal,
        claim_id,
        form="approval",
        errors=errors,
        values=values,
        status_code=422,
    )


_SETTLEMENT_INPUTS = (
    "payee_type",
    "payee_name",
    "settlement_method",
    "head_of_loss",
    "gross_amount",
    "bank_code",
    "bank_account_name",
    "bank_account_number",
    "notes",
)
_SETTLEMENT_FIELDS = {f"payees.0.{k}": k for k in _SETTLEMENT_INPUTS} | {
    "payees.0": "gross_amount",
    "payees": "gross_amount",
    "": "gross_amount",
}


@router.post("/claims/{claim_id}/settlements", dependencies=[CsrfChecked])
async def create_settlement(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsSettle
) -> Response:
    """Settle an APPROVED claim to one payee (POST /motor/claims/{id}/settlements): gross
    less the deductible on own damage, and the outgoing payment."""
    form = await request.form()
    values = {k: text(form, k, 2000) for k in _SETTLEMENT_INPUTS}
    body = {"payees": [_blank_none(values)]}
    try:
        parsed = parse(SettlementCreate, body, _SETTLEMENT_FIELDS)
        async with session.begin_nested():
            await claim_settlements.create_settlements(
                session, claim_id, parsed, user_id=principal.user_id
            )
    except FormInvalid as exc:
        errors = exc.errors
    except PolisError as exc:
        if exc.status_code not in (403, 409, 422):
            raise
        errors = service_errors(exc, _SETTLEMENT_FIELDS)
    else:
        response = redirect(request, f"/web/motor/claims/{claim_id}")
        flash(response, request, "settlement_created")
        return response
    return await _claim_page(
        request,
        session,
        principal,
        claim_id,
        form="settlement",
        errors=errors,
        values=values,
        status_code=422,
    )


def claim_status_words(code: str | None) -> str:
    """A claim, policy or payment status in the current language."""
    return words(STATUSES, code)


# --- claim moves (claim_endpoints: assignment, investigation, rejection, closure) ------------


def _version(form: Any) -> int | None:
    """The claim version the form was read at (the API's optional If-Match), else None."""
    value = text(form, "version", 9)
    return int(value) if value.isdigit() else None


async def _claim_refused(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    form_name: str,
    errors: dict[str, str],
    values: dict[str, str],
    failed: str | None = None,
) -> Response:
    """The claim page again with the refused form, its values and errors: 422."""
    return await _claim_page(
        request,
        session,
        principal,
        claim_id,
        form=form_name,
        errors=errors,
        values=values,
        failed=failed,
        status_code=422,
    )


def _claim_done(request: Request, claim_id: uuid.UUID, key: str) -> Response:
    response = redirect(request, f"/web/motor/claims/{claim_id}")
    flash(response, request, key)
    return response


_ASSIGNMENT_FIELDS = {
    "adjuster_id": "adjuster_id",
    "surveyor_id": "surveyor_id",
    "": "adjuster_id",
}


@router.post("/claims/{claim_id}/assignment", dependencies=[CsrfChecked])
async def assign_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Assign the adjuster and/or surveyor (claims.assign_claim, as POST
    /motor/claims/{id}/assignment): ACTIVE users of those roles; a REPORTED claim becomes
    ASSIGNED and needs an adjuster; later only the people change."""
    form = await request.form()
    values = {k: text(form, k, 40) for k in ASSIGNABLE}
    try:
        parsed = parse(Assignment, _blank_none(values), _ASSIGNMENT_FIELDS)
        async with session.begin_nested():
            await claims.assign_claim(
                session,
                claim_id,
                parsed,
                user_id=principal.user_id,
                expected_version=_version(form),
            )
    except FormInvalid as exc:
        errors = exc.errors
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _ASSIGNMENT_FIELDS)
    else:
        return _claim_done(request, claim_id, "claim_assigned")
    return await _claim_refused(request, session, principal, claim_id, "assignment", errors, values)


# The moves with a reason: the form's field, the API's body and field, the target status.
@dataclass(frozen=True)
class Move:
    field: str
    model: type[Investigation] | type[Rejection] | type[Closure]
    body_field: str
    target: str
    flash: str


MOVES = {
    "investigation": Move(
        "investigation_reason",
        Investigation,
        "reason",
        claim_rules.INVESTIGATING,
        "claim_investigating",
    ),
    "rejection": Move(
        "rejection_reason", Rejection, "reason", claim_rules.REJECTED, "claim_rejected"
    ),
    "closure": Move("closure_notes", Closure, "notes", claim_rules.CLOSED, "claim_closed"),
}


async def _move_claim(
    name: str, claim_id: uuid.UUID, request: Request, session: DBSession, principal: Principal
) -> Response:
    """One move of claim_endpoints._move: claims.move_claim to the target with the reason
    (kept as the audit row's business_context); refusals next to the field, nothing
    written."""
    move = MOVES[name]
    form = await request.form()
    values = {move.field: text(form, move.field, 1000)}
    names = {move.body_field: move.field, "": move.field}
    try:
        parsed = parse(move.model, {move.body_field: values[move.field]}, names)
        async with session.begin_nested():
            await claims.move_claim(
                session,
                claim_id,
                move.target,
                user_id=principal.user_id,
                reason=getattr(parsed, move.body_field),
                sub_status=parsed.sub_status,
                expected_version=_version(form),
            )
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, names)
    else:
        return _claim_done(request, claim_id, move.flash)
    return await _claim_refused(request, session, principal, claim_id, name, errors, values)


@router.post("/claims/{claim_id}/investigation", dependencies=[CsrfChecked])
async def investigate_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Open an investigation (POST /motor/claims/{id}/investigation): REPORTED, ASSIGNED or
    ASSESSED -> INVESTIGATING, with the reason."""
    return await _move_claim("investigation", claim_id, request, session, principal)


@router.post("/claims/{claim_id}/rejection", dependencies=[CsrfChecked])
async def reject_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Reject the claim (POST /motor/claims/{id}/rejection): REPORTED, ASSIGNED,
    INVESTIGATING or ASSESSED -> REJECTED, with the reason."""
    return await _move_claim("rejection", claim_id, request, session, principal)


@router.post("/claims/{claim_id}/closure", dependencies=[CsrfChecked])
async def close_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Close the file (POST /motor/claims/{id}/closure): SETTLED or REJECTED -> CLOSED, with
    the notes."""
    return await _move_claim("closure", claim_id, request, session, principal)


# --- settlement paid / cancelled (claim_settlement_endpoints) --------------------------------

_PAID_FIELDS = {
    "transaction_reference": "transaction_reference",
    "paid_at": "paid_at",
    "": "transaction_reference",
}


@router.post("/claims/{claim_id}/settlements/{settlement_id}/paid", dependencies=[CsrfChecked])
async def settlement_paid(
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: ClaimsSettle,
) -> Response:
    """Record the bank's confirmation of a settlement's payment (claim_settlements.mark_paid,
    as POST /motor/claims/{id}/settlements/{s}/paid): the bank reference and when it was
    paid (Bangkok time); the claim is SETTLED once every row is done."""
    form = await request.form()
    values = {
        "transaction_reference": text(form, "transaction_reference", 200),
        "paid_at": text(form, "paid_at", 40),
    }
    body = {
        "transaction_reference": values["transaction_reference"],
        "paid_at": (_bangkok_time(values["paid_at"]) or values["paid_at"]) or None,
    }
    try:
        parsed = parse(SettlementPaid, body, _PAID_FIELDS)
        async with session.begin_nested():
            await claim_settlements.mark_paid(
                session, claim_id, settlement_id, parsed, user_id=principal.user_id
            )
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _PAID_FIELDS)
    else:
        return _claim_done(request, claim_id, "settlement_paid")
    return await _claim_refused(
        request, session, principal, claim_id, "paid", errors, values, str(settlement_id)
    )


_SETTLEMENT_CANCEL_FIELDS = {"reason": "cancel_reason", "": "cancel_reason"}


@router.post("/claims/{claim_id}/settlements/{settlement_id}/cancel", dependencies=[CsrfChecked])
async def cancel_settlement(
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: ClaimsSettle,
) -> Response:
    """Cancel an unpaid settlement and its payment (claim_settlements.cancel, as POST
    /motor/claims/{id}/settlements/{s}/cancel), with the reason."""
    form = await request.form()
    values = {"cancel_reason": text(form, "cancel_reason", 2000)}
    try:
        parsed = parse(
            SettlementCancel, {"reason": values["cancel_reason"]}, _SETTLEMENT_CANCEL_FIELDS
        )
        async with session.begin_nested():
            await claim_settlements.cancel(
                session, claim_id, settlement_id, parsed.reason, user_id=principal.user_id
            )
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
    except (BusinessRuleError, Conflict) as exc:
        errors = service_errors(exc, _SETTLEMENT_CANCEL_FIELDS)
    else:
        return _claim_done(request, claim_id, "settlement_cancelled")
    return await _claim_refused(
        request, session, principal, claim_id, "cancel", errors, values, str(settlement_id)
    )


# --- payments: refunds through the gateway, bank-statement reconciliation --------------------
# The pages of POST /motor/payments/{id}/refund and POST /motor/payments/reconciliations
# (polis.motor.gateway_endpoints): the same services, permissions and checks.

PaymentsRefund = Annotated[Principal, Depends(require_page("motor.payments:refund"))]
PaymentsReconcile = Annotated[Principal, Depends(require_page("motor.payments:reconcile"))]

# A reconciliation status's badge, in the stylesheet's colours.
RECONCILIATION_BADGES = {
    "PENDING": "pending",
    "MATCHED": "paid",
    "UNMATCHED": "pending",
    "DISPUTED": "failed",
}


def _reconciliation_words() -> dict[str, str]:
    """The words of a payment's or statement line's reconciliation status, in the current
    language."""
    return {
        "PENDING": _("Not reconciled yet"),
        "MATCHED": _("Matched"),
        "UNMATCHED": _("Unmatched"),
        "DISPUTED": _("Disputed"),
    }


def _refundable(out: Any) -> bool:
    """Received premium money, which POST /motor/payments/{id}/refund refunds."""
    return bool(
        out.payment_direction == "INCOMING"
        and out.payment_status == "SUCCESS"
        and out.payment_type in PREMIUM_TYPES
    )


async def _payment_finance(session: DBSession, rows: list[dict[str, Any]]) -> None:
    """Add to the policy page's payment rows when each was reconciled and, for received
    premium money, what was refunded of it (gateway.refunded_total) and what is left."""
    if not rows:
        return
    ids = [row["payment"].id for row in rows]
    found = await session.execute(
        select(MotorPayment.id, MotorPayment.reconciled_at).where(MotorPayment.id.in_(ids))
    )
    reconciled = dict(found.all())
    for row in rows:
        out = row["payment"]
        row["reconciled_at"] = reconciled.get(out.id)
        row["refunded"] = None
        row["refundable"] = None
        if _refundable(out):
            refunded = await gateway.refunded_total(session, out.id)
            row["refunded"] = refunded
            row["refundable"] = max(out.total_amount - refunded, Decimal("0.00"))


_REFUND_FIELDS = {"amount": "refund_amount", "reason": "refund_reason", "": "refund_amount"}


@router.post("/payments/{payment_id}/refund", dependencies=[CsrfChecked])
async def refund_payment(
    payment_id: uuid.UUID, request: Request, session: DBSession, principal: PaymentsRefund
) -> Response:
    """Refund received premium money through the payment gateway (gateway.refund with the
    app's gateway client, as POST /motor/payments/{id}/refund): a new OUTGOING REFUND payment,
    paid. At most what was paid less what was refunded; a refusal (too much, the gateway
    refusing or not answering) next to the amount, nothing written."""
    row, number = await payments.get_payment(session, payment_id)
    if number is None:
        raise BusinessRuleError("This payment belongs to no policy.")
    form = await request.form()
    values = {
        "refund_amount": text(form, "refund_amount", 30),
        "refund_reason": text(form, "refund_reason", 500),
    }
    body = {"amount": values["refund_amount"] or None, "reason": values["refund_reason"]}
    status_code = 422
    try:
        parsed = parse(RefundRequest, body, _REFUND_FIELDS)
        client = gateway.gateway_client(request)
        async with session.begin_nested():
            await gateway.refund(session, client, payment_id, parsed, user_id=principal.user_id)
    except FormInvalid as exc:
        errors = _required(exc.errors, values)
        if "refund_amount" in exc.errors and values["refund_amount"]:
            errors["refund_amount"] = _(
                "Type an amount above zero with at most two decimals, such as 400.00."
            )
    except payments.InvalidPayment as exc:
        errors = {"refund_amount": await _refund_refusal(session, row, exc)}
    except gateway.GatewayRefused as exc:
        errors = {
            "refund_amount": _("The payment gateway refused the refund: %(why)s")
            % {"why": exc.message}
        }
    except ServiceUnavailable:
        errors = {
            "refund_amount": _(
                "The payment gateway did not answer. Nothing was refunded or written; try later."
            )
        }
        status_code = 503
    except Conflict as exc:
        errors = {
            "refund_amount": _("This payment cannot be refunded: %(why)s") % {"why": exc.message}
        }
        status_code = 409
    except BusinessRuleError as exc:
        errors = service_errors(exc, _REFUND_FIELDS)
    else:
        response = redirect(request, f"/web/motor/policies/{number}")
        flash(response, request, "payment_refunded")
        return response
    return await _policy_page(
        request,
        session,
        principal,
        number,
        errors=errors,
        values=values,
        failed=str(payment_id),
        form="refund",
        status_code=status_code,
    )


async def _refund_refusal(
    session: DBSession, payment: MotorPayment, exc: payments.InvalidPayment
) -> str:
    """The service's refusal of a refund amount in the page's language."""
    kinds = [str(e.get("type")) for e in exc.extra.get("errors", [])]
    if "exceeds_refundable" in kinds:
        refunded = await gateway.refunded_total(session, payment.id)
        return _(
            "At most %(left)s can be refunded: %(paid)s was paid, %(refunded)s already refunded."
        ) % {
            "left": baht(max(payment.total_amount - refunded, Decimal("0.00"))),
            "paid": baht(payment.total_amount),
            "refunded": baht(refunded),
        }
    return exc.message


def _statement_error(error: dict[str, str], limit: int) -> str:
    """One refusal of reconciliation.parse_statement (or of the size limit) in the page's
    language, naming the line of the file."""
    kind = error.get("type", "")
    found = re.match(r"file\.line(\d+)\.", error.get("field", ""))
    line = found.group(1) if found else ""
    if kind == "too_large":
        return _("The file is larger than the limit of %(size)s.") % {"size": human_size(limit)}
    if kind == "encoding":
        return _("The file is not UTF-8 text: save the statement as CSV (UTF-8).")
    if kind == "empty":
        return _("The file is empty.")
    if kind == "header":
        return _("The first line must be the header %(header)s.") % {
            "header": ",".join(reconciliation.COLUMNS)
        }
    if kind == "too_long":
        return _("A statement has at most %(n)s lines.") % {
            "n": i18n.number(reconciliation.MAX_LINES)
        }
    if kind == "columns":
        return _("Line %(line)s: expected %(n)s columns.") % {
            "line": line,
            "n": len(reconciliation.COLUMNS),
        }
    if kind == "date":
        return _("Line %(line)s: the date must be YYYY-MM-DD.") % {"line": line}
    if kind == "amount":
        return _(
            "Line %(line)s: the amount must be above zero, with at most two decimals and no"
            " thousands separator."
        ) % {"line": line}
    if kind == "reference":
        return _("Line %(line)s: the reference must be 1 to 100 characters.") % {"line": line}
    if kind == "id":
        return _("Line %(line)s: the bank transaction id must be 1 to 100 characters.") % {
            "line": line
        }
    if kind == "duplicate":
        first = re.search(r"(\d+)$", error.get("message", ""))
        return _("Line %(line)s: the bank transaction id repeats line %(first)s.") % {
            "line": line,
            "first": first.group(1) if first else "?",
        }
    return error.get("message", "")


@dataclass(frozen=True)
class LineShown:
    """A statement line's verdict as the result page shows it."""

    line: Any  # polis.motor.gateway_schemas.ReconciliationLine
    policy_number: str | None
    why: str


@dataclass(frozen=True)
class Total:
    """The lines of one outcome: how many and their amount."""

    status: str
    count: int
    amount: Decimal


def _line_why(line: Any) -> str:
    """Why a line is UNMATCHED or DISPUTED, in the page's language (the reasons of
    reconciliation.reconcile)."""
    if line.status == "UNMATCHED":
        return _("No payment has this reference.")
    if line.status != "DISPUTED":
        return ""
    if line.expected_amount is not None and line.expected_amount != line.amount:
        return _("The payment's amount is %(expected)s, the bank's %(amount)s.") % {
            "expected": baht(line.expected_amount),
            "amount": baht(line.amount),
        }
    return _("The payment was already matched by another bank transaction.")


async def _shown_lines(session: DBSession, result: ReconciliationResult) -> list[LineShown]:
    """The result's lines with the policy number of each payment found."""
    ids = {line.payment_id for line in result.lines if line.payment_id is not None}
    numbers: dict[uuid.UUID, str] = {}
    if ids:
        found = await session.execute(
            select(MotorPayment.id, MotorPolicy.policy_number)
            .join(MotorPolicy, MotorPolicy.id == MotorPayment.policy_id)
            .where(MotorPayment.id.in_(ids))
        )
        numbers = dict(found.all())
    return [
        LineShown(line, numbers.get(line.payment_id) if line.payment_id else None, _line_why(line))
        for line in result.lines
    ]


def _totals(result: ReconciliationResult) -> list[Total]:
    return [
        Total(
            status,
            sum(1 for x in result.lines if x.status == status),
            sum((x.amount for x in result.lines if x.status == status), Decimal("0.00")),
        )
        for status in ("MATCHED", "UNMATCHED", "DISPUTED")
    ]


def _reconciliation_page(
    request: Request,
    principal: Principal,
    *,
    result: ReconciliationResult | None = None,
    lines: list[LineShown] | None = None,
    file_name: str | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "columns": reconciliation.COLUMNS,
        "max_lines": reconciliation.MAX_LINES,
        "max_size": human_size(request.app.state.settings.document_max_bytes),
        "result": result,
        "lines": lines or [],
        "totals": _totals(result) if result else [],
        "total_amount": sum((x.amount for x in result.lines), Decimal("0.00")) if result else 0,
        "file_name": file_name,
        "errors": errors or [],
        "words": _reconciliation_words(),
        "badges": RECONCILIATION_BADGES,
        "can_open_policy": principal.can("motor.policies:read"),
    }
    return render(request, "motor/reconciliation.html", context, status_code=status_code)


@router.get("/reconciliation")
async def reconciliation_form(request: Request, principal: PaymentsReconcile) -> Response:
    """The bank statement upload (POST /motor/payments/reconciliations), with the columns
    the file must have. The service keeps no record of a run: the result is shown once,
    after the upload (uploading the same statement again changes nothing)."""
    return _reconciliation_page(request, principal)


@router.post("/reconciliation", dependencies=[CsrfChecked])
async def reconcile_statement(
    request: Request, session: DBSession, principal: PaymentsReconcile
) -> Response:
    """Reconcile a bank statement CSV (multipart, field `file`; reconciliation.parse_statement
    and reconcile, as POST /motor/payments/reconciliations with its size limit): each line
    MATCHED, UNMATCHED or DISPUTED. A file the service refuses: every refusal next to the
    file field (422), nothing reconciled."""
    limit: int = request.app.state.settings.document_max_bytes
    form = await request.form()
    upload = form.get("file")
    if not isinstance(upload, StarletteUploadFile) or not upload.filename:
        return _reconciliation_page(
            request, principal, errors=[_("Choose a file.")], status_code=422
        )
    data = await upload.read(limit + 1)
    try:
        if len(data) > limit:
            raise reconciliation.InvalidStatement(
                [{"field": "file", "message": f"at most {limit} bytes", "type": "too_large"}]
            )
        lines = reconciliation.parse_statement(data)
        async with session.begin_nested():
            result = await reconciliation.reconcile(session, lines, user_id=principal.user_id)
    except reconciliation.InvalidStatement as exc:
        refusals = [_statement_error(e, limit) for e in exc.extra.get("errors", [])]
        return _reconciliation_page(
            request, principal, file_name=upload.filename, errors=refusals, status_code=422
        )
    shown = await _shown_lines(session, result)
    return _reconciliation_page(
        request, principal, result=result, lines=shown, file_name=upload.filename
    )
