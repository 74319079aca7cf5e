"""User administration pages (/web/admin/users): the list and its filters, creating a user
(refusals writing nothing), changing one (a new role ends the user's sessions, a stale version
changes nothing), unlock, a password set, a second factor reset, the user's sessions ended,
and the refusals: an ADMIN managing an ADMIN, a role without iam.users:read, a missing CSRF
token."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

from httpx import AsyncClient, Response
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.iam.models import RecoveryCode, User, UserSession
from polis.iam.passwords import verify_password
from tests.iam.factories import login, totp_code
from tests.web.helpers import csrf, make_user, sign_in

USERS = "/web/admin/users"
NEW_PASSWORD = "violet meadow quartz lantern"


async def _admin(client: AsyncClient, session: AsyncSession, role: str = "ADMIN") -> User:
    """An ADMIN (or SUPER_ADMIN) signed in with the password and a TOTP code."""
    user = await make_user(session, role, totp=True)
    first = await sign_in(client, user.username)
    assert first.status_code == 200, first.text  # the code step
    done = await client.post(
        "/web/sign-in/code",
        data={"code": totp_code(user.username), "next": "/web/", "csrf_token": csrf(first)},
    )
    assert done.status_code == 303, done.text
    return user


async def _row(session: AsyncSession, user_id: uuid.UUID) -> User:
    row = await session.scalar(
        select(User).where(User.id == user_id).execution_options(populate_existing=True)
    )
    assert row is not None
    return row


async def _users(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(User)) or 0)


def _error(page: Response, name: str) -> str:
    found = re.search(rf'id="f-{name}-error">([^<]*)<', page.text)
    assert found, f"no error next to {name}"
    return found.group(1)


def _form(page: Response, form_id: str) -> dict[str, str]:
    """The values of the change form as the page filled them (inputs and selected options)."""
    html = page.text[page.text.index(f'id="{form_id}"') :]
    html = html[: html.index("</form>")]
    values = dict(re.findall(r'<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"', html))
    for name, options in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', options)
        values[name] = chosen.group(1) if chosen else ""
    return values


async def test_list_filters_and_pages(client: AsyncClient, session: AsyncSession) -> None:
    prefix = f"zz{uuid.uuid4().hex[:6]}"
    alice = await make_user(
        session, "CLAIMS_PROCESSOR", username=f"{prefix}_alice", first_name="Alicia"
    )
    bob = await make_user(session, "FINANCE", username=f"{prefix}_bob", account_status="SUSPENDED")
    carol = await make_user(
        session,
        "AGENT",
        username=f"{prefix}_carol",
        locked_until=datetime.now(UTC) + timedelta(minutes=10),
        failed_login_attempts=5,
    )
    await _admin(client, session)

    home = await client.get("/web/")
    assert f'href="{USERS}"' in home.text  # the navigation entry
    page = await client.get(USERS, params={"q": prefix})
    assert page.status_code == 200, page.text
    for user in (alice, bob, carol):
        assert f'id="user-{user.id}"' in page.text
    assert page.text.index(f"user-{alice.id}") < page.text.index(f"user-{bob.id}")
    assert 'href="/web/admin/users/new"' in page.text

    by_name = await client.get(USERS, params={"q": "alicia"})
    assert f"user-{alice.id}" in by_name.text and f"user-{bob.id}" not in by_name.text
    by_email = await client.get(USERS, params={"q": f"{prefix}_bob@example"})
    assert f"user-{bob.id}" in by_email.text and f"user-{alice.id}" not in by_email.text
    by_role = await client.get(USERS, params={"q": prefix, "role": "FINANCE"})
    assert f"user-{bob.id}" in by_role.text and f"user-{alice.id}" not in by_role.text
    by_status = await client.get(USERS, params={"q": prefix, "status": "SUSPENDED"})
    assert f"user-{bob.id}" in by_status.text and f"user-{carol.id}" not in by_status.text
    locked = await client.get(USERS, params={"q": prefix, "status": "LOCKED"})
    assert f"user-{carol.id}" in locked.text and f"user-{alice.id}" not in locked.text
    none = await client.get(USERS, params={"q": f"{prefix}_nobody"})
    assert "No user matches." in none.text

    # 25 a page; "More users" carries the filters and the cursor.
    for n in range(24):
        await make_user(session, "AGENT", username=f"{prefix}_p{n:02}")
    first = await client.get(USERS, params={"q": prefix})
    assert first.text.count('<tr id="user-') == 25
    more = re.search(r'href="([^"]+)" id="more-users"', first.text)
    assert more is not None
    second = await client.get(more.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert second.text.count('<tr id="user-') == 2 and 'id="more-users"' not in second.text


async def test_a_user_is_created_and_refusals_write_nothing(
    client: AsyncClient, session: AsyncSession
) -> None:
    admin = await _admin(client, session)
    form = await client.get(f"{USERS}/new")
    assert form.status_code == 200
    assert 'value="ADMIN"' not in form.text  # an ADMIN is not offered the ADMIN roles
    taken = await make_user(session, "AGENT")
    name = f"clerk_{uuid.uuid4().hex[:8]}"
    good = {
        "username": name,
        "email": f"{name}@example.test",
        "first_name": "Siti",
        "last_name": "Rahma",
        "role": "CLAIMS_PROCESSOR",
        "department": "Claims",
        "phone_number": "+62811000111",
        "preferred_language": "id",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
        "csrf_token": csrf(form),
    }

    before = await _users(session)

    async def refused(changes: dict[str, str], field: str, status: int = 422) -> str:
        page = await client.post(f"{USERS}/new", data={**good, **changes})
        assert page.status_code == status, page.text
        assert "Nothing was saved" in page.text
        assert await _users(session) == before
        return _error(page, field)

    assert "commonly used" in await refused(
        {"password": "password123", "password_again": "password123"}, "password"
    )
    assert "differ" in await refused({"password_again": "something else"}, "password_again")
    assert "already taken" in await refused({"username": taken.username}, "username")
    assert "already in use" in await refused({"email": taken.email}, "email")
    assert "Required" in await refused({"first_name": ""}, "first_name")
    assert "SUPER_ADMIN" in await refused({"role": "ADMIN"}, "role", status=403)
    assert "no member" in await refused(
        {"role": "MEMBER", "member_number": "NO-SUCH-MEMBER"}, "member_number"
    )
    assert "MEMBER login" in await refused({"member_number": "M-1"}, "member_number")

    created = await client.post(f"{USERS}/new", data=good)
    assert created.status_code == 303, created.text
    row = await session.scalar(select(User).where(User.username == name))
    assert row is not None
    assert created.headers["location"] == f"{USERS}/{row.id}"
    assert (row.role, row.department, row.preferred_language) == (
        "CLAIMS_PROCESSOR",
        "Claims",
        "id",
    )
    assert row.must_change_password and row.created_by == admin.id
    assert verify_password(row.password_hash, NEW_PASSWORD)
    shown = await client.get(created.headers["location"])
    assert "The user has been created." in shown.text and name in shown.text


async def test_a_super_admin_creates_an_admin(client: AsyncClient, session: AsyncSession) -> None:
    boss = await _admin(client, session, "SUPER_ADMIN")
    form = await client.get(f"{USERS}/new")
    assert 'value="ADMIN"' in form.text
    name = f"boss_{uuid.uuid4().hex[:8]}"
    created = await client.post(
        f"{USERS}/new",
        data={
            "username": name,
            "email": f"{name}@example.test",
            "first_name": "Ana",
            "last_name": "Admin",
            "role": "ADMIN",
            "preferred_language": "en",
            "password": NEW_PASSWORD,
            "password_again": NEW_PASSWORD,
            "csrf_token": csrf(form),
        },
    )
    assert created.status_code == 303, created.text
    row = await session.scalar(select(User).where(User.username == name))
    assert row is not None and row.role == "ADMIN" and row.must_change_password

    # Nobody changes their own role or status: no such fields on one's own page, and the
    # service's refusal beside the form.
    own_page = await client.get(f"{USERS}/{boss.id}")
    assert 'id="change-form"' in own_page.text and 'name="role"' not in own_page.text
    own = await client.post(
        f"{USERS}/{boss.id}", data={**_form(own_page, "change-form"), "role": "AGENT"}
    )
    assert own.status_code == 403 and 'id="change-problem"' in own.text
    assert "your own role" in own.text
    assert (await _row(session, boss.id)).role == "SUPER_ADMIN"


async def test_a_new_role_ends_the_users_sessions(
    client: AsyncClient, session: AsyncSession
) -> None:
    target = await make_user(session, "CLAIMS_PROCESSOR")
    token = await login(client, target.username)
    bearer = {"Authorization": f"Bearer {token}"}
    await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    assert page.status_code == 200
    assert 'id="session-' in page.text  # their API session is listed
    values = _form(page, "change-form")
    assert values["role"] == "CLAIMS_PROCESSOR" and values["version"] == str(target.version)

    # Names and department: saved, the sessions go on.
    saved = await client.post(f"{USERS}/{target.id}", data={**values, "department": "Claims East"})
    assert saved.status_code == 303, saved.text
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 200
    page = await client.get(f"{USERS}/{target.id}")
    assert "The account has been saved." in page.text
    values = _form(page, "change-form")
    assert values["department"] == "Claims East"

    changed = await client.post(f"{USERS}/{target.id}", data={**values, "role": "FINANCE"})
    assert changed.status_code == 303, changed.text
    row = await _row(session, target.id)
    assert row.role == "FINANCE" and row.department == "Claims East"
    assert (await client.get("/api/v1/auth/me", headers=bearer)).status_code == 401
    ended = await session.scalar(
        select(UserSession.termination_reason).where(UserSession.user_id == target.id)
    )
    assert ended == "REVOKED_BY_ADMIN"
    shown = await client.get(f"{USERS}/{target.id}")
    assert "its sessions have been ended" in shown.text


async def test_a_stale_version_changes_nothing(client: AsyncClient, session: AsyncSession) -> None:
    target = await make_user(session, "AGENT", first_name="Before")
    await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    values = _form(page, "change-form")
    first = await client.post(f"{USERS}/{target.id}", data={**values, "department": "Sales"})
    assert first.status_code == 303
    stale = await client.post(f"{USERS}/{target.id}", data={**values, "first_name": "After"})
    assert stale.status_code == 409, stale.text
    assert 'id="change-problem"' in stale.text and "Someone else changed" in stale.text
    row = await _row(session, target.id)
    assert (row.first_name, row.department) == ("Before", "Sales")


async def test_unlock(client: AsyncClient, session: AsyncSession) -> None:
    target = await make_user(
        session,
        "AGENT",
        locked_until=datetime.now(UTC) + timedelta(minutes=15),
        failed_login_attempts=5,
    )
    await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    assert "Unlock the account" in page.text
    done = await client.post(f"{USERS}/{target.id}/unlock", data={"csrf_token": csrf(page)})
    assert done.status_code == 303, done.text
    row = await _row(session, target.id)
    assert row.locked_until is None and row.failed_login_attempts == 0
    page = await client.get(f"{USERS}/{target.id}")
    assert "The account has been unlocked." in page.text and "Unlock the account" not in page.text
    for lang in ("th", "id"):  # every page string goes through the catalogs
        assert (await client.get(f"{USERS}/{target.id}?lang={lang}")).status_code == 200
        assert (await client.get(f"{USERS}?lang={lang}")).status_code == 200
        assert (await client.get(f"{USERS}/new?lang={lang}")).status_code == 200


async def test_a_password_is_set(client: AsyncClient, session: AsyncSession) -> None:
    target = await make_user(session, "AGENT")
    token = await login(client, target.username)
    admin = await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    url = f"{USERS}/{target.id}/password"
    token_field = csrf(page)

    differ = await client.post(
        url,
        data={"new_password": NEW_PASSWORD, "new_password_again": "x", "csrf_token": token_field},
    )
    assert differ.status_code == 422 and "differ" in _error(differ, "new_password_again")
    weak = await client.post(
        url,
        data={"new_password": "short", "new_password_again": "short", "csrf_token": token_field},
    )
    assert weak.status_code == 422 and "at least 12" in _error(weak, "new_password")
    assert (await _row(session, target.id)).password_hash == target.password_hash

    done = await client.post(
        url,
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrf_token": token_field,
        },
    )
    assert done.status_code == 303, done.text
    row = await _row(session, target.id)
    assert row.must_change_password and verify_password(row.password_hash, NEW_PASSWORD)
    me = await client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401

    # One's own password is changed on the password page.
    own = await client.post(
        f"{USERS}/{admin.id}/password",
        data={
            "new_password": NEW_PASSWORD,
            "new_password_again": NEW_PASSWORD,
            "csrf_token": token_field,
        },
    )
    assert own.status_code == 403 and "your own password" in own.text
    assert not (await _row(session, admin.id)).must_change_password


async def test_the_second_factor_is_reset(client: AsyncClient, session: AsyncSession) -> None:
    target = await make_user(session, "ADJUSTER", totp=True)
    session.add_all(RecoveryCode(user_id=target.id, code_hash=f"{n:064x}") for n in range(3))
    await session.commit()
    await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    assert "I checked who is asking" in page.text
    url = f"{USERS}/{target.id}/two-factor/reset"

    unconfirmed = await client.post(url, data={"csrf_token": csrf(page)})
    assert unconfirmed.status_code == 422 and _error(unconfirmed, "confirm")
    assert (await _row(session, target.id)).two_factor_enabled

    done = await client.post(url, data={"confirm": "yes", "csrf_token": csrf(page)})
    assert done.status_code == 303, done.text
    row = await _row(session, target.id)
    assert not row.two_factor_enabled and row.two_factor_secret is None
    codes = await session.scalar(
        select(func.count()).select_from(RecoveryCode).where(RecoveryCode.user_id == target.id)
    )
    assert codes == 0


async def test_sessions_are_ended(client: AsyncClient, session: AsyncSession) -> None:
    target = await make_user(session, "AGENT")
    phone = await login(client, target.username)
    tablet = await login(client, target.username)
    await _admin(client, session)
    rows = list(
        (
            await session.scalars(
                select(UserSession)
                .where(UserSession.user_id == target.id)
                .order_by(UserSession.created_at)
            )
        ).all()
    )
    page = await client.get(f"{USERS}/{target.id}")
    ended = await client.post(
        f"{USERS}/{target.id}/sessions/{rows[0].id}/end", data={"csrf_token": csrf(page)}
    )
    assert ended.status_code == 303, ended.text

    async def status(token: str) -> int:
        headers = {"Authorization": f"Bearer {token}"}
        return (await client.get("/api/v1/auth/me", headers=headers)).status_code

    assert (await status(phone), await status(tablet)) == (401, 200)
    page = await client.get(f"{USERS}/{target.id}")
    every = await client.post(
        f"{USERS}/{target.id}/sessions/end-all", data={"csrf_token": csrf(page)}
    )
    assert every.status_code == 303
    assert await status(tablet) == 401


async def test_an_admin_cannot_manage_an_admin(client: AsyncClient, session: AsyncSession) -> None:
    other = await make_user(session, "ADMIN", totp=True, first_name="Other")
    clerk = await make_user(session, "AGENT")
    admin = await _admin(client, session)
    page = await client.get(f"{USERS}/{other.id}")
    assert page.status_code == 200
    assert 'id="manage-refused"' in page.text and 'id="change-form"' not in page.text
    token = csrf(page)
    values = {
        "first_name": "Changed",
        "last_name": other.last_name,
        "email": other.email,
        "preferred_language": "en",
        "role": "ADMIN",
        "account_status": "SUSPENDED",
        "version": str(other.version),
        "csrf_token": token,
    }
    refused = await client.post(f"{USERS}/{other.id}", data=values)
    assert refused.status_code == 403 and 'id="problem"' in refused.text
    assert "Only a SUPER_ADMIN may manage" in refused.text
    for action, data in (
        ("password", {"new_password": NEW_PASSWORD, "new_password_again": NEW_PASSWORD}),
        ("two-factor/reset", {"confirm": "yes"}),
        ("unlock", {}),
    ):
        answer = await client.post(
            f"{USERS}/{other.id}/{action}", data={**data, "csrf_token": token}
        )
        assert answer.status_code == 403 and "Only a SUPER_ADMIN may manage" in answer.text
    row = await _row(session, other.id)
    assert (row.first_name, row.account_status, row.version) == ("Other", "ACTIVE", other.version)
    assert row.two_factor_enabled and not row.must_change_password

    # Nor give the role, nor change their own role.
    clerk_page = await client.get(f"{USERS}/{clerk.id}")
    promote = await client.post(
        f"{USERS}/{clerk.id}", data={**_form(clerk_page, "change-form"), "role": "ADMIN"}
    )
    assert promote.status_code == 403 and "SUPER_ADMIN" in _error(promote, "role")
    assert (await _row(session, clerk.id)).role == "AGENT"
    own_page = await client.get(f"{USERS}/{admin.id}")
    assert 'id="own-account"' in own_page.text and 'id="change-form"' not in own_page.text
    own = await client.post(
        f"{USERS}/{admin.id}",
        data={**values, "role": "AGENT", "version": str(admin.version)},
    )
    assert own.status_code == 403 and "Only a SUPER_ADMIN may manage" in own.text
    assert (await _row(session, admin.id)).role == "ADMIN"


async def test_roles_without_the_permission(client: AsyncClient, session: AsyncSession) -> None:
    someone = await make_user(session, "AGENT")
    clerk = await make_user(session, "CLAIMS_PROCESSOR")
    await sign_in(client, clerk.username)
    assert f'href="{USERS}"' not in (await client.get("/web/")).text
    assert (await client.get(USERS)).status_code == 403
    assert (await client.get(f"{USERS}/{someone.id}")).status_code == 403

    # An AUDITOR reads users and sessions, changes nothing.
    await client.post("/web/sign-out", data={"csrf_token": csrf(await client.get("/web/"))})
    auditor = await make_user(session, "AUDITOR")
    await sign_in(client, auditor.username)
    listing = await client.get(USERS)
    assert listing.status_code == 200 and 'id="new-user"' not in listing.text
    page = await client.get(f"{USERS}/{someone.id}")
    assert page.status_code == 200
    assert 'id="change-form"' not in page.text and 'id="sessions-section"' in page.text
    assert (await client.get(f"{USERS}/new")).status_code == 403
    refused = await client.post(f"{USERS}/{someone.id}/unlock", data={"csrf_token": csrf(page)})
    assert refused.status_code == 403


async def test_a_post_without_the_csrf_token_is_refused(
    client: AsyncClient, session: AsyncSession
) -> None:
    target = await make_user(session, "AGENT", first_name="Kept")
    await _admin(client, session)
    page = await client.get(f"{USERS}/{target.id}")
    values = _form(page, "change-form")
    values.pop("csrf_token")
    refused = await client.post(f"{USERS}/{target.id}", data={**values, "first_name": "Lost"})
    assert refused.status_code == 403 and "The form has expired" in refused.text
    assert (await _row(session, target.id)).first_name == "Kept"
