"""The self-service portal (issue 8 item 4, decision 0068): members and customers sign in
with a code sent by SMS and see their own insurance.

- Sign-in: `/web/sign-in/sms` asks for the username and sends the code (POST /auth/otp's
  service: the same answer whatever the username, one attempt of the address's login rate
  limit, at most five codes an hour); `/web/sign-in/sms/code` checks it (POST
  /auth/otp/verify's service). An account with TOTP on goes on to the authenticator step of
  the staff sign-in.
- Every read runs under row-level security as `polis_self_service` for the signed-in person
  (polis.iam.self_service.own_records, the API's /me routes do the same): another person's
  claim or policy is simply not there (404 page). What the person may change (a document
  they upload, the EOB marked as sent, a receipt's first download) is written as the
  application, after RLS has shown the record to be theirs (`as_application`).
- Members: membership, cover, this year's benefits as used/remaining bars, claims with the
  adjudication in plain words, documents (download and upload), the EOB as PDF; a
  reimbursement claim of their own, adjudicated as POST /me/health/claims does.
- Customers: policies, documents (schedule, certificate, receipts), each premium due with its
  PromptPay QR (the page follows the payment until the bank's confirmation arrives), claims
  and their documents (download and upload); the first notice of a claim on an ACTIVE policy
  of theirs, as POST /me/motor/claims.
- Submissions call the API's own functions (`submit_own_claim`, `report_own_claim`) inside a
  savepoint: a refusal is shown next to its field (422) and writes nothing.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile as StarletteUploadFile

from polis.config import Settings
from polis.db.session import Database, DBSession
from polis.documents.checks import DocumentRejected, content_disposition
from polis.documents.storage import DocumentStore
from polis.health import authorizations as authorization_service
from polis.health import balances
from polis.health import eob as eob_service
from polis.health.adjudication import DOCUMENTS_REQUIRED
from polis.health.document_endpoints import download_claim_document
from polis.health.models import (
    Claim,
    Member,
    MemberCoverage,
    PlanBenefit,
    Provider,
)
from polis.health.service import ClaimFilter
from polis.health.service import claim as claim_service
from polis.health.service import member as member_service
from polis.iam import schemas as iam_schemas
from polis.iam.auth import Principal
from polis.iam.permissions import Role
from polis.iam.ratelimit import TooManyLoginAttempts
from polis.iam.self_service import SelfService, as_application, linked_person, own_records
from polis.iam.self_service_endpoints import (
    OwnHealthClaimCreate,
    own_policy,
    report_own_claim,
    submit_own_claim,
)
from polis.iam.sms_otp import deliver, sms_otp
from polis.iam.two_factor import CHALLENGE_MINUTES, InvalidCode
from polis.iam.two_factor_endpoints import sign_in as sign_in_after_first_factor
from polis.iam.two_factor_endpoints import sms_sender
from polis.integrations.sms import SmsSender
from polis.motor import claim_documents, claims, documents, payments, policies, receipts
from polis.motor.claim_endpoints import claim_out
from polis.motor.claim_schemas import ClaimCreate as MotorClaimCreate
from polis.motor.customers import customers as customer_service
from polis.motor.models import MotorPayment
from polis.motor.payments import PaymentConflict
from polis.motor.policy_endpoints import policy_out
from polis.platform.context import apply_audit_context, current_context
from polis.platform.errors import BusinessRuleError, Conflict, NotFound, PolisError
from polis.platform.pagination import Keyset, PageParams, paginate
from polis.web import i18n
from polis.web.forms import text
from polis.web.pages.auth import CHALLENGE_COOKIE, _open_session, _rate_limited, safe_next
from polis.web.pages.health import _document_refusal, attach_from_form, claim_context
from polis.web.pages.motor import BANGKOK, PREMIUM_TYPES, _bangkok_time
from polis.web.routing import WebRoute, redirect
from polis.web.session import COOKIE_PATH, CsrfChecked, State, require_page
from polis.web.templating import flash, render
from polis.web.words import STATUSES

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

PORTAL = f"{COOKIE_PATH}/me"
SMS_CHALLENGE_COOKIE = "polis_sms_challenge"  # the SMS code's challenge token

MemberClaims = Annotated[Principal, Depends(require_page("health.claims:read_own"))]
MemberSelf = Annotated[Principal, Depends(require_page("health.members:read_own"))]
OwnDocuments = Annotated[Principal, Depends(require_page("documents:read_own"))]
OwnUploads = Annotated[Principal, Depends(require_page("documents:write_own"))]
CustomerPolicies = Annotated[Principal, Depends(require_page("motor.policies:read_own"))]
CustomerPayments = Annotated[Principal, Depends(require_page("motor.payments:read_own"))]
CustomerClaims = Annotated[Principal, Depends(require_page("motor.claims:read_own"))]
MemberSubmits = Annotated[Principal, Depends(require_page("health.claims:submit_own"))]
CustomerSubmits = Annotated[Principal, Depends(require_page("motor.claims:submit_own"))]
SmsSenderDep = Annotated[SmsSender, Depends(sms_sender)]

# What a customer may upload to their own motor claim, and the words of each kind.
MOTOR_DOCUMENT_TYPES = ("PHOTO", "POLICE_REPORT", "MEDICAL_REPORT", "ESTIMATE", "INVOICE", "OTHER")
_CLAIMS_NEWEST_FIRST = Keyset("web.me.health.claims", Claim.submission_date, Claim.id, True)


def motor_document_words() -> dict[str, str]:
    """The kinds of document a customer may attach to a motor claim, in plain words."""
    return {
        "PHOTO": _("Photo of the damage or the scene"),
        "POLICE_REPORT": _("Police report"),
        "MEDICAL_REPORT": _("Medical report"),
        "ESTIMATE": _("Repair estimate"),
        "INVOICE": _("Invoice"),
        "OTHER": _("Other"),
    }


def _ip() -> str | None:
    ctx = current_context()
    return ctx.ip_address if ctx else None


# --- sign-in by SMS code ---------------------------------------------------------------------


@router.get("/sign-in/sms")
async def sms_sign_in_form(request: Request, state: State, next: str | None = None) -> Response:
    """Members and customers: sign in with a code sent to the phone of the account."""
    if state.principal is not None:
        return redirect(request, safe_next(next or PORTAL))
    return render(request, "portal/sign_in.html", {"next": safe_next(next or PORTAL), "errors": {}})


@router.post("/sign-in/sms", dependencies=[CsrfChecked])
async def request_sms_code(
    request: Request,
    session: DBSession,
    state: State,
    background: BackgroundTasks,
    sender: SmsSenderDep,
) -> Response:
    """Send a code (POST /auth/otp's service): the same next page whatever the username, so
    the page does not tell whether an account exists."""
    form = await request.form()
    username = text(form, "username", 100)
    target = safe_next(text(form, "next", 500) or PORTAL)
    context: dict[str, Any] = {"next": target, "username": username, "errors": {}}
    if not username:
        context["errors"]["username"] = _("Enter your username.")
        return render(request, "portal/sign_in.html", context, status_code=422)
    await apply_audit_context(session, current_context())
    try:
        token, expires_at, delivery = await sms_otp.request(
            session, username=username, ip_address=_ip(), settings=request.app.state.settings
        )
    except TooManyLoginAttempts as exc:
        return _rate_limited(request, "portal/sign_in.html", context, exc)
    if delivery is not None:
        background.add_task(deliver, sender, delivery)
    state.set_cookies[SMS_CHALLENGE_COOKIE] = (token, CHALLENGE_MINUTES * 60, "strict")
    return render(
        request,
        "portal/sign_in_code.html",
        {"next": target, "errors": {}, "expires_at": expires_at},
    )


@router.post("/sign-in/sms/code", dependencies=[CsrfChecked])
async def check_sms_code(request: Request, session: DBSession, state: State) -> Response:
    """The code of the SMS (POST /auth/otp/verify's service): a wrong one counts as a failed
    sign-in and five burn the challenge; a right one opens the session, or asks for the
    authenticator code when the account has one."""
    form = await request.form()
    code = text(form, "code", 12).replace(" ", "")
    target = safe_next(text(form, "next", 500) or PORTAL)
    context: dict[str, Any] = {"next": target, "errors": {}}
    challenge = request.cookies.get(SMS_CHALLENGE_COOKIE)
    if not challenge:
        context["error"] = _("The sign-in has expired. Ask for a new code.")
        return render(request, "portal/sign_in.html", {**context, "username": ""}, status_code=401)
    if not code:
        context["errors"]["code"] = _("Enter the 6-digit code from the SMS.")
        return render(request, "portal/sign_in_code.html", context, status_code=422)
    settings: Settings = request.app.state.settings
    await apply_audit_context(session, current_context())
    try:
        user = await sms_otp.verify(
            session, token=challenge, code=code, ip_address=_ip(), settings=settings
        )
    except InvalidCode:
        # Answered, not raised: the counters (challenge, failed sign-ins) are committed.
        context["errors"]["code"] = _(
            "The code is not correct, or it has expired. Try again or ask for a new code."
        )
        return render(request, "portal/sign_in_code.html", context, status_code=401)
    except TooManyLoginAttempts as exc:
        return _rate_limited(request, "portal/sign_in_code.html", context, exc)
    state.clear_cookies.add(SMS_CHALLENGE_COOKIE)
    issued = await sign_in_after_first_factor(
        session, user, settings=settings, login_method="TOKEN"
    )
    if isinstance(issued, iam_schemas.LoginChallenge):
        state.set_cookies[CHALLENGE_COOKIE] = (
            issued.challenge_token,
            CHALLENGE_MINUTES * 60,
            "strict",
        )
        return render(request, "sign_in_code.html", {"next": target, "errors": {}})
    return await _open_session(request, state, issued, user, target)


# --- the portal's home -------------------------------------------------------------------------


@router.get("/me")
async def portal_home(request: Request, session: DBSession, principal: OwnDocuments) -> Response:
    """My insurance: the member's or the customer's pages, or why there is nothing yet."""
    if principal.role == Role.MEMBER and await linked_person(session, principal.user, "member"):
        return redirect(request, f"{PORTAL}/health")
    if principal.role == Role.CUSTOMER and await linked_person(session, principal.user, "customer"):
        return redirect(request, f"{PORTAL}/motor")
    return render(request, "portal/not_linked.html", {}, status_code=403)


# --- members -----------------------------------------------------------------------------------


@router.get("/me/health")
async def my_membership(
    request: Request,
    session: DBSession,
    principal: MemberSelf,
    year: Annotated[int | None, Query(ge=1900, le=9999)] = None,
) -> Response:
    """The member's cover, this year's benefits as used/remaining bars and their claims."""
    year = year or authorization_service.today_jakarta().year
    async with own_records(session, principal, "member") as me:
        number = await session.scalar(select(Member.member_number).where(Member.id == me.member_id))
        view = await member_service.get(session, number or "")
        rows: list[Any] = []
        if principal.can("health.claims:read_own"):
            rows, _next = await paginate(
                session,
                claim_service.statement(ClaimFilter()),
                _CLAIMS_NEWEST_FIRST,
                PageParams(limit=50),
            )
        # The benefits of the person's own member number (RLS showed it is theirs); the
        # family deductible reads the policy's other members, so as the application.
        async with as_application(session, me):
            benefits = await balances.benefits(session, view.member.member_number, year)
    context = {
        "view": view,
        "member": view.member,
        "benefits": benefits,
        "year": year,
        "claims": rows,
        "status_words": STATUSES,
        "own": True,
        "claim_base": f"{PORTAL}/health/claims",
        "can_claim": principal.can("health.claims:submit_own"),
    }
    return render(request, "health/member.html", context)


async def _my_health_claim(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with own_records(session, principal, "member"):
        context = await claim_context(session, claim_id, documents=True)
    context.update(
        history=[],
        can_decide=False,
        actions={"document": principal.can("documents:write_own")},
        errors=errors or {},
        values=values or {},
        own=True,
        base=f"{PORTAL}/health",
    )
    return render(request, "health/claim.html", context, status_code=status_code)


# --- a member's reimbursement claim ------------------------------------------------------------

CLAIM_LINES = 3  # line rows of a new claim form ("More lines" adds two)
MAX_CLAIM_LINES = 20
PROVIDER_CHOICES = 300  # network providers offered in the list (others by code)
_LINE_FIELDS = ("benefit_code", "diagnosis_code", "charged_amount", "quantity")


def service_type_words() -> dict[str, str]:
    """The kinds of care a member may claim for, in plain words."""
    return {
        "outpatient": _("Doctor's visit (outpatient)"),
        "inpatient": _("Hospital stay (inpatient)"),
        "dental": _("Dental care"),
        "optical": _("Glasses and eye care"),
    }


def plain_amount(value: str) -> str:
    """An amount as typed in the page's language (`1.500.000,50` in Indonesian, `1,500,000.50`
    otherwise; spaces ignored) as the API reads it (`1500000.50`)."""
    value = value.replace(" ", "").replace("\u00a0", "")
    group, point = (".", ",") if i18n.current_language() == "id" else (",", ".")
    if re.fullmatch(rf"\d{{1,3}}(\{group}\d{{3}})+(\{point}\d*)?", value):
        value = value.replace(group, "")
    return value.replace(",", ".") if point == "," else value


def _field_message(err: Any) -> str:
    """A request schema's refusal of one field, in plain words."""
    kind = str(err.get("type", ""))
    loc = [str(p) for p in err.get("loc", ())]
    last = loc[-1] if loc else ""
    if last == "diagnosis_code" and kind == "value_error":
        return _("Not an ICD-10 code (e.g. J06.9).")
    if kind in ("missing", "string_too_short", "null_not_allowed"):
        return _("Required.")
    if kind == "too_short" and loc == ["items"]:
        return _("Add at least one line.")
    if last == "quantity":
        return _("Enter a whole number of at least 1.")
    if kind in ("literal_error", "enum"):
        return _("Choose one of the options.")
    if kind.startswith(("date_", "datetime_", "timezone_")):
        return _("Enter a date.")
    if kind == "string_pattern_mismatch":
        return _("Letters, digits and . _ / - only.")
    if kind == "money_range":
        below = str((err.get("ctx") or {}).get("bound")) == "0"
        return _("Must not be negative.") if below else _("Too large.")
    if kind == "money_places":
        return _("At most two decimals.")
    if kind.startswith("money_"):
        return _("Enter an amount, e.g. 150000.")
    if kind == "string_too_long":
        return _("Too long.")
    return _("This value is not valid.")


def _health_claim_body(form: Any) -> tuple[dict[str, Any], dict[str, str], list[int]]:
    """The body of POST /me/health/claims from the form, the values as typed and the form
    rows of the lines sent (blank rows are left out)."""
    values: dict[str, str] = {
        name: text(form, name, 100) for name in ("provider", "provider_code", "service_type")
    }
    values["service_date"] = text(form, "service_date", 20)
    provider = values["provider"] or values["provider_code"]
    given = {
        "provider_code": provider,
        "service_type": values["service_type"],
        "service_date": values["service_date"],
    }
    body: dict[str, Any] = {k: v for k, v in given.items() if v}  # blank: "Required."
    rows = CLAIM_LINES
    while rows < MAX_CLAIM_LINES and form.get(f"lines-{rows}-benefit_code") is not None:
        rows += 1
    items: list[dict[str, Any]] = []
    kept: list[int] = []
    for i in range(rows):
        typed = {f: text(form, f"lines-{i}-{f}", 50) for f in _LINE_FIELDS}
        values.update({f"lines-{i}-{f}": v for f, v in typed.items()})
        if not (typed["benefit_code"] or typed["diagnosis_code"] or typed["charged_amount"]):
            continue
        item: dict[str, Any] = {
            "benefit_code": typed["benefit_code"],
            "charged_amount": plain_amount(typed["charged_amount"]),
        }
        if typed["diagnosis_code"]:
            item["diagnosis_code"] = typed["diagnosis_code"].upper()
        if typed["quantity"]:
            item["quantity"] = typed["quantity"]
        items.append(item)
        kept.append(i)
    body["items"] = items
    values["line_rows"] = str(rows)
    return body, values, kept


def _claim_form_errors(exc: ValidationError, kept: list[int]) -> dict[str, str]:
    """{form field: message} of OwnHealthClaimCreate's refusal."""
    found: dict[str, str] = {}
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        if loc[:1] == ["items"] and len(loc) >= 3 and loc[1].isdigit():
            name = f"lines-{kept[int(loc[1])]}-{loc[2]}"
        elif loc[:1] == ["items"]:
            name = "lines"
        elif loc[:1] == ["provider_code"]:
            name = "provider"
        elif loc and loc[0] in ("service_type", "service_date"):
            name = loc[0]
        else:
            name = "form"
        found.setdefault(name, _field_message(err))
    return found


def _claim_refusal(exc: PolisError, body: dict[str, Any], kept: list[int]) -> dict[str, str]:
    """{form field: message} of the adjudication service's refusal (nothing was written)."""
    kind = exc.type_
    if kind == "provider-not-found":
        return {"provider": _("There is no provider with this code.")}
    if kind == "no-coverage":
        return {"service_date": _("You are not covered on this date.")}
    if kind == "validation-error":  # the service date after today
        return {"service_date": _("The service date cannot be in the future.")}
    if kind == "benefit-not-found":
        unknown = {c.strip() for c in exc.message.rpartition(": ")[2].rstrip(".").split(",")}
        found = {
            f"lines-{kept[n]}-benefit_code": _("Not a benefit of your plan.")
            for n, item in enumerate(body["items"])
            if item["benefit_code"] in unknown
        }
        return found or {"lines": _("Not a benefit of your plan.")}
    line = re.match(r"Line (\d+):", exc.message)
    if kind == "invalid-icd10" and line and int(line.group(1)) <= len(kept):
        return {
            f"lines-{kept[int(line.group(1)) - 1]}-diagnosis_code": _field_message(
                {"type": "value_error", "loc": ("diagnosis_code",)}
            )
        }
    return {"form": _("The claim was refused: %(reason)s") % {"reason": exc.message}}


async def _claim_form_choices(session: DBSession, me: SelfService) -> dict[str, Any]:
    """What the form offers, read under RLS: the benefits of the member's plans (the
    coverages RLS shows), and active network providers."""
    benefits = (
        await session.execute(
            select(PlanBenefit.benefit_code, PlanBenefit.benefit_name)
            .join(MemberCoverage, MemberCoverage.plan_id == PlanBenefit.plan_id)
            .where(
                MemberCoverage.member_id == me.member_id,
                PlanBenefit.coverage_type.is_distinct_from("not_covered"),
            )
            .distinct()
            .order_by(PlanBenefit.benefit_name, PlanBenefit.benefit_code)
        )
    ).all()
    providers = (
        await session.execute(
            select(Provider.provider_code, Provider.provider_name, Provider.city)
            .where(Provider.is_network.is_not(False), Provider.status == "active")
            .order_by(Provider.provider_name, Provider.provider_code)
            .limit(PROVIDER_CHOICES)
        )
    ).all()
    return {
        "benefits": {b.benefit_code: f"{b.benefit_name} ({b.benefit_code})" for b in benefits},
        "providers": {
            p.provider_code: ", ".join(x for x in (p.provider_name, p.city) if x) for p in providers
        },
    }


def _health_claim_form(
    request: Request,
    choices: dict[str, Any],
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = int(values.get("line_rows") or CLAIM_LINES)
    context = {
        **choices,
        "values": values,
        "errors": errors or {},
        "service_types": service_type_words(),
        "line_rows": rows,
        "more_rows": min(rows + 2, MAX_CLAIM_LINES),
        "max_rows": MAX_CLAIM_LINES,
    }
    return render(request, "portal/health_claim_new.html", context, status_code=status_code)


@router.get("/me/health/claims/new")
async def new_health_claim_form(
    request: Request,
    session: DBSession,
    principal: MemberSubmits,
    lines: Annotated[int, Query(ge=1, le=MAX_CLAIM_LINES)] = CLAIM_LINES,
) -> Response:
    """Claim a reimbursement: the provider, the kind of care, the date and the lines (benefit,
    ICD-10 diagnosis, amount charged), as POST /me/health/claims."""
    async with own_records(session, principal, "member") as me:
        choices = await _claim_form_choices(session, me)
    values = {
        "service_type": "outpatient",
        "service_date": authorization_service.today_jakarta().isoformat(),
        "line_rows": str(lines),
    }
    return _health_claim_form(request, choices, values)


@router.post("/me/health/claims/new", dependencies=[CsrfChecked])
async def submit_health_claim(
    request: Request, session: DBSession, principal: MemberSubmits
) -> Response:
    """Submit the member's own reimbursement claim (submit_own_claim, as POST
    /me/health/claims): adjudicated at once, written as the application for the member of
    the login; refusals next to their field, nothing written."""
    form = await request.form()
    body, values, kept = _health_claim_body(form)
    errors: dict[str, str] = {}
    async with own_records(session, principal, "member") as me:
        choices = await _claim_form_choices(session, me)
        try:
            parsed = OwnHealthClaimCreate.model_validate(body)
        except ValidationError as exc:
            errors = _claim_form_errors(exc, kept)
        else:
            try:
                async with session.begin_nested():
                    answer = await submit_own_claim(session, me, parsed)
            except (NotFound, BusinessRuleError, Conflict) as exc:
                errors = _claim_refusal(exc, body, kept)
    if errors:
        return _health_claim_form(request, choices, values, errors, status_code=422)
    response = redirect(request, f"{PORTAL}/health/claims/{answer.id}")
    waits = answer.pended_reason == DOCUMENTS_REQUIRED
    flash(response, request, "claim_submitted_documents" if waits else "claim_submitted")
    return response


@router.get("/me/health/claims/{claim_id}")
async def my_health_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: MemberClaims
) -> Response:
    """One of the member's claims: its lines and how each was adjudicated, in plain words;
    its documents; the EOB once decided."""
    return await _my_health_claim(request, session, principal, claim_id)


@router.post("/me/health/claims/{claim_id}/documents", dependencies=[CsrfChecked])
async def upload_my_health_document(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: OwnUploads
) -> Response:
    """Attach a file to one of the member's claims (the checks of POST
    /health/claims/{id}/documents); refusals next to their field, nothing stored."""
    async with own_records(session, principal, "member") as me:
        await claim_service.get(session, claim_id)  # 404 page unless the claim is theirs
        document_type, errors = await attach_from_form(
            request, session, claim_id, principal.user_id, lambda: as_application(session, me)
        )
    if not errors:
        response = redirect(request, f"{PORTAL}/health/claims/{claim_id}")
        flash(response, request, "document_uploaded")
        return response
    return await _my_health_claim(
        request,
        session,
        principal,
        claim_id,
        errors={f"document-{k}": v for k, v in errors.items()},
        values={"document-document_type": document_type},
        status_code=422,
    )


@router.get("/me/health/claims/{claim_id}/documents/{document_id}")
async def my_health_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: OwnDocuments,
) -> Response:
    """A document of one of the member's claims, byte for byte."""
    async with own_records(session, principal, "member"):
        return await download_claim_document(claim_id, document_id, request, principal, session)


