"""Plain async factories for users and sessions (polar's random_objects style)."""

from __future__ import annotations

import uuid
from functools import lru_cache
from typing import Any

from httpx import AsyncClient
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User
from polis.iam.passwords import hash_password

PASSWORD = "correct horse battery staple"


@lru_cache(maxsize=1)
def _hash() -> str:
    # One argon2 hash per run: hashing is deliberately slow.
    return hash_password(PASSWORD)


async def create_user(
    session: AsyncSession, *, role: str = "ADMIN", username: str | None = None, **values: Any
) -> User:
    """A flushed ACTIVE user whose password is PASSWORD."""
    username = username or f"user_{uuid.uuid4().hex[:12]}"
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


async def login(client: AsyncClient, username: str, password: str = PASSWORD) -> str:
    """A bearer token for the user (asserts the login succeeds)."""
    response = await client.post(
        "/api/v1/auth/login", json={"username": username, "password": password}
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def signed_in(
    client: AsyncClient, session: AsyncSession, role: str = "ADMIN"
) -> tuple[User, dict[str, str]]:
    """A new user of `role` and the Authorization header of a fresh session."""
    user = await create_user(session, role=role)
    token = await login(client, user.username)
    return user, {"Authorization": f"Bearer {token}"}
