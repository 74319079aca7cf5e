"""Health back office pages: the claims worklist, a claim, a member, the pre-authorisation
queue and payment runs. Each page needs the permission of the matching API route and calls
the same services (polis.health.*)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy import case, select
from sqlalchemy import text as sql_text
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUploadFile

from polis.config import Settings
from polis.db.session import DBSession
from polis.documents.checks import DocumentRejected, content_disposition, human_size
from polis.documents.storage import DocumentStore, sha256_of_path
from polis.health import authorizations as authorization_service
from polis.health import balances, transitions
from polis.health import eob as eob_service
from polis.health import payments as payment_service
from polis.health.adjudication import (
    appeal_claim,
    claim_history,
    close_claim,
    decide_appeal,
    decide_pended_claim,
    void_claim,
)

# The API's orderings, so that the pages list as the API does.
from polis.health.authorization_endpoints import _NEWEST_FIRST
from polis.health.authorization_schemas import AuthorizationDecision
from polis.health.authorizations import today_jakarta
from polis.health.document_endpoints import attach_claim_document, claim_document_rows
from polis.health.models import Claim, ClaimDocument, Eob, Plan
from polis.health.payment_endpoints import _PAYMENTS_NEWEST_FIRST
from polis.health.schemas import (
    BenefitCreate,
    BenefitUpdate,
    ExclusionCreate,
    ExclusionUpdate,
    PlanCreate,
    PlanUpdate,
)
from polis.health.service import ClaimFilter, InvalidFields
from polis.health.service import claim as claim_service
from polis.health.service import member as member_service
from polis.health.service import plan as plan_service
from polis.iam.auth import Principal
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.pagination import Keyset, PageParams, paginate
from polis.platform.schemas import RequestSchema
from polis.web import i18n
from polis.web.forms import field_messages, text
from polis.web.routing import WebRoute, redirect
from polis.web.session import CsrfChecked, require_page
from polis.web.templating import flash, render
from polis.web.words import DOCUMENT_WORDS, PLAN_WORDS, STATUSES, step_words, words

router = APIRouter(prefix="/health", route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

ClaimsRead = Annotated[Principal, Depends(require_page("health.claims:read"))]
ClaimsDecide = Annotated[Principal, Depends(require_page("health.claims:decide"))]
MembersRead = Annotated[Principal, Depends(require_page("health.members:read"))]
PreauthRead = Annotated[Principal, Depends(require_page("health.preauth:read"))]
PreauthDecide = Annotated[Principal, Depends(require_page("health.preauth:decide"))]
BillingRead = Annotated[Principal, Depends(require_page("health.billing:read"))]
ClaimsPay = Annotated[Principal, Depends(require_page("health.claims:pay"))]
DocumentsRead = Annotated[Principal, Depends(require_page("documents:read"))]

PAGE_SIZE = 25
CLAIM_STATUSES = (
    "pended",
    "submitted",
    "adjudicating",
    "approved",
    "partially_approved",
    "denied",
    "payment_pending",
    "paid",
    "closed",
    "appealed",
    "voided",
    "cancelled",
)

# The worklist: pended claims first, then newest submission first. One keyset column: a
# pended claim's submission time moved a thousand years ahead (descending order).
_WORKLIST_KEY = case(
    (Claim.status == "pended", Claim.submission_date + sql_text("interval '1000 years'")),
    else_=Claim.submission_date,
).label("worklist_key")
_WORKLIST = Keyset("web.health.claims.worklist", _WORKLIST_KEY, Claim.id, descending=True)


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _code(value: str | None) -> str | None:
    value = (value or "").strip()
    return value[:50] or None


@router.get("/claims")
async def claims_worklist(
    request: Request,
    session: DBSession,
    principal: ClaimsRead,
    status: Annotated[str | None, Query(max_length=30)] = None,
    member: Annotated[str | None, Query(max_length=50)] = None,
    provider: Annotated[str | None, Query(max_length=50)] = None,
    date_from: Annotated[str | None, Query(alias="from", max_length=10)] = None,
    date_to: Annotated[str | None, Query(alias="to", max_length=10)] = None,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The claims worklist (GET /health/claims' filters), pended first, a page at a time;
    htmx asks for the table alone."""
    errors: dict[str, str] = {}
    start, end = _date(date_from), _date(date_to)
    if date_from and start is None:
        errors["from"] = _("Enter a date as YYYY-MM-DD.")
    if date_to and end is None:
        errors["to"] = _("Enter a date as YYYY-MM-DD.")
    if start and end and end < start:
        errors["to"] = _("The end date is before the start date.")
    chosen = status if status in CLAIM_STATUSES else None
    where = ClaimFilter(
        status=chosen,
        member_number=_code(member),
        provider_code=_code(provider),
        service_date_from=start,
        service_date_to=end if "to" not in errors else None,
    )
    stmt = claim_service.statement(where).add_columns(_WORKLIST_KEY)
    rows, next_cursor = await paginate(
        session, stmt, _WORKLIST, PageParams(cursor=cursor, limit=PAGE_SIZE)
    )
    filters = {
        "status": chosen or "",
        "member": member or "",
        "provider": provider or "",
        "from": date_from or "",
        "to": date_to or "",
    }
    context = {
        "rows": rows,
        "next_cursor": next_cursor,
        "filters": filters,
        "errors": errors,
        "statuses": CLAIM_STATUSES,
        "status_words": {s: words(STATUSES, s) for s in CLAIM_STATUSES},
        "more": cursor is not None,
    }
    target = request.headers.get("hx-target") if request.headers.get("hx-request") else None
    if target == "claims-table":
        return render(request, "health/_claims_table.html", context)
    if target == "more-row":
        return render(request, "health/_claim_rows.html", context)
    return render(request, "health/claims.html", context)


def claim_lines(view: Any, lang: str) -> list[dict[str, Any]]:
    """A claim's lines for its page: status, denial reason and trace steps in plain words
    (the staff claim page and the member's own)."""
    return [
        {
            "item": item,
            "status": words(STATUSES, item.status),
            "reason": words(None, item.denial_reason) if item.denial_reason else None,
            "steps": [step_words(step, lang) for step in item.adjudication_trace or []],
        }
        for item in view.items
    ]


async def _claim_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = await claim_context(session, claim_id, documents=principal.can("documents:read"))
    status = context["claim"].status
    context.update(
        history=await claim_history(session, claim_id),
        can_decide=principal.can("health.claims:decide") and status == "pended",
        actions=claim_actions(principal, status),
        errors=errors or {},
        values=values or {},
    )
    return render(request, "health/claim.html", context, status_code=status_code)