@router.get("/me/health/claims/{claim_id}/eob.pdf")
async def my_eob_pdf(
    claim_id: uuid.UUID,
    session: DBSession,
    principal: MemberClaims,
    lang: Annotated[str, Query(pattern="^(id|en)$")] = "id",
) -> Response:
    """The explanation of benefits of one of the member's claims, as a PDF; the first
    download marks it sent."""
    async with own_records(session, principal, "member") as me:
        record = await eob_service.find_eob(session, claim_id)
        async with as_application(session, me):
            await eob_service.mark_sent(session, record.eob.id)
            await session.refresh(record.eob)
        view = await eob_service.eob_view(session, record, lang)
    return _file(eob_service.render_pdf(view), "application/pdf", f"{view.eob_number}-{lang}.pdf")


def _file(data: bytes, media_type: str, name: str) -> Response:
    return Response(
        content=data,
        media_type=media_type,
        headers={
            "Content-Disposition": content_disposition(name),
            "Cache-Control": "private, no-store",
        },
    )


# --- customers ---------------------------------------------------------------------------------


@router.get("/me/motor")
async def my_motor(request: Request, session: DBSession, principal: CustomerPolicies) -> Response:
    """The customer's policies (each with what is due) and claims."""
    async with own_records(session, principal, "customer") as me:
        customer = await customer_service.get(session, me.customer_id)
        found, _next = await policies.list_policies(session, PageParams(limit=50))
        rows = [policy_out(p) for p in found]
        due = {
            p.policy_id: p
            for p in (
                await session.scalars(
                    select(MotorPayment)
                    .where(
                        MotorPayment.payment_status == "PENDING",
                        MotorPayment.payment_type.in_(PREMIUM_TYPES),
                    )
                    .order_by(MotorPayment.due_date.desc())
                )
            ).all()
        }
        claim_rows: list[Any] = []
        if principal.can("motor.claims:read_own"):
            items, _next = await claims.list_claims(
                session, claims.ClaimFilter(), PageParams(limit=50)
            )
            claim_rows = [claim_out(c, p) for c, p in items]
    context = {
        "customer": customer,
        "policies": rows,
        "due": due,
        "claims": claim_rows,
        "status_words": STATUSES,
        "can_report": principal.can("motor.claims:submit_own"),
    }
    return render(request, "portal/motor.html", context)


