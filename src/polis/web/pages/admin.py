"""User administration pages (decision 0070): the users list, a new user, and one user's
page with the forms of the administrators' actions (change, unlock, set a password, reset the
second factor) and the user's sessions.

Each page needs the permission of the matching API route (`iam.users:read` / `:write`,
`iam.sessions:read` / `:revoke`) and calls the same services: `user.create_user` (POST
/iam/users), `user_admin` (PATCH /iam/users/{id}, .../unlock, .../password,
.../two-factor/reset) and the session service of DELETE /iam/users/{id}/sessions[/{id}]. The
services' refusals (own role or status, an ADMIN managing an ADMIN, a stale version, a weak
password, a taken username) are shown beside their form, nothing written.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import ValidationError
from sqlalchemy import func, or_
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db.session import DBSession
from polis.iam import schemas
from polis.iam.admin import SETTABLE_STATUSES, StaleUser, user_admin
from polis.iam.auth import Principal
from polis.iam.models import User
from polis.iam.passwords import MAX_LENGTH
from polis.iam.permissions import Role
from polis.iam.repository import SessionRepository, UserRepository
from polis.iam.service import _PRIVILEGED, PASSWORD_HISTORY, WeakPassword
from polis.iam.service import auth as auth_service
from polis.iam.service import user as user_service
from polis.iam.session_endpoints import _info, _may_end
from polis.iam.two_factor import requires_two_factor
from polis.platform.errors import BusinessRuleError, Conflict, Forbidden, NotFound
from polis.platform.pagination import Keyset, PageParams, paginate
from polis.web import i18n
from polis.web.forms import text
from polis.web.routing import WebRoute, redirect
from polis.web.session import COOKIE_PATH, CsrfChecked, State, WebState, require_page
from polis.web.templating import flash, render

router = APIRouter(prefix="/admin", route_class=WebRoute, include_in_schema=False)
_ = i18n.gettext_

UsersRead = Annotated[Principal, Depends(require_page("iam.users:read"))]
UsersWrite = Annotated[Principal, Depends(require_page("iam.users:write"))]
SessionsRevoke = Annotated[Principal, Depends(require_page("iam.sessions:revoke"))]

USERS = f"{COOKIE_PATH}/admin/users"
PAGE_SIZE = 25
ENDED_SHOWN = 10
ACCOUNT_STATUSES = ("ACTIVE", "INACTIVE", "LOCKED", "SUSPENDED", "TERMINATED")
LANGUAGES = ("th", "id", "en")
# The API's username ordering (GET /iam/users?sort=username): the same cursors.
_BY_USERNAME = Keyset("users.username", User.username, User.id)
# Fields of the forms; the optional ones are cleared (None) when left blank.
_CREATE_INPUTS = (
    "username",
    "email",
    "first_name",
    "last_name",
    "role",
    "department",
    "employee_id",
    "phone_number",
    "preferred_language",
    "member_number",
    "customer_id",
)
_CHANGE_INPUTS = (
    "first_name",
    "last_name",
    "email",
    "phone_number",
    "employee_id",
    "department",
    "preferred_language",
    "role",
    "account_status",
)
_OPTIONAL = frozenset({"phone_number", "employee_id", "department", "member_number", "customer_id"})


def _words() -> dict[str, dict[str, str]]:
    """Roles, account statuses and languages in the current language."""
    return {
        "role": {
            "CUSTOMER": _("Customer"),
            "AGENT": _("Agent"),
            "ADJUSTER": _("Adjuster"),
            "SURVEYOR": _("Surveyor"),
            "UNDERWRITER": _("Underwriter"),
            "ADMIN": _("Administrator"),
            "SUPER_ADMIN": _("Super administrator"),
            "MEMBER": _("Member"),
            "PROVIDER": _("Provider"),
            "CLAIMS_PROCESSOR": _("Claims processor"),
            "MEDICAL_REVIEWER": _("Medical reviewer"),
            "FINANCE": _("Finance"),
            "AUDITOR": _("Auditor"),
        },
        "status": {
            "ACTIVE": _("Enabled"),
            "INACTIVE": _("Inactive"),
            "LOCKED": _("Locked"),
            "SUSPENDED": _("Suspended"),
            "TERMINATED": _("Terminated"),
        },
        "language": dict(i18n.LANGUAGE_NAMES),
    }


def _is_super(principal: Principal) -> bool:
    return principal.role == Role.SUPER_ADMIN


def _givable_roles(principal: Principal) -> list[str]:
    """The roles this administrator may give (ADMIN and SUPER_ADMIN: a SUPER_ADMIN's)."""
    return [r.value for r in Role if r not in _PRIVILEGED or _is_super(principal)]


def _locked(user: User, now: datetime | None = None) -> bool:
    """Locked out: by failed sign-ins (until `locked_until`) or by status."""
    now = now or datetime.now(UTC)
    return user.account_status == "LOCKED" or (
        user.locked_until is not None and user.locked_until > now
    )


def _field_errors(exc: ValidationError, values: dict[str, str]) -> dict[str, str]:
    """{form field: message} of a refused request schema, in plain words where we have them."""
    errors: dict[str, str] = {}
    for err in exc.errors():
        name = str(err["loc"][0]) if err["loc"] else "form"
        if name in errors:
            continue
        if values.get(name, "") == "" and name not in _OPTIONAL:
            errors[name] = _("Required.")
        elif name == "username":
            errors[name] = _(
                "Use 3 to 100 letters, digits, dots, dashes, underscores or @, beginning with a"
                " letter or a digit."
            )
        elif name == "email":
            errors[name] = _("Enter a valid email address.")
        elif name == "customer_id":
            errors[name] = _("Enter the customer's id as shown on the customer's page.")
        elif err["type"] == "string_too_long":
            errors[name] = _("At most %(n)s characters.") % {"n": err["ctx"]["max_length"]}
        else:
            errors[name] = str(err["msg"]).removeprefix("Value error, ")
    return errors


def _password_refusal(exc: WeakPassword, request: Request) -> str:
    """The rules a password broke, in the current language (the service's words otherwise)."""
    minimum = request.app.state.settings.password_min_length
    words = {
        "too-short": _("The password must have at least %(n)s characters.") % {"n": minimum},
        "too-long": _("The password must have at most %(n)s characters.") % {"n": MAX_LENGTH},
        "common": _("The password is on a list of commonly used passwords."),
        "contains-username": _("The password must not contain the username."),
        "contains-email": _("The password must not contain the e-mail address."),
        "recently-used": _("The password must differ from the last %(n)s passwords.")
        % {"n": PASSWORD_HISTORY},
    }
    broken = exc.extra.get("errors") or []
    return " ".join(words.get(str(e.get("type")), str(e.get("message"))) for e in broken) or (
        exc.message
    )


def _manage_refused() -> str:
    return _("Only a SUPER_ADMIN may manage ADMIN and SUPER_ADMIN accounts.")


# --- the list ---------------------------------------------------------------------------------


@router.get("/users")
async def users(
    request: Request,
    session: DBSession,
    principal: UsersRead,
    q: Annotated[str, Query(max_length=100)] = "",
    role: Annotated[str, Query(max_length=30)] = "",
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Annotated[str | None, Query(max_length=512)] = None,
) -> Response:
    """Users by username, 25 a page (as GET /iam/users?sort=username): part of the username,
    name or email, a role, a status ("Locked" also finds accounts locked out by failed
    sign-ins)."""
    q = q.strip()
    role = role if role in {r.value for r in Role} else ""
    status = status if status in ACCOUNT_STATUSES else ""
    now = datetime.now(UTC)
    stmt = UserRepository.from_session(session).statement()
    if q:
        escaped = q.replace("\\", "\\\\").replace("%", r"\%").replace("_", r"\_")
        pattern = f"%{escaped}%"
        stmt = stmt.where(
            or_(
                User.username.ilike(pattern),
                User.email.ilike(pattern),
                User.first_name.ilike(pattern),
                User.last_name.ilike(pattern),
                func.concat(User.first_name, " ", User.last_name).ilike(pattern),
            )
        )
    if role:
        stmt = stmt.where(User.role == role)
    if status == "LOCKED":
        stmt = stmt.where(or_(User.account_status == "LOCKED", User.locked_until > now))
    elif status:
        stmt = stmt.where(User.account_status == status)
    items, next_cursor = await paginate(
        session, stmt, _BY_USERNAME, PageParams(cursor=cursor, limit=PAGE_SIZE)
    )
    more = None
    if next_cursor:
        more = (
            USERS + "?" + urlencode({"q": q, "role": role, "status": status, "cursor": next_cursor})
        )
    context = {
        "q": q,
        "role": role,
        "status": status,
        "rows": [(u, _locked(u, now)) for u in items],
        "more": more,
        "roles": [r.value for r in Role],
        "statuses": ACCOUNT_STATUSES,
        "words": _words(),
        "can_create": principal.can("iam.users:write"),
        "filtered": bool(q or role or status),
    }
    return render(request, "admin/users.html", context)


# --- a new user -------------------------------------------------------------------------------


def _new_user_form(
    request: Request,
    principal: Principal,
    values: dict[str, str],
    *,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context = {
        "values": values,
        "errors": errors or {},
        "roles": ["", *_givable_roles(principal)],
        "languages": LANGUAGES,
        "words": _words(),
    }
    return render(request, "admin/user_new.html", context, status_code=status_code)


@router.get("/users/new")
async def new_user_form(request: Request, principal: UsersWrite) -> Response:
    """The form creating a user (POST /iam/users)."""
    return _new_user_form(request, principal, {"preferred_language": "th"})


@router.post("/users/new", dependencies=[CsrfChecked])
async def create_user(request: Request, session: DBSession, principal: UsersWrite) -> Response:
    """Create a user (`user.create_user`, as POST /iam/users): staff must change the password
    at their first sign-in; a MEMBER or CUSTOMER login may be linked to its person. Refusals
    next to their field, nothing written (an ADMIN giving ADMIN or SUPER_ADMIN: 403)."""
    form = await request.form()
    values = {k: text(form, k, 255) for k in _CREATE_INPUTS}
    password = str(form.get("password") or "")[: MAX_LENGTH + 1]
    again = str(form.get("password_again") or "")[: MAX_LENGTH + 1]
    body: dict[str, Any] = {
        k: (None if v == "" and k in _OPTIONAL else v) for k, v in values.items()
    }
    body["password"] = password
    if not body["preferred_language"]:
        body["preferred_language"] = "th"
    errors: dict[str, str] = {}
    status_code = 422
    try:
        parsed = schemas.UserCreate.model_validate(body)
    except ValidationError as exc:
        errors = _field_errors(exc, {**values, "password": password})
        parsed = None
    if password and "password" in errors:  # the schema's bounds, in the policy's words
        errors["password"] = (
            _("The password must have at most %(n)s characters.") % {"n": MAX_LENGTH}
            if len(password) > MAX_LENGTH
            else _("The password must have at least %(n)s characters.")
            % {"n": request.app.state.settings.password_min_length}
        )
    if not password:
        errors["password"] = _("Enter a password.")
    elif password != again:
        errors["password_again"] = _("The two passwords differ.")
    if errors or parsed is None:
        return _new_user_form(request, principal, values, errors=errors, status_code=422)
    try:
        async with session.begin_nested():
            created = await user_service.create_user(
                session,
                **parsed.model_dump(),
                created_by=principal.user,
                settings=request.app.state.settings,
            )
    except WeakPassword as exc:
        errors["password"] = _password_refusal(exc, request)
    except Forbidden:
        errors["role"] = _("Only a SUPER_ADMIN may create ADMIN and SUPER_ADMIN accounts.")
        status_code = 403
    except NotFound as exc:
        if exc.type_ == "customer-not-found":
            errors["customer_id"] = _("There is no customer with this id.")
        else:
            errors["member_number"] = _("There is no member with this number.")
    except Conflict as exc:
        if exc.type_ == "user-exists":
            taken = await UserRepository.from_session(session).taken(
                username=parsed.username, email=parsed.email
            )
            if "username" in taken:
                errors["username"] = _("This username is already taken.")
            if "email" in taken or not taken:
                errors["email"] = _("This email is already in use.")
        elif parsed.customer_id is not None:
            errors["customer_id"] = _("This customer already has a login.")
        else:
            errors["member_number"] = _("This member already has a login.")
    except BusinessRuleError as exc:
        if parsed.member_number is not None and parsed.customer_id is not None:
            errors["customer_id"] = _("Give a member number or a customer id, not both.")
        elif parsed.member_number is not None:
            errors["member_number"] = _("Only a MEMBER login can be linked to a member.")
        elif parsed.customer_id is not None:
            errors["customer_id"] = _("Only a CUSTOMER login can be linked to a customer.")
        else:
            errors["form"] = exc.message
    else:
        response = redirect(request, f"{USERS}/{created.id}")
        flash(response, request, "user_created")
        return response
    return _new_user_form(request, principal, values, errors=errors, status_code=status_code)


# --- one user ---------------------------------------------------------------------------------


async def _fresh(session: AsyncSession, user_id: uuid.UUID) -> User:
    """The live user, read again (a refused change leaves nothing of itself behind)."""
    stmt = (
        UserRepository.from_session(session)
        .statement()
        .where(User.id == user_id)
        .execution_options(populate_existing=True)
    )
    user = (await session.execute(stmt)).scalar_one_or_none()
    if user is None:
        raise NotFound("There is no such user.")
    return user


def _values_of(user: User) -> dict[str, str]:
    values = {k: "" if getattr(user, k) is None else str(getattr(user, k)) for k in _CHANGE_INPUTS}
    values["version"] = str(user.version or 0)
    return values


async def _user_page(
    request: Request,
    session: AsyncSession,
    principal: Principal,
    user_id: uuid.UUID,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    problems: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    """The user, and the forms the visitor's permissions and the rules allow. A refusal for
    a form not shown (its section hidden) is shown at the top."""
    user = await _fresh(session, user_id)
    own = user.id == principal.user_id
    manageable = principal.can("iam.users:write") and (
        user.role not in _PRIVILEGED or _is_super(principal)
    )
    locked = _locked(user)
    shown = {
        "change": manageable,
        "unlock": manageable and locked,
        "password": manageable and not own,
        "two_factor": manageable and not own and bool(user.two_factor_enabled),
        "sessions": principal.can("iam.sessions:read"),
    }
    problems = dict(problems or {})
    for section in [k for k in problems if k != "page" and not shown.get(k)]:
        hidden = problems.pop(section)
        problems["page"] = f"{problems['page']} {hidden}" if "page" in problems else hidden
    sessions: list[schemas.SessionInfo] = []
    if shown["sessions"]:
        rows = await SessionRepository.from_session(session).list_for_user(
            user.id, ended=ENDED_SHOWN
        )
        sessions = [_info(row, principal.session) for row in rows]
    may_end = principal.can("iam.sessions:revoke") and not (
        user.role == Role.SUPER_ADMIN and not _is_super(principal)
    )
    roles = _givable_roles(principal)
    if user.role not in roles:
        roles.append(user.role)
    statuses = list(SETTABLE_STATUSES)
    if user.account_status not in statuses:
        statuses.append(user.account_status or "")
    context = {
        "user": user,
        "own": own,
        "can_write": principal.can("iam.users:write"),
        "manageable": manageable,
        "locked": locked,
        "shown": shown,
        "two_factor_required": requires_two_factor(user),
        "sessions": sessions,
        "active_sessions": sum(1 for s in sessions if s.is_active),
        "may_end": may_end,
        "values": values or _values_of(user),
        "errors": errors or {},
        "problems": problems,
        "roles": roles,
        "statuses": statuses,
        "languages": LANGUAGES,
        "words": _words(),
        "manage_refused": _manage_refused(),
        "stale": status_code == 409,
    }
    return render(request, "admin/user.html", context, status_code=status_code)


@router.get("/users/{user_id}")
async def user_page(
    user_id: uuid.UUID, request: Request, session: DBSession, principal: UsersRead
) -> Response:
    """One user (GET /iam/users/{id}); with `iam.users:write` the forms of PATCH, unlock,
    password and two-factor reset, with `iam.sessions:read` the user's sessions."""
    return await _user_page(request, session, principal, user_id)


@router.post("/users/{user_id}", dependencies=[CsrfChecked])
async def change_user(
    user_id: uuid.UUID, request: Request, session: DBSession, principal: UsersWrite
) -> Response:
    """Save the account's fields (`user_admin.update`, as PATCH /iam/users/{id} with If-Match:
    the form's version). A new role, INACTIVE or SUSPENDED ends the user's sessions. Stale:
    409; own role or status, an ADMIN account, an ADMIN role given by an ADMIN: 403; other
    refusals next to their field (422); nothing written."""
    target = await _fresh(session, user_id)
    before_role, before_status = target.role, target.account_status
    form = await request.form()
    values = {k: text(form, k, 255) for k in _CHANGE_INPUTS if k in form}
    values["version"] = text(form, "version", 9)
    expected = int(values["version"]) if values["version"].isdigit() else -1
    body = {
        k: (None if v == "" and k in _OPTIONAL else v)
        for k, v in values.items()
        if k in _CHANGE_INPUTS
    }
    errors: dict[str, str] = {}
    problems: dict[str, str] = {}
    status_code = 422
    try:
        changes = schemas.UserUpdate.model_validate(body).model_dump(exclude_unset=True)
    except ValidationError as exc:
        errors = _field_errors(exc, values)
        changes = {}
    if not errors:
        try:
            async with session.begin_nested():
                await user_admin.update(
                    session, principal.user, user_id, changes, expected_version=expected
                )
        except StaleUser:
            problems["change"] = _(
                "Someone else changed this account after you opened the page. Nothing was"
                " saved: open the page again to see their changes, then make yours."
            )
            status_code = 409
        except Forbidden as exc:
            status_code = 403
            if exc.type_ == "own-account-refused":
                problems["change"] = _("You cannot change your own role or status.")
            elif before_role in _PRIVILEGED and not _is_super(principal):
                problems["change"] = _manage_refused()
            else:
                errors["role"] = _("Only a SUPER_ADMIN may give the ADMIN or SUPER_ADMIN role.")
        except Conflict:
            errors["email"] = _("This email is already in use.")
        except BusinessRuleError as exc:
            if exc.type_ == "invalid-status":
                errors["account_status"] = _("Choose active, inactive or suspended.")
            else:
                problems["change"] = exc.message
        else:
            response = redirect(request, f"{USERS}/{user_id}")
            new_role = changes.get("role", before_role)
            new_status = changes.get("account_status", before_status)
            ended = new_role != before_role or (
                new_status != before_status and new_status != "ACTIVE"
            )
            flash(response, request, "user_saved_sessions_ended" if ended else "user_saved")
            return response
    return await _user_page(
        request,
        session,
        principal,
        user_id,
        values=values,
        errors=errors,
        problems=problems,
        status_code=status_code,
    )


@router.post("/users/{user_id}/unlock", dependencies=[CsrfChecked])
async def unlock_user(
    user_id: uuid.UUID, request: Request, session: DBSession, principal: UsersWrite
) -> Response:
    """Lift a lockout from failed sign-ins (`user_admin.unlock`, as POST .../unlock)."""
    await _fresh(session, user_id)
    try:
        async with session.begin_nested():
            await user_admin.unlock(session, principal.user, user_id)
    except Forbidden:
        return await _user_page(
            request,
            session,
            principal,
            user_id,
            problems={"unlock": _manage_refused()},
            status_code=403,
        )
    response = redirect(request, f"{USERS}/{user_id}")
    flash(response, request, "user_unlocked")
    return response


@router.post("/users/{user_id}/password", dependencies=[CsrfChecked])
async def set_password(
    user_id: uuid.UUID, request: Request, session: DBSession, principal: UsersWrite
) -> Response:
    """Set a password (`user_admin.set_password`, as POST .../password): the policy and the
    last five passwords apply, the user must change it at sign-in, their sessions end. Your
    own: the password page (403 here)."""
    await _fresh(session, user_id)
    form = await request.form()
    new = str(form.get("new_password") or "")[: MAX_LENGTH + 1]
    again = str(form.get("new_password_again") or "")[: MAX_LENGTH + 1]
    errors: dict[str, str] = {}
    problems: dict[str, str] = {}
    status_code = 422
    if not new:
        errors["new_password"] = _("Enter a new password.")
    elif new != again:
        errors["new_password_again"] = _("The two passwords differ.")
    else:
        try:
            async with session.begin_nested():
                await user_admin.set_password(
                    session,
                    principal.user,
                    user_id,
                    new,
                    settings=request.app.state.settings,
                    field="new_password",
                )
        except WeakPassword as exc:
            errors["new_password"] = _password_refusal(exc, request)
        except Forbidden as exc:
            status_code = 403
            problems["password"] = (
                _("Change your own password on the password page.")
                if exc.type_ == "own-account-refused"
                else _manage_refused()
            )
        else:
            response = redirect(request, f"{USERS}/{user_id}")
            flash(response, request, "user_password_set")
            return response
    return await _user_page(
        request,
        session,
        principal,
        user_id,
        errors=errors,
        problems=problems,
        status_code=status_code,
    )


@router.post("/users/{user_id}/two-factor/reset", dependencies=[CsrfChecked])
async def reset_two_factor(
    user_id: uuid.UUID, request: Request, session: DBSession, principal: UsersWrite
) -> Response:
    """Turn the user's second factor off (`user_admin.reset_two_factor`, as POST
    .../two-factor/reset): secret and recovery codes deleted, sessions ended. Only once the
    box "I checked who is asking" is ticked. Your own: my account (403 here)."""
    await _fresh(session, user_id)
    form = await request.form()
    if form.get("confirm") != "yes":
        return await _user_page(
            request,
            session,
            principal,
            user_id,
            errors={"confirm": _("Tick the box once you have checked who is asking.")},
            status_code=422,
        )
    try:
        async with session.begin_nested():
            await user_admin.reset_two_factor(session, principal.user, user_id)
    except Forbidden as exc:
        message = (
            _("Manage your own second factor on your account page.")
            if exc.type_ == "own-account-refused"
            else _manage_refused()
        )
        return await _user_page(
            request,
            session,
            principal,
            user_id,
            problems={"two_factor": message},
            status_code=403,
        )
    response = redirect(request, f"{USERS}/{user_id}")
    flash(response, request, "user_two_factor_reset")
    return response


# --- the user's sessions ----------------------------------------------------------------------


def _sessions_refused() -> str:
    return _("Only a SUPER_ADMIN may end a SUPER_ADMIN's sessions.")


async def _end_refused(
    request: Request, session: AsyncSession, principal: Principal, target: User
) -> Response | None:
    """The user's page with the refusal (403) when the principal may not end the target's
    sessions (`_may_end`, as the API's DELETE routes); None when they may."""
    try:
        _may_end(principal, target)
    except Forbidden:
        return await _user_page(
            request,
            session,
            principal,
            target.id,
            problems={"sessions": _sessions_refused()},
            status_code=403,
        )
    return None


def _ended(
    request: Request, state: WebState, user_id: uuid.UUID, *, own: bool, key: str
) -> Response:
    """After ending sessions: the sign-in page when the principal's own current session
    ended, else the user's page with the `key` flash."""
    if own:
        state.forget_tokens()
        return redirect(request, f"{COOKIE_PATH}/sign-in")
    response = redirect(request, f"{USERS}/{user_id}")
    flash(response, request, key)
    return response


@router.post("/users/{user_id}/sessions/{session_id}/end", dependencies=[CsrfChecked])
async def end_user_session(
    user_id: uuid.UUID,
    session_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: SessionsRevoke,
    state: State,
) -> Response:
    """End one session of the user (REVOKED_BY_ADMIN, as DELETE
    /iam/users/{id}/sessions/{session}); ending your own current one signs you out."""
    target = await _fresh(session, user_id)
    if (refused := await _end_refused(request, session, principal, target)) is not None:
        return refused
    row = await SessionRepository.from_session(session).get_for_user(target.id, session_id)
    if row is None:
        raise NotFound("There is no such session.")
    await auth_service.revoke_session(session, row, reason="REVOKED_BY_ADMIN")
    return _ended(request, state, user_id, own=row.id == principal.session.id, key="session_ended")


@router.post("/users/{user_id}/sessions/end-all", dependencies=[CsrfChecked])
async def end_user_sessions(
    user_id: uuid.UUID,
    request: Request,
    session: DBSession,
    principal: SessionsRevoke,
    state: State,
) -> Response:
    """End every active session of the user (REVOKED_BY_ADMIN, as DELETE
    /iam/users/{id}/sessions): your own account's included, which signs you out."""
    target = await _fresh(session, user_id)
    if (refused := await _end_refused(request, session, principal, target)) is not None:
        return refused
    await auth_service.end_sessions(session, target.id, keep=None, reason="REVOKED_BY_ADMIN")
    own = target.id == principal.user_id
    return _ended(request, state, user_id, own=own, key="user_sessions_ended")
