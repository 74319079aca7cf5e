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
from polis.iam.ratelimit import LoginRateLimiter
from polis.iam.repository import SessionRepository, UserRepository
from polis.platform.context import MAX_USER_AGENT, client_ip
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, Unauthorized
from polis.reference.service import ConfigurationNotFoundError, get_config

TOKEN_BYTES = 32
# users.password_history keeps this many hashes, the current one first (seed 001).
PASSWORD_HISTORY = 5

# Only a SUPER_ADMIN may hand out the administrator roles.
_PRIVILEGED = frozenset({Role.ADMIN, Role.SUPER_ADMIN})
# Self-service logins choose their own password; every other (staff) account created by
# someone else must change its password at its first login (decision 0058).
SELF_SERVICE_ROLES = frozenset({Role.CUSTOMER, Role.MEMBER})


class InvalidCredentials(Unauthorized):
    """Wrong username or password, or an account that may not sign in: one answer for all."""

    type_ = "invalid-credentials"

    def __init__(self) -> None:
        super().__init__("Invalid username or password.")


class WeakPassword(BusinessRuleError):
    """422 naming every password rule broken, one entry per rule in `errors`."""

    type_ = "weak-password"
    title = "Password Refused"

    def __init__(self, broken: list[passwords.Violation], field: str) -> None:
        super().__init__(
            "Password refused: " + " ".join(v.message for v in broken),
            extra={
                "errors": [{"field": field, "message": v.message, "type": v.rule} for v in broken]
            },
        )


class WrongCurrentPassword(BusinessRuleError):
    """The current password given to a password change is wrong (or the account is locked)."""

    type_ = "invalid-current-password"
    title = "Current Password Refused"

    def __init__(self) -> None:
        super().__init__("The current password is not correct.")


def check_password(
    password: str, *, username: str, email: str, settings: Settings, field: str
) -> None:
    """Raise WeakPassword when the password breaks the policy."""
    broken = passwords.violations(
        password, min_length=settings.password_min_length, username=username, email=email
    )
    if broken:
        raise WeakPassword(broken, field)


