"""Request and response bodies of the auth and user endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from pydantic import ConfigDict, Field

from polis.iam.passwords import MAX_LENGTH, MIN_FLOOR
from polis.iam.permissions import Role
from polis.platform.schemas import RequestSchema, Schema

if TYPE_CHECKING:
    from polis.iam.models import User as UserModel
    from polis.iam.service import IssuedSession

UserID = uuid.UUID


class LoginRequest(RequestSchema):
    """Username and password."""

    username: str = Field(min_length=1, max_length=100, examples=["admin"])
    password: str = Field(min_length=1, max_length=MAX_LENGTH, examples=["correct horse battery"])


class Token(Schema):
    """An opaque bearer token; send it as `Authorization: Bearer <access_token>`. Before
    `expires_at`, exchange `refresh_token` at POST /auth/refresh for a new pair (each
    refresh token works once; using one twice ends the session)."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime = Field(
        description="When the access token stops working: ACCESS_TOKEN_MINUTES after it was"
        " issued, never after refresh_expires_at"
    )
    refresh_token: str = Field(description="Single use: POST /auth/refresh {refresh_token}")
    refresh_expires_at: datetime = Field(
        description="The session's absolute end (SESSION_TIMEOUT_HOURS after sign-in): no"
        " refresh extends it; a session unused SESSION_IDLE_MINUTES ends earlier"
    )
    password_change_required: bool = Field(
        default=False,
        description="True: every route but POST /auth/password, /auth/logout and /auth/me"
        " answers 403 password-change-required until the password is changed",
    )
    # Two factors (decision 0063).
    two_factor_enrolment_required: bool = Field(
        default=False,
        description="True: the role requires a second factor and none is enrolled yet: every"
        " route but the enrolment ones (POST /auth/2fa/totp, /auth/2fa/totp/confirm),"
        " /auth/me, /auth/logout and /auth/password answers 403 two-factor-enrolment-required",
    )

    @classmethod
    def issued(cls, issued: IssuedSession, user: UserModel) -> Token:
        """The answer of a sign-in or a refresh."""
        return cls(
            access_token=issued.access_token,
            expires_at=issued.user_session.access_expires_at or issued.user_session.expires_at,
            refresh_token=issued.refresh_token,
            refresh_expires_at=issued.user_session.expires_at,
            password_change_required=user.must_change_password,
            # A refresh keeps a session restricted to enrolment restricted (decision 0063).
            two_factor_enrolment_required=bool(
                getattr(issued.user_session, "two_factor_pending", False)
            ),
        )


class PasswordChange(RequestSchema):
    """The current password and the new one (policy: PASSWORD_MIN_LENGTH characters, not a
    common password, not containing the username or e-mail, none of the last 5)."""

    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: str = Field(min_length=MIN_FLOOR, max_length=MAX_LENGTH)


class UserCreate(RequestSchema):
    """A new user account."""

    username: str = Field(
        min_length=3, max_length=100, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]*$", examples=["somchai"]
    )
    email: str = Field(
        max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", examples=["somchai@example.co.th"]
    )
    password: str = Field(
        min_length=MIN_FLOOR,
        max_length=MAX_LENGTH,
        description="Policy: PASSWORD_MIN_LENGTH (12) characters, not a common password,"
        " not containing the username or e-mail; staff must change it at first login",
    )
    role: Role
    first_name: str = Field(min_length=1, max_length=100)
    last_name: str = Field(min_length=1, max_length=100)
    phone_number: str | None = Field(default=None, max_length=20)
    employee_id: str | None = Field(default=None, max_length=50)
    department: str | None = Field(default=None, max_length=50)
    preferred_language: Literal["th", "en", "id"] = "th"
    member_number: str | None = Field(
        default=None,
        min_length=1,
        max_length=50,
        description="MEMBER logins: the health member this login is (self-service under /me)",
    )
    customer_id: uuid.UUID | None = Field(
        default=None,
        description="CUSTOMER logins: the motor customer this login is (self-service under /me)",
    )


class User(Schema):
    """A user account (never its password hash or 2FA secret)."""

    id: UserID
    username: str
    email: str
    first_name: str
    last_name: str
    role: Role
    account_status: str | None
    department: str | None
    preferred_language: str | None
    created_at: datetime | None
    last_login_at: datetime | None
    phone_number: str | None = None
    employee_id: str | None = None
    two_factor_enabled: bool | None = None
    locked_until: datetime | None = Field(
        default=None, description="Set by failed sign-ins; POST /iam/users/{id}/unlock lifts it"
    )
    must_change_password: bool = False
    version: int | None = Field(default=None, description="Send it as If-Match to PATCH")


