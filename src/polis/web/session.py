"""Cookie sign-in and CSRF for the pages (decision 0065).

- The session cookies hold the same opaque tokens the API issues: signing in opens an
  iam.user_sessions row through `polis.iam.endpoints.issue_token`; every page loads the
  access token with `AuthService.load_session` and, once it has expired, exchanges the
  refresh token with `AuthService.refresh_session` (rotation, reuse detection, idle and
  absolute timeouts as for the API). Cookies are HttpOnly, SameSite=Lax, Path=/web, Secure
  when WEB_COOKIE_SECURE is set (the default in PRODUCTION).
- CSRF: each form carries a token: signed in, an HMAC of the session's row id under a key
  derived from the blind-index key (stable across refreshes, dies with the session); signed
  out (the sign-in form), an HMAC keyed with a random `polis_csrf` cookie. Every POST checks
  it (constant time) besides SameSite; htmx sends it as the X-CSRF-Token header.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import quote

import structlog
from fastapi import Depends, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings
from polis.db.session import DBSession
from polis.iam.auth import Principal
from polis.iam.models import User, UserSession
from polis.iam.permissions import check_known, permissions_for
from polis.iam.ratelimit import TooManyLoginAttempts
from polis.iam.service import InvalidRefreshToken
from polis.iam.service import auth as auth_service
from polis.iam.two_factor import enrolment_pending
from polis.platform.context import apply_audit_context, current_context
from polis.platform.crypto import get_keyring
from polis.platform.errors import Forbidden, PolisError
from polis.web import i18n

SESSION_COOKIE = "polis_session"
REFRESH_COOKIE = "polis_refresh"
CSRF_COOKIE = "polis_csrf"
LANG_COOKIE = "polis_lang"
FLASH_COOKIE = "polis_flash"
COOKIE_PATH = "/web"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
_CSRF_CONTEXT = b"polis-web-csrf-v1"


class SignInRequired(PolisError):
    """No live session cookie: the page redirects to the sign-in form."""

    status_code = 401
    type_ = "sign-in-required"
    title = "Sign-in required"


class PasswordChangeNeeded(PolisError):
    """The user must change their password before any other page."""

    status_code = 403
    type_ = "password-change-required"
    title = "Password change required"


class TwoFactorEnrolmentNeeded(PolisError):
    """The user's role requires a second factor they have not set up: the enrolment page."""

    status_code = 403
    type_ = "two-factor-enrolment-required"
    title = "Two-factor enrolment required"


class CsrfRefused(Forbidden):
    """A POST without the form's CSRF token (or with another browser's)."""

    type_ = "csrf-refused"
    title = "Form expired"


def cookie_secure(settings: Settings) -> bool:
    """Whether cookies get the Secure flag: WEB_COOKIE_SECURE when set, else production."""
    value = os.environ.get("WEB_COOKIE_SECURE")
    if value is not None:
        return value.strip().lower() in ("1", "true", "yes", "on")
    return settings.environment.upper() == "PRODUCTION"


def set_cookie(
    response: Response,
    request: Request,
    name: str,
    value: str,
    *,
    max_age: int | None = None,
    samesite: str = "lax",
) -> None:
    """A cookie of the pages: HttpOnly, Path=/web, SameSite, Secure as configured."""
    settings: Settings = request.app.state.settings
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=COOKIE_PATH,
        httponly=True,
        secure=cookie_secure(settings),
        samesite=samesite,  # type: ignore[arg-type]
    )


def clear_cookie(response: Response, request: Request, name: str) -> None:
    """Remove a cookie of the pages."""
    settings: Settings = request.app.state.settings
    response.delete_cookie(
        name, path=COOKIE_PATH, httponly=True, secure=cookie_secure(settings), samesite="lax"
    )


