"""Request and response bodies of the auth and user endpoints."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import Field

from polis.iam.passwords import MAX_LENGTH, MIN_FLOOR
from polis.iam.permissions import Role
from polis.platform.schemas import RequestSchema, Schema

UserID = uuid.UUID


class LoginRequest(RequestSchema):
    """Username and password."""

    username: str = Field(min_length=1, max_length=100, examples=["admin"])
    password: str = Field(min_length=1, max_length=MAX_LENGTH, examples=["correct horse battery"])


class Token(Schema):
    """An opaque bearer token; send it as `Authorization: Bearer <access_token>`."""

    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime
    password_change_required: bool = Field(
        default=False,
        description="True: every route but POST /auth/password, /auth/logout and /auth/me"
        " answers 403 password-change-required until the password is changed",
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


class Me(User):
    """The signed-in user, their permissions and when their session ends."""

    permissions: list[str]
    session_expires_at: datetime
    password_change_required: bool
