"""Sign-in, the password change it may require, sign-out, the language switch and the home
page of each role."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import func, select

from polis.config import Settings
from polis.db.session import DBSession
from polis.health.models import Authorization, Claim
from polis.iam import schemas
from polis.iam.auth import Principal
from polis.iam.endpoints import issue_token
from polis.iam.models import User
from polis.iam.permissions import Role
from polis.iam.ratelimit import TooManyLoginAttempts
from polis.iam.service import InvalidCredentials, WeakPassword, WrongCurrentPassword
from polis.iam.service import auth as auth_service
from polis.iam.two_factor import (
    CHALLENGE_MINUTES,
    Enrolment,
    InvalidCode,
    TwoFactorEnabled,
    WrongCode,
    qr_png_base64,
    requires_two_factor,
    two_factor,
)
from polis.iam.two_factor_endpoints import sign_in as sign_in_after_first_factor
from polis.platform.context import apply_audit_context, current_context
from polis.web import i18n
from polis.web.forms import field_messages, text
from polis.web.routing import WebRoute, redirect
from polis.web.session import (
    COOKIE_PATH,
    CSRF_COOKIE,
    LANG_COOKIE,
    CsrfChecked,
    SignedIn,
    SignedInEnrolling,
    SignedInPending,
    State,
    WebState,
    set_cookie,
)
from polis.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

HOME = f"{COOKIE_PATH}/"


def safe_next(value: str | None) -> str:
    """A local page to go to after signing in (never another site)."""
    if value and value.startswith(f"{COOKIE_PATH}/") and not value.startswith("//"):
        return value
    return HOME


CHALLENGE_COOKIE = "polis_challenge"  # the sign-in's second-step challenge token


def _after_sign_in(user: User, target: str) -> str:
    """Where a complete sign-in goes: a required password change first, then the second
    factor a role requires but the user has not set up, then the page asked for."""
    if user.must_change_password:
        return f"{COOKIE_PATH}/password"
    if requires_two_factor(user) and not user.two_factor_enabled:
        return f"{COOKIE_PATH}/two-factor"
    return target


async def _open_session(
    request: Request, state: WebState, token: schemas.Token, user: User, target: str
) -> Response:
    """Put a complete sign-in's tokens in the cookies and go on."""
    state.keep_tokens(token.access_token, token.refresh_token, token.refresh_expires_at)
    state.set_cookies.pop(CSRF_COOKIE, None)
    state.clear_cookies |= {CSRF_COOKIE, CHALLENGE_COOKIE}
    return redirect(request, _after_sign_in(user, target))


def _rate_limited(
    request: Request, template: str, context: dict[str, Any], exc: TooManyLoginAttempts
) -> Response:
    """The sign-in form again, 429 with the API's Retry-After, when the address has used up
    its failed sign-ins (LOGIN_RATE_LIMIT)."""
    context["error"] = _("Too many sign-in attempts from this address. Try again later.")
    limited = render(request, template, context, status_code=429)
    limited.headers.update(exc.headers or {})
    return limited


@router.get("/sign-in")
async def sign_in_form(request: Request, state: State, next: str | None = None) -> Response:
    """The staff sign-in form."""
    if state.principal is not None:
        return redirect(request, safe_next(next))
    return render(request, "sign_in.html", {"next": safe_next(next), "errors": {}})


@router.post("/sign-in", dependencies=[CsrfChecked])
async def sign_in(request: Request, session: DBSession, state: State) -> Response:
    """Check the username and password as POST /api/v1/auth/login does (same lockout, rate
    limit and one answer for every failure), then open a session in the cookie."""
    form = await request.form()
    username, password = text(form, "username", 100), str(form.get("password") or "")
    target = safe_next(text(form, "next", 500))
    settings: Settings = request.app.state.settings
    context: dict[str, Any] = {"next": target, "username": username, "errors": {}}
    if not username or not password:
        if not username:
            context["errors"]["username"] = _("Enter your username.")
        if not password:
            context["errors"]["password"] = _("Enter your password.")
        return render(request, "sign_in.html", context, status_code=422)
    ctx = current_context()
    await apply_audit_context(session, ctx)
    try:
        user = await auth_service.authenticate(
            session,
            username=username,
            password=password,
            ip_address=ctx.ip_address if ctx else None,
            settings=settings,
        )
    except InvalidCredentials:
        # Answered, not raised: the request commits the failed-attempt counter.
        context["error"] = _("Invalid username or password.")
        return render(request, "sign_in.html", context, status_code=401)
    except TooManyLoginAttempts as exc:
        return _rate_limited(request, "sign_in.html", context, exc)
    # What POST /auth/login answers after the password: a challenge for a second factor, or
    # a token (restricted to enrolment when the role requires a factor not set up yet).
    issued = await sign_in_after_first_factor(session, user, settings=settings)
    if isinstance(issued, schemas.LoginChallenge):
        # The challenge token waits in a short cookie, never in the page.
        state.set_cookies[CHALLENGE_COOKIE] = (
            issued.challenge_token,
            CHALLENGE_MINUTES * 60,
            "strict",
        )
        return render(request, "sign_in_code.html", {"next": target, "errors": {}})
    return await _open_session(request, state, issued, user, target)