def _payment_row(payment: MotorPayment, number: str, qr: Any) -> dict[str, Any]:
    out = payments.payment_out(payment, number)
    return {
        "payment": out,
        "qr": qr,
        "receipt": out.payment_status == "SUCCESS" and out.payment_type in PREMIUM_TYPES,
    }


async def _qr_if_due(session: DBSession, me: SelfService, payment: MotorPayment) -> Any:
    """The PromptPay QR of a premium due (RLS has shown the payment to be the person's);
    built as the application, which reads the biller id from the configuration."""
    if payment.payment_status == "PENDING" and payment.payment_type in PREMIUM_TYPES:
        async with as_application(session, me):
            return await payments.promptpay_qr(session, payment.id)
    return None


@router.get("/me/motor/policies/{policy_number}")
async def my_policy(
    policy_number: str, request: Request, session: DBSession, principal: CustomerPolicies
) -> Response:
    """One of the customer's policies: its facts, what is due with the PromptPay QR to pay
    it, receipts, documents and claims."""
    async with own_records(session, principal, "customer") as me:
        row = await policies.get_policy(session, policy_number[:50])
        async with as_application(session, me):
            await documents.ensure_documents(session, row)
        docs = await documents.list_documents(session, row.policy_number)
        payment_rows = []
        if principal.can("motor.payments:read_own"):
            for p in await payments.policy_payments(session, row.id):
                qr = await _qr_if_due(session, me, p)
                payment_rows.append(_payment_row(p, row.policy_number, qr))
        items, _next = await claims.list_claims(
            session, claims.ClaimFilter(policy_number=row.policy_number), PageParams(limit=50)
        )
    lang = i18n.current_language()
    context = {
        "policy": policy_out(row),
        "payments": payment_rows,
        "documents": docs.latest,
        "claims": [claim_out(c, p) for c, p in items],
        "receipt_lang": "th" if lang == "th" else "en",
        "status_words": STATUSES,
        "base": f"{PORTAL}/motor",
        "can_report": principal.can("motor.claims:submit_own"),
    }
    return render(request, "portal/policy.html", context)


