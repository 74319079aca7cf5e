"""iam.users and iam.user_sessions (seed 001 "User Management and Security Schema"),
and iam.idempotency_keys (the Idempotency-Key store of POST requests)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CHAR,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
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


class UserSession(Base):
    """A signed-in session; session_id is the SHA-256 of the opaque bearer token."""

    __tablename__ = "user_sessions"
    __table_args__ = (
        CheckConstraint(
            "login_method IN ('PASSWORD', 'SSO', 'TOKEN', 'BIOMETRIC')", name="login_method"
        ),
        Index("idx_user_sessions_user", "user_id"),
        Index("idx_user_sessions_session_id", "session_id"),
        Index("idx_user_sessions_active", "is_active", "expires_at"),
        Index("idx_user_sessions_cleanup", "expires_at", postgresql_where=text("NOT is_active")),
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
    refresh_token_hash: Mapped[str | None] = mapped_column(String(255))
    ip_address: Mapped[str] = mapped_column(INET)
    user_agent: Mapped[str | None] = mapped_column(Text)
    device_info: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    location_info: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    is_active: Mapped[bool | None] = mapped_column(Boolean, server_default=text("true"))
    login_method: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    last_activity_at: Mapped[datetime | None] = mapped_column(_tz(), server_default=func.now())
    expires_at: Mapped[datetime] = mapped_column(_tz())
    terminated_at: Mapped[datetime | None] = mapped_column(_tz())
    termination_reason: Mapped[str | None] = mapped_column(String(50))


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