class UserUpdate(RequestSchema):
    """Fields of an account an administrator may change (only those sent change). A new
    role or a status other than ACTIVE ends the account's sessions."""

    email: str | None = Field(default=None, max_length=255, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    phone_number: str | None = Field(default=None, max_length=20)
    employee_id: str | None = Field(default=None, max_length=50)
    department: str | None = Field(default=None, max_length=50)
    preferred_language: Literal["th", "en", "id"] | None = None
    role: Role | None = None
    account_status: Literal["ACTIVE", "INACTIVE", "SUSPENDED"] | None = Field(
        default=None,
        description="ACTIVE also lifts a lockout; INACTIVE and SUSPENDED end every session",
    )


class PasswordSet(RequestSchema):
    """A password an administrator chooses for someone (who must change it at sign-in)."""

    new_password: str = Field(min_length=MIN_FLOOR, max_length=MAX_LENGTH)


class Me(User):
    """The signed-in user, their permissions and when their session ends."""

    permissions: list[str]
    session_expires_at: datetime
    password_change_required: bool


# --- sessions (session_endpoints.py, decision 0062) -----------------------------------------


class RefreshRequest(RequestSchema):
    """A refresh token from the last Token answer."""

    refresh_token: str = Field(min_length=1, max_length=512)


class DeviceInfo(Schema):
    """What the User-Agent header says: browser, OS and device type ("Other" when unknown)."""

    browser: str
    browser_version: str | None = None
    os: str
    device_type: Literal["desktop", "mobile", "tablet", "bot", "other"]


class SessionInfo(Schema):
    """A session (one sign-in and its refreshes); never its tokens or their hashes."""

    id: uuid.UUID
    created_at: datetime | None
    last_activity_at: datetime | None = Field(
        description="Updated at most once a minute while the session is used"
    )
    expires_at: datetime = Field(description="Absolute end: sign-in + SESSION_TIMEOUT_HOURS")
    ip_address: str | None
    user_agent: str | None
    device_info: DeviceInfo | None
    login_method: str | None
    is_active: bool
    terminated_at: datetime | None
    termination_reason: str | None = Field(
        description="LOGOUT, REVOKED_BY_USER, REVOKED_BY_ADMIN, PASSWORD_CHANGED, IDLE_TIMEOUT,"
        " EXPIRED or REFRESH_TOKEN_REUSE",
        examples=["REVOKED_BY_USER"],
    )
    current: bool = Field(default=False, description="The session of this request's token")


class SessionList(Schema):
    """The caller's own session first, the other active ones (newest first), then the most
    recently ended ones."""

    items: list[SessionInfo]


class SessionsEnded(Schema):
    """How many sessions a bulk revocation ended."""

    ended: int


# --- two factors and SMS one-time passwords (two_factor_endpoints.py, decision 0063) ---------


TwoFactorMethod = Literal["totp", "recovery_code"]


class LoginChallenge(Schema):
    """The password was right; the account has a second factor: answer the challenge at
    POST /auth/login/2fa within 5 minutes (single use)."""

    # Every field is always in the answer: the OpenAPI document says so.
    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    two_factor_required: Literal[True] = True
    challenge_token: str = Field(description="Send it back to POST /auth/login/2fa")
    methods: list[TwoFactorMethod] = Field(
        default_factory=lambda: list[TwoFactorMethod](["totp", "recovery_code"]),
        description="A 6-digit TOTP code or a recovery code",
    )
    expires_at: datetime


class TwoFactorLogin(RequestSchema):
    """The challenge token of POST /auth/login and a code of the authenticator app (6 digits)
    or one of the recovery codes."""

    challenge_token: str = Field(min_length=1, max_length=512)
    code: str = Field(min_length=6, max_length=32, examples=["123456", "k7m2q-x4z9p"])


class TotpCode(RequestSchema):
    """A 6-digit code of the authenticator app."""

    code: str = Field(min_length=6, max_length=32, examples=["123456"])


class TotpEnrolment(Schema):
    """A new TOTP secret (shown once): add it to an authenticator app by scanning the QR code
    or typing the secret, then confirm with a code at POST /auth/2fa/totp/confirm."""

    model_config = ConfigDict(
        from_attributes=True, json_schema_serialization_defaults_required=True
    )

    secret: str = Field(description="Base32; shown only in this answer")
    otpauth_uri: str = Field(examples=["otpauth://totp/Polis:somchai?secret=...&issuer=Polis"])
    qr_png_base64: str = Field(description="PNG of a QR code of otpauth_uri, base64")
    algorithm: Literal["SHA1"] = "SHA1"
    digits: Literal[6] = 6
    period: Literal[30] = 30


class RecoveryCodes(Schema):
    """Ten single-use recovery codes (shown once; only their keyed hashes are stored). Each
    signs in once in place of a TOTP code."""

    recovery_codes: list[str]


class TotpDisable(RequestSchema):
    """Your current TOTP code, or your password."""

    code: str | None = Field(default=None, min_length=6, max_length=32)
    password: str | None = Field(default=None, min_length=1, max_length=MAX_LENGTH)


class OtpRequest(RequestSchema):
    """The username of a customer or member login with a phone number."""

    username: str = Field(min_length=1, max_length=100, examples=["somchai"])


class OtpChallenge(Schema):
    """Always answered (whether or not the account exists or has a phone number): when it
    does, a 6-digit code is on its way by SMS; send it to POST /auth/otp/verify."""

    challenge_token: str
    expires_at: datetime


class OtpVerify(RequestSchema):
    """The challenge token of POST /auth/otp and the 6-digit code of the SMS."""

    challenge_token: str = Field(min_length=1, max_length=512)
    code: str = Field(min_length=6, max_length=6, pattern=r"^[0-9]{6}$", examples=["123456"])


class TwoFactorStatus(Schema):
    """Your second factor."""

    enabled: bool
    required: bool = Field(
        description="Your role requires it (ADMIN, SUPER_ADMIN, UNDERWRITER, ADJUSTER)"
    )
    enrolment_pending: bool = Field(description="A secret was issued but not confirmed yet")
    recovery_codes_left: int
