"""Identity use cases: create users, authenticate, open, load and end sessions.

Services flush, never commit: the request (or the CLI command) owns the transaction.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings, get_settings
from polis.iam import passwords
from polis.iam.devices import parse_user_agent
from polis.iam.models import RefreshToken, User, UserSession
from polis.iam.permissions import Role
from polis.iam.ratelimit import LoginRateLimiter
from polis.iam.repository import SessionRepository, UserRepository
from polis.platform.context import (
    MAX_USER_AGENT,
    apply_audit_context,
    client_ip,
    current_context,
)
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


# --- sessions (decision 0062) ---------------------------------------------------------------

logger = structlog.get_logger(__name__)

# last_activity_at is written at most this often per session (not on every request).
ACTIVITY_RESOLUTION = timedelta(minutes=1)


class InvalidRefreshToken(Unauthorized):
    """401 for a refresh token that is unknown, spent, or of an ended or expired session."""

    type_ = "invalid-token"

    def __init__(self) -> None:
        super().__init__("The refresh token is invalid or has expired.")


@dataclass(frozen=True)
class IssuedSession:
    """The tokens of a sign-in or a refresh (shown once) and the session row."""

    access_token: str
    refresh_token: str
    user_session: UserSession


def _access_expiry(now: datetime, session_end: datetime, settings: Settings) -> datetime:
    """ACCESS_TOKEN_MINUTES from now, never past the session's absolute end."""
    return min(now + timedelta(minutes=settings.access_token_minutes), session_end)


async def _attribute_to(session: AsyncSession, user: User) -> None:
    """Attribute the transaction's audited writes to `user` (a refresh, or the activity
    write of authentication, happens before anyone else fills in the audit context)."""
    ctx = current_context()
    if ctx is not None:
        ctx.user_id, ctx.user_role = user.id, user.role
        await apply_audit_context(session, ctx)


