"""The per-IP login rate limit, held in PostgreSQL (iam.login_rate_limits; decision 0058).

Every server process shares the count. A login first *reserves* an attempt for its client
address in one statement (an upsert that refuses when the current fixed window is full), then
verifies the password, and gives the attempt back when the login succeeds: what is limited is
failed logins per address per window, and since the reservation is atomic, parallel requests
cannot pass the limit. The reserved row stays locked until the login's transaction ends, so
logins from one address take turns (each costs one argon2 verification, about 0.1 s).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.platform.errors import PolisError

if TYPE_CHECKING:
    from polis.config import Settings

# Windows start at multiples of the window length since this origin (date_bin).
_WINDOW = "date_bin(make_interval(secs => :window), now(), TIMESTAMPTZ '2000-01-01 00:00:00+00')"

_FULL = text(
    "SELECT CEIL(EXTRACT(EPOCH FROM window_start + make_interval(secs => :window) - now()))"
    " AS retry_after FROM iam.login_rate_limits"
    f" WHERE ip_address = CAST(:ip AS inet) AND window_start = {_WINDOW} AND attempts >= :limit"
)

_RESERVE = text(
    "INSERT INTO iam.login_rate_limits AS r (ip_address, window_start, attempts)"
    f" VALUES (CAST(:ip AS inet), {_WINDOW}, 1)"
    " ON CONFLICT (ip_address) DO UPDATE"
    " SET attempts = CASE WHEN r.window_start = EXCLUDED.window_start THEN r.attempts + 1"
    " ELSE 1 END, window_start = EXCLUDED.window_start"
    " WHERE r.window_start <> EXCLUDED.window_start OR r.attempts < :limit"
    " RETURNING r.attempts"
)

_REFUND = text(
    "UPDATE iam.login_rate_limits SET attempts = attempts - 1"
    " WHERE ip_address = CAST(:ip AS inet) AND attempts > 0"
)

# Rows of addresses that have not tried for two windows; rows other logins hold are skipped.
_PURGE = text(
    "DELETE FROM iam.login_rate_limits WHERE ctid IN ("
    " SELECT ctid FROM iam.login_rate_limits"
    " WHERE window_start < now() - make_interval(secs => :window * 2)"
    " LIMIT 100 FOR UPDATE SKIP LOCKED)"
)


class TooManyLoginAttempts(PolisError):
    """429: this address has used up its failed logins for the current window."""

    status_code = 429
    type_ = "too-many-login-attempts"
    title = "Too Many Requests"

    def __init__(self, retry_after: int) -> None:
        retry_after = max(1, retry_after)
        super().__init__(
            f"Too many failed logins from this address; retry in {retry_after} seconds.",
            headers={"Retry-After": str(retry_after)},
            extra={"retry_after": retry_after},
        )


class LoginRateLimiter:
    """Failed logins per client IP per fixed window of `window_seconds`."""

    def __init__(self, session: AsyncSession, *, limit: int, window_seconds: int) -> None:
        self.session = session
        self.limit = limit
        self.window = window_seconds

    @classmethod
    def from_settings(cls, session: AsyncSession, settings: Settings) -> LoginRateLimiter:
        """The limiter every sign-in step shares: LOGIN_RATE_LIMIT failures per client
        address per LOGIN_RATE_WINDOW_SECONDS (password, second factor, SMS code)."""
        return cls(
            session,
            limit=settings.login_rate_limit,
            window_seconds=settings.login_rate_window_seconds,
        )

    async def _retry_after(self, ip: str) -> int | None:
        value = await self.session.scalar(
            _FULL, {"ip": ip, "window": self.window, "limit": self.limit}
        )
        return None if value is None else int(value)

    async def reserve(self, ip: str) -> None:
        """Take one attempt for `ip`, or raise TooManyLoginAttempts (with Retry-After).

        A full window is refused before waiting for the row's lock, so a flood from one
        address is answered at once rather than queued.
        """
        params = {"ip": ip, "window": self.window, "limit": self.limit}
        retry_after = await self._retry_after(ip)
        if retry_after is not None:
            raise TooManyLoginAttempts(retry_after)
        attempts = await self.session.scalar(_RESERVE, params)
        if attempts is None:
            raise TooManyLoginAttempts(await self._retry_after(ip) or self.window)
        if attempts == 1:
            await self.session.execute(_PURGE, {"window": self.window})

    async def check(self, ip: str) -> None:
        """Raise TooManyLoginAttempts when `ip` has used up the current window; take nothing
        (a refresh counts only when it fails: `record_failure`)."""
        retry_after = await self._retry_after(ip)
        if retry_after is not None:
            raise TooManyLoginAttempts(retry_after)

    async def record_failure(self, ip: str) -> None:
        """Count one failure of `ip` after the fact (a refresh token nobody issued); a full
        window stays full."""
        params = {"ip": ip, "window": self.window, "limit": self.limit}
        if await self.session.scalar(_RESERVE, params) == 1:
            await self.session.execute(_PURGE, {"window": self.window})

    async def refund(self, ip: str) -> None:
        """Give back the attempt of a login that succeeded."""
        await self.session.execute(_REFUND, {"ip": ip})
