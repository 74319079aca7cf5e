"""Auth (login, logout, me) and user administration routes."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status

from polis.config import Settings
from polis.db.session import DBSession
from polis.iam import schemas
from polis.iam.auth import PUBLIC, AuthenticatedPending, UsersRead, UsersWrite
from polis.iam.models import User
from polis.iam.repository import UserRepository
from polis.iam.service import InvalidCredentials, WrongCurrentPassword
from polis.iam.service import auth as auth_service
from polis.iam.service import user as user_service
from polis.platform.context import apply_audit_context, current_context
from polis.platform.errors import NotFound, error_response
from polis.platform.idempotency import IdempotencyKey
from polis.platform.pagination import Keyset, Page, PageQuery, paginate
from polis.platform.preconditions import etag
from polis.platform.schemas import Problem

router = APIRouter()

_PROBLEM: dict[str, Any] = {"model": Problem}


@router.post(
    "/auth/login",
    tags=["auth"],
    response_model=schemas.Token | schemas.LoginChallenge,
    responses={401: _PROBLEM, 429: _PROBLEM},
    openapi_extra={"x-permission": PUBLIC},
)
async def login(
    body: schemas.LoginRequest, request: Request, session: DBSession
) -> schemas.Token | schemas.LoginChallenge | Response:
    """Exchange a username and password for a bearer token, or for a two-factor challenge.

    Unknown user, wrong password, locked or inactive account: one 401 `invalid-credentials`.
    MAX_LOGIN_ATTEMPTS failures lock the account for LOCKOUT_MINUTES; LOGIN_RATE_LIMIT
    failures per client address per LOGIN_RATE_WINDOW_SECONDS answer 429 with Retry-After.

    With TOTP enabled the answer is a LoginChallenge (`two_factor_required: true`): send its
    `challenge_token` and a code to POST /auth/login/2fa. ADMIN, SUPER_ADMIN, UNDERWRITER and
    ADJUSTER without TOTP get a token with `two_factor_enrolment_required: true`: only the
    enrolment routes, /auth/me, /auth/logout and /auth/password answer until they enrol.
    """
    settings: Settings = request.app.state.settings
    ctx = current_context()
    await apply_audit_context(session, ctx)
    try:
        user = await auth_service.authenticate(
            session,
            username=body.username,
            password=body.password,
            ip_address=ctx.ip_address if ctx else None,
            settings=settings,
        )
    except InvalidCredentials as exc:
        # Returned, not raised: the transaction commits the failed-attempt counter.
        return error_response(request, exc)
    return await two_factor_endpoints.sign_in(session, user, settings=settings)


async def issue_token(
    session: DBSession, user: User, *, settings: Settings, login_method: str = "PASSWORD"
) -> schemas.Token:
    """Open a session for a user whose sign-in is complete (password, and a second factor
    where one applies) and answer its token: the one place every sign-in route ends."""
    ctx = current_context()
    if ctx is not None:
        ctx.user_id, ctx.user_role = user.id, user.role
        await apply_audit_context(session, ctx)
    issued = await auth_service.create_session(
        session,
        user,
        ip_address=ctx.ip_address if ctx else None,
        user_agent=ctx.user_agent if ctx else None,
        login_method=login_method,
        settings=settings,
    )
    return schemas.Token.issued(issued, user)


@router.post(
    "/auth/password",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={401: _PROBLEM, 422: _PROBLEM},
)
async def change_password(
    body: schemas.PasswordChange,
    principal: AuthenticatedPending,
    request: Request,
    session: DBSession,
) -> Response:
    """Change your own password: the current one, and a new one that meets the policy and
    is none of your last 5. Your other sessions end; this one stays signed in.

    A wrong current password is a 422 `invalid-current-password` and counts as a failed
    login (MAX_LOGIN_ATTEMPTS lock the account); a refused new password is a 422
    `weak-password` naming each broken rule in `errors`.
    """
    try:
        await auth_service.change_password(
            session,
            principal.user,
            current_password=body.current_password,
            new_password=body.new_password,
            keep_session=principal.session,
            settings=request.app.state.settings,
        )
    except WrongCurrentPassword as exc:
        # Returned, not raised: the transaction commits the failed-attempt counter.
        return error_response(request, exc)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/logout", tags=["auth"], status_code=status.HTTP_204_NO_CONTENT)
async def logout(principal: AuthenticatedPending, session: DBSession) -> Response:
    """End the current session; its token stops working at once."""
    await auth_service.revoke_session(session, principal.session, reason="LOGOUT")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/auth/me", tags=["auth"], response_model=schemas.Me)
async def me(principal: AuthenticatedPending) -> schemas.Me:
    """The signed-in user, their permissions and when the session expires."""
    user = schemas.User.model_validate(principal.user)
    return schemas.Me(
        **user.model_dump(),
        permissions=sorted(principal.permissions),
        session_expires_at=principal.session.expires_at,
        password_change_required=principal.user.must_change_password,
    )


@router.post(
    "/iam/users",
    tags=["iam"],
    status_code=status.HTTP_201_CREATED,
    response_model=schemas.User,
    responses={403: _PROBLEM, 404: _PROBLEM, 409: _PROBLEM, 422: _PROBLEM},
)
async def create_user(
    body: schemas.UserCreate,
    principal: UsersWrite,
    request: Request,
    session: DBSession,
    idem: IdempotencyKey,
) -> Response:
    """Create a user account (send an Idempotency-Key to make retries safe).

    A MEMBER login may be linked to its health member (`member_number`), a CUSTOMER login to
    its motor customer (`customer_id`) for self-service under /me: 404 when the person does
    not exist, 409 `person-already-linked` when they already have a login, 422
    `invalid-link` for another role."""
    user = await user_service.create_user(
        session,
        **body.model_dump(),
        created_by=principal.user,
        settings=request.app.state.settings,
    )
    return await idem.respond(session, schemas.User.model_validate(user), status_code=201)


_KEYSETS = {
    "created_at": Keyset("users.created_at", User.created_at, User.id),
    "username": Keyset("users.username", User.username, User.id),
}


@router.get("/iam/users", tags=["iam"], response_model=Page[schemas.User])
async def list_users(
    principal: UsersRead,
    session: DBSession,
    page: PageQuery,
    sort: Annotated[Literal["created_at", "username"], Query()] = "created_at",
) -> Page[schemas.User]:
    """List users, oldest first (or by username), one cursor page at a time."""
    items, next_cursor = await paginate(
        session, UserRepository.from_session(session).statement(), _KEYSETS[sort], page
    )
    return Page[schemas.User](
        items=[schemas.User.model_validate(u) for u in items], next_cursor=next_cursor
    )


async def _user_or_404(user_id: schemas.UserID, principal: UsersRead, session: DBSession) -> User:
    user = await UserRepository.from_session(session).get(user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


TargetUser = Annotated[User, Depends(_user_or_404)]


@router.get(
    "/iam/users/{user_id}",
    tags=["iam"],
    response_model=schemas.User,
    responses={404: _PROBLEM},
)
async def get_user(user: TargetUser, response: Response) -> schemas.User:
    """One user account; its ETag is its version (If-Match of PATCH /iam/users/{id})."""
    response.headers["ETag"] = etag(user.version)
    return schemas.User.model_validate(user)


# Sessions, two factors and self-service routes live in their own modules (issue 6);
# imported last because they use issue_token and the schemas above.
from polis.iam import (  # noqa: E402
    self_service_endpoints,
    session_endpoints,
    two_factor_endpoints,
    user_admin_endpoints,
)

router.include_router(session_endpoints.router)
router.include_router(two_factor_endpoints.router)
router.include_router(self_service_endpoints.router)
router.include_router(user_admin_endpoints.router)