async def claim_context(
    session: DBSession, claim_id: uuid.UUID, *, documents: bool
) -> dict[str, Any]:
    """What the claim page (health/claim.html) shows of a claim, for staff and for the
    member's own page alike: the claim, its lines in plain words, its documents (when
    `documents`), whether it has an EOB and in which language to offer it."""
    view = await claim_service.get(session, claim_id)
    lang = i18n.current_language()
    has_eob = await session.scalar(select(Eob.id).where(Eob.claim_id == claim_id))
    return {
        "view": view,
        "claim": view.claim,
        "claim_status": words(STATUSES, view.claim.status),
        "lines": claim_lines(view, lang),
        "documents": await claim_document_rows(session, claim_id) if documents else [],
        "has_eob": has_eob is not None,
        "eob_lang": lang if lang in eob_service.LANGUAGES else "en",
        "document_words": {code: words(DOCUMENT_WORDS, code) for code in DOCUMENT_WORDS},
        "status_words": STATUSES,
    }


@router.get("/claims/{claim_id}")
async def claim_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsRead
) -> Response:
    """A claim: its lines with the adjudication trace in plain words, documents, the EOB,
    its history and, when pended, the decision form."""
    return await _claim_page(request, session, principal, claim_id)


@router.post("/claims/{claim_id}/decision", dependencies=[CsrfChecked])
async def decide_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsDecide
) -> Response:
    """The decision on a pended claim (POST /health/claims/{id}/decision); refusals shown
    next to their field."""
    form = await request.form()
    decision, notes = text(form, "decision", 20), text(form, "notes", 4000)
    values = {"decision": decision, "notes": notes}
    errors: dict[str, str] = {}
    if decision not in ("approved", "denied"):
        errors["decision"] = _("Choose approve or deny.")
    if len(notes) > 2000:
        errors["notes"] = _("At most 2000 characters.")
    if decision == "denied" and not notes:
        errors["notes"] = _("Say why the claim is denied.")
    if not errors:
        try:
            async with session.begin_nested():
                outcome = await decide_pended_claim(
                    session, claim_id, decision, notes, principal.user_id
                )
        except (BusinessRuleError, Conflict) as exc:
            if exc.type_ == "documents-missing":
                errors["decision"] = _(
                    "The claim still lacks required documents: it cannot be approved yet."
                )
            elif exc.type_ in ("invalid-transition", "claim-not-in-review"):
                errors["decision"] = _("This claim is no longer waiting for a decision.")
            else:
                errors["decision"] = exc.message
        else:
            replacement = (
                outcome.readjudicated.replacement.claim_id if outcome.readjudicated else None
            )
            response = redirect(request, f"/web/health/claims/{replacement or claim_id}")
            flash(response, request, "decision_saved")
            return response
    return await _claim_page(
        request, session, principal, claim_id, errors=errors, values=values, status_code=422
    )


