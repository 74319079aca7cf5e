"""Identity use cases: create users, authenticate, open, load and end sessions.

Services flush, never commit: the request (or the CLI command) owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings, get_settings
from polis.iam import passwords
from polis.iam.models import User, UserSession
from polis.iam.permissions import Role
from polis.iam.repository import SessionRepository, UserRepository
from polis.platform.context import MAX_USER_AGENT, client_ip
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, Unauthorized

# After MAX_LOGIN_ATTEMPTS failures in a row the account is locked for this long (decision 0043).
LOCKOUT = timedelta(minutes=15)
TOKEN_BYTES = 32

# Only a SUPER_ADMIN may hand out the administrator roles.
_PRIVILEGED = frozenset({Role.ADMIN, Role.SUPER_ADMIN})


class InvalidCredentials(Unauthorized):
    """Wrong username or password, or an account that may not sign in: one answer for all."""

    type_ = "invalid-credentials"

    def __init__(self) -> None:
        super().__init__("Invalid username or password.")


def hash_token(token: str) -> str:
    """The SHA-256 (hex) stored in iam.user_sessions.session_id for a bearer token."""
    return hashlib.sha256(token.encode()).hexdigest()


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class UserService:
    """Creating user accounts."""

    async def create_user(
        self,
        session: AsyncSession,
        *,
        username: str,
        password: str,
        role: str,
        email: str,
        first_name: str,
        last_name: str,
        phone_number: str | None = None,
        employee_id: str | None = None,
        department: str | None = None,
        preferred_language: str = "th",
        created_by: User | None = None,
    ) -> User:
        """Create an ACTIVE user with an argon2id password hash."""
        try:
            role = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise BusinessRuleError(
                f"Unknown role {role!r}; expected one of {roles}.", type_="unknown-role"
            ) from None
        if created_by is not None and role in _PRIVILEGED and created_by.role != Role.SUPER_ADMIN:
            raise Forbidden(f"Only a SUPER_ADMIN may create {role} users.")
        try:
            passwords.check_policy(password)
        except ValueError as exc:
            raise BusinessRuleError(str(exc).capitalize() + ".", type_="weak-password") from None
        repo = UserRepository.from_session(session)
        taken = await repo.taken(username=username, email=email)
        if taken:
            what = " and ".join(sorted(taken))
            verb = "is" if len(taken) == 1 else "are"
            raise Conflict(f"The {what} {verb} already taken.", type_="user-exists")
        user = User(
            username=username,
            email=email,
            password_hash=await passwords.hash_password_async(password),
            first_name=first_name,
            last_name=last_name,
            role=role.value,
            phone_number=phone_number,
            employee_id=employee_id,
            department=department,
            preferred_language=preferred_language,
            created_by=created_by.id if created_by else None,
            updated_by=created_by.id if created_by else None,
        )
        return await repo.add(user)


class AuthService:
    """Passwords and sessions."""

    async def authenticate(
        self,
        session: AsyncSession,
        *,
        username: str,
        password: str,
        ip_address: str | None = None,
        settings: Settings | None = None,
    ) -> User:
        """The user, when the password is right and the account may sign in.

        Recording the login itself (last_login_*, the counter reset) is `create_session`'s
        job, so that the caller can attribute it to the user in the audit context first.

        Raises InvalidCredentials otherwise, after flushing the failed-attempt counter: the
        caller commits before answering so that the counter survives (see the login route).
        """
        settings = settings or get_settings()
        repo = UserRepository.from_session(session)
        user = await repo.get_by_username(username)
        # Unknown users cost one argon2 verification too, so timing does not tell them apart.
        ok = await passwords.verify_password_async(user.password_hash if user else None, password)
        if user is None:
            raise InvalidCredentials()
        now = utcnow()
        locked = user.locked_until is not None and user.locked_until > now
        if not ok:
            if not locked:
                await self._record_failure(repo, user, now, settings.max_login_attempts)
            raise InvalidCredentials()
        if locked or user.account_status != "ACTIVE":
            raise InvalidCredentials()
        if passwords.needs_rehash(user.password_hash):
            new_hash = await passwords.hash_password_async(password)
            await repo.set_fields(user, password_hash=new_hash)
        return user

    async def _record_failure(
        self, repo: UserRepository, user: User, now: datetime, max_attempts: int
    ) -> None:
        failures = (user.failed_login_attempts or 0) + 1
        if failures >= max_attempts:
            await repo.set_fields(user, failed_login_attempts=0, locked_until=now + LOCKOUT)
        else:
            await repo.set_fields(user, failed_login_attempts=failures)

    async def create_session(
        self,
        session: AsyncSession,
        user: User,
        *,
        ip_address: str | None = None,
        user_agent: str | None = None,
        login_method: str = "PASSWORD",
        settings: Settings | None = None,
    ) -> tuple[str, UserSession]:
        """Open a session and record the login on the user.

        Returns (the bearer token, shown once; the stored row, which holds only its hash).
        """
        settings = settings or get_settings()
        token = secrets.token_urlsafe(TOKEN_BYTES)
        now, ip = utcnow(), client_ip(ip_address)
        user_session = UserSession(
            user_id=user.id,
            session_id=hash_token(token),
            ip_address=ip,
            user_agent=user_agent[:MAX_USER_AGENT] if user_agent else None,
            login_method=login_method,
            expires_at=now + timedelta(hours=settings.session_timeout_hours),
        )
        await SessionRepository.from_session(session).add(user_session)
        await UserRepository.from_session(session).set_fields(
            user,
            current_session_id=str(user_session.id),
            last_login_at=now,
            last_login_ip=ip,
            failed_login_attempts=0,
            locked_until=None,
        )
        return token, user_session

    async def load_session(
        self, session: AsyncSession, token: str
    ) -> tuple[UserSession, User] | None:
        """The live session of a bearer token and its user; None when unknown or expired."""
        if not token or len(token) > 512:
            return None
        return await SessionRepository.from_session(session).get_live(hash_token(token), utcnow())

    async def revoke_session(
        self, session: AsyncSession, user_session: UserSession, *, reason: str = "LOGOUT"
    ) -> None:
        """End a session now."""
        await SessionRepository.from_session(session).terminate(
            user_session.id, at=utcnow(), reason=reason
        )


user = UserService()
auth = AuthService()