@router.get("/me/motor/policies/{policy_number}/documents/{document_id}")
async def my_policy_document(
    policy_number: str, document_id: uuid.UUID, session: DBSession, principal: OwnDocuments
) -> Response:
    """One document of one of the customer's policies (schedule, certificate, receipt)."""
    async with own_records(session, principal, "customer"):
        row, data = await documents.get_document(session, policy_number[:50], document_id)
    name = row.document_name
    if (row.version_number or 1) > 1:
        name = name.removesuffix(".pdf") + f"-v{row.version_number}.pdf"
    return _file(data, "application/pdf", name)


async def _own_payment(session: DBSession, payment_id: uuid.UUID) -> tuple[MotorPayment, str]:
    payment, number = await payments.get_payment(session, payment_id)
    if number is None:
        raise NotFound("There is no such payment.")
    return payment, number


@router.get("/me/motor/payments/{payment_id}/promptpay.png")
async def my_promptpay_png(
    payment_id: uuid.UUID, session: DBSession, principal: CustomerPayments
) -> Response:
    """The PromptPay QR image of one of the customer's premiums due."""
    async with own_records(session, principal, "customer") as me:
        payment, _number = await _own_payment(session, payment_id)
        qr = await _qr_if_due(session, me, payment)
    if qr is None:
        raise PaymentConflict(f"Payment {payment_id} is {payment.payment_status}: nothing to pay.")
    return Response(
        payments.qr_png(qr), media_type="image/png", headers={"Cache-Control": "private, no-store"}
    )


