"""Password hashing: argon2id (argon2-cffi, RFC 9106 low-memory profile).

Hashing is deliberately slow, so the async helpers run it in a worker thread rather than
on the event loop.
"""

from __future__ import annotations

import asyncio
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12
MAX_LENGTH = 256

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


def check_policy(password: str) -> None:
    """Raise ValueError when the password is too short or too long."""
    if len(password) < MIN_LENGTH:
        raise ValueError(f"password must have at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        raise ValueError(f"password must have at most {MAX_LENGTH} characters")


def hash_password(password: str) -> str:
    """An argon2id hash (PHC string, salt included)."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Whether the password matches; False for a wrong password or an unreadable hash."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return hash_password("polis-dummy-password-for-timing")


def burn_time(password: str) -> None:
    """Verify against a dummy hash so that an unknown user costs what a known one does."""
    verify_password(_dummy_hash(), password)


async def hash_password_async(password: str) -> str:
    """hash_password off the event loop."""
    return await asyncio.to_thread(hash_password, password)


async def verify_password_async(password_hash: str | None, password: str) -> bool:
    """verify_password off the event loop; a missing hash burns the same time and fails."""
    if password_hash is None:
        await asyncio.to_thread(burn_time, password)
        return False
    return await asyncio.to_thread(verify_password, password_hash, password)
