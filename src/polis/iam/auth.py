"""Authentication and authorisation dependencies (polar's `auth.py` style).

    UsersWrite = Annotated[Principal, Depends(require("iam.users:write"))]

    @router.post("/iam/users")
    async def create_user(auth: UsersWrite, ...) -> ...

`authenticate` reads the bearer token (401 problem when missing, unknown or expired), fills
the request context and the transaction's audit context; `require(...)` adds the permission
check (403 problem). `record_permissions(app)` writes each route's permission into the
OpenAPI document as `x-permission` ("authenticated" when any signed-in user may call it,
"public" only where a route says so itself).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import structlog
from fastapi import Depends, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.routing import BaseRoute

from polis.db.session import DBSession
from polis.iam.models import User, UserSession
from polis.iam.permissions import check_known, permissions_for
from polis.iam.service import auth as auth_service
from polis.iam.two_factor import enrolment_pending
from polis.platform.errors import Forbidden, Unauthorized

PUBLIC = "public"
AUTHENTICATED = "authenticated"

bearer = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="Session token from POST /api/v1/auth/login: `Authorization: Bearer <token>`",
)


@dataclass
class Principal:
    """The signed-in user of a request, their session and their permissions."""

    user: User
    session: UserSession
    permissions: frozenset[str]

    @property
    def user_id(self) -> uuid.UUID:
        """The user's id."""
        return self.user.id

    @property
    def role(self) -> str:
        """The user's role."""
        return self.user.role

    def can(self, permission: str) -> bool:
        """Whether the user holds the permission."""
        return permission in self.permissions


class PasswordChangeRequired(Forbidden):
    """403: the session's user must change their password before anything else."""

    type_ = "password-change-required"
    title = "Password Change Required"

    def __init__(self) -> None:
        super().__init__(
            "Change your password first: POST /api/v1/auth/password with the current and a"
            " new password."
        )


class TwoFactorEnrolmentRequired(Forbidden):
    """403: the user's role requires a second factor and this session has none yet
    (decision 0063)."""

    type_ = "two-factor-enrolment-required"
    title = "Two-Factor Enrolment Required"

    def __init__(self) -> None:
        super().__init__(
            "Your role requires two-factor authentication: enrol an authenticator with POST"
            " /api/v1/auth/2fa/totp and confirm it with POST /api/v1/auth/2fa/totp/confirm"
            " (a session opened without a second factor stays restricted: sign in again)."
        )


async def _principal(
    session: DBSession, credentials: HTTPAuthorizationCredentials | None
) -> Principal:
    if credentials is None:
        raise Unauthorized("A bearer token is required.")
    found = await auth_service.load_session(session, credentials.credentials)
    if found is None:
        raise Unauthorized("The token is invalid or has expired.", type_="invalid-token")
    user_session, user = found  # the audit context is set (load_session)
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    return Principal(user=user, session=user_session, permissions=permissions_for(user.role))


async def authenticate(
    session: DBSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The principal of the bearer token; 401 without a live session, 403
    `password-change-required` while the user must change their password (the one place
    that rule is enforced: every route but those of `authenticate_pending` depends on this)."""
    principal = await _principal(session, credentials)
    if principal.user.must_change_password:
        raise PasswordChangeRequired()
    if enrolment_pending(principal.user, principal.session):
        raise TwoFactorEnrolmentRequired()
    return principal


async def authenticate_pending(
    session: DBSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """Like `authenticate`, but also for a user who must change their password: only the
    password change, logout and me routes use it."""
    return await _principal(session, credentials)


class Authorizer:
    """A dependency: the principal, when it holds at least one of `permissions`."""

    def __init__(self, *permissions: str) -> None:
        if not permissions:
            raise ValueError("require() needs at least one permission")
        self.permissions = tuple(check_known(p) for p in permissions)

    async def __call__(self, principal: Annotated[Principal, Depends(authenticate)]) -> Principal:
        """Check the permission after authentication."""
        if not any(principal.can(p) for p in self.permissions):
            needed = " or ".join(self.permissions)
            raise Forbidden(f"This action needs the permission {needed}.")
        return principal

    def __repr__(self) -> str:
        return f"require({', '.join(map(repr, self.permissions))})"


def require(*permissions: str) -> Authorizer:
    """A dependency requiring any one of the permissions (all must exist in the table)."""
    return Authorizer(*permissions)


Authenticated = Annotated[Principal, Depends(authenticate)]
AuthenticatedPending = Annotated[Principal, Depends(authenticate_pending)]
UsersRead = Annotated[Principal, Depends(require("iam.users:read"))]
UsersWrite = Annotated[Principal, Depends(require("iam.users:write"))]


def _route_permissions(dependant: Dependant) -> tuple[list[str], bool]:
    """(permissions required anywhere in the dependency tree, whether it authenticates)."""
    found: list[str] = []
    authenticates = dependant.call in (authenticate, authenticate_pending)
    if isinstance(dependant.call, Authorizer):
        found.append(" | ".join(dependant.call.permissions))
    for sub in dependant.dependencies:
        perms, auth = _route_permissions(sub)
        found.extend(p for p in perms if p not in found)
        authenticates = authenticates or auth
    return found, authenticates


def route_permission(route: APIRoute) -> str | None:
    """What a route declares: its permission(s), 'authenticated', 'public', or None."""
    perms, authenticates = _route_permissions(route.dependant)
    if perms:
        return ", ".join(perms)
    if authenticates:
        return AUTHENTICATED
    extra: dict[str, Any] = route.openapi_extra or {}
    value = extra.get("x-permission")
    return str(value) if value else None


def api_routes(routes: Sequence[BaseRoute]) -> Iterator[APIRoute]:
    """Every APIRoute, including those of included routers (FastAPI may keep an included
    router as one lazy route that points at the original router)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (inner := getattr(route, "original_router", None)) is not None:
            yield from api_routes(inner.routes)


def record_permissions(app: FastAPI) -> None:
    """Put each route's permission into the OpenAPI document as `x-permission`.

    Call it after the routers are included and before the app serves or builds its OpenAPI
    document: routes of included routers are copied from the originals on first use.
    """
    for route in api_routes(app.routes):
        permission = route_permission(route)
        if permission is not None:
            route.openapi_extra = {**(route.openapi_extra or {}), "x-permission": permission}