@router.get("/me/motor/payments/{payment_id}")
async def my_payment(
    payment_id: uuid.UUID, request: Request, session: DBSession, principal: CustomerPayments
) -> Response:
    """One payment as the policy page shows it (htmx asks for it every few seconds while it
    is due, so that the page turns to paid when the bank's confirmation arrives)."""
    async with own_records(session, principal, "customer") as me:
        payment, number = await _own_payment(session, payment_id)
        qr = await _qr_if_due(session, me, payment)
    lang = i18n.current_language()
    context = {
        "row": _payment_row(payment, number, qr),
        "receipt_lang": "th" if lang == "th" else "en",
        "status_words": STATUSES,
        "base": f"{PORTAL}/motor",
        "follow": True,
    }
    return render(request, "motor/_payment.html", context)


@router.get("/me/motor/payments/{payment_id}/receipt.pdf")
async def my_receipt(
    payment_id: uuid.UUID,
    session: DBSession,
    principal: CustomerPayments,
    lang: Annotated[Literal["th", "en"], Query()] = "th",
) -> Response:
    """The receipt / tax invoice of one of the customer's paid premiums, as a PDF (the first
    download records its delivery)."""
    async with own_records(session, principal, "customer") as me:
        await _own_payment(session, payment_id)
        async with as_application(session, me):
            data, name = await receipts.receipt_pdf(session, payment_id, lang)
    return _file(data, "application/pdf", name)


