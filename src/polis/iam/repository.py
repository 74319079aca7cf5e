"""All SQL of the iam package: users and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, Text, bindparam, cast, func, literal, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from polis.iam.models import RefreshToken, User, UserSession
from polis.platform.context import RequestContext, audit_values

# Every right-hand side reads the row as it is when the statement writes it (after waiting
# for a concurrent writer), so counting cannot lose an update.
_NEXT_COUNT = (
    "CASE WHEN locked_until IS NOT NULL AND locked_until <= :now THEN 1"
    " ELSE COALESCE(failed_login_attempts, 0) + 1 END"
)
_RECORD_FAILURE = text(
    f"UPDATE iam.users SET failed_login_attempts = {_NEXT_COUNT},"
    f" locked_until = CASE WHEN {_NEXT_COUNT} >= :max THEN CAST(:until AS timestamptz) END"
    " WHERE id = :id AND (locked_until IS NULL OR locked_until <= :now)"
    " RETURNING failed_login_attempts, locked_until"
)


class UserRepository:
    """Reads and writes iam.users; soft-deleted users are invisible unless asked for."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> UserRepository:
        """A repository bound to the request's session."""
        return cls(session)

    def statement(self, *, include_deleted: bool = False) -> Select[User]:
        """select(User), without soft-deleted rows unless asked."""
        stmt = select(User)
        return stmt if include_deleted else stmt.where(User.deleted_at.is_(None))

    async def get(self, user_id: uuid.UUID, *, include_deleted: bool = False) -> User | None:
        """The user with this id."""
        stmt = self.statement(include_deleted=include_deleted).where(User.id == user_id)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_username(self, username: str) -> User | None:
        """The live user with this username."""
        stmt = self.statement().where(User.username == username)
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def get_by_username_for_update(self, username: str) -> User | None:
        """The live user with this username, its row locked until the transaction ends.

        Logins of one account take turns on this lock, so each sees the failures committed
        before it: parallel guesses cannot get more than MAX_LOGIN_ATTEMPTS verifications.
        """
        stmt = (
            self.statement()
            .where(User.username == username)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def lock(self, user_id: uuid.UUID) -> User | None:
        """The live user with this id, reloaded and row-locked until the transaction ends."""
        stmt = (
            self.statement()
            .where(User.id == user_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def record_failed_login(
        self, user_id: uuid.UUID, *, now: datetime, max_attempts: int, lockout: timedelta
    ) -> tuple[int, datetime | None] | None:
        """Count one failed login in a single statement and lock the account when the count
        reaches `max_attempts`; (count, locked_until), or None when it was already locked.

        An expired lock starts the count again at 1. The WHERE clause is re-checked by
        PostgreSQL after waiting for a concurrent update of the row, so once one statement
        has locked the account the others change nothing.
        """
        row = (
            await self.session.execute(_RECORD_FAILURE, {
                "id": user_id, "now": now, "max": max_attempts, "until": now + lockout,
            })
        ).one_or_none()  # fmt: skip
        if row is None:
            return None
        # The ORM copy of the row is stale now: reload what the statement changed.
        user = await self.session.get(User, user_id)
        if user is not None:
            await self.session.refresh(user, ["failed_login_attempts", "locked_until"])
        return int(row.failed_login_attempts), row.locked_until

    async def taken(self, *, username: str, email: str) -> set[str]:
        """Which of username and email already belong to a user (deleted ones included,
        since the UNIQUE constraints cover them too)."""
        stmt = select(User.username, User.email).where(
            or_(User.username == username, User.email == email)
        )
        taken: set[str] = set()
        for row in (await self.session.execute(stmt)).all():
            if row.username == username:
                taken.add("username")
            if row.email == email:
                taken.add("email")
        return taken

    async def add(self, user: User) -> User:
        """Insert and flush (server defaults are loaded back)."""
        self.session.add(user)
        await self.session.flush()
        await self.session.refresh(user)
        return user

    async def set_fields(self, user: User, **values: Any) -> None:
        """Update columns of one user and flush."""
        for name, value in values.items():
            setattr(user, name, value)
        await self.session.flush()


# Built once: every authenticated request runs one of these (decision 0071).
_LIVE_SESSION = (
    select(UserSession, User)
    .join(User, User.id == UserSession.user_id)
    .where(
        UserSession.session_id == bindparam("token_hash"),
        UserSession.is_active.is_(True),
        or_(
            UserSession.access_expires_at.is_(None),
            UserSession.access_expires_at > bindparam("now"),
        ),
        UserSession.expires_at > bindparam("now"),
        User.deleted_at.is_(None),
        User.account_status == "ACTIVE",
    )
)
_NOT_IDLE = UserSession.last_activity_at > bindparam("idle_since")


def _setting(name: str, value: Any) -> Any:
    return func.set_config(literal(name), value, literal(True))


# The audit context of the request (the `app.*` settings the audit trigger reads), set by
# the lookup itself for the row it finds: one round trip fewer on every authenticated
# request. `set_config` in the select list runs for the found row only.
_AUDIT_COLUMNS = (
    _setting("app.user_id", cast(User.id, Text)),
    _setting("app.user_role", User.role),
    _setting("app.request_id", bindparam("request_id")),
    _setting("app.ip_address", bindparam("ip_address")),
    _setting("app.user_agent", bindparam("user_agent")),
    _setting("app.business_context", bindparam("business_context")),
)
# (audit context set, idle checked) -> statement
_AUDIT_PARAMS = ("request_id", "ip_address", "user_agent", "business_context")
_LIVE_SESSION_STATEMENTS = {
    (False, False): _LIVE_SESSION,
    (False, True): _LIVE_SESSION.where(_NOT_IDLE),
    (True, False): _LIVE_SESSION.add_columns(*_AUDIT_COLUMNS),
    (True, True): _LIVE_SESSION.add_columns(*_AUDIT_COLUMNS).where(_NOT_IDLE),
}


class SessionRepository:
    """Reads and writes iam.user_sessions and iam.refresh_tokens."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    @classmethod
    def from_session(cls, session: AsyncSession) -> SessionRepository:
        """A repository bound to the request's session."""
        return cls(session)

    async def add(self, user_session: UserSession) -> UserSession:
        """Insert and flush."""
        self.session.add(user_session)
        await self.session.flush()
        await self.session.refresh(user_session)
        return user_session

    async def add_refresh_token(self, token: RefreshToken) -> None:
        """Insert one refresh token of a session and flush."""
        self.session.add(token)
        await self.session.flush()

    async def get_live(
        self,
        token_hash: str,
        now: datetime,
        *,
        idle_since: datetime | None = None,
        audit: RequestContext | None = None,
    ) -> tuple[UserSession, User] | None:
        """The active session whose current access token has this hash, when neither the
        token, the session nor (with `idle_since`) its activity has run out; and its live
        ACTIVE user. With `audit`, the same statement sets the transaction's audit context
        to that request and the user found (as `apply_audit_context` would)."""
        params: dict[str, Any] = {"token_hash": token_hash, "now": now}
        if idle_since is not None:
            params["idle_since"] = idle_since
        if audit is not None:
            values = audit_values(audit)
            params.update((k, values[k]) for k in _AUDIT_PARAMS)
        stmt = _LIVE_SESSION_STATEMENTS[(audit is not None, idle_since is not None)]
        row = (await self.session.execute(stmt, params)).one_or_none()
        return (row[0], row[1]) if row else None

    async def touch(self, user_session: UserSession, *, now: datetime, before: datetime) -> bool:
        """Set last_activity_at to `now` when it is older than `before` (at most one write
        per session and interval). A row another transaction holds is skipped, not waited
        for: parallel requests of one session never queue behind each other's write."""
        stale = (
            select(UserSession.id)
            .where(
                UserSession.id == user_session.id,
                or_(UserSession.last_activity_at.is_(None), UserSession.last_activity_at < before),
            )
            .with_for_update(skip_locked=True)
            .scalar_subquery()
        )
        result = await self.session.execute(
            update(UserSession)
            .where(UserSession.id == stale)
            .values(last_activity_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            return False
        set_committed_value(user_session, "last_activity_at", now)
        return True

    async def lock_refresh_token(self, token_hash: str) -> tuple[RefreshToken, UserSession] | None:
        """The refresh token with this hash and its session, both rows locked until the
        transaction ends and read as they are after any concurrent refresh committed: of two
        refreshes with one token, the second sees the first one's used_at."""
        stmt = (
            select(RefreshToken, UserSession)
            .join(UserSession, UserSession.id == RefreshToken.user_session_id)
            .where(RefreshToken.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def spend_refresh_token(
        self, token: RefreshToken, *, at: datetime, replaced_by: str
    ) -> None:
        """Mark a refresh token used, naming its successor."""
        token.used_at, token.replaced_by = at, replaced_by
        await self.session.flush()

    async def rotate(self, user_session: UserSession, **values: Any) -> None:
        """Give a session its new token hashes and times (flushed)."""
        for name, value in values.items():
            setattr(user_session, name, value)
        await self.session.flush()

    async def get_for_user(self, user_id: uuid.UUID, session_id: uuid.UUID) -> UserSession | None:
        """The session with this id, when it belongs to the user (else None: no telling
        whether it exists)."""
        stmt = select(UserSession).where(
            UserSession.id == session_id, UserSession.user_id == user_id
        )
        return (await self.session.execute(stmt)).scalar_one_or_none()

    async def list_for_user(self, user_id: uuid.UUID, *, ended: int) -> list[UserSession]:
        """Every active session of the user, newest first, then the `ended` most recently
        ended ones."""
        active = select(UserSession).where(
            UserSession.user_id == user_id, UserSession.is_active.is_(True)
        )
        rows = list(
            (
                await self.session.execute(
                    active.order_by(UserSession.created_at.desc(), UserSession.id.desc())
                )
            ).scalars()
        )
        if ended > 0:
            stmt = (
                select(UserSession)
                .where(UserSession.user_id == user_id, UserSession.is_active.is_not(True))
                .order_by(
                    UserSession.terminated_at.desc().nulls_last(),
                    UserSession.created_at.desc(),
                    UserSession.id.desc(),
                )
                .limit(ended)
            )
            rows.extend((await self.session.execute(stmt)).scalars())
        return rows

    async def terminate_others(
        self, user_id: uuid.UUID, *, keep: uuid.UUID | None, at: datetime, reason: str
    ) -> int:
        """End every active session of the user but `keep` (all of them when None); how
        many were ended."""
        stmt = update(UserSession).where(
            UserSession.user_id == user_id, UserSession.is_active.is_(True)
        )
        if keep is not None:
            stmt = stmt.where(UserSession.id != keep)
        result = await self.session.execute(
            stmt.values(
                is_active=False, terminated_at=at, termination_reason=reason
            ).execution_options(synchronize_session="fetch")
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def terminate(self, session_id: uuid.UUID, *, at: datetime, reason: str) -> bool:
        """Mark one session inactive; whether it was active."""
        result = await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.is_active.is_(True))
            .values(is_active=False, terminated_at=at, termination_reason=reason)
            .execution_options(synchronize_session="fetch")
        )
        return bool(getattr(result, "rowcount", 0))