async def max_login_attempts(session: AsyncSession, settings: Settings) -> int:
    """MAX_LOGIN_ATTEMPTS: the setting when the deployment sets it, else the seed's
    ref.system_configurations row, else the setting's default (5)."""
    if "max_login_attempts" not in settings.model_fields_set:
        try:
            value = await get_config(session, "MAX_LOGIN_ATTEMPTS")
        except (ConfigurationNotFoundError, ValueError):
            value = None
        if isinstance(value, int) and value >= 1:
            return value
    return settings.max_login_attempts


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
        must_change_password: bool | None = None,
        settings: Settings | None = None,
    ) -> User:
        """Create an ACTIVE user with an argon2id password hash.

        `must_change_password` defaults to True for staff roles (every role but CUSTOMER and
        MEMBER): the password was chosen by whoever created the account.
        """
        settings = settings or get_settings()
        try:
            role = Role(role)
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise BusinessRuleError(
                f"Unknown role {role!r}; expected one of {roles}.", type_="unknown-role"
            ) from None
        if created_by is not None and role in _PRIVILEGED and created_by.role != Role.SUPER_ADMIN:
            raise Forbidden(f"Only a SUPER_ADMIN may create {role} users.")
        check_password(
            password, username=username, email=email, settings=settings, field="body.password"
        )
        if must_change_password is None:
            must_change_password = role not in SELF_SERVICE_ROLES
        repo = UserRepository.from_session(session)
        taken = await repo.taken(username=username, email=email)
        if taken:
            what = " and ".join(sorted(taken))
            verb = "is" if len(taken) == 1 else "are"
            raise Conflict(f"The {what} {verb} already taken.", type_="user-exists")
        password_hash = await passwords.hash_password_async(password)
        user = User(
            username=username,
            email=email,
            password_hash=password_hash,
            password_history=[password_hash],
            must_change_password=must_change_password,
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

        In order: one attempt is reserved for the client address (429 TooManyLoginAttempts
        when its window is full); the user's row is locked, so that logins of one account
        take turns; the password is verified (an unknown user or a locked account verifies
        against a dummy hash, so timing does not tell them apart); a failure is counted in
        one UPDATE that also locks the account at MAX_LOGIN_ATTEMPTS; a success gives the
        address its attempt back.

        Recording the login itself (last_login_*, the counter reset) is `create_session`'s
        job, so that the caller can attribute it to the user in the audit context first.

        Raises InvalidCredentials otherwise, after flushing the counters: the caller commits
        before answering so that they survive (see the login route).
        """
        settings = settings or get_settings()
        ip = client_ip(ip_address)
        limiter = LoginRateLimiter(
            session,
            limit=settings.login_rate_limit,
            window_seconds=settings.login_rate_window_seconds,
        )
        await limiter.reserve(ip)
        repo = UserRepository.from_session(session)
        user = await repo.get_by_username_for_update(username)
        now = utcnow()
        locked = user is not None and user.locked_until is not None and user.locked_until > now
        # Unknown users and locked accounts cost one argon2 verification too.
        ok = await passwords.verify_password_async(
            None if user is None or locked else user.password_hash, password
        )
        if user is None or locked:
            raise InvalidCredentials()
        if not ok:
            await repo.record_failed_login(
                user.id,
                now=now,
                max_attempts=await max_login_attempts(session, settings),
                lockout=timedelta(minutes=settings.lockout_minutes),
            )
            raise InvalidCredentials()
        if user.account_status != "ACTIVE":
            raise InvalidCredentials()
        await limiter.refund(ip)
        if passwords.needs_rehash(user.password_hash):
            new_hash = await passwords.hash_password_async(password)
            await repo.set_fields(user, password_hash=new_hash)
        return user

    async def change_password(
        self,
        session: AsyncSession,
        user: User,
        *,
        current_password: str,
        new_password: str,
        keep_session: UserSession | None = None,
        settings: Settings | None = None,
    ) -> None:
        """Replace the user's password after checking the current one.

        A wrong current password counts as a failed login (and is refused without checking
        while the account is locked), so a stolen session cannot guess it. The new password
        must meet the policy and differ from the last PASSWORD_HISTORY ones. Other sessions
        of the user end (termination_reason PASSWORD_CHANGED).
        """
        settings = settings or get_settings()
        repo = UserRepository.from_session(session)
        locked_user = await repo.lock(user.id)
        if locked_user is None:
            raise InvalidCredentials()
        user, now = locked_user, utcnow()
        locked = user.locked_until is not None and user.locked_until > now
        ok = await passwords.verify_password_async(
            None if locked else user.password_hash, current_password
        )
        if not ok:
            if not locked:
                await repo.record_failed_login(
                    user.id,
                    now=now,
                    max_attempts=await max_login_attempts(session, settings),
                    lockout=timedelta(minutes=settings.lockout_minutes),
                )
            raise WrongCurrentPassword()
        check_password(
            new_password,
            username=user.username,
            email=user.email,
            settings=settings,
            field="body.new_password",
        )
        history = [h for h in (user.password_history or []) if isinstance(h, str)]
        if user.password_hash not in history:
            history.insert(0, user.password_hash)
        history = history[:PASSWORD_HISTORY]
        if await passwords.matches_any_async(history, new_password):
            reused = passwords.Violation(
                "recently-used",
                f"The password must differ from the last {PASSWORD_HISTORY} passwords.",
            )
            raise WeakPassword([reused], "body.new_password")
        new_hash = await passwords.hash_password_async(new_password)
        await repo.set_fields(
            user,
            password_hash=new_hash,
            password_history=[new_hash, *history][:PASSWORD_HISTORY],
            password_changed_at=now,
            must_change_password=False,
            failed_login_attempts=0,
            locked_until=None,
            updated_by=user.id,
        )
        if keep_session is not None:
            await SessionRepository.from_session(session).terminate_others(
                user.id, keep=keep_session.id, at=now, reason="PASSWORD_CHANGED"
            )

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
