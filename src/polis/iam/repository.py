"""All SQL of the iam package: users and sessions."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import User, UserSession


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

    async def terminate(self, session_id: uuid.UUID, *, at: datetime, reason: str) -> None:
        """Mark one session inactive."""
        await self.session.execute(
            update(UserSession)
            .where(UserSession.id == session_id, UserSession.is_active.is_(True))
            .values(is_active=False, terminated_at=at, termination_reason=reason)
        )