# --- a customer's first notice of loss ---------------------------------------------------------

_FNOL_TEXT = {
    "claim_type": 20,
    "incident_date": 30,
    "incident_description": 5000,
    "damage_description": 5000,
    "injury_description": 5000,
    "police_report_number": 50,
    "estimated_amount": 30,
}
_PLACE = ("text", "tambon", "amphoe", "province", "postal_code")
# The service's refusals (`type`) in plain words, next to the field they name.
_FNOL_FIELD = {
    "policy_number": "form",
    "policy_id": "form",
    "claim_type": "claim_type",
    "incident_date": "incident_date",
    "incident_description": "incident_description",
    "damage_description": "damage_description",
    "injury_description": "injury_description",
    "police_report_number": "police_report_number",
    "estimated_amount": "estimated_amount",
    "incident_location": "place_text",
    **{f"incident_location.address.{f}": f"place_{f}" for f in _PLACE},
    "incident_location.address": "place_text",
}


def claim_type_words() -> dict[str, str]:
    """The kinds of motor claim, in plain words."""
    return {
        "ACCIDENT": _("Accident"),
        "THEFT": _("Theft"),
        "FIRE": _("Fire"),
        "FLOOD": _("Flood"),
        "VANDALISM": _("Vandalism"),
        "NATURAL_DISASTER": _("Natural disaster"),
    }


