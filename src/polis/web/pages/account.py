"""My account: the signed-in user's sessions and second factor, for every role (staff, members
and customers). The same services as GET/DELETE /auth/sessions, DELETE /auth/2fa/totp and
POST /auth/2fa/recovery-codes; the password change is /web/password (pages.auth)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request, Response

from polis.db.session import DBSession
from polis.iam.auth import Principal
from polis.iam.repository import SessionRepository
from polis.iam.service import auth as auth_service
from polis.iam.session_endpoints import _info
from polis.iam.two_factor import (
    TwoFactorNotEnrolled,
    TwoFactorRequired,
    WrongCode,
    requires_two_factor,
    two_factor,
)
from polis.platform.errors import NotFound
from polis.web import i18n
from polis.web.forms import text
from polis.web.routing import WebRoute, redirect
from polis.web.session import COOKIE_PATH, CsrfChecked, SignedIn, State
from polis.web.templating import flash, render

router = APIRouter(route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

ACCOUNT = f"{COOKIE_PATH}/account"
ENDED_SHOWN = 10


async def _account_page(
    request: Request,
    session: DBSession,
    principal: Principal,
    *,
    errors: dict[str, str] | None = None,
    codes: list[str] | None = None,
    status_code: int = 200,
) -> Response:
    rows = await SessionRepository.from_session(session).list_for_user(
        principal.user_id, ended=ENDED_SHOWN
    )
    items = [_info(row, principal.session) for row in rows]
    items.sort(key=lambda item: not item.current)
    context: dict[str, Any] = {
        "user": principal.user,
        "sessions": items,
        "two_factor_on": bool(principal.user.two_factor_enabled),
        "two_factor_required": requires_two_factor(principal.user),
        "errors": errors or {},
        "codes": codes,
    }
    return render(request, "account.html", context, status_code=status_code)


@router.get("/account")
async def account(request: Request, session: DBSession, principal: SignedIn) -> Response:
    """Your sessions (this one first, the other active ones, the last ten ended with why) and
    your second factor."""
    return await _account_page(request, session, principal)


@router.post("/account/sessions/{session_id}/end", dependencies=[CsrfChecked])
async def end_session(
    session_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: SignedIn,
    state: State,
) -> Response:
    """End one of your sessions (REVOKED_BY_USER, as DELETE /auth/sessions/{id}); ending this
    one signs you out here."""
    target = await SessionRepository.from_session(session).get_for_user(
        principal.user_id, session_id
    )
    if target is None:
        raise NotFound("There is no such session.")
    await auth_service.revoke_session(session, target, reason="REVOKED_BY_USER")
    if target.id == principal.session.id:
        state.forget_tokens()
        return redirect(request, f"{COOKIE_PATH}/sign-in")
    response = redirect(request, ACCOUNT)
    flash(response, request, "session_ended")
    return response


@router.post("/account/sessions/end-others", dependencies=[CsrfChecked])
async def end_other_sessions(request: Request, session: DBSession, principal: SignedIn) -> Response:
    """Sign out everywhere else (DELETE /auth/sessions): every other active session ends."""
    await auth_service.end_sessions(
        session, principal.user_id, keep=principal.session, reason="REVOKED_BY_USER"
    )
    response = redirect(request, ACCOUNT)
    flash(response, request, "other_sessions_ended")
    return response


@router.post("/account/two-factor/off", dependencies=[CsrfChecked])
async def turn_two_factor_off(
    request: Request, session: DBSession, principal: SignedIn
) -> Response:
    """Turn the authenticator app off with a current code or your password (DELETE
    /auth/2fa/totp); refused for the roles that require it. A wrong answer counts as a
    failed sign-in."""
    form = await request.form()
    code, password = text(form, "code", 64), str(form.get("password") or "")
    errors: dict[str, str] = {}
    if bool(code) == bool(password):
        errors["off"] = _("Give either a code from your authenticator app or your password.")
    else:
        try:
            await two_factor.disable(
                session,
                principal.user,
                code=code or None,
                password=password or None,
                settings=request.app.state.settings,
            )
        except TwoFactorRequired:
            errors["off"] = _("Your role requires a second factor: it cannot be turned off.")
        except TwoFactorNotEnrolled:
            errors["off"] = _("The second factor is not on.")
        except WrongCode:
            # Answered, not raised: the failed attempt is committed.
            errors["off"] = _("The code or the password is not correct.")
    if errors:
        return await _account_page(request, session, principal, errors=errors, status_code=422)
    response = redirect(request, ACCOUNT)
    flash(response, request, "two_factor_off")
    return response


@router.post("/account/two-factor/recovery-codes", dependencies=[CsrfChecked])
async def new_recovery_codes(request: Request, session: DBSession, principal: SignedIn) -> Response:
    """Ten new recovery codes for a current code (POST /auth/2fa/recovery-codes), shown once;
    the old ones stop working."""
    form = await request.form()
    code = text(form, "code", 64)
    errors: dict[str, str] = {}
    codes: list[str] | None = None
    if not code:
        errors["codes"] = _("Enter the code from your authenticator app.")
    else:
        try:
            codes = await two_factor.regenerate_recovery_codes(
                session, principal.user, code=code, settings=request.app.state.settings
            )
        except TwoFactorNotEnrolled:
            errors["codes"] = _("The second factor is not on.")
        except WrongCode:
            errors["codes"] = _("The code is not correct. Try the current one.")
    if errors:
        return await _account_page(request, session, principal, errors=errors, status_code=422)
    return render(request, "two_factor_codes.html", {"codes": codes, "regenerated": True})
