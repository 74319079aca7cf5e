"""Two factors (TOTP with recovery codes) and SMS one-time passwords (decision 0063).

Sign-in: POST /auth/login answers a LoginChallenge instead of a Token for a user with TOTP
enabled; POST /auth/login/2fa completes it. Customers and members may also sign in by SMS:
POST /auth/otp, then POST /auth/otp/verify. Enrolment: POST /auth/2fa/totp, then
/auth/2fa/totp/confirm (both also open to a session restricted to enrolment).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Request, Response, status

from polis.config import Settings
from polis.db.session import DBSession
from polis.iam import schemas
from polis.iam.auth import (
    PUBLIC,
    Authenticated,
    AuthenticatedPending,
    PasswordChangeRequired,
    Principal,
)
from polis.iam.models import User
from polis.iam.sms_otp import deliver, sms_otp
from polis.iam.two_factor import (
    InvalidCode,
    WrongCode,
    qr_png_base64,
    requires_two_factor,
    two_factor,
)
from polis.integrations.sms import HttpSmsClient, SmsSender
from polis.platform.context import apply_audit_context, current_context
from polis.platform.errors import BusinessRuleError, error_response
from polis.platform.schemas import Problem

router = APIRouter()

_PROBLEM: dict[str, Any] = {"model": Problem}


async def _enrolling(principal: AuthenticatedPending) -> Principal:
    """The principal, also while the session is restricted to 2FA enrolment (not while the
    password must be changed: that comes first)."""
    if principal.user.must_change_password:
        raise PasswordChangeRequired()
    return principal


Enrolling = Annotated[Principal, Depends(_enrolling)]


def sms_sender(request: Request) -> SmsSender:
    """The app's SMS client (made from the SMS_* settings on first use)."""
    client: SmsSender | None = getattr(request.app.state, "sms_client", None)
    if client is None:
        client = HttpSmsClient.from_settings(request.app.state.settings)
        request.app.state.sms_client = client
    return client


SmsSenderDep = Annotated[SmsSender, Depends(sms_sender)]


def _ip() -> str | None:
    ctx = current_context()
    return ctx.ip_address if ctx else None


async def sign_in(
    session: DBSession, user: User, *, settings: Settings, login_method: str = "PASSWORD"
) -> schemas.Token | schemas.LoginChallenge:
    """After a first factor (password, SMS code): a TOTP challenge when the user has enabled
    TOTP; else a token, restricted to enrolment when the role requires a second factor."""
    from polis.iam.endpoints import issue_token

    if user.two_factor_enabled:
        token, challenge = await two_factor.open_challenge(session, user, ip_address=_ip())
        return schemas.LoginChallenge(challenge_token=token, expires_at=challenge.expires_at)
    issued = await issue_token(session, user, settings=settings, login_method=login_method)
    if requires_two_factor(user):
        await two_factor.mark_session_pending(session, issued.access_token)
        issued = issued.model_copy(update={"two_factor_enrolment_required": True})
    return issued


@router.post(
    "/auth/login/2fa",
    tags=["auth"],
    response_model=schemas.Token,
    responses={401: _PROBLEM, 429: _PROBLEM},
    openapi_extra={"x-permission": PUBLIC},
)
async def login_two_factor(
    body: schemas.TwoFactorLogin, request: Request, session: DBSession
) -> schemas.Token | Response:
    """Answer the challenge of POST /auth/login with a TOTP code or a recovery code.

    A challenge works once and for 5 minutes. A wrong code, a spent or expired challenge, a
    locked account: one 401 `invalid-code`. A wrong code counts as a failed login
    (MAX_LOGIN_ATTEMPTS lock the account) and 5 burn the challenge; a TOTP code is never
    taken twice; a recovery code works once. LOGIN_RATE_LIMIT applies (429).
    """
    settings: Settings = request.app.state.settings
    await apply_audit_context(session, current_context())
    try:
        user = await two_factor.complete_challenge(
            session,
            token=body.challenge_token,
            code=body.code,
            ip_address=_ip(),
            settings=settings,
        )
    except InvalidCode as exc:
        # Returned, not raised: the transaction commits the counters.
        return error_response(request, exc)
    from polis.iam.endpoints import issue_token

    return await issue_token(session, user, settings=settings)


@router.get("/auth/2fa", tags=["auth"], response_model=schemas.TwoFactorStatus)
async def two_factor_status(principal: Enrolling, session: DBSession) -> schemas.TwoFactorStatus:
    """Whether TOTP is enabled or required for you, and how many recovery codes are left."""
    user = principal.user
    return schemas.TwoFactorStatus(
        enabled=bool(user.two_factor_enabled),
        required=requires_two_factor(user),
        enrolment_pending=bool(user.two_factor_secret) and not user.two_factor_enabled,
        recovery_codes_left=await two_factor.unused_recovery_codes(session, user.id),
    )


