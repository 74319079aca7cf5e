"""iam.users and iam.user_sessions (seed 001 "User Management and Security Schema"),
and iam.idempotency_keys (the Idempotency-Key store of POST requests)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import INET, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from polis.db.base import Base

ROLES = (
    "CUSTOMER",
    "AGENT",
    "ADJUSTER",
    "SURVEYOR",
    "UNDERWRITER",
    "ADMIN",
    "SUPER_ADMIN",
    "MEMBER",
    "PROVIDER",
    "CLAIMS_PROCESSOR",
    "MEDICAL_REVIEWER",
    "FINANCE",
    "AUDITOR",
)

_ACTIVE = text("deleted_at IS NULL")


def _tz() -> DateTime:
    return DateTime(timezone=True)


class User(Base):
    """A person who signs in: staff, agents, customers, members, provider clerks."""

    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(f"role IN ({', '.join(repr(r) for r in ROLES)})", name="role"),
        CheckConstraint(
            "account_status IN ('ACTIVE', 'INACTIVE', 'LOCKED', 'SUSPENDED', 'TERMINATED')",
            name="account_status",
        ),
        CheckConstraint("preferred_language IN ('th', 'en', 'id')", name="preferred_language"),
        Index("idx_users_username", "username", postgresql_where=_ACTIVE),
        Index("idx_users_email", "email", postgresql_where=_ACTIVE),
        Index("idx_users_role", "role", postgresql_where=_ACTIVE),
        Index("idx_users_status", "account_status", postgresql_where=_ACTIVE),
        Index("idx_users_last_login", "last_login_at"),
        Index("idx_users_department", "department", postgresql_where=_ACTIVE),
        {"schema": "iam", "comment": "System users including customers, agents, and staff"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    username: Mapped[str] = mapped_column(String(100), unique=True)
    email: Mapped[str] = mapped_column(String(255), unique=True)
    phone_number: Mapped[str | None] = mapped_column(String(20))
    password_hash: Mapped[str] = mapped_column(
        String(255), comment="argon2id hash, never the password"
    )
    password_changed_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    password_history: Mapped[list[str] | None] = mapped_column(JSONB)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    employee_id: Mapped[str | None] = mapped_column(String(50))
    role: Mapped[str] = mapped_column(String(20))
    permissions: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    department: Mapped[str | None] = mapped_column(String(50))
    account_status: Mapped[str | None] = mapped_column(String(20), server_default="ACTIVE")
    email_verified: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    phone_verified: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    two_factor_enabled: Mapped[bool | None] = mapped_column(Boolean, server_default=text("false"))
    two_factor_secret: Mapped[str | None] = mapped_column(
        String(255), comment="TOTP secret, AES-GCM encrypted by the application"
    )
    failed_login_attempts: Mapped[int | None] = mapped_column(Integer, server_default="0")
    locked_until: Mapped[datetime | None] = mapped_column(_tz())
    must_change_password: Mapped[bool] = mapped_column(
        Boolean,
        server_default=text("false"),
        comment="The password was set by someone else: every route but the password change "
        "answers 403",
    )
    last_login_at: Mapped[datetime | None] = mapped_column(_tz())
    last_login_ip: Mapped[str | None] = mapped_column(INET)
    current_session_id: Mapped[str | None] = mapped_column(String(255))
    profile_picture_url: Mapped[str | None] = mapped_column(String(500))
    preferred_language: Mapped[str | None] = mapped_column(String(5), server_default="th")
    timezone: Mapped[str | None] = mapped_column(String(50), server_default="Asia/Bangkok")
    created_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    updated_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    created_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    updated_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    version: Mapped[int | None] = mapped_column(Integer, server_default="0")
    deleted_at: Mapped[datetime | None] = mapped_column(_tz())
    deleted_by: Mapped[uuid.UUID | None] = mapped_column(Uuid)


# termination_reason of an ended session (decision 0062): logout; ended by its user or by an
# administrator through the sessions API; a password change ending the user's other
# sessions; no activity for SESSION_IDLE_MINUTES; past expires_at; a spent refresh token
# presented again (the whole family ends).
TERMINATION_REASONS = (
    "LOGOUT",
    "REVOKED_BY_USER",
    "REVOKED_BY_ADMIN",
    "PASSWORD_CHANGED",
    "IDLE_TIMEOUT",
    "EXPIRED",
    "REFRESH_TOKEN_REUSE",
)


class UserSession(Base):
    """A signed-in session (one login: the family of its rotated tokens); session_id is the
    SHA-256 of the current opaque access token, refresh_token_hash that of the current
    refresh token."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        CheckConstraint(
            "login_method IN ('PASSWORD', 'SSO', 'TOKEN', 'BIOMETRIC')", name="login_method"
        ),
        CheckConstraint(
            f"termination_reason IN ({', '.join(repr(r) for r in TERMINATION_REASONS)})",
            name="termination_reason",
        ),
        Index("idx_user_sessions_user", "user_id"),
        Index("idx_user_sessions_session_id", "session_id"),
        Index("idx_user_sessions_active", "is_active", "expires_at"),
        Index("idx_user_sessions_cleanup", "expires_at", postgresql_where=text("NOT is_active")),
        Index("idx_user_sessions_idle", "last_activity_at", postgresql_where=text("is_active")),
        {"schema": "iam", "comment": "Active user sessions for security tracking"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("iam.users.id"))
    session_id: Mapped[str] = mapped_column(
        String(255),
        unique=True,
        comment="SHA-256 of the bearer token (the token itself is never stored)",
    )
    refresh_token_hash: Mapped[str | None] = mapped_column(
        String(255),
        comment="SHA-256 of the current refresh token (earlier ones: iam.refresh_tokens)",
    )
    ip_address: Mapped[str] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    device_info: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    location_info: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    login_method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    last_activity_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(
        _tz(),
        comment="Absolute end of the session: login + SESSION_TIMEOUT_HOURS; no refresh extends it",
    )
    access_expires_at: Mapped[datetime | None] = mapped_column(
        _tz(),
        comment="The current access token works until then (ACCESS_TOKEN_MINUTES); NULL: until"
        " expires_at",
    )
    terminated_at: Mapped[datetime | None] = mapped_column(_tz())
    termination_reason: Mapped[str | None] = mapped_column(String(50))
    # Two factors (migration 0022, decision 0063; owned by the two-factor work): opened
    # without a second factor by a user whose role requires one.
    two_factor_pending: Mapped[bool] = mapped_column(
        Boolean,
        server_default=text("false"),
        comment="Opened without a second factor by a user whose role requires one: enrolment"
        " routes only",
    )