@router.get("/claims/{claim_id}/eob.pdf")
async def claim_eob_pdf(
    claim_id: uuid.UUID,
    session: DBSession,
    principal: ClaimsRead,
    lang: Annotated[str, Query(pattern="^(id|en)$")] = "id",
) -> Response:
    """The claim's EOB as a PDF, as GET /health/claims/{id}/eob?format=pdf answers it."""
    record = await eob_service.find_eob(session, claim_id)
    await eob_service.mark_sent(session, record.eob.id)
    await session.refresh(record.eob)
    view = await eob_service.eob_view(session, record, lang)
    data = eob_service.render_pdf(view)
    return Response(
        content=data,
        media_type="application/pdf",
        headers={
            "Content-Disposition": content_disposition(f"{view.eob_number}-{lang}.pdf"),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/claims/{claim_id}/documents/{document_id}")
async def claim_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: DocumentsRead,
) -> Response:
    """A document of the claim, byte for byte (GET /health/claims/{id}/documents/{doc})."""
    row = await session.scalar(
        select(ClaimDocument).where(
            ClaimDocument.id == document_id, ClaimDocument.claim_id == claim_id
        )
    )
    if row is None:
        raise NotFound("There is no such document.")
    settings: Settings = request.app.state.settings
    store = DocumentStore.from_settings(settings)
    data = await run_in_threadpool(store.read, sha256_of_path(row.file_path))
    return Response(
        content=data,
        media_type=row.mime_type or "application/octet-stream",
        headers={
            "Content-Disposition": content_disposition(row.file_name),
            "Cache-Control": "private, no-store",
        },
    )


@router.get("/members/{member_number}")
async def member_page(
    member_number: str,
    request: Request,
    session: DBSession,
    principal: MembersRead,
    year: Annotated[int | None, Query(ge=1900, le=9999)] = None,
) -> Response:
    """A member: coverages, this year's accumulators as used/remaining bars (with
    health.accumulators:read) and their claim history (with health.claims:read)."""
    view = await member_service.get(session, member_number[:50])
    year = year or authorization_service.today_jakarta().year
    benefits = None
    if principal.can("health.accumulators:read"):
        benefits = await balances.benefits(session, view.member.member_number, year)
    claims: list[Any] = []
    if principal.can("health.claims:read"):
        stmt = claim_service.statement(ClaimFilter(member_number=view.member.member_number))
        claims, _next = await paginate(
            session,
            stmt,
            Keyset("health.claims.submission_date", Claim.submission_date, Claim.id, True),
            PageParams(limit=50),
        )
    context = {
        "view": view,
        "member": view.member,
        "benefits": benefits,
        "year": year,
        "claims": claims,
        "status_words": STATUSES,
    }
    return render(request, "health/member.html", context)


AUTHORIZATION_STATUSES = ("pending", "approved", "denied", "expired", "cancelled")


@router.get("/authorizations")
async def authorization_queue(
    request: Request,
    session: DBSession,
    principal: PreauthRead,
    status: Annotated[str | None, Query(max_length=20)] = "pending",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """The pre-authorisation queue (GET /health/authorizations), pending by default."""
    today = authorization_service.today_jakarta()
    chosen = status if status in AUTHORIZATION_STATUSES else None
    where = authorization_service.AuthorizationFilter(status=chosen)
    items, next_cursor = await paginate(
        session,
        authorization_service.statement(where, today),
        _NEWEST_FIRST,
        PageParams(cursor=cursor, limit=PAGE_SIZE),
    )
    views = await authorization_service.views(session, items, today)
    context: dict[str, Any] = {
        "letters": [v.fields() for v in views],
        "status": chosen or "",
        "statuses": AUTHORIZATION_STATUSES,
        "next_cursor": next_cursor,
        "can_decide": principal.can("health.preauth:decide"),
        "errors": {},
        "values": {},
        "failed": None,
    }
    return render(request, "health/authorizations.html", context)


_DECISION_FIELDS = {
    "approved_amount": "approved_amount",
    "approved_days": "approved_days",
    "decision_notes": "decision_notes",
    "decision": "decision",
}


def _money(value: str) -> tuple[Decimal | None, bool]:
    if not value:
        return None, True
    try:
        amount = Decimal(value.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        return None, False
    return (amount, True) if amount.is_finite() and amount > 0 else (None, False)


@router.post("/authorizations/{number}/decision", dependencies=[CsrfChecked])
async def decide_authorization(
    number: str, request: Request, session: DBSession, principal: PreauthDecide
) -> Response:
    """Approve or deny a pending letter (POST /health/authorizations/{n}/decision)."""
    form = await request.form()
    values = {
        k: text(form, k, 4000)
        for k in ("decision", "approved_amount", "approved_days", "decision_notes")
    }
    errors: dict[str, str] = {}
    if values["decision"] not in ("approved", "denied"):
        errors["decision"] = _("Choose approve or deny.")
    amount, ok = _money(values["approved_amount"])
    if not ok:
        errors["approved_amount"] = _("Enter an amount greater than zero, e.g. 1500000.")
    days: int | None = None
    if values["approved_days"]:
        if values["approved_days"].isdigit() and 1 <= int(values["approved_days"]) <= 366:
            days = int(values["approved_days"])
        else:
            errors["approved_days"] = _("Enter a number of days from 1 to 366.")
    if not errors:
        body = AuthorizationDecision.model_validate(
            {
                "decision": values["decision"],
                "approved_amount": amount if values["decision"] == "approved" else None,
                "approved_days": days if values["decision"] == "approved" else None,
                "decision_notes": values["decision_notes"] or None,
            }
        )
        try:
            async with session.begin_nested():
                await authorization_service.decide(
                    session, number[:50], body, principal.user_id, today_jakarta()
                )
        except (BusinessRuleError, Conflict) as exc:
            errors = field_messages(exc, _DECISION_FIELDS) or {"decision": exc.message}
        else:
            response = redirect(request, "/web/health/authorizations")
            flash(response, request, "authorization_decided")
            return response
    today = authorization_service.today_jakarta()
    view = await authorization_service.get(session, number[:50], today)
    context: dict[str, Any] = {
        "letters": [view.fields()],
        "status": "",
        "statuses": AUTHORIZATION_STATUSES,
        "next_cursor": None,
        "can_decide": True,
        "errors": errors,
        "values": values,
        "failed": number,
    }
    return render(request, "health/authorizations.html", context, status_code=422)


@router.get("/payments")
async def payment_runs(
    request: Request,
    session: DBSession,
    principal: BillingRead,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Payments grouped by run (GET /health/payments), newest first; FINANCE may start a
    run (POST /health/payments/runs)."""
    items, next_cursor = await paginate(
        session,
        payment_service.statement(payment_service.PaymentFilter()),
        _PAYMENTS_NEWEST_FIRST,
        PageParams(cursor=cursor, limit=100),
    )
    views = await payment_service.views(session, items)
    runs: dict[str, dict[str, Any]] = {}
    for v in views:
        key = v.run_number or "-"
        run = runs.setdefault(key, {"run_number": key, "payments": [], "total": Decimal("0")})
        run["payments"].append(v)
        run["total"] += v.payment.payment_amount
    context = {
        "runs": list(runs.values()),
        "next_cursor": next_cursor,
        "can_run": principal.can("health.claims:pay"),
    }
    return render(request, "health/payments.html", context)


@router.post("/payments/runs", dependencies=[CsrfChecked])
async def create_payment_run(
    request: Request, session: DBSession, principal: ClaimsPay
) -> Response:
    """Start a payment run for every payable claim (POST /health/payments/runs)."""
    run = await payment_service.create_payment_run(session, user=principal.user_id)
    response = redirect(request, "/web/health/payments")
    flash(response, request, "payment_run_created" if run.payments else "payment_run_empty")
    return response


# --- plans and benefits (GET/POST/PATCH /health/plans) --------------------------------------

PlansRead = Annotated[Principal, Depends(require_page("health.plans:read"))]
ConfigWrite = Annotated[Principal, Depends(require_page("health.config:write"))]

PLAN_TYPES = ("basic", "standard", "premium")
COVERAGE_TYPES = ("covered", "not_covered", "limited")
LIMIT_TYPES = ("per_incident", "per_day", "per_year")
EXCLUSION_TYPES = ("diagnosis", "procedure", "condition")
PLAN_FIELDS = (
    "plan_name",
    "plan_type",
    "annual_limit",
    "lifetime_limit",
    "individual_deductible",
    "family_deductible",
    "individual_oop_max",
    "family_oop_max",
    "effective_date",
    "termination_date",
)
_PLAN_MONEY = {
    "annual_limit",
    "lifetime_limit",
    "individual_deductible",
    "family_deductible",
    "individual_oop_max",
    "family_oop_max",
}
BENEFIT_TEXT = (
    "benefit_code",
    "benefit_name",
    "benefit_category",
    "coverage_type",
    "limit_type",
    "limit_amount",
    "limit_days",
    "limit_visits",
    "coinsurance_percentage",
    "copay_amount",
    "waiting_period_days",
)
BENEFIT_FLAGS = ("requires_authorization", "in_network_covered", "out_network_covered")
_BENEFIT_NUMBERS = {"limit_amount", "coinsurance_percentage", "copay_amount"}
EXCLUSION_FIELDS = (
    "exclusion_code",
    "exclusion_description",
    "exclusion_type",
    "icd_code",
    "effective_date",
    "termination_date",
)
BENEFIT_ROWS, EXCLUSION_ROWS, MAX_ROWS = 3, 2, 50
_PLANS_BY_CODE = Keyset("health.plans.plan_code", Plan.plan_code, Plan.id)


def _plain_number(value: str) -> str:
    """A number as typed ('1,500,000' or '1 500 000') in the form the schema reads."""
    return value.replace(",", "").replace(" ", "")


def _validation_messages(exc: ValidationError | InvalidFields, known: set[str]) -> dict[str, str]:
    """{form field: message} of a request schema's refusal, or of a service's refusal field
    by field (`body.x`). A field's path `benefits.0.x` becomes the form name `benefits-0-x`;
    a whole-model refusal names the field its message starts with (`termination_date must
    not be before ...`), else `form`."""
    words_of = {
        "missing": _("Required."),
        "string_too_short": _("Required."),
        "string_too_long": _("Too long."),
        "string_pattern_mismatch": _("Letters, digits and . _ / - only."),
        "literal_error": _("Choose one of the options."),
        "decimal_parsing": _("Enter a number, e.g. 1500000."),
        "decimal_type": _("Enter a number, e.g. 1500000."),
        "int_parsing": _("Enter a whole number."),
        "int_type": _("Enter a whole number."),
        "date_from_datetime_parsing": _("Enter a date as YYYY-MM-DD."),
        "date_parsing": _("Enter a date as YYYY-MM-DD."),
        "greater_than_equal": _("Must not be negative."),
        "less_than_equal": _("Too large."),
        "decimal_max_places": _("At most two decimals."),
        "decimal_max_digits": _("Too large."),
        "money_type": _("Enter a number, e.g. 1500000."),
        "money_parsing": _("Enter a number, e.g. 1500000."),
        "money_finite": _("Enter a number, e.g. 1500000."),
        "money_places": _("At most two decimals."),
        "null_not_allowed": _("Required."),
        "benefit_code_taken": _("This plan already has a benefit with this code."),
    }
    if isinstance(exc, ValidationError):
        raw_errors: list[Any] = list(exc.errors())
    else:  # field "body.x" (or "body": the whole row) as a validation error's loc ("x",)
        raw_errors = [
            {"loc": tuple(e["field"].split(".")[1:]), "type": e["type"], "msg": e["message"]}
            for e in exc.extra.get("errors", [])
        ]
    found: dict[str, str] = {}
    for err in raw_errors:
        loc = [str(p) for p in err.get("loc", ())]
        message = words_of.get(str(err.get("type")))
        if err.get("type") == "money_range":
            below = str((err.get("ctx") or {}).get("bound")) == "0"
            message = _("Must not be negative.") if below else _("Too large.")
        if not loc or (loc[-1] not in known and "-".join(loc) not in known):
            raw = str(err.get("msg", "")).removeprefix("Value error, ")
            if "termination_date" in raw:
                prefix = "-".join(loc) + "-" if loc else ""
                name = f"{prefix}termination_date"
                message = _("The end date is before the start date.")
            elif "unique" in raw:
                name, message = (
                    "benefits",
                    _("Each benefit code may appear once: %(codes)s")
                    % {"codes": raw.rpartition(": ")[2]},
                )
            else:
                name = "-".join(loc) or "form"
                message = message or raw
        else:
            name = "-".join(loc)
        found.setdefault(name, message or str(err.get("msg", "")))
    return found


def _plan_words() -> dict[str, str]:
    return {code: words(PLAN_WORDS, code) for code in PLAN_WORDS}


def _plan_values(plan: Plan | None) -> dict[str, str]:
    if plan is None:
        return {"plan_type": "standard", "individual_deductible": "0", "family_deductible": "0"}
    values = {}
    for name in PLAN_FIELDS:
        value = getattr(plan, name)
        values[name] = "" if value is None else str(value)
    return values


def _rows_count(form: Any, prefix: str, field: str, least: int) -> int:
    count = least
    while count < MAX_ROWS and form.get(f"{prefix}-{count}-{field}") is not None:
        count += 1
    return count


def _line(
    form: Any,
    prefix: str,
    fields: Sequence[str],
    flags: Sequence[str],
    limit: int,
    *,
    whole: type[RequestSchema] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """One benefit or exclusion of a form: its request body and its values as typed (form
    names). A blank field is left out (its default applies, as in POST); with `whole` (a
    PATCH of every field the form shows) it is sent as that create schema's default, or ''
    where the field is required (refused as missing)."""
    body: dict[str, Any] = {}
    values: dict[str, str] = {}
    for f in fields:
        value = values[prefix + f] = text(form, prefix + f, limit)
        if value:
            body[f] = _plain_number(value) if f in _BENEFIT_NUMBERS else value
        elif whole is not None:
            info = whole.model_fields[f]
            body[f] = "" if info.is_required() else info.default
    for f in flags:
        on = form.get(prefix + f) == "on"
        values[prefix + f] = "on" if on else ""
        body[f] = on
    return body, values


def _plan_body(form: Any, *, with_lines: bool) -> tuple[dict[str, Any], dict[str, str]]:
    """The request body of POST (with_lines) or PATCH /health/plans from the form, and the
    form's values as typed (to show again). Blank benefit / exclusion rows are left out."""
    values: dict[str, str] = {}
    body: dict[str, Any] = {}
    names = ("plan_code", *PLAN_FIELDS) if with_lines else PLAN_FIELDS
    for name in names:
        values[name] = text(form, name, 300)
        raw = _plain_number(values[name]) if name in _PLAN_MONEY else values[name]
        if raw:
            body[name] = raw
        elif not with_lines:
            body[name] = None  # PATCH: a cleared optional field becomes empty
    if not with_lines:
        return body, values
    benefits: list[tuple[int, dict[str, Any]]] = []
    rows = _rows_count(form, "benefits", "benefit_code", BENEFIT_ROWS)
    for i in range(rows):
        item, typed = _line(form, f"benefits-{i}-", BENEFIT_TEXT, BENEFIT_FLAGS, 300)
        values.update(typed)
        if item.keys() & {"benefit_code", "benefit_name", "benefit_category"}:
            benefits.append((i, item))
    exclusions: list[tuple[int, dict[str, Any]]] = []
    rows_x = _rows_count(form, "exclusions", "exclusion_code", EXCLUSION_ROWS)
    for i in range(rows_x):
        item, typed = _line(form, f"exclusions-{i}-", EXCLUSION_FIELDS, (), 2000)
        values.update(typed)
        if item.keys() & {"exclusion_code", "exclusion_description"}:
            exclusions.append((i, item))
    body["benefits"] = benefits
    body["exclusions"] = exclusions
    values["benefit_rows"] = str(rows)
    values["exclusion_rows"] = str(rows_x)
    return body, values


def _renumber(errors: dict[str, str], kept: dict[str, list[int]]) -> dict[str, str]:
    """Field names of the validated lists (`benefits-1-x`: the second non-blank row) back
    to the form's row numbers."""
    found: dict[str, str] = {}
    for name, message in errors.items():
        head, _sep, rest = name.partition("-")
        if head in kept and rest:
            index, _s, field = rest.partition("-")
            if index.isdigit() and int(index) < len(kept[head]):
                name = f"{head}-{kept[head][int(index)]}-{field}".rstrip("-")
        found[name] = message
    return found


def _plan_form_context(
    values: dict[str, str], errors: dict[str, str], *, plan_code: str | None
) -> dict[str, Any]:
    return {
        "values": values,
        "errors": errors,
        "plan_code": plan_code,
        "plan_types": PLAN_TYPES,
        "coverage_types": COVERAGE_TYPES,
        "limit_types": LIMIT_TYPES,
        "exclusion_types": EXCLUSION_TYPES,
        "benefit_rows": int(values.get("benefit_rows") or BENEFIT_ROWS),
        "exclusion_rows": int(values.get("exclusion_rows") or EXCLUSION_ROWS),
        "money_fields": [f for f in PLAN_FIELDS if f in _PLAN_MONEY],
        "plan_words": _plan_words(),
    }


@router.get("/plans")
async def plans_list(
    request: Request,
    session: DBSession,
    principal: PlansRead,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Plans by code (GET /health/plans), a page at a time."""
    items, next_cursor = await paginate(
        session, plan_service.statement(), _PLANS_BY_CODE, PageParams(cursor=cursor, limit=50)
    )
    context = {
        "plans": items,
        "next_cursor": next_cursor,
        "can_write": principal.can("health.config:write"),
        "plan_words": _plan_words(),
    }
    return render(request, "health/plans.html", context)


@router.get("/plans/new")
async def plan_new(
    request: Request,
    principal: ConfigWrite,
    benefits: Annotated[int, Query(ge=1, le=MAX_ROWS)] = BENEFIT_ROWS,
    exclusions: Annotated[int, Query(ge=0, le=MAX_ROWS)] = EXCLUSION_ROWS,
) -> Response:
    """The form creating a plan with its benefits and exclusions."""
    values = _plan_values(None)
    values.update(benefit_rows=str(benefits), exclusion_rows=str(exclusions))
    for i in range(benefits):
        values[f"benefits-{i}-in_network_covered"] = "on"
    return render(request, "health/plan_form.html", _plan_form_context(values, {}, plan_code=None))


@router.post("/plans", dependencies=[CsrfChecked])
async def plan_create(request: Request, session: DBSession, principal: ConfigWrite) -> Response:
    """Create a plan with its benefits and exclusions (POST /health/plans), all or nothing;
    refusals next to their field."""
    form = await request.form()
    body, values = _plan_body(form, with_lines=True)
    kept = {
        "benefits": [i for i, _b in body["benefits"]],
        "exclusions": [i for i, _e in body["exclusions"]],
    }
    body["benefits"] = [b for _i, b in body["benefits"]]
    body["exclusions"] = [e for _i, e in body["exclusions"]]
    known = {"plan_code", *PLAN_FIELDS}
    errors: dict[str, str] = {}
    try:
        parsed = PlanCreate.model_validate(body)
    except ValidationError as exc:
        known |= {
            f"{k}-{n}-{f}"
            for k, fields in (
                ("benefits", BENEFIT_TEXT + BENEFIT_FLAGS),
                ("exclusions", EXCLUSION_FIELDS),
            )
            for n in range(len(kept[k]))
            for f in fields
        }
        errors = _renumber(_validation_messages(exc, known), kept)
    else:
        try:
            async with session.begin_nested():
                view = await plan_service.create(session, parsed)
        except Conflict as exc:
            if exc.type_ == "plan-exists":
                errors["plan_code"] = _("A plan with this code already exists.")
            else:
                errors["form"] = exc.message
        except BusinessRuleError as exc:
            errors = field_messages(exc, {n: n for n in known}) or {"form": exc.message}
        else:
            response = redirect(request, f"/web/health/plans/{view.plan.plan_code}")
            flash(response, request, "plan_created")
            return response
    context = _plan_form_context(values, errors, plan_code=None)
    return render(request, "health/plan_form.html", context, status_code=422)


async def _plan_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    plan_code: str,
    *,
    refusals: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await plan_service.get(session, plan_code)
    context = {
        "plan": view.plan,
        "benefits": view.benefits,
        "exclusions": view.exclusions,
        "can_write": principal.can("health.config:write"),
        "plan_words": _plan_words(),
        "refusals": refusals or {},
        "refusal": next(iter((refusals or {}).values()), None),
    }
    return render(request, "health/plan.html", context, status_code=status_code)


@router.get("/plans/{plan_code}")
async def plan_page(
    plan_code: str, request: Request, session: DBSession, principal: PlansRead
) -> Response:
    """A plan with its benefits and exclusions (GET /health/plans/{code}); with
    health.config:write, links to change, remove and add them."""
    return await _plan_page(request, session, principal, plan_code[:50])


@router.get("/plans/{plan_code}/edit")
async def plan_edit(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """The form changing a plan's fields (PATCH /health/plans/{code}: not its code, benefits
    or exclusions)."""
    view = await plan_service.get(session, plan_code[:50])
    values = _plan_values(view.plan)
    context = _plan_form_context(values, {}, plan_code=view.plan.plan_code)
    return render(request, "health/plan_form.html", context)


@router.post("/plans/{plan_code}/edit", dependencies=[CsrfChecked])
async def plan_update(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """Save a plan's fields as PATCH /health/plans/{code} does (the API has no version
    check: the last save wins)."""
    code = plan_code[:50]
    await plan_service.get(session, code)  # 404 page for an unknown plan
    form = await request.form()
    body, values = _plan_body(form, with_lines=False)
    errors: dict[str, str] = {}
    try:
        parsed = PlanUpdate.model_validate(body)
    except ValidationError as exc:
        errors = _validation_messages(exc, set(PLAN_FIELDS))
    else:
        try:
            async with session.begin_nested():
                await plan_service.update(session, code, parsed.model_dump(exclude_unset=True))
        except BusinessRuleError as exc:
            if exc.type_ == "invalid-period":
                errors["termination_date"] = _("The end date is before the start date.")
            else:
                errors["form"] = exc.message
        else:
            response = redirect(request, f"/web/health/plans/{code}")
            flash(response, request, "plan_saved")
            return response
    context = _plan_form_context(values, errors, plan_code=code)
    return render(request, "health/plan_form.html", context, status_code=422)


# A plan's benefits and exclusions one at a time (POST, PATCH, DELETE
# /health/plans/{code}/benefits/{benefit_code} and /exclusions/{id}; decision 0069).

BENEFIT_FIELDS = (*BENEFIT_TEXT, *BENEFIT_FLAGS)
_CHANGED_BENEFIT_TEXT = BENEFIT_TEXT[1:]  # not benefit_code: it names the benefit


def _stored_values(row: Any, fields: Sequence[str], flags: Sequence[str] = ()) -> dict[str, str]:
    values = {f: "" if getattr(row, f) is None else str(getattr(row, f)) for f in fields}
    values.update({f: "on" if getattr(row, f) else "" for f in flags})
    return values


def _exclusion_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise NotFound("No such exclusion.") from None


def _line_page(
    request: Request,
    plan: Plan,
    *,
    kind: str,
    action: str,
    values: dict[str, str],
    errors: dict[str, str],
    benefit_code: str | None = None,
    adding: bool,
) -> Response:
    headings = {
        ("benefit", True): (_("Add a benefit"), _("Add the benefit")),
        ("benefit", False): (_("Change the benefit"), _("Save the benefit")),
        ("exclusion", True): (_("Add an exclusion"), _("Add the exclusion")),
        ("exclusion", False): (_("Change the exclusion"), _("Save the exclusion")),
    }
    heading, submit = headings[(kind, adding)]
    context = {
        **_plan_form_context(values, errors, plan_code=plan.plan_code),
        "plan": plan,
        "kind": kind,
        "adding": adding,
        "action": action,
        "heading": heading,
        "submit": submit,
        "benefit_code": benefit_code,
    }
    status_code = 422 if errors else 200
    return render(request, "health/plan_line_form.html", context, status_code=status_code)


def _plan_path(plan: Plan, rest: str = "") -> str:
    return f"/web/health/plans/{quote(plan.plan_code, safe='')}{rest}"


async def _save_line(
    request: Request, session: DBSession, plan: Plan, change: Callable[[], Awaitable[object]]
) -> Response | dict[str, str]:
    """Run a service change in a savepoint: the plan page with a flash, or the refusals by
    form field (nothing written)."""
    try:
        async with session.begin_nested():
            await change()
    except InvalidFields as exc:
        return _validation_messages(exc, set(BENEFIT_FIELDS) | set(EXCLUSION_FIELDS))
    response = redirect(request, _plan_path(plan))
    flash(response, request, "plan_saved")
    return response


async def _submit_line(
    request: Request,
    session: DBSession,
    plan: Plan,
    *,
    kind: str,
    schema: type[BaseModel],
    fields: Sequence[str],
    flags: Sequence[str],
    limit: int,
    save: Callable[[Any], Awaitable[object]],
    action: str,
    whole: type[RequestSchema] | None = None,
    benefit_code: str | None = None,
) -> Response:
    """A benefit or exclusion form posted: validated by `schema` (the API's), saved by
    `save(parsed)` in a savepoint (the plan page), else the form again with the refusals
    next to their fields (nothing written)."""
    body, values = _line(await request.form(), "", fields, flags, limit, whole=whole)
    errors: dict[str, str]
    try:
        parsed = schema.model_validate(body)
    except ValidationError as exc:
        errors = _validation_messages(exc, set(BENEFIT_FIELDS if kind == "benefit" else fields))
    else:
        saved = await _save_line(request, session, plan, lambda: save(parsed))
        if isinstance(saved, Response):
            return saved
        errors = saved
    return _line_page(
        request,
        plan,
        kind=kind,
        action=action,
        values=values,
        errors=errors,
        benefit_code=benefit_code,
        adding=whole is None,
    )


@router.get("/plans/{plan_code}/benefits/new")
async def benefit_new(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """The form adding a benefit to a plan (POST /health/plans/{code}/benefits)."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    values = {"coverage_type": "covered", "in_network_covered": "on"}
    action = _plan_path(plan, "/benefits")
    return _line_page(
        request, plan, kind="benefit", action=action, values=values, errors={}, adding=True
    )


@router.post("/plans/{plan_code}/benefits", dependencies=[CsrfChecked])
async def benefit_add(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """Add a benefit as POST /health/plans/{code}/benefits does (BenefitCreate); refusals
    next to their field, nothing written."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    return await _submit_line(
        request,
        session,
        plan,
        kind="benefit",
        schema=BenefitCreate,
        fields=BENEFIT_TEXT,
        flags=BENEFIT_FLAGS,
        limit=300,
        save=lambda parsed: plan_service.add_benefit(session, plan.plan_code, parsed),
        action=_plan_path(plan, "/benefits"),
    )


@router.get("/plans/{plan_code}/benefits/{benefit_code}/edit")
async def benefit_edit(
    plan_code: str,
    benefit_code: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """The form changing a benefit (PATCH /health/plans/{code}/benefits/{benefit_code})."""
    view = await plan_service.get(session, plan_code[:50])
    benefit = next((b for b in view.benefits if b.benefit_code == benefit_code), None)
    if benefit is None:
        raise NotFound(f"Plan {view.plan.plan_code} has no benefit {benefit_code}.")
    values = _stored_values(benefit, _CHANGED_BENEFIT_TEXT, BENEFIT_FLAGS)
    action = _plan_path(view.plan, f"/benefits/{quote(benefit_code, safe='')}/edit")
    return _line_page(
        request,
        view.plan,
        kind="benefit",
        action=action,
        values=values,
        errors={},
        benefit_code=benefit.benefit_code,
        adding=False,
    )


@router.post("/plans/{plan_code}/benefits/{benefit_code}/edit", dependencies=[CsrfChecked])
async def benefit_update(
    plan_code: str,
    benefit_code: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """Save every field of the form as PATCH /health/plans/{code}/benefits/{benefit_code}
    (a cleared optional field is emptied; a cleared field with a default takes it)."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    code = benefit_code[:50]
    return await _submit_line(
        request,
        session,
        plan,
        kind="benefit",
        schema=BenefitUpdate,
        fields=_CHANGED_BENEFIT_TEXT,
        flags=BENEFIT_FLAGS,
        limit=300,
        save=lambda parsed: plan_service.update_benefit(
            session, plan.plan_code, code, parsed.model_dump(exclude_unset=True)
        ),
        action=_plan_path(plan, f"/benefits/{quote(code, safe='')}/edit"),
        whole=BenefitCreate,
        benefit_code=code,
    )


@router.post("/plans/{plan_code}/benefits/{benefit_code}/delete", dependencies=[CsrfChecked])
async def benefit_delete(
    plan_code: str,
    benefit_code: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """Remove a benefit as DELETE /health/plans/{code}/benefits/{benefit_code} does; one
    that claims have used stays, and the plan page (409) says to deactivate it instead."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    code = benefit_code[:50]
    try:
        async with session.begin_nested():
            await plan_service.delete_benefit(session, plan.plan_code, code)
    except Conflict as exc:
        if exc.type_ != "benefit-in-use":
            raise
        message = _(
            "Benefit %(code)s has been used by claims, so it cannot be removed. Deactivate it"
            " instead: change its coverage to “Not covered”."
        ) % {"code": code}
        refusals = {f"benefit-{code}": message}
        return await _plan_page(
            request, session, principal, plan.plan_code, refusals=refusals, status_code=409
        )
    response = redirect(request, _plan_path(plan))
    flash(response, request, "plan_saved")
    return response


@router.get("/plans/{plan_code}/exclusions/new")
async def exclusion_new(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """The form adding an exclusion to a plan (POST /health/plans/{code}/exclusions)."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    action = _plan_path(plan, "/exclusions")
    return _line_page(
        request, plan, kind="exclusion", action=action, values={}, errors={}, adding=True
    )


@router.post("/plans/{plan_code}/exclusions", dependencies=[CsrfChecked])
async def exclusion_add(
    plan_code: str, request: Request, session: DBSession, principal: ConfigWrite
) -> Response:
    """Add an exclusion as POST /health/plans/{code}/exclusions does (ExclusionCreate)."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    return await _submit_line(
        request,
        session,
        plan,
        kind="exclusion",
        schema=ExclusionCreate,
        fields=EXCLUSION_FIELDS,
        flags=(),
        limit=2000,
        save=lambda parsed: plan_service.add_exclusion(session, plan.plan_code, parsed),
        action=_plan_path(plan, "/exclusions"),
    )


@router.get("/plans/{plan_code}/exclusions/{exclusion_id}/edit")
async def exclusion_edit(
    plan_code: str,
    exclusion_id: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """The form changing an exclusion (PATCH /health/plans/{code}/exclusions/{id})."""
    view = await plan_service.get(session, plan_code[:50])
    wanted = _exclusion_id(exclusion_id)
    exclusion = next((e for e in view.exclusions if e.id == wanted), None)
    if exclusion is None:
        raise NotFound(f"Plan {view.plan.plan_code} has no exclusion {wanted}.")
    action = _plan_path(view.plan, f"/exclusions/{wanted}/edit")
    values = _stored_values(exclusion, EXCLUSION_FIELDS)
    return _line_page(
        request, view.plan, kind="exclusion", action=action, values=values, errors={}, adding=False
    )


@router.post("/plans/{plan_code}/exclusions/{exclusion_id}/edit", dependencies=[CsrfChecked])
async def exclusion_update(
    plan_code: str,
    exclusion_id: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """Save every field of the form as PATCH /health/plans/{code}/exclusions/{id}."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    wanted = _exclusion_id(exclusion_id)
    return await _submit_line(
        request,
        session,
        plan,
        kind="exclusion",
        schema=ExclusionUpdate,
        fields=EXCLUSION_FIELDS,
        flags=(),
        limit=2000,
        save=lambda parsed: plan_service.update_exclusion(
            session, plan.plan_code, wanted, parsed.model_dump(exclude_unset=True)
        ),
        action=_plan_path(plan, f"/exclusions/{wanted}/edit"),
        whole=ExclusionCreate,
    )


@router.post("/plans/{plan_code}/exclusions/{exclusion_id}/delete", dependencies=[CsrfChecked])
async def exclusion_delete(
    plan_code: str,
    exclusion_id: str,
    request: Request,
    session: DBSession,
    principal: ConfigWrite,
) -> Response:
    """Remove an exclusion as DELETE /health/plans/{code}/exclusions/{id} does."""
    plan = (await plan_service.get(session, plan_code[:50])).plan
    await plan_service.delete_exclusion(session, plan.plan_code, _exclusion_id(exclusion_id))
    response = redirect(request, _plan_path(plan))
    flash(response, request, "plan_saved")
    return response


# --- claim actions (the lifecycle routes and the document upload) --------------------------

ClaimsWrite = Annotated[Principal, Depends(require_page("health.claims:write"))]
DocumentsWrite = Annotated[Principal, Depends(require_page("documents:write"))]
DOCUMENT_TYPES = tuple(DOCUMENT_WORDS)


def claim_actions(principal: Principal, status: str) -> dict[str, bool]:
    """Which action forms the claim page shows: the role holds the permission of the route
    and the claim's status allows the move (polis.health.transitions)."""
    write = principal.can("health.claims:write")
    return {
        "void": write and transitions.allowed(status, transitions.VOIDED),
        "appeal": write and transitions.allowed(status, transitions.APPEALED),
        "appeal_decision": principal.can("health.claims:decide") and status == transitions.APPEALED,
        "close": write and transitions.allowed(status, transitions.CLOSED),
        "document": principal.can("documents:write"),
    }


def _move_refused(exc: BusinessRuleError | Conflict) -> str:
    if exc.type_ in ("invalid-transition", "claim-not-in-review"):
        return _("The claim's status no longer allows this.")
    return exc.message


async def _claim_action(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    action: str,
    errors: dict[str, str],
    values: dict[str, str],
) -> Response:
    """The claim page again, the action's refusals next to its fields (422)."""
    prefixed = {f"{action}-{k}": v for k, v in errors.items()}
    typed = {f"{action}-{k}": v for k, v in values.items()}
    return await _claim_page(
        request, session, principal, claim_id, errors=prefixed, values=typed, status_code=422
    )


def _reason(form: Any, name: str, limit: int, errors: dict[str, str], required: bool) -> str:
    value = text(form, name, limit + 1000)
    if required and not value:
        errors[name] = _("Say why.")
    elif len(value) > limit:
        errors[name] = _("At most %(n)s characters.") % {"n": limit}
    return value


@router.post("/claims/{claim_id}/void", dependencies=[CsrfChecked])
async def void_claim_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Void the claim (POST /health/claims/{id}/void): its accumulator moves reversed and its
    ASO draw returned."""
    form = await request.form()
    errors: dict[str, str] = {}
    reason = _reason(form, "reason", 500, errors, required=True)
    if not errors:
        try:
            async with session.begin_nested():
                await void_claim(session, claim_id, reason=reason, user_id=principal.user_id)
        except (BusinessRuleError, Conflict) as exc:
            errors["form"] = _move_refused(exc)
        else:
            response = redirect(request, f"/web/health/claims/{claim_id}")
            flash(response, request, "claim_voided")
            return response
    return await _claim_action(
        request, session, principal, claim_id, "void", errors, {"reason": reason}
    )


@router.post("/claims/{claim_id}/appeal", dependencies=[CsrfChecked])
async def appeal_claim_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Appeal a decided claim (POST /health/claims/{id}/appeal)."""
    form = await request.form()
    errors: dict[str, str] = {}
    reason = _reason(form, "reason", 2000, errors, required=True)
    if not errors:
        try:
            async with session.begin_nested():
                await appeal_claim(session, claim_id, reason=reason, user_id=principal.user_id)
        except (BusinessRuleError, Conflict) as exc:
            errors["form"] = _move_refused(exc)
        else:
            response = redirect(request, f"/web/health/claims/{claim_id}")
            flash(response, request, "claim_appealed")
            return response
    return await _claim_action(
        request, session, principal, claim_id, "appeal", errors, {"reason": reason}
    )


@router.post("/claims/{claim_id}/appeal/decision", dependencies=[CsrfChecked])
async def decide_appeal_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsDecide
) -> Response:
    """Decide an appealed claim (POST /health/claims/{id}/appeal/decision): upheld opens the
    re-adjudicated replacement claim, rejected returns the claim to its decision."""
    form = await request.form()
    errors: dict[str, str] = {}
    decision = text(form, "decision", 20)
    notes = _reason(form, "notes", 2000, errors, required=False)
    if decision not in ("upheld", "rejected"):
        errors["decision"] = _("Choose uphold or reject.")
    if not errors:
        try:
            async with session.begin_nested():
                outcome = await decide_appeal(session, claim_id, decision, notes, principal.user_id)
        except (BusinessRuleError, Conflict) as exc:
            errors["form"] = _move_refused(exc)
        else:
            replacement = (
                outcome.readjudicated.replacement.claim_id if outcome.readjudicated else None
            )
            response = redirect(request, f"/web/health/claims/{replacement or claim_id}")
            flash(response, request, "appeal_decided")
            return response
    values = {"decision": decision, "notes": notes}
    return await _claim_action(
        request, session, principal, claim_id, "appeal_decision", errors, values
    )


@router.post("/claims/{claim_id}/close", dependencies=[CsrfChecked])
async def close_claim_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: ClaimsWrite
) -> Response:
    """Close a paid or denied claim (POST /health/claims/{id}/close)."""
    errors: dict[str, str] = {}
    try:
        async with session.begin_nested():
            await close_claim(session, claim_id, principal.user_id)
    except (BusinessRuleError, Conflict) as exc:
        errors["form"] = _move_refused(exc)
    else:
        response = redirect(request, f"/web/health/claims/{claim_id}")
        flash(response, request, "claim_closed")
        return response
    return await _claim_action(request, session, principal, claim_id, "close", errors, {})


@router.post("/claims/{claim_id}/documents", dependencies=[CsrfChecked])
async def upload_document_page(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: DocumentsWrite
) -> Response:
    """Attach a file (multipart; POST /health/claims/{id}/documents' checks: not empty,
    within the size limit, PDF/JPEG/PNG/TIFF content matching its type and extension)."""
    await claim_service.get(session, claim_id)  # the 404 page for an unknown claim
    document_type, errors = await attach_from_form(request, session, claim_id, principal.user_id)
    if not errors:
        response = redirect(request, f"/web/health/claims/{claim_id}")
        flash(response, request, "document_uploaded")
        return response
    values = {"document_type": document_type}
    return await _claim_action(request, session, principal, claim_id, "document", errors, values)


async def attach_from_form(
    request: Request,
    session: DBSession,
    claim_id: uuid.UUID,
    user_id: uuid.UUID,
    write_as: Callable[[], AbstractAsyncContextManager[Any]] = nullcontext,
) -> tuple[str, dict[str, str]]:
    """The document form of a claim page (`document_type`, `file`) checked and, when valid,
    attached in a savepoint inside `write_as()` (the portal writes as the application):
    (the document type given, {field: refusal}). The caller checked the claim."""
    settings: Settings = request.app.state.settings
    form = await request.form()
    document_type = text(form, "document_type", 50)
    upload = form.get("file")
    errors: dict[str, str] = {}
    if document_type not in DOCUMENT_TYPES:
        errors["document_type"] = _("Choose the kind of document.")
    if not isinstance(upload, StarletteUploadFile) or not upload.filename:
        errors["file"] = _("Choose a file.")
    if not errors and isinstance(upload, StarletteUploadFile):
        data = await upload.read(settings.document_max_bytes + 1)
        try:
            async with write_as(), session.begin_nested():
                await attach_claim_document(
                    session,
                    settings,
                    claim_id,
                    data,
                    file_name=upload.filename,
                    declared_type=upload.content_type,
                    document_type=document_type,
                    user_id=user_id,
                )
        except DocumentRejected as exc:
            errors["file"] = _document_refusal(exc, settings)
    return document_type, errors


def _document_refusal(exc: DocumentRejected, settings: Settings) -> str:
    """The upload check's refusal in the page's language."""
    if exc.type_ == "document-empty":
        return _("The file is empty.")
    if exc.type_ == "document-too-large":
        return _("The file is larger than the limit of %(size)s.") % {
            "size": human_size(settings.document_max_bytes)
        }
    if exc.type_ == "document-type-not-allowed":
        return _("Only PDF, JPEG, PNG or TIFF files are accepted.")
    if exc.type_ == "document-type-mismatch":
        return _("The file's content does not match its name or type.")
    return exc.message


# --- payment actions (POST /health/payments/{n}/sent|paid|failed|cancel) -------------------

BillingWrite = Annotated[Principal, Depends(require_page("health.billing:write"))]
PAYMENT_ACTIONS = ("sent", "paid", "failed", "cancel")
_PAYMENT_TARGET = {
    "sent": payment_service.SENT,
    "paid": payment_service.PAID,
    "failed": payment_service.FAILED,
    "cancel": payment_service.CANCELLED,
}


async def _payment_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    payment_number: str,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    view = await payment_service.get(session, payment_number[:50])
    status = view.payment.payment_status
    can_write = principal.can("health.billing:write")
    context = {
        "v": view,
        "payment": view.payment,
        "status_word": words(STATUSES, status),
        "actions": {
            a: can_write and payment_service.payment_allowed(status, _PAYMENT_TARGET[a])
            for a in PAYMENT_ACTIONS
        },
        "today": payment_service.jakarta_today(),
        "errors": errors or {},
        "values": values or {},
    }
    return render(request, "health/payment.html", context, status_code=status_code)


@router.get("/payments/{payment_number}")
async def payment_page(
    payment_number: str, request: Request, session: DBSession, principal: BillingRead
) -> Response:
    """A payment (GET /health/payments/{n}) with the moves its status allows."""
    return await _payment_page(request, session, principal, payment_number)


@router.post("/payments/{payment_number}/{action}", dependencies=[CsrfChecked])
async def payment_action(
    payment_number: str,
    action: str,
    request: Request,
    session: DBSession,
    principal: BillingWrite,
) -> Response:
    """Mark a payment sent (the bank's reference), paid (on a date, default today), failed
    (why) or cancel it (why), as the payment routes do; refusals next to their field."""
    if action not in PAYMENT_ACTIONS:
        raise NotFound("There is nothing here.")
    number = payment_number[:50]
    form = await request.form()
    errors: dict[str, str] = {}
    values: dict[str, str] = {}
    reference = reason = ""
    paid_on: date | None = None
    if action == "sent":
        reference = values["reference_number"] = text(form, "reference_number", 100)
        if not reference:
            errors["reference_number"] = _("Enter the bank's transfer reference.")
        elif len(reference) > 50:
            errors["reference_number"] = _("At most %(n)s characters.") % {"n": 50}
    elif action == "paid":
        values["payment_date"] = text(form, "payment_date", 20)
        paid_on = _date(values["payment_date"])
        if values["payment_date"] and paid_on is None:
            errors["payment_date"] = _("Enter a date as YYYY-MM-DD.")
    else:
        reason = values["reason"] = text(form, "reason", 1000)
        if action == "failed" and not reason:
            errors["reason"] = _("Say why.")
        elif len(reason) > 400:
            errors["reason"] = _("At most %(n)s characters.") % {"n": 400}
    if not errors:
        try:
            async with session.begin_nested():
                if action == "sent":
                    await payment_service.mark_sent(
                        session, number, reference_number=reference, user=principal.user_id
                    )
                elif action == "paid":
                    await payment_service.mark_paid(
                        session,
                        number,
                        payment_date=paid_on or payment_service.jakarta_today(),
                        user=principal.user_id,
                    )
                elif action == "failed":
                    await payment_service.mark_failed(
                        session, number, reason=reason, user=principal.user_id
                    )
                else:
                    await payment_service.cancel_payment(
                        session, number, reason=reason or "cancelled", user=principal.user_id
                    )
        except (BusinessRuleError, Conflict) as exc:
            if exc.type_ == "invalid-payment-date":
                errors["payment_date"] = (
                    _("The date must not be in the future.")
                    if "future" in exc.message
                    else _("The date must not be before the payment was created.")
                )
            elif exc.type_ == "invalid-transition":
                errors["form"] = _("The payment's status no longer allows this.")
            else:
                errors["form"] = exc.message
        else:
            response = redirect(request, f"/web/health/payments/{number}")
            flash(response, request, "payment_updated")
            return response
    prefixed = {f"{action}-{k}": m for k, m in errors.items()}
    typed = {f"{action}-{k}": m for k, m in values.items()}
    return await _payment_page(
        request, session, principal, number, errors=prefixed, values=typed, status_code=422
    )
