"""User administration routes (`iam.users:write`, decision 0070): change an account, unlock
it, set a password, reset its second factor. The rules are polis.iam.admin's."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from polis.db.session import DBSession
from polis.iam import schemas
from polis.iam.admin import user_admin
from polis.iam.auth import UsersWrite
from polis.platform.preconditions import IfMatch, etag, if_match_version
from polis.platform.schemas import Problem, ValidationProblem

router = APIRouter(tags=["iam"])

_PROBLEM: dict[str, Any] = {"model": Problem}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: _PROBLEM,
    403: _PROBLEM,
    404: _PROBLEM,
    409: _PROBLEM,
    422: {"model": ValidationProblem},
}


def _answer(user: Any, response: Response) -> schemas.User:
    response.headers["ETag"] = etag(user.version)
    return schemas.User.model_validate(user)


@router.patch("/iam/users/{user_id}", response_model=schemas.User, responses=_REFUSALS)
async def update_user(
    user_id: schemas.UserID,
    body: schemas.UserUpdate,
    principal: UsersWrite,
    session: DBSession,
    response: Response,
    if_match: IfMatch = None,
) -> schemas.User:
    """Change an account's fields (only those sent). ADMIN and SUPER_ADMIN accounts, and
    giving those roles, are a SUPER_ADMIN's; nobody changes their own role or status (403
    `own-account-refused`). A new role or a status INACTIVE / SUSPENDED ends every session of
    the account; ACTIVE also lifts a lockout. Send the ETag as If-Match to refuse a stale
    change (409 `stale-version`)."""
    user = await user_admin.update(
        session,
        principal.user,
        user_id,
        body.model_dump(exclude_unset=True),
        expected_version=if_match_version(if_match, required=False, what="the user"),
    )
    return _answer(user, response)


@router.post("/iam/users/{user_id}/unlock", response_model=schemas.User, responses=_REFUSALS)
async def unlock_user(
    user_id: schemas.UserID, principal: UsersWrite, session: DBSession, response: Response
) -> schemas.User:
    """Lift a lockout from failed sign-ins now (the counter back to 0)."""
    return _answer(await user_admin.unlock(session, principal.user, user_id), response)


@router.post("/iam/users/{user_id}/password", response_model=schemas.User, responses=_REFUSALS)
async def set_user_password(
    user_id: schemas.UserID,
    body: schemas.PasswordSet,
    principal: UsersWrite,
    session: DBSession,
    request: Request,
    response: Response,
) -> schemas.User:
    """Set a password for someone who lost theirs: the password policy and the last five
    passwords apply (422 field by field), the user must change it at their next sign-in, a
    lockout is lifted and every session of the account ends. Your own: POST /auth/password."""
    user = await user_admin.set_password(
        session, principal.user, user_id, body.new_password, settings=request.app.state.settings
    )
    return _answer(user, response)


@router.post(
    "/iam/users/{user_id}/two-factor/reset", response_model=schemas.User, responses=_REFUSALS
)
async def reset_user_two_factor(
    user_id: schemas.UserID, principal: UsersWrite, session: DBSession, response: Response
) -> schemas.User:
    """Turn off the second factor of someone who lost their phone and recovery codes: the
    secret and codes are deleted and every session ends; a role that requires a second
    factor sets up a new one at its next sign-in (the sign-in answers an enrolment-only
    token). Check who is asking before you do this."""
    return _answer(await user_admin.reset_two_factor(session, principal.user, user_id), response)
