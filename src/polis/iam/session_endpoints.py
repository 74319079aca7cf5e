"""Sessions: refresh tokens, and listing and ending one's own or (administrators) anyone's
sessions (issue 6 item 4, decision 0062)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request, Response, status

from polis.config import Settings
from polis.db.session import DBSession
from polis.iam import schemas
from polis.iam.auth import PUBLIC, Authenticated, Principal, require
from polis.iam.models import User, UserSession
from polis.iam.permissions import Role
from polis.iam.repository import SessionRepository, UserRepository
from polis.iam.service import InvalidRefreshToken
from polis.iam.service import auth as auth_service
from polis.platform.errors import Forbidden, NotFound, error_response
from polis.platform.schemas import Problem

router = APIRouter()

_PROBLEM: dict[str, Any] = {"model": Problem}

SessionsRead = Annotated[Principal, Depends(require("iam.sessions:read"))]
SessionsRevoke = Annotated[Principal, Depends(require("iam.sessions:revoke"))]
SessionID = Annotated[uuid.UUID, Path(description="The session's id (from a sessions list)")]
Ended = Annotated[
    int,
    Query(ge=0, le=200, description="How many ended sessions to list after the active ones"),
]


def _info(user_session: UserSession, current: UserSession | None = None) -> schemas.SessionInfo:
    device = user_session.device_info
    return schemas.SessionInfo(
        id=user_session.id,
        created_at=user_session.created_at,
        last_activity_at=user_session.last_activity_at,
        expires_at=user_session.expires_at,
        ip_address=str(user_session.ip_address) if user_session.ip_address else None,
        user_agent=user_session.user_agent,
        device_info=schemas.DeviceInfo.model_validate(device) if device else None,
        login_method=user_session.login_method,
        is_active=bool(user_session.is_active),
        terminated_at=user_session.terminated_at,
        termination_reason=user_session.termination_reason,
        current=current is not None and user_session.id == current.id,
    )


async def _list(
    session: DBSession, user_id: uuid.UUID, ended: int, current: UserSession | None
) -> schemas.SessionList:
    rows = await SessionRepository.from_session(session).list_for_user(user_id, ended=ended)
    items = [_info(s, current) for s in rows]
    items.sort(key=lambda item: not item.current)  # stable: the caller's own session first
    return schemas.SessionList(items=items)


# --- refresh --------------------------------------------------------------------------------


@router.post(
    "/auth/refresh",
    tags=["auth"],
    response_model=schemas.Token,
    responses={401: _PROBLEM, 429: _PROBLEM},
    openapi_extra={"x-permission": PUBLIC},
)
async def refresh(
    body: schemas.RefreshRequest, request: Request, session: DBSession
) -> schemas.Token | Response:
    """Exchange a refresh token for a new access token and a new refresh token.

    The previous access token stops working at once and the refresh token is spent. Each
    refresh token works once: presenting a spent one again ends the whole session (every
    token of that sign-in; termination_reason REFRESH_TOKEN_REUSE), since someone else may
    hold a copy. Unknown, spent, ended, idle (SESSION_IDLE_MINUTES) or expired
    (SESSION_TIMEOUT_HOURS after sign-in, which no refresh extends): 401 `invalid-token`.
    An unknown token counts against the client address like a failed login: past
    LOGIN_RATE_LIMIT in the window, 429 `too-many-login-attempts` with Retry-After.
    """
    settings: Settings = request.app.state.settings
    try:
        issued, user = await auth_service.refresh_session(
            session, body.refresh_token, settings=settings
        )
    except InvalidRefreshToken as exc:
        # Returned, not raised: the transaction commits an ended family or session.
        return error_response(request, exc)
    return schemas.Token.issued(issued, user)


# --- one's own sessions ---------------------------------------------------------------------


@router.get("/auth/sessions", tags=["auth"], response_model=schemas.SessionList)
async def list_my_sessions(
    principal: Authenticated, session: DBSession, ended: Ended = 20
) -> schemas.SessionList:
    """Your sessions: this one first (`current`), your other active ones (newest first),
    then the `ended` most recently ended ones with why they ended."""
    return await _list(session, principal.user_id, ended, principal.session)


@router.delete(
    "/auth/sessions/{session_id}",
    tags=["auth"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={404: _PROBLEM},
)
async def end_my_session(
    session_id: SessionID, principal: Authenticated, session: DBSession
) -> Response:
    """End one of your sessions (this one too, if you name it): its tokens stop working
    (REVOKED_BY_USER). Ending an ended session changes nothing; another user's is a 404."""
    target = await SessionRepository.from_session(session).get_for_user(
        principal.user_id, session_id
    )
    if target is None:
        raise NotFound(f"Session {session_id} does not exist.")
    await auth_service.revoke_session(session, target, reason="REVOKED_BY_USER")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete("/auth/sessions", tags=["auth"], response_model=schemas.SessionsEnded)
