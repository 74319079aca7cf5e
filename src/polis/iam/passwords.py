"""Password hashing: argon2id (argon2-cffi, RFC 9106 low-memory profile), and the policy.

Hashing is deliberately slow, so the async helpers run it in a worker thread rather than
on the event loop. The policy (decision 0058) names every rule a new password breaks: its
length, a list of common passwords (common_passwords.txt.gz, see README.md beside it), and
the account's own username or e-mail local part.
"""

from __future__ import annotations

import asyncio
import gzip
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from argon2.profiles import RFC_9106_LOW_MEMORY

MIN_LENGTH = 12  # the default of PASSWORD_MIN_LENGTH
MIN_FLOOR = 8  # PASSWORD_MIN_LENGTH may not go lower; request schemas refuse shorter at once
MAX_LENGTH = 256
# Parts of a username or e-mail shorter than this are not looked for in the password.
_MIN_IDENTITY = 3
# Stripped from both ends before the common-password lookup: "Password2024!" is "password".
_PADDING = "0123456789!@#$%^&*()-_=+.,;:?/\\|~`'\" []{}<>"

_hasher = PasswordHasher.from_parameters(RFC_9106_LOW_MEMORY)


@dataclass(frozen=True)
class Violation:
    """One broken rule: a stable code and a sentence for people."""

    rule: str
    message: str


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The shipped list of common passwords, lowercased."""
    data = resources.files("polis.iam").joinpath("common_passwords.txt.gz").read_bytes()
    return frozenset(
        line.strip() for line in gzip.decompress(data).decode("utf-8").splitlines() if line.strip()
    )


def is_common(password: str) -> bool:
    """Whether the password, or its core without digits and symbols at the ends, is common."""
    lowered = password.strip().lower()
    core = lowered.strip(_PADDING)
    known = common_passwords()
    return lowered in known or (bool(core) and core in known)


def violations(
    password: str,
    *,
    min_length: int = MIN_LENGTH,
    username: str | None = None,
    email: str | None = None,
) -> list[Violation]:
    """Every rule the password breaks (empty when it is acceptable)."""
    found: list[Violation] = []
    if len(password) < min_length:
        found.append(
            Violation("too-short", f"The password must have at least {min_length} characters.")
        )
    if len(password) > MAX_LENGTH:
        found.append(
            Violation("too-long", f"The password must have at most {MAX_LENGTH} characters.")
        )
    if is_common(password):
        found.append(Violation("common", "The password is on a list of commonly used passwords."))
    lowered = password.lower()
    if username and len(username) >= _MIN_IDENTITY and username.lower() in lowered:
        found.append(Violation("contains-username", "The password must not contain the username."))
    local = email.split("@", 1)[0] if email else ""
    if len(local) >= _MIN_IDENTITY and local.lower() in lowered:
        found.append(
            Violation("contains-email", "The password must not contain the e-mail address.")
        )
    return found


def check_policy(password: str, *, min_length: int = MIN_LENGTH) -> None:
    """Raise ValueError naming the first broken rule (callers that need all use violations)."""
    broken = violations(password, min_length=min_length)
    if broken:
        raise ValueError(broken[0].message)


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


def matches_any(password_hashes: list[str], password: str) -> bool:
    """Whether the password matches any of the hashes (each verified: argon2 salts them)."""
    return any(verify_password(h, password) for h in password_hashes)


async def matches_any_async(password_hashes: list[str], password: str) -> bool:
    """matches_any off the event loop."""
    return await asyncio.to_thread(matches_any, password_hashes, password)
