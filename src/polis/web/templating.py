"""The Jinja2 environment of the pages and `render`: a template in the request's language,
with the visitor, the navigation of their role, the CSRF token and the flash message."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, select_autoescape

from polis.iam.auth import Principal
from polis.web import i18n
from polis.web.session import (
    COOKIE_PATH,
    FLASH_COOKIE,
    LANG_COOKIE,
    WebState,
    clear_cookie,
    set_cookie,
)

TEMPLATES = Path(__file__).parent / "templates"
STATIC_PREFIX = f"{COOKIE_PATH}/static"
_ = i18n.gettext_

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)
env.install_gettext_callables(  # type: ignore[attr-defined]
    i18n.gettext_, i18n.ngettext_, newstyle=True
)
env.filters.update(
    money=lambda v: i18n.money(v),
    day=lambda v: i18n.day(v),
    moment=lambda v: i18n.moment(v),
    number=lambda v: i18n.number(v),
)


@dataclass(frozen=True)
class NavItem:
    """A link of the navigation, shown to roles holding its permission (and, when `roles`
    is given, only to those roles: the portal's links are for members and customers, not
    for a SUPER_ADMIN who holds every permission but is no one's member)."""

    path: str
    label: str  # a message id, translated when rendered
    permission: str | tuple[str, ...] | None  # a tuple: any one of them
    roles: tuple[str, ...] | None = None


# The label strings are marked for extraction by gettext_noop-like use in the template.
NAV: tuple[NavItem, ...] = (
    NavItem("/web/", "Home", None),
    NavItem("/web/health/claims", "Claims", "health.claims:read"),
    NavItem("/web/health/authorizations", "Pre-authorisations", "health.preauth:read"),
    NavItem("/web/health/payments", "Payment runs", "health.billing:read"),
    NavItem("/web/health/plans", "Plans", "health.plans:read"),
    NavItem(
        "/web/dashboard",
        "Dashboard",
        ("health.claims:read", "health.policies:read", "motor.policies:read"),
    ),
    NavItem("/web/motor/customers", "Customers", "motor.customers:read"),
    NavItem("/web/motor/claims", "Motor claims", "motor.claims:read"),
    NavItem("/web/me/health", "My health cover", "health.members:read_own", ("MEMBER",)),
    NavItem("/web/me/motor", "My car insurance", "motor.policies:read_own", ("CUSTOMER",)),
    NavItem("/web/motor/reconciliation", "Reconciliation", "motor.payments:reconcile"),
    NavItem("/web/admin/users", "Users", "iam.users:read"),
)

# Flash messages: a short key in a cookie, its words here (translated when shown).
FLASHES = {
    # My account (pages.account)
    "session_ended": "The session has been ended.",
    "other_sessions_ended": "Your other sessions have been ended.",
    "two_factor_off": "The authenticator app is off: sign-ins ask only for your password.",
    "signed_out": "You have signed out.",
    "password_changed": "Your password has been changed.",
    "decision_saved": "The decision has been saved.",
    "authorization_decided": "The pre-authorisation has been decided.",
    "payment_run_created": "The payment run has been created.",
    "payment_run_empty": "No claim was payable: no payment run was created.",
    "plan_created": "The plan has been created.",
    "plan_saved": "The plan has been saved.",
    "claim_voided": "The claim has been voided.",
    "claim_appealed": "The appeal has been recorded.",
    "appeal_decided": "The appeal has been decided.",
    "claim_closed": "The claim has been closed.",
    "document_uploaded": "The document has been attached.",
    "payment_updated": "The payment has been updated.",
    # Motor
    "dlt_verified": "The registration has been checked at the Department of Land Transport.",
    "policy_bound": "The policy has been bound. It becomes active once the premium is paid.",
    "payment_recorded": "The payment has been recorded.",
    "policy_renewed": "The policy has been renewed for the next period.",
    "claim_reported": "The claim has been reported.",
    "assessment_recorded": "The assessment has been recorded.",
    "claim_approved": "The claim has been approved.",
    "settlement_created": "The settlement has been created.",
    "customer_created": "The customer has been registered.",
    "customer_saved": "The customer's details have been saved.",
    "vehicle_registered": "The vehicle has been registered.",
    # Motor claim moves, settlement payments and policy cancellation ("claim_closed" above
    # serves the motor claim too)
    "claim_assigned": "The claim has been assigned.",
    "claim_investigating": "The investigation has been opened.",
    "claim_rejected": "The claim has been rejected.",
    "settlement_paid": "The settlement has been recorded as paid.",
    "settlement_cancelled": "The settlement has been cancelled.",
    "policy_cancelled": "The policy has been cancelled.",
    # Motor payments: refunds through the gateway (pages.motor)
    "payment_refunded": "The refund has been paid through the payment gateway.",
    # User administration (pages.admin)
    "user_created": "The user has been created.",
    "user_saved": "The account has been saved.",
    "user_saved_sessions_ended": "The account has been saved and its sessions have been ended.",
    "user_unlocked": "The account has been unlocked.",
    "user_password_set": (
        "The password has been set: the user must change it at the next sign-in. Their"
        " sessions have been ended."
    ),
    "user_two_factor_reset": (
        "The second factor has been reset and the user's sessions have been ended."
    ),
    "user_sessions_ended": "Every session of the user has been ended.",
    # Self-service submissions (pages.portal)
    "claim_submitted": "Your claim has been submitted.",
    "claim_submitted_documents": (
        "Your claim has been submitted. It waits for the documents it needs: attach them below."
    ),
    "claim_notified": (
        "Your claim has been reported. Send photos of the damage and other documents below."
    ),
}


def nav_for(principal: Principal | None) -> list[NavItem]:
    """The navigation of a visitor: nothing signed out, else what their role may open."""
    if principal is None:
        return []
    return [
        n
        for n in NAV
        if _allowed(principal, n.permission) and (n.roles is None or principal.role in n.roles)
    ]


def _allowed(principal: Principal, permission: str | tuple[str, ...] | None) -> bool:
    if permission is None:
        return True
    wanted = (permission,) if isinstance(permission, str) else permission
    return any(principal.can(p) for p in wanted)


def language_of(request: Request, state: WebState | None) -> str:
    """The request's language (see polis.web.i18n.negotiate)."""
    preferred = None
    if state is not None and state.principal is not None:
        preferred = state.principal.user.preferred_language
    return i18n.negotiate(
        request.query_params.get("lang"),
        request.cookies.get(LANG_COOKIE),
        preferred,
        request.headers.get("accept-language"),
    )


def prepare_language(request: Request) -> str:
    """Decide and set the language of this request (gettext in Python code uses it)."""
    state = getattr(request.state, "web", None)
    lang = language_of(request, state if isinstance(state, WebState) else None)
    i18n.set_language(lang)
    return lang


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
) -> HTMLResponse:
    """Render a page (or, for an htmx request naming a fragment, only that fragment)."""
    state = getattr(request.state, "web", None)
    state = state if isinstance(state, WebState) else None
    lang = prepare_language(request)
    principal = state.principal if state else None
    flash_key = request.cookies.get(FLASH_COOKIE)
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    values: dict[str, Any] = {
        "request": request,
        "lang": lang,
        "languages": i18n.LANGUAGES,
        "language_names": i18n.LANGUAGE_NAMES,
        "principal": principal,
        "nav": nav_for(principal),
        "csrf_token": state.csrf_token() if state else "",
        "flash": _(FLASHES[flash_key]) if flash_key in FLASHES else None,
        "static": STATIC_PREFIX,
        "here": here,
        "here_quoted": quote(request.url.path, safe=""),
        "current_path": request.url.path,
    }
    values.update(context or {})
    html = env.get_template(template).render(values)
    response = HTMLResponse(html, status_code=status_code)
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Language"] = lang
    response.headers["Vary"] = "Cookie, Accept-Language, HX-Request"
    if flash_key is not None:
        clear_cookie(response, request, FLASH_COOKIE)
    return response


def flash(response: Any, request: Request, key: str) -> None:
    """Show a message on the next page."""
    if key in FLASHES:
        set_cookie(response, request, FLASH_COOKIE, key, max_age=60)