async def end_my_sessions(
    principal: Authenticated,
    session: DBSession,
    include_current: Annotated[
        bool, Query(description="End this session too (sign out everywhere)")
    ] = False,
) -> schemas.SessionsEnded:
    """End all your other sessions ("sign out everywhere else"), REVOKED_BY_USER; with
    `include_current=true` this one too."""
    ended = await auth_service.end_sessions(
        session,
        principal.user_id,
        keep=None if include_current else principal.session,
        reason="REVOKED_BY_USER",
    )
    return schemas.SessionsEnded(ended=ended)


# --- anyone's sessions (administrators) -----------------------------------------------------


async def _target_user(user_id: schemas.UserID, session: DBSession) -> User:
    user = await UserRepository.from_session(session).get(user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def _may_end(principal: Principal, user: User) -> None:
    """Only a SUPER_ADMIN ends a SUPER_ADMIN's sessions (as only one may create one)."""
    if user.role == Role.SUPER_ADMIN and principal.role != Role.SUPER_ADMIN:
        raise Forbidden("Only a SUPER_ADMIN may end a SUPER_ADMIN's sessions.")


@router.get(
    "/iam/users/{user_id}/sessions",
    tags=["iam"],
    response_model=schemas.SessionList,
    responses={404: _PROBLEM},
)
async def list_user_sessions(
    user_id: schemas.UserID, principal: SessionsRead, session: DBSession, ended: Ended = 20
) -> schemas.SessionList:
    """A user's sessions, as GET /auth/sessions shows them to the user (`current` marks the
    caller's own session when the user is the caller)."""
    user = await _target_user(user_id, session)
    return await _list(session, user.id, ended, principal.session)


@router.delete(
    "/iam/users/{user_id}/sessions/{session_id}",
    tags=["iam"],
    status_code=status.HTTP_204_NO_CONTENT,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def end_user_session(
    user_id: schemas.UserID,
    session_id: SessionID,
    principal: SessionsRevoke,
    session: DBSession,
) -> Response:
    """End one session of a user (REVOKED_BY_ADMIN); 404 when the user or the session is not
    found or the session is another user's."""
    user = await _target_user(user_id, session)
    _may_end(principal, user)
    target = await SessionRepository.from_session(session).get_for_user(user.id, session_id)
    if target is None:
        raise NotFound(f"Session {session_id} of user {user_id} does not exist.")
    await auth_service.revoke_session(session, target, reason="REVOKED_BY_ADMIN")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.delete(
    "/iam/users/{user_id}/sessions",
    tags=["iam"],
    response_model=schemas.SessionsEnded,
    responses={403: _PROBLEM, 404: _PROBLEM},
)
async def end_user_sessions(
    user_id: schemas.UserID, principal: SessionsRevoke, session: DBSession
) -> schemas.SessionsEnded:
    """End every active session of a user (REVOKED_BY_ADMIN), the caller's own included when
    the user is the caller."""
    user = await _target_user(user_id, session)
    _may_end(principal, user)
    ended = await auth_service.end_sessions(session, user.id, keep=None, reason="REVOKED_BY_ADMIN")
    return schemas.SessionsEnded(ended=ended)
