"""Plain async factories for users and sessions (polar's random_objects style)."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import pyotp
from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from polis.iam.passwords import hash_password
from polis.iam.two_factor import TWO_FACTOR_ROLES
from polis.platform.crypto import get_keyring

PASSWORD = "correct horse battery staple"
# The TOTP secret of every user created with totp=True (signed_in's staff of the roles that
# require a second factor).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
# The last TOTP time step each username was sent (the server refuses a step twice).
_last_step: dict[str, int] = {}


def totp_code(username: str, secret: str = TOTP_SECRET) -> str:
    """A TOTP code for a time step the user has not spent yet: the current one, else the
    next (the server accepts one step either side); waits for a new step when both are spent.
    """
    totp = pyotp.TOTP(secret)
    while True:
        now = totp.timecode(datetime.now(UTC))
        step = max(now, _last_step.get(username, now - 1) + 1)
        if step <= now + 1:
            _last_step[username] = step
            return totp.generate_otp(step)
        time.sleep(totp.interval - time.time() % totp.interval + 0.05)


@lru_cache(maxsize=1)
def _hash() -> str:
    # One argon2 hash per run: hashing is deliberately slow.
    return hash_password(PASSWORD)


async def create_user(
    session: AsyncSession,
    *,
    role: str = "ADMIN",
    username: str | None = None,
    totp: bool = False,
    **values: Any,
) -> User:
    """A flushed ACTIVE user whose password is PASSWORD (with TOTP enabled on TOTP_SECRET
    when `totp`)."""
    username = username or f"user_{uuid.uuid4().hex[:12]}"
    if totp:
        values.setdefault("two_factor_enabled", True)
        values.setdefault("two_factor_secret", get_keyring().encrypt_text(TOTP_SECRET))
    user = User(
        username=username,
        email=values.pop("email", f"{username}@example.test"),
        password_hash=values.pop("password_hash", _hash()),
        first_name=values.pop("first_name", "Test"),
        last_name=values.pop("last_name", role.title()),
        role=role,
        **values,
    )
    session.add(user)
    await session.flush()
    await session.refresh(user)
    return user


async def token_body(
    client: AsyncClient, username: str, password: str = PASSWORD
) -> dict[str, Any]:
    """The Token answer of a sign-in (asserts it succeeds), after answering the two-factor
    challenge with a code of TOTP_SECRET when one comes."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if body.get("two_factor_required"):
        response = await client.post(
            "/api/v1/auth/login/2fa",
            json={"challenge_token": body["challenge_token"], "code": totp_code(username)},
        )
        assert response.status_code == 200, response.text
        body = response.json()
    return body


async def login(client: AsyncClient, username: str, password: str = PASSWORD) -> str:
    """A bearer token for the user (asserts the login succeeds, two factors included)."""
    return str((await token_body(client, username, password))["access_token"])


async def signed_in(
    client: AsyncClient, session: AsyncSession, role: str = "ADMIN"
) -> tuple[User, dict[str, str]]:
    """A new user of `role` and the Authorization header of a fresh session (the roles that
    require a second factor are enrolled on TOTP_SECRET and answer the challenge)."""
    user = await create_user(session, role=role, totp=role in TWO_FACTOR_ROLES)
    token = await login(client, user.username)
    return user, {"Authorization": f"Bearer {token}"}