@dataclass
class WebState:
    """What a page knows of its visitor: the principal (None when signed out), the random
    pre-session CSRF secret (signed out), and cookies the response must set or clear."""

    principal: Principal | None
    anonymous_secret: str | None = None
    set_cookies: dict[str, tuple[str, int | None, str]] = field(default_factory=dict)
    clear_cookies: set[str] = field(default_factory=set)

    def csrf_token(self) -> str:
        """The token forms carry: bound to the signed-in session (stable across token
        refreshes), else to a random cookie made on first use."""
        if self.principal is not None:
            return session_csrf_token(self.principal.session.id)
        if self.anonymous_secret is None:
            self.anonymous_secret = secrets.token_urlsafe(32)
            self.set_cookies[CSRF_COOKIE] = (self.anonymous_secret, None, "strict")
        return csrf_token_for(self.anonymous_secret)

    def has_csrf_secret(self) -> bool:
        """Whether a POST can carry a valid token at all."""
        return self.principal is not None or self.anonymous_secret is not None

    def keep_tokens(self, access: str, refresh: str, expires_at: datetime) -> None:
        """Put a session's tokens in the cookies (until the session's absolute end)."""
        max_age = max(1, int((expires_at - datetime.now(UTC)).total_seconds()))
        self.set_cookies[SESSION_COOKIE] = (access, max_age, "lax")
        self.set_cookies[REFRESH_COOKIE] = (refresh, max_age, "lax")
        self.clear_cookies.discard(SESSION_COOKIE)
        self.clear_cookies.discard(REFRESH_COOKIE)

    def forget_tokens(self) -> None:
        """Clear the session's cookies."""
        self.set_cookies.pop(SESSION_COOKIE, None)
        self.set_cookies.pop(REFRESH_COOKIE, None)
        self.clear_cookies |= {SESSION_COOKIE, REFRESH_COOKIE}


def csrf_token_for(secret: str) -> str:
    """The CSRF token of a pre-session secret."""
    return hmac.new(secret.encode(), _CSRF_CONTEXT, hashlib.sha256).hexdigest()


def session_csrf_token(session_id: uuid.UUID) -> str:
    """The CSRF token of a signed-in session: an HMAC of its row id under a key derived from
    the deployment's blind-index key (secret, and the same in every worker)."""
    key = bytes.fromhex(get_keyring().blind_index(_CSRF_CONTEXT.decode(), normalise=False))
    return hmac.new(key, str(session_id).encode(), hashlib.sha256).hexdigest()


def apply_cookies(request: Request, response: Response) -> None:
    """Set and clear the cookies the request's state asks for (WebRoute calls this)."""
    state = getattr(request.state, "web", None)
    if not isinstance(state, WebState):
        return
    for name in state.clear_cookies:
        clear_cookie(response, request, name)
    for name, (value, max_age, samesite) in state.set_cookies.items():
        set_cookie(response, request, name, value, max_age=max_age, samesite=samesite)


def _principal(session_row: UserSession, user: User) -> Principal:
    ctx = current_context()
    if ctx is not None:
        ctx.user_id, ctx.user_role = user.id, user.role
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    return Principal(user=user, session=session_row, permissions=permissions_for(user.role))


async def _load(request: Request, session: AsyncSession, state: WebState) -> Principal | None:
    """The principal of the access-token cookie; when it has expired, the refresh-token
    cookie is exchanged for new tokens (as POST /auth/refresh does) and the cookies updated."""
    settings: Settings = request.app.state.settings
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        found = await auth_service.load_session(session, token, settings=settings)
        if found is not None:
            return _principal(*found)  # the audit context is set (load_session)
    refresh = request.cookies.get(REFRESH_COOKIE)
    if not refresh:
        if token:
            state.forget_tokens()
        return None
    try:
        issued, user = await auth_service.refresh_session(session, refresh, settings=settings)
    except TooManyLoginAttempts:
        # The address guessed too many refresh tokens or passwords this window: not signed
        # in for now (the cookies are kept; the sign-in page answers the same 429).
        return None
    except InvalidRefreshToken:
        # A spent or expired refresh token may have ended the session: keep that.
        await session.commit()
        state.forget_tokens()
        return None
    # The rotation is its own unit of work (as POST /auth/refresh is): committed now, so
    # that a page failing later cannot roll back tokens the browser is about to keep.
    await session.commit()
    state.keep_tokens(issued.access_token, issued.refresh_token, issued.user_session.expires_at)
    principal = _principal(issued.user_session, user)
    await apply_audit_context(session, current_context())
    return principal