def _fnol_refusals() -> dict[str, str]:
    return {
        "incident_in_future": _("The incident cannot be in the future."),
        "incident_outside_period": _("The incident is outside the period of the policy."),
        "above_max_claim_amount": _("The amount is above the most a claim may be."),
        "nothing_claimed": _("Describe the damage to your car, or the injuries."),
        "not_covered": _("Your policy does not cover this kind of claim."),
        "unknown_province": _("Unknown province."),
        "amphoe_not_in_province": _("No district of that name in the province."),
        "tambon_not_in_amphoe": _("No subdistrict of that name in the district."),
        "postal_code_mismatch": _("Not the postal code of the subdistrict."),
    }


def _fnol_body(form: Any, policy_number: str) -> tuple[dict[str, Any], dict[str, str]]:
    """The body of POST /me/motor/claims from the form (the incident's time read as Bangkok
    time) and the values as typed."""
    values = {name: text(form, name, limit) for name, limit in _FNOL_TEXT.items()}
    values.update({f"place_{f}": text(form, f"place_{f}", 200) for f in _PLACE})
    body: dict[str, Any] = {"policy_number": policy_number}
    for name in _FNOL_TEXT:
        if values[name]:
            body[name] = values[name]
    if values["incident_date"]:
        body["incident_date"] = _bangkok_time(values["incident_date"]) or values["incident_date"]
    if values["estimated_amount"]:
        body["estimated_amount"] = plain_amount(values["estimated_amount"])
    address = {f: values[f"place_{f}"] for f in _PLACE if values[f"place_{f}"]}
    if address:
        body["incident_location"] = {"address": address}
    return body, values


def _fnol_form_errors(exc: ValidationError) -> dict[str, str]:
    found: dict[str, str] = {}
    for err in exc.errors():
        dotted = ".".join(str(p) for p in err.get("loc", ()))
        name = _FNOL_FIELD.get(dotted) or _FNOL_FIELD.get(dotted.split(".")[0], "form")
        kind = str(err.get("type", ""))
        if name == "incident_date" and kind != "missing":
            message = _("Enter the date and time.")
        else:
            message = _field_message(err)
        found.setdefault(name, message)
    return found


def _fnol_refusal(exc: PolisError) -> dict[str, str]:
    """{form field: message} of report_claim's refusal (nothing was written)."""
    if exc.type_ == "policy-not-active":
        return {"form": _("This policy is not active: a claim needs an active policy.")}
    words_ = _fnol_refusals()
    found: dict[str, str] = {}
    for err in exc.extra.get("errors", []) or []:
        dotted = str(err.get("field", "")).removeprefix("body.")
        name = _FNOL_FIELD.get(dotted, "form")
        found.setdefault(name, words_.get(str(err.get("type")), str(err.get("message", ""))))
    return found or {"form": _("The claim was refused: %(reason)s") % {"reason": exc.message}}


def _fnol_page(
    request: Request,
    policy: Any,
    values: dict[str, str],
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "policy": policy,
        "values": values,
        "errors": errors or {},
        "claim_types": claim_type_words(),
        "active": (policy.status or "ACTIVE") == "ACTIVE",
        "status_words": STATUSES,
    }
    return render(request, "portal/motor_claim_new.html", context, status_code=status_code)


@router.get("/me/motor/claims/new")
async def new_motor_claim_form(
    request: Request,
    session: DBSession,
    principal: CustomerSubmits,
    policy: Annotated[str, Query(min_length=1, max_length=50)],
) -> Response:
    """Report a claim on one of the customer's ACTIVE policies: when and where it happened,
    what happened, the damage or injuries, the amount (POST /me/motor/claims). Another
    customer's policy is the 404 page; a policy that is not active says so (409)."""
    async with own_records(session, principal, "customer"):
        row = await own_policy(session, policy_number=policy)
    now = datetime.now(BANGKOK).replace(second=0, microsecond=0, tzinfo=None)
    values = {"claim_type": "ACCIDENT", "incident_date": now.isoformat()}
    active = (row.status or "ACTIVE") == "ACTIVE"
    return _fnol_page(request, row, values, status_code=200 if active else 409)


