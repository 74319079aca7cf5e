"""User administration: change an account, unlock it, set a new password, reset its second
factor (issue 6's `iam.users:write`, decision 0070).

Rules every action keeps:
- ADMIN and SUPER_ADMIN accounts are managed by a SUPER_ADMIN only, and only a SUPER_ADMIN
  gives those roles (as only one may create them).
- Nobody changes their own role or status (no locking oneself out, no promoting oneself);
  one's own password and second factor go through /auth/password and /auth/2fa.
- An action that takes access away (status other than ACTIVE, a new role, a password set by
  an administrator, a second factor reset) ends every session of the account at once
  (REVOKED_BY_ADMIN): its tokens stop working.
- The row is locked for the change; with `expected_version` (If-Match) a stale version is a
  409 and nothing changes. Every change bumps `version` and is written to the audit trail by
  the iam.users trigger (credentials redacted, migration 0024).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from polis.config import Settings, get_settings
from polis.iam.models import RecoveryCode, User
from polis.iam.permissions import Role
from polis.iam.repository import SessionRepository, UserRepository
from polis.iam.service import _PRIVILEGED, new_password_fields, utcnow
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, NotFound

# Statuses an administrator may set (LOCKED comes from failed sign-ins; TERMINATED from
# anonymisation).
SETTABLE_STATUSES = ("ACTIVE", "INACTIVE", "SUSPENDED")
# Fields PATCH may change.
CHANGEABLE = (
    "email",
    "first_name",
    "last_name",
    "phone_number",
    "employee_id",
    "department",
    "preferred_language",
    "role",
    "account_status",
)


class StaleUser(Conflict):
    """409: the account changed since the caller read it (If-Match)."""

    type_ = "stale-version"
    title = "Stale Version"


class UserAdminService:
    """Administrators' actions on other users' accounts."""

    async def _locked(self, session: AsyncSession, user_id: uuid.UUID) -> User:
        user = await UserRepository.from_session(session).lock(user_id)
        if user is None:
            raise NotFound(f"User {user_id} does not exist.", type_="user-not-found")
        return user

    async def _target(
        self,
        session: AsyncSession,
        actor: User,
        user_id: uuid.UUID,
        expected_version: int | None = None,
    ) -> User:
        user = await self._locked(session, user_id)
        if user.role in _PRIVILEGED and actor.role != Role.SUPER_ADMIN and user.id != actor.id:
            raise Forbidden(f"Only a SUPER_ADMIN may manage {user.role} users.")
        if expected_version is not None and (user.version or 0) != expected_version:
            raise StaleUser(
                f"User {user_id} is at version {user.version or 0}, not {expected_version}:"
                " read it again.",
                extra={"version": user.version or 0},
            )
        return user

    async def _someone_else(
        self, session: AsyncSession, actor: User | None, user_id: uuid.UUID, own: str
    ) -> User:
        """The locked account an administrator acts on (never their own: `own` says where
        that is done), or for an operator at the command line (`actor` None) any account."""
        if actor is None:
            return await self._locked(session, user_id)
        if user_id == actor.id:
            raise Forbidden(own, type_="own-account-refused")
        return await self._target(session, actor, user_id)

    async def _end_sessions(self, session: AsyncSession, user: User) -> int:
        return await SessionRepository.from_session(session).terminate_others(
            user.id, keep=None, at=utcnow(), reason="REVOKED_BY_ADMIN"
        )

    async def update(
        self,
        session: AsyncSession,
        actor: User,
        user_id: uuid.UUID,
        changes: dict[str, Any],
        *,
        expected_version: int | None = None,
    ) -> User:
        """Change the account's fields in `changes` (CHANGEABLE only). A new role or a status
        other than ACTIVE ends its sessions; ACTIVE again also clears a lockout."""
        unknown = sorted(set(changes) - set(CHANGEABLE))
        if unknown:
            raise BusinessRuleError(f"These fields cannot be changed: {', '.join(unknown)}.")
        user = await self._target(session, actor, user_id, expected_version)
        values = {k: v for k, v in changes.items() if getattr(user, k) != v}
        if not values:
            return user
        if user.id == actor.id and ({"role", "account_status"} & set(values)):
            raise Forbidden(
                "You cannot change your own role or status.", type_="own-account-refused"
            )
        if "role" in values:
            values["role"] = Role(values["role"]).value
            if values["role"] in _PRIVILEGED and actor.role != Role.SUPER_ADMIN:
                raise Forbidden(f"Only a SUPER_ADMIN may give the role {values['role']}.")
        status = values.get("account_status")
        if status is not None and status not in SETTABLE_STATUSES:
            raise BusinessRuleError(
                f"account_status must be one of {', '.join(SETTABLE_STATUSES)}.",
                type_="invalid-status",
            )
        if "email" in values:
            taken = await UserRepository.from_session(session).taken(
                username="\x00", email=values["email"]
            )
            if taken:
                raise Conflict("The email is already taken.", type_="user-exists")
        if status == "ACTIVE":
            values.update(failed_login_attempts=0, locked_until=None)
        await UserRepository.from_session(session).set_fields(
            user, **values, version=(user.version or 0) + 1, updated_by=actor.id
        )
        if "role" in values or (status is not None and status != "ACTIVE"):
            await self._end_sessions(session, user)
        return user

    async def unlock(self, session: AsyncSession, actor: User | None, user_id: uuid.UUID) -> User:
        """Lift a lockout from failed sign-ins (the counter back to 0); `actor` None: an
        operator at the command line."""
        if actor is None:
            user = await self._locked(session, user_id)
        else:
            user = await self._target(session, actor, user_id)
        await UserRepository.from_session(session).set_fields(
            user,
            failed_login_attempts=0,
            locked_until=None,
            account_status="ACTIVE" if user.account_status == "LOCKED" else user.account_status,
            version=(user.version or 0) + 1,
            updated_by=actor.id if actor else None,
        )
        return user

    async def set_password(
        self,
        session: AsyncSession,
        actor: User | None,
        user_id: uuid.UUID,
        new_password: str,
        *,
        settings: Settings | None = None,
        field: str = "body.new_password",
    ) -> User:
        """A password chosen by an administrator (or an operator, `actor` None): the policy
        and the history apply, the user must change it at the next sign-in, the lockout is
        lifted and every session ends."""
        settings = settings or get_settings()
        user = await self._someone_else(
            session, actor, user_id, "Change your own password with POST /auth/password."
        )
        fields = await new_password_fields(user, new_password, settings=settings, field=field)
        await UserRepository.from_session(session).set_fields(
            user,
            **fields,
            must_change_password=True,
            failed_login_attempts=0,
            locked_until=None,
            version=(user.version or 0) + 1,
            updated_by=actor.id if actor else None,
        )
        await self._end_sessions(session, user)
        return user

    async def reset_two_factor(
        self, session: AsyncSession, actor: User | None, user_id: uuid.UUID
    ) -> User:
        """Turn the account's second factor off (a lost phone and lost recovery codes): the
        secret and the recovery codes are deleted and every session ends. A role that
        requires a second factor must set up a new one at its next sign-in."""
        user = await self._someone_else(
            session, actor, user_id, "Manage your own second factor under /auth/2fa."
        )
        await UserRepository.from_session(session).set_fields(
            user,
            two_factor_enabled=False,
            two_factor_secret=None,
            version=(user.version or 0) + 1,
            updated_by=actor.id if actor else None,
        )
        await session.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
        await self._end_sessions(session, user)
        return user


user_admin = UserAdminService()