async def web_state(request: Request, session: DBSession) -> WebState:
    """The visitor of a page (once per request; pages and the renderer share it)."""
    cached = getattr(request.state, "web", None)
    if isinstance(cached, WebState):
        return cached
    state = WebState(principal=None, anonymous_secret=request.cookies.get(CSRF_COOKIE) or None)
    request.state.web = state
    state.principal = await _load(request, session, state)
    # The language is decided here, so that messages made before rendering use it too.
    i18n.set_language(
        i18n.negotiate(
            request.query_params.get("lang"),
            request.cookies.get(LANG_COOKIE),
            state.principal.user.preferred_language if state.principal else None,
            request.headers.get("accept-language"),
        )
    )
    return state


State = Annotated[WebState, Depends(web_state)]


async def check_csrf(request: Request, state: State) -> None:
    """Refuse a POST whose CSRF token is missing or not this browser's."""
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent or not state.has_csrf_secret():
        raise CsrfRefused("The form has expired or did not come from this site.")
    if not hmac.compare_digest(sent, state.csrf_token()):
        raise CsrfRefused("The form has expired or did not come from this site.")


CsrfChecked = Depends(check_csrf)


def sign_in_url(request: Request) -> str:
    """The sign-in form, coming back to this page afterwards."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return f"{COOKIE_PATH}/sign-in?next={quote(target, safe='')}"


async def signed_in(state: State) -> Principal:
    """The principal of any page that needs a user; redirects to sign in or to the
    password change otherwise (the same rule as polis.iam.auth.authenticate)."""
    if state.principal is None:
        raise SignInRequired("Sign in to see this page.")
    if state.principal.user.must_change_password:
        raise PasswordChangeNeeded("Change your password first.")
    if enrolment_pending(state.principal.user, state.principal.session):
        # As the API: a session without the second factor its role requires opens nothing
        # but the enrolment (the page it is sent to).
        raise TwoFactorEnrolmentNeeded("Set up your second factor first.")
    return state.principal


async def signed_in_pending(state: State) -> Principal:
    """The principal, also while a password change is due (the change form, sign-out)."""
    if state.principal is None:
        raise SignInRequired("Sign in to see this page.")
    return state.principal


async def signed_in_enrolling(state: State) -> Principal:
    """The principal of the second-factor pages: also while the enrolment its role requires
    is due, never before a required password change (the API's order)."""
    if state.principal is None:
        raise SignInRequired("Sign in to see this page.")
    if state.principal.user.must_change_password:
        raise PasswordChangeNeeded("Change your password first.")
    return state.principal


SignedIn = Annotated[Principal, Depends(signed_in)]
SignedInPending = Annotated[Principal, Depends(signed_in_pending)]
SignedInEnrolling = Annotated[Principal, Depends(signed_in_enrolling)]


class PageAuthorizer:
    """A page dependency: the principal, when it holds one of `permissions` (403 page)."""

    def __init__(self, *permissions: str) -> None:
        self.permissions = tuple(check_known(p) for p in permissions)

    async def __call__(self, principal: SignedIn) -> Principal:
        """Check the permission after sign-in."""
        if not any(principal.can(p) for p in self.permissions):
            raise Forbidden(f"This page needs the permission {' or '.join(self.permissions)}.")
        return principal


def require_page(*permissions: str) -> PageAuthorizer:
    """A dependency requiring any one of the permissions, as the API's `require`."""
    return PageAuthorizer(*permissions)