@router.post("/me/motor/claims/new", dependencies=[CsrfChecked])
async def report_motor_claim(
    request: Request,
    session: DBSession,
    principal: CustomerSubmits,
    policy: Annotated[str, Query(min_length=1, max_length=50)],
) -> Response:
    """Report the claim (report_own_claim, as POST /me/motor/claims): the policy looked up
    under RLS (another customer's: the 404 page), the claim checked, written and scored as the
    application; refusals next to their field, nothing written."""
    form = await request.form()
    errors: dict[str, str] = {}
    async with own_records(session, principal, "customer") as me:
        row = await own_policy(session, policy_number=policy)
        body, values = _fnol_body(form, row.policy_number)
        try:
            parsed = MotorClaimCreate.model_validate(body)
        except ValidationError as exc:
            errors = _fnol_form_errors(exc)
        else:
            try:
                async with session.begin_nested():
                    claim_row, _policy = await report_own_claim(session, me, parsed)
            except (BusinessRuleError, Conflict) as exc:
                errors = _fnol_refusal(exc)
    if errors:
        return _fnol_page(request, row, values, errors, status_code=422)
    response = redirect(request, f"{PORTAL}/motor/claims/{claim_row.id}")
    flash(response, request, "claim_notified")
    return response


async def _my_motor_claim(
    request: Request,
    session: DBSession,
    principal: Principal,
    claim_id: uuid.UUID,
    *,
    errors: dict[str, str] | None = None,
    values: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    async with own_records(session, principal, "customer"):
        claim_row, policy_row = await claims.claim_with_policy(session, claim_id)
        rows = await claim_documents.list_documents(session, claim_row.id)
    context = {
        "claim": claim_out(claim_row, policy_row),
        "documents": [claim_documents.document_out(r, sensitive_allowed=True) for r in rows],
        "document_words": motor_document_words(),
        "can_upload": principal.can("documents:write_own") and claim_row.status != "CLOSED",
        "errors": errors or {},
        "values": values or {},
        "status_words": STATUSES,
    }
    return render(request, "portal/motor_claim.html", context, status_code=status_code)


@router.get("/me/motor/claims/{claim_id}")
async def my_motor_claim(
    claim_id: uuid.UUID, request: Request, session: DBSession, principal: CustomerClaims
) -> Response:
    """One of the customer's claims: where it stands, the amounts, its documents."""
    return await _my_motor_claim(request, session, principal, claim_id)


@router.post("/me/motor/claims/{claim_id}/documents", dependencies=[CsrfChecked])
async def upload_my_motor_document(
    claim_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: OwnUploads,
    background: BackgroundTasks,
) -> Response:
    """Attach a photo or document to one of the customer's claims (the checks of POST
    /motor/claims/{id}/documents; its text is read afterwards)."""
    settings: Settings = request.app.state.settings
    form = await request.form()
    document_type = text(form, "document_type", 50)
    upload = form.get("file")
    errors: dict[str, str] = {}
    if document_type not in MOTOR_DOCUMENT_TYPES:
        errors["document_type"] = _("Choose the kind of document.")
    if not isinstance(upload, StarletteUploadFile) or not upload.filename:
        errors["file"] = _("Choose a file.")
    store = DocumentStore.from_settings(settings)
    async with own_records(session, principal, "customer") as me:
        claim_row, _policy = await claims.claim_with_policy(session, claim_id)
        if not errors and isinstance(upload, StarletteUploadFile):
            try:
                async with as_application(session, me), session.begin_nested():
                    limit = await claim_documents.max_bytes_for(session, settings, document_type)
                    data = await upload.read(limit + 1)
                    row = await claim_documents.upload(
                        session,
                        store,
                        claim_row.id,
                        data,
                        file_name=upload.filename,
                        declared_type=upload.content_type,
                        max_bytes=limit,
                        document_type=document_type,
                        document_category=None,
                        description=text(form, "description", 2000) or None,
                        is_sensitive=None,
                        is_required=False,
                        user_id=principal.user_id,
                    )
            except DocumentRejected as exc:
                errors["file"] = _document_refusal(exc, settings)
            except Conflict:
                errors["file"] = _("The claim is closed: no more documents.")
            else:
                database: Database = request.app.state.db
                background.add_task(claim_documents.ocr_after_upload, database, store, row.id)
    if not errors:
        response = redirect(request, f"{PORTAL}/motor/claims/{claim_id}")
        flash(response, request, "document_uploaded")
        return response
    return await _my_motor_claim(
        request,
        session,
        principal,
        claim_id,
        errors=errors,
        values={"document_type": document_type},
        status_code=422,
    )


@router.get("/me/motor/claims/{claim_id}/documents/{document_id}")
async def my_motor_claim_document(
    claim_id: uuid.UUID,
    document_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: OwnDocuments,
) -> Response:
    """A document of one of the customer's claims, byte for byte."""
    store = DocumentStore.from_settings(request.app.state.settings)
    async with own_records(session, principal, "customer"):
        row, data = await claim_documents.read_content(
            session, store, claim_id, document_id, sensitive_allowed=True
        )
    return _file(data, row.mime_type or "application/octet-stream", row.original_filename)