async def new_password_fields(
    user: User, new_password: str, *, settings: Settings, field: str
) -> dict[str, object]:
    """The columns a new password sets (hash, history, time), after the policy and the last
    PASSWORD_HISTORY passwords are checked (WeakPassword on `field` otherwise): the user's own
    change and an administrator's reset (polis.iam.admin) both use it."""
    check_password(
        new_password, username=user.username, email=user.email, settings=settings, field=field
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
        raise WeakPassword([reused], field)
    new_hash = await passwords.hash_password_async(new_password)
    return {
        "password_hash": new_hash,
        "password_history": [new_hash, *history][:PASSWORD_HISTORY],
        "password_changed_at": utcnow(),
    }


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
        member_number: str | None = None,
        customer_id: uuid.UUID | None = None,
    ) -> User:
        """Create an ACTIVE user with an argon2id password hash.

        `must_change_password` defaults to True for staff roles (every role but CUSTOMER and
        MEMBER): the password was chosen by whoever created the account. `member_number`
        (MEMBER) or `customer_id` (CUSTOMER) links the login to its person for self-service
        (polis.iam.self_service.link_login: 404 unknown, 409 already linked).
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
        user = await repo.add(user)
        if member_number is not None or customer_id is not None:
            from polis.iam.self_service import link_login  # imports polis.iam.auth

            await link_login(session, user, member_number=member_number, customer_id=customer_id)
        return user


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
        limiter = LoginRateLimiter.from_settings(session, settings)
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
        fields = await new_password_fields(
            user, new_password, settings=settings, field="body.new_password"
        )
        await repo.set_fields(
            user,
            **fields,
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
    ) -> IssuedSession:
        """Open a session (a new token family) and record the login on the user.

        Returns the access and refresh tokens, shown once, and the stored row, which holds
        only their hashes. The access token works for ACCESS_TOKEN_MINUTES, the refresh token
        until the session's absolute end (SESSION_TIMEOUT_HOURS after now).
        """
        settings = settings or get_settings()
        access, refresh = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        now, ip = utcnow(), client_ip(ip_address)
        user_agent = user_agent[:MAX_USER_AGENT] if user_agent else None
        expires_at = now + timedelta(hours=settings.session_timeout_hours)
        repo = SessionRepository.from_session(session)
        user_session = await repo.add(
            UserSession(
                user_id=user.id,
                session_id=hash_token(access),
                refresh_token_hash=hash_token(refresh),
                ip_address=ip,
                user_agent=user_agent,
                device_info=parse_user_agent(user_agent),
                login_method=login_method,
                created_at=now,
                last_activity_at=now,
                expires_at=expires_at,
                access_expires_at=_access_expiry(now, expires_at, settings),
            )
        )
        await repo.add_refresh_token(
            RefreshToken(
                token_hash=hash_token(refresh),
                user_session_id=user_session.id,
                issued_at=now,
                expires_at=expires_at,
            )
        )
        await UserRepository.from_session(session).set_fields(
            user,
            current_session_id=str(user_session.id),
            last_login_at=now,
            last_login_ip=ip,
            failed_login_attempts=0,
            locked_until=None,
        )
        return IssuedSession(access, refresh, user_session)

    async def load_session(
        self, session: AsyncSession, token: str, *, settings: Settings | None = None
    ) -> tuple[UserSession, User] | None:
        """The live session of an access token and its user; None when the token is unknown,
        replaced by a refresh or past ACCESS_TOKEN_MINUTES, or the session ended, reached its
        absolute end or was idle SESSION_IDLE_MINUTES.

        Records the activity (last_activity_at) at most once per ACTIVITY_RESOLUTION per
        session, not on every request. Within a request, the lookup statement also sets the
        transaction's audit context (`app.*`) to that request and the session's user, and
        the request context learns the user: the caller need not `apply_audit_context`.
        """
        if not token or len(token) > 512:
            return None
        settings = settings or get_settings()
        now = utcnow()
        repo = SessionRepository.from_session(session)
        idle = timedelta(minutes=settings.session_idle_minutes)
        ctx = current_context()
        # The lookup also sets the transaction's audit context to this request and user.
        found = await repo.get_live(hash_token(token), now, idle_since=now - idle, audit=ctx)
        if found is None:
            return None
        user_session, user = found
        if ctx is not None:
            ctx.user_id, ctx.user_role = user.id, user.role
        last = user_session.last_activity_at
        if last is None or last < now - ACTIVITY_RESOLUTION:
            await repo.touch(user_session, now=now, before=now - ACTIVITY_RESOLUTION)
        return user_session, user

    async def revoke_session(
        self, session: AsyncSession, user_session: UserSession, *, reason: str = "LOGOUT"
    ) -> bool:
        """End a session now (its access and refresh tokens stop working); whether it was
        still active."""
        return await SessionRepository.from_session(session).terminate(
            user_session.id, at=utcnow(), reason=reason
        )

    async def refresh_session(
        self, session: AsyncSession, refresh_token: str, *, settings: Settings | None = None
    ) -> tuple[IssuedSession, User]:
        """Exchange a refresh token for a new access token and a new refresh token.

        The refresh token's row and its session's are locked first, so refreshes of one
        session take turns. A token already spent means someone kept a copy: the session
        ends (REFRESH_TOKEN_REUSE), taking every token of the family with it. A session past
        its absolute end or idle too long ends too (EXPIRED, IDLE_TIMEOUT). Each of these,
        and an unknown token, raises InvalidRefreshToken after flushing: the caller commits
        before answering. On success the previous access token stops working at once, and
        the new one never outlives the session's expires_at.
        """
        settings = settings or get_settings()
        # Guessing refresh tokens counts against the client address like failed logins
        # (LOGIN_RATE_LIMIT per LOGIN_RATE_WINDOW_SECONDS): a full window is a 429 before
        # any lookup, and a token nobody issued is counted. A spent, ended or expired token
        # is a real one (an old cookie, a second tab) and is not counted.
        ctx = current_context()
        ip = client_ip(ctx.ip_address if ctx else None)
        limiter = LoginRateLimiter.from_settings(session, settings)
        await limiter.check(ip)
        repo = SessionRepository.from_session(session)
        found = (
            await repo.lock_refresh_token(hash_token(refresh_token))
            if refresh_token and len(refresh_token) <= 512
            else None
        )
        if found is None:
            await limiter.record_failure(ip)
            raise InvalidRefreshToken()
        token, user_session = found
        now = utcnow()
        user = await UserRepository.from_session(session).get(user_session.user_id)
        if user is not None:
            await _attribute_to(session, user)
        if token.used_at is not None:
            if await repo.terminate(user_session.id, at=now, reason="REFRESH_TOKEN_REUSE"):
                logger.warning(
                    "refresh_token_reused",
                    user_session_id=str(user_session.id),
                    user_id=str(user_session.user_id),
                )
            raise InvalidRefreshToken()
        if not user_session.is_active:
            raise InvalidRefreshToken()
        if user_session.expires_at <= now:
            await repo.terminate(user_session.id, at=user_session.expires_at, reason="EXPIRED")
            raise InvalidRefreshToken()
        idle = timedelta(minutes=settings.session_idle_minutes)
        last = user_session.last_activity_at or user_session.created_at or now
        if last <= now - idle:
            await repo.terminate(user_session.id, at=last + idle, reason="IDLE_TIMEOUT")
            raise InvalidRefreshToken()
        if user is None or user.account_status != "ACTIVE":
            raise InvalidRefreshToken()
        access, refresh = secrets.token_urlsafe(TOKEN_BYTES), secrets.token_urlsafe(TOKEN_BYTES)
        await repo.spend_refresh_token(token, at=now, replaced_by=hash_token(refresh))
        await repo.add_refresh_token(
            RefreshToken(
                token_hash=hash_token(refresh),
                user_session_id=user_session.id,
                issued_at=now,
                expires_at=user_session.expires_at,
            )
        )
        await repo.rotate(
            user_session,
            session_id=hash_token(access),
            refresh_token_hash=hash_token(refresh),
            access_expires_at=_access_expiry(now, user_session.expires_at, settings),
            last_activity_at=now,
        )
        return IssuedSession(access, refresh, user_session), user

    async def end_sessions(
        self, session: AsyncSession, user_id: uuid.UUID, *, keep: UserSession | None, reason: str
    ) -> int:
        """End every active session of a user but `keep` (all with None); how many."""
        return await SessionRepository.from_session(session).terminate_others(
            user_id, keep=keep.id if keep is not None else None, at=utcnow(), reason=reason
        )


user = UserService()
auth = AuthService()