@router.post("/sign-in/code", dependencies=[CsrfChecked])
async def sign_in_code(request: Request, session: DBSession, state: State) -> Response:
    """The second step: a TOTP or recovery code for the challenge of the first, checked as
    POST /api/v1/auth/login/2fa does (a wrong code counts as a failed login; five burn the
    challenge; a code is never taken twice)."""
    form = await request.form()
    code = text(form, "code", 64) or ""
    target = safe_next(text(form, "next", 500))
    context: dict[str, Any] = {"next": target, "errors": {}}
    challenge = request.cookies.get(CHALLENGE_COOKIE)
    if not challenge:
        context["error"] = _("The sign-in has expired. Sign in again.")
        return render(request, "sign_in.html", {**context, "username": ""}, status_code=401)
    if not code:
        context["errors"]["code"] = _("Enter the code from your authenticator app.")
        return render(request, "sign_in_code.html", context, status_code=422)
    ctx = current_context()
    await apply_audit_context(session, ctx)
    try:
        user = await two_factor.complete_challenge(
            session,
            token=challenge,
            code=code,
            ip_address=ctx.ip_address if ctx else None,
            settings=request.app.state.settings,
        )
    except InvalidCode:
        # Answered, not raised: the counters (challenge, failed logins) are committed.
        context["errors"]["code"] = _(
            "The code is not valid, or the sign-in has expired. Try again or sign in again."
        )
        return render(request, "sign_in_code.html", context, status_code=401)
    except TooManyLoginAttempts as exc:
        return _rate_limited(request, "sign_in_code.html", context, exc)
    token = await issue_token(session, user, settings=request.app.state.settings)
    return await _open_session(request, state, token, user, target)


def _enrolment_context(enrolment: Enrolment) -> dict[str, Any]:
    return {
        "secret": enrolment.secret,
        "qr": "data:image/png;base64," + qr_png_base64(enrolment.qr_png),
        "errors": {},
    }


@router.get("/two-factor")
async def two_factor_page(request: Request, principal: SignedInEnrolling) -> Response:
    """The second factor: set it up (required for some roles) or see that it is on."""
    return render(
        request,
        "two_factor.html",
        {
            "enabled": bool(principal.user.two_factor_enabled),
            "required": requires_two_factor(principal.user),
        },
    )


@router.post("/two-factor/start", dependencies=[CsrfChecked])
async def two_factor_start(
    request: Request, session: DBSession, principal: SignedInEnrolling
) -> Response:
    """A new authenticator secret (POST /auth/2fa/totp): its QR code, then the first code."""
    try:
        enrolment = await two_factor.start_enrolment(
            session, principal.user, settings=request.app.state.settings
        )
    except TwoFactorEnabled:
        return redirect(request, f"{COOKIE_PATH}/two-factor")
    return render(request, "two_factor_enrol.html", _enrolment_context(enrolment))


@router.post("/two-factor/confirm", dependencies=[CsrfChecked])
async def two_factor_confirm(
    request: Request, session: DBSession, principal: SignedInEnrolling
) -> Response:
    """The first code turns the second factor on (POST /auth/2fa/totp/confirm) and shows the
    ten recovery codes, once."""
    form = await request.form()
    code = text(form, "code", 64) or ""
    settings: Settings = request.app.state.settings
    pending = two_factor.pending_enrolment(principal.user, settings=settings)
    if pending is None:
        return redirect(request, f"{COOKIE_PATH}/two-factor")
    context = _enrolment_context(pending)
    if not code:
        context["errors"]["code"] = _("Enter the code from your authenticator app.")
        return render(request, "two_factor_enrol.html", context, status_code=422)
    try:
        codes = await two_factor.confirm_enrolment(session, principal.user, principal.session, code)
    except WrongCode:
        context["errors"]["code"] = _("The code is not correct. Try the current one.")
        return render(request, "two_factor_enrol.html", context, status_code=422)
    return render(request, "two_factor_codes.html", {"codes": codes})