class RefreshToken(Base):
    """One refresh token of a session (migration 0021): spent ones stay, so that a token
    presented a second time is recognised and ends the session (decision 0062)."""

    __tablename__ = "refresh_tokens"
    __table_args__ = (
        CheckConstraint("(used_at IS NULL) = (replaced_by IS NULL)", name="spent"),
        Index("idx_refresh_tokens_session", "user_session_id"),
        {
            "schema": "iam",
            "comment": "Refresh tokens of a session (its family): spent ones are kept to detect"
            " reuse",
        },
    )

    token_hash: Mapped[str] = mapped_column(
        CHAR(64),
        primary_key=True,
        comment="SHA-256 of the refresh token (the token itself is never stored)",
    )
    user_session_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("iam.user_sessions.id", ondelete="CASCADE")
    )
    issued_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    used_at: Mapped[datetime | None] = mapped_column(_tz())
    replaced_by: Mapped[str | None] = mapped_column(
        CHAR(64), comment="token_hash of the token it was exchanged for"
    )


class LoginRateLimit(Base):
    """Failed logins of one client address in the current fixed window (migration 0019)."""

    __tablename__ = "login_rate_limits"
    __table_args__ = (
        CheckConstraint("attempts >= 0", name="attempts"),
        Index("idx_login_rate_limits_window", "window_start"),
        {"schema": "iam", "comment": "Failed logins per client IP in the current window"},
    )

    ip_address: Mapped[str] = mapped_column(INET, primary_key=True)
    window_start: Mapped[datetime] = mapped_column(_tz())
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")


