"""All SQL of the iam package: users and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User, UserSession

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


class SessionRepository:
    """Reads and writes iam.user_sessions."""

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

    async def get_live(self, token_hash: str, now: datetime) -> tuple[UserSession, User] | None:
        """The active, unexpired session with this token hash, and its live ACTIVE user."""
        stmt = (
            select(UserSession, User)
            .join(User, User.id == UserSession.user_id)
            .where(
                UserSession.session_id == token_hash,
                UserSession.is_active.is_(True),
                UserSession.expires_at > now,
                User.deleted_at.is_(None),
                User.account_status == "ACTIVE",
            )
        )
        row = (await self.session.execute(stmt)).one_or_none()
        return (row[0], row[1]) if row else None

    async def terminate_others(
        self, user_id: uuid.UUID, *, keep: uuid.UUID, at: datetime, reason: str
    ) -> int:
        """End every active session of the user but `keep`; how many were ended."""
        result = await self.session.execute(
            update(UserSession)
            .where(
                UserSession.user_id == user_id,
                UserSession.id != keep,
                UserSession.is_active.is_(True),
            )
            .values(is_active=False, terminated_at=at, termination_reason=reason)
        )
        return int(getattr(result, "rowcount", 0) or 0)

    async def terminate(self, session_id: uuid.UUID, *, at: datetime, reason: str) -> None:
        """Mark one session inactive."""
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.is_active.is_(True))
            .values(is_active=False, terminated_at=at, termination_reason=reason)
        )