@router.post("/sign-out", dependencies=[CsrfChecked])
async def sign_out(
    request: Request, session: DBSession, principal: SignedInPending, state: State
) -> Response:
    """End the session (its tokens stop working at once) and forget the cookies."""
    await auth_service.revoke_session(session, principal.session, reason="LOGOUT")
    state.forget_tokens()
    response = redirect(request, f"{COOKIE_PATH}/sign-in")
    flash(response, request, "signed_out")
    return response


@router.get("/password")
async def password_form(request: Request, principal: SignedInPending) -> Response:
    """Change your password (required before anything else when an administrator set it)."""
    return render(
        request, "password.html", {"errors": {}, "forced": principal.user.must_change_password}
    )


_PASSWORD_FIELDS = {"current_password": "current_password", "new_password": "new_password"}


@router.post("/password", dependencies=[CsrfChecked])
async def change_password(
    request: Request, session: DBSession, principal: SignedInPending
) -> Response:
    """The password change of POST /api/v1/auth/password; refusals next to their field."""
    form = await request.form()
    current = str(form.get("current_password") or "")
    new, repeat = str(form.get("new_password") or ""), str(form.get("new_password_again") or "")
    errors: dict[str, str] = {}
    if not current:
        errors["current_password"] = _("Enter your current password.")
    if not new:
        errors["new_password"] = _("Enter a new password.")
    elif new != repeat:
        errors["new_password_again"] = _("The two new passwords differ.")
    forced = principal.user.must_change_password
    if errors:
        return render(
            request, "password.html", {"errors": errors, "forced": forced}, status_code=422
        )
    try:
        await auth_service.change_password(
            session,
            principal.user,
            current_password=current,
            new_password=new,
            keep_session=principal.session,
            settings=request.app.state.settings,
        )
    except WrongCurrentPassword:
        # Answered, not raised: the failed attempt is committed.
        errors["current_password"] = _("The current password is not correct.")
        return render(
            request, "password.html", {"errors": errors, "forced": forced}, status_code=422
        )
    except WeakPassword as exc:
        errors = field_messages(exc, _PASSWORD_FIELDS)
        errors.setdefault("new_password", exc.message)
        return render(
            request, "password.html", {"errors": errors, "forced": forced}, status_code=422
        )
    response = redirect(request, HOME)
    flash(response, request, "password_changed")
    return response


@router.get("/lang/{code}")
async def choose_language(request: Request, code: str, next: str | None = None) -> Response:
    """Remember a language choice (a year) and go back to the page."""
    response = redirect(request, safe_next(next))
    lang = i18n.supported(code)
    if lang is not None:
        set_cookie(response, request, LANG_COOKIE, lang, max_age=365 * 24 * 3600)
    return response


async def _counts(session: DBSession, principal: Principal) -> dict[str, int]:
    """A few figures for the home page, each only for a role that may read it."""
    found: dict[str, int] = {}
    if principal.can("health.claims:read"):
        rows = await session.execute(
            select(Claim.status, func.count())
            .where(
                Claim.status.in_(("pended", "approved", "partially_approved", "payment_pending"))
            )
            .group_by(Claim.status)
        )
        by_status = {r[0]: int(r[1]) for r in rows}
        found["pended"] = by_status.get("pended", 0)
        found["payable"] = by_status.get("approved", 0) + by_status.get("partially_approved", 0)
        found["payment_pending"] = by_status.get("payment_pending", 0)
    if principal.can("health.preauth:read"):
        found["preauth_pending"] = int(
            await session.scalar(
                select(func.count())
                .select_from(Authorization)
                .where(Authorization.status == "pending")
            )
            or 0
        )
    return found


@router.get("/")
async def home(request: Request, session: DBSession, principal: SignedIn) -> Response:
    """The home page of the signed-in user's role: what they may do, and a few counts.
    Members and customers have the portal for a home (polis.web.pages.portal)."""
    if principal.role in (Role.MEMBER, Role.CUSTOMER):
        return redirect(request, f"{COOKIE_PATH}/me")
    counts = await _counts(session, principal)
    return render(request, "home.html", {"counts": counts})