class IdempotencyKey(Base):
    """A POST taken under an Idempotency-Key: the request's hash and the response to replay."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (
        Index("idx_idempotency_keys_expires", "expires_at"),
        {
            "schema": "iam",
            "comment": "Idempotency-Key records of POST requests (replayed until expires_at)",
        },
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("iam.users.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    request_hash: Mapped[str] = mapped_column(
        CHAR(64), comment="SHA-256 of method, path and canonical JSON body"
    )
    response_status: Mapped[int | None] = mapped_column(
        Integer, comment="NULL while the first request is still running"
    )
    response_body: Mapped[Any | None] = mapped_column(JSONB)
    created_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(_tz())


# --- Two factors (migration 0022, decision 0063) ---------------------------------------------


class RecoveryCode(Base):
    """One single-use recovery code of a user's second factor (its keyed hash only)."""

    __tablename__ = "recovery_codes"
    __table_args__ = (
        UniqueConstraint("user_id", "code_hash", name="uq_recovery_codes_user_code"),
        Index("idx_recovery_codes_unused", "user_id", postgresql_where=text("used_at IS NULL")),
        {"schema": "iam", "comment": "Single-use 2FA recovery codes (keyed hashes only)"},
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("iam.users.id", ondelete="CASCADE"))
    code_hash: Mapped[str] = mapped_column(
        CHAR(64),
        comment="HMAC-SHA256 of the normalised code under the blind-index key, never the code",
    )
    created_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    used_at: Mapped[datetime | None] = mapped_column(_tz())


class LoginChallenge(Base):
    """A sign-in waiting for its second factor (TWO_FACTOR) or for the code of an SMS
    one-time password (SMS_OTP); the token and the SMS code are stored hashed."""

    __tablename__ = "login_challenges"
    __table_args__ = (
        CheckConstraint("kind IN ('TWO_FACTOR', 'SMS_OTP')", name="kind"),
        CheckConstraint("attempts >= 0", name="attempts"),
        CheckConstraint("(kind = 'SMS_OTP') = (code_hash IS NOT NULL)", name="code"),
        Index("idx_login_challenges_user", "user_id", "created_at"),
        Index("idx_login_challenges_expires", "expires_at"),
        {
            "schema": "iam",
            "comment": "Sign-ins waiting for a second factor or an SMS one-time password"
            " (hashes only)",
        },
    )

    id: Mapped[uuid.UUID] = mapped_column(
        Uuid, primary_key=True, server_default=func.gen_random_uuid()
    )
    challenge_hash: Mapped[str] = mapped_column(
        CHAR(64), unique=True, comment="SHA-256 of the challenge token"
    )
    kind: Mapped[str] = mapped_column(String(20))
    user_id: Mapped[uuid.UUID] = mapped_column(Uuid, ForeignKey("iam.users.id", ondelete="CASCADE"))
    code_hash: Mapped[str | None] = mapped_column(
        CHAR(64),
        comment="SMS_OTP: HMAC-SHA256 of the code under the blind-index key, never the code",
    )
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    ip_address: Mapped[str | None] = mapped_column(INET)
    created_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    used_at: Mapped[datetime | None] = mapped_column(_tz())


class TotpStep(Base):
    """The last TOTP time step a user spent: a code of that step or earlier is refused."""

    __tablename__ = "totp_steps"
    __table_args__ = (
        {"schema": "iam", "comment": "Last TOTP time step spent per user (no code is taken twice)"},
    )

    user_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("iam.users.id", ondelete="CASCADE"), primary_key=True
    )
    last_step: Mapped[int] = mapped_column(BigInteger)
    used_at: Mapped[datetime] = mapped_column(_tz(), server_default=func.now())