@router.post(
    "/auth/2fa/totp",
    tags=["auth"],
    response_model=schemas.TotpEnrolment,
    responses={409: _PROBLEM},
)
async def start_totp(
    principal: Enrolling, request: Request, session: DBSession
) -> schemas.TotpEnrolment:
    """Start TOTP enrolment: a new secret (shown only here), its otpauth:// URI and a QR code
    (PNG, base64). Nothing changes at sign-in until POST /auth/2fa/totp/confirm; starting
    again replaces an unconfirmed secret. 409 `two-factor-enabled` while TOTP is on."""
    enrolment = await two_factor.start_enrolment(
        session, principal.user, settings=request.app.state.settings
    )
    return schemas.TotpEnrolment(
        secret=enrolment.secret,
        otpauth_uri=enrolment.uri,
        qr_png_base64=qr_png_base64(enrolment.qr_png),
    )


@router.post(
    "/auth/2fa/totp/confirm",
    tags=["auth"],
    response_model=schemas.RecoveryCodes,
    responses={409: _PROBLEM, 422: _PROBLEM},
)
async def confirm_totp(
    body: schemas.TotpCode, principal: Enrolling, session: DBSession
) -> schemas.RecoveryCodes:
    """Confirm enrolment with a code of the authenticator: TOTP is on from now, this session
    is no longer restricted, and the answer holds ten single-use recovery codes (shown only
    here). A wrong code is a 422 `invalid-code`; 409 without an enrolment started or when
    TOTP is already on."""
    codes = await two_factor.confirm_enrolment(
        session, principal.user, principal.session, body.code
    )
    return schemas.RecoveryCodes(recovery_codes=codes)


@router.delete(
    "/auth/2fa/totp",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
async def disable_totp(
    body: schemas.TotpDisable, principal: Authenticated, request: Request, session: DBSession
) -> Response:
    """Turn TOTP off with a current code or your password (exactly one of them). 403
    `two-factor-required` for ADMIN, SUPER_ADMIN, UNDERWRITER and ADJUSTER; 409 when it is
    not on; a wrong code or password is a 422 `invalid-code` and counts as a failed login."""
    if (body.code is None) == (body.password is None):
        raise BusinessRuleError("Give either code or password.", type_="code-or-password")
    try:
        await two_factor.disable(
            session,
            principal.user,
            code=body.code,
            password=body.password,
            settings=request.app.state.settings,
        )
    except WrongCode as exc:
        # Returned, not raised: the transaction commits the failed-attempt counter.
        return error_response(request, exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/auth/2fa/recovery-codes",
    tags=["auth"],
    response_model=schemas.RecoveryCodes,
    responses={409: _PROBLEM, 422: _PROBLEM},
)
async def regenerate_recovery_codes(
    body: schemas.TotpCode, principal: Authenticated, request: Request, session: DBSession
) -> schemas.RecoveryCodes | Response:
    """Ten new recovery codes for a current TOTP (or recovery) code; the old ones stop
    working. A wrong code is a 422 `invalid-code` and counts as a failed login."""
    try:
        codes = await two_factor.regenerate_recovery_codes(
            session, principal.user, code=body.code, settings=request.app.state.settings
        )
    except WrongCode as exc:
        return error_response(request, exc)
    return schemas.RecoveryCodes(recovery_codes=codes)


@router.post(
    "/auth/otp",
    tags=["auth"],
    status_code=status.HTTP_202_ACCEPTED,
    response_model=schemas.OtpChallenge,
    responses={429: _PROBLEM},
    openapi_extra={"x-permission": PUBLIC},
)
async def request_otp(
    body: schemas.OtpRequest,
    request: Request,
    session: DBSession,
    background: BackgroundTasks,
    sender: SmsSenderDep,
) -> schemas.OtpChallenge:
    """Ask for a sign-in code by SMS (customer and member logins with a phone number).

    Always the same 202 answer, whatever the username: when it is such a login, a 6-digit
    code goes to its phone, valid SMS_OTP_EXPIRY_MINUTES (default 5) and once. Each request
    takes one attempt of LOGIN_RATE_LIMIT per client address (429); at most 5 codes per
    account per hour are sent.
    """
    await apply_audit_context(session, current_context())
    token, expires_at, delivery = await sms_otp.request(
        session, username=body.username, ip_address=_ip(), settings=request.app.state.settings
    )
    if delivery is not None:
        background.add_task(deliver, sender, delivery)
    return schemas.OtpChallenge(challenge_token=token, expires_at=expires_at)


@router.post(
    "/auth/otp/verify",
    tags=["auth"],
    response_model=schemas.Token | schemas.LoginChallenge,
    responses={401: _PROBLEM, 429: _PROBLEM},
    openapi_extra={"x-permission": PUBLIC},
)
async def verify_otp(
    body: schemas.OtpVerify, request: Request, session: DBSession
) -> schemas.Token | schemas.LoginChallenge | Response:
    """Sign in with the code of the SMS: a token (login_method TOKEN), or the TOTP challenge
    of POST /auth/login when the account has TOTP on.

    A wrong code, a spent or expired challenge, a locked account: one 401 `invalid-code`. A
    wrong code counts as a failed login and 5 burn the challenge.
    """
    settings: Settings = request.app.state.settings
    await apply_audit_context(session, current_context())
    try:
        user = await sms_otp.verify(
            session,
            token=body.challenge_token,
            code=body.code,
            ip_address=_ip(),
            settings=settings,
        )
    except InvalidCode as exc:
        return error_response(request, exc)
    return await sign_in(session, user, settings=settings, login_method="TOKEN")
