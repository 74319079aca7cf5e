"""Sessions (decision 0062): refresh-token rotation, reuse revoking the family, idle and
absolute timeouts, device details, listing and ending one's own and (administrators)
anyone's sessions, termination reasons."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient, Response
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db.session import Database
from polis.db.urls import with_driver
from polis.iam.devices import DEVICE_TYPES, parse_user_agent
from polis.ops.jobs import end_expired_sessions
from tests.iam.factories import PASSWORD, create_user, totp_code

LOGIN = "/api/v1/auth/login"
REFRESH = "/api/v1/auth/refresh"
ME = "/api/v1/auth/me"
SESSIONS = "/api/v1/auth/sessions"

CHROME_WINDOWS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
    " Chrome/120.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
    " Gecko) Version/17.1 Mobile/15E148 Safari/604.1"
)


def _sha(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _login(client: AsyncClient, username: str, user_agent: str | None = None) -> Any:
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = await client.post(
        LOGIN, json={"username": username, "password": PASSWORD}, headers=headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if body.get("two_factor_required"):  # administrators: enrolled on the factories' secret
        response = await client.post(
            "/api/v1/auth/login/2fa",
            json={"challenge_token": body["challenge_token"], "code": totp_code(username)},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
    return body


async def _refresh(client: AsyncClient, refresh_token: str) -> Response:
    return await client.post(REFRESH, json={"refresh_token": refresh_token})


async def _row(session: AsyncSession, access_or_id: str | uuid.UUID) -> Any:
    """The user_sessions row of an access token (its current one) or of a session id."""
    where = "id = :v" if isinstance(access_or_id, uuid.UUID) else "session_id = :v"
    value = access_or_id if isinstance(access_or_id, uuid.UUID) else _sha(access_or_id)
    return (
        await session.execute(
            text(
                "select id, user_id, is_active, terminated_at, termination_reason, created_at,"
                " last_activity_at, expires_at, access_expires_at, refresh_token_hash,"
                " host(ip_address) as ip, user_agent, device_info, login_method"
                f" from iam.user_sessions where {where}"
            ),
            {"v": value},
        )
    ).one()


async def _session_of(session: AsyncSession, refresh_token: str) -> uuid.UUID:
    value = await session.scalar(
        text("select user_session_id from iam.refresh_tokens where token_hash = :h"),
        {"h": _sha(refresh_token)},
    )
    assert isinstance(value, uuid.UUID)
    return value


async def _set(session: AsyncSession, session_id: uuid.UUID, **values: Any) -> None:
    assignments = ", ".join(f"{k} = :{k}" for k in values)
    await session.execute(
        text(f"update iam.user_sessions set {assignments} where id = :id"),
        {"id": session_id, **values},
    )


def _problem(response: Response, status: int, slug: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["type"] == f"urn:polis:problem:{slug}"


# --- device_info: a pure function -------------------------------------------------------------


class TestDeviceInfo:
    @pytest.mark.parametrize(
        ("user_agent", "expected"),
        [
            (CHROME_WINDOWS, ("Chrome", "120", "Windows", "desktop")),
            (
                CHROME_WINDOWS + " Edg/120.0.2210.91",
                ("Edge", "120", "Windows", "desktop"),
            ),
            (SAFARI_IPHONE, ("Safari", "17", "iOS", "mobile")),
            (
                "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like"
                " Gecko) Version/16.6 Mobile/15E148 Safari/604.1",
                ("Safari", "16", "iOS", "tablet"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko)"
                " SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
                ("Samsung Internet", "23", "Android", "mobile"),
            ),
            (
                "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 (KHTML, like Gecko)"
                " Chrome/119.0.0.0 Safari/537.36",
                ("Chrome", "119", "Android", "tablet"),
            ),
            (
                "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML,"
                " like Gecko) Version/17.1 Safari/605.1.15",
                ("Safari", "17", "macOS", "desktop"),
            ),
            (
                "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
                ("Firefox", "121", "Linux", "desktop"),
            ),
            (
                "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15"
                " (KHTML, like Gecko) Mobile/15E148 Line/13.19.0",
                ("LINE", "13", "iOS", "mobile"),
            ),
            (
                "Mozilla/5.0 (Windows NT 6.1; WOW64; Trident/7.0; rv:11.0) like Gecko",
                ("Internet Explorer", "11", "Windows", "desktop"),
            ),
            (
                "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
                ("Other", None, "Other", "bot"),
            ),
            ("curl/8.4.0", ("curl", "8", "Other", "other")),
            ("python-httpx/0.27.0", ("python-httpx", "0", "Other", "other")),
            ("something else entirely", ("Other", None, "Other", "other")),
        ],
    )
    def test_common_user_agents(
        self, user_agent: str, expected: tuple[str, str | None, str, str]
    ) -> None:
        info = parse_user_agent(user_agent)
        assert info is not None
        assert (info["browser"], info["browser_version"], info["os"], info["device_type"]) == (
            expected
        )

    @pytest.mark.parametrize("user_agent", [None, "", "   "])
    def test_no_user_agent_is_no_device_info(self, user_agent: str | None) -> None:
        assert parse_user_agent(user_agent) is None

    @given(st.text(max_size=2000))
    def test_never_raises_on_any_string(self, user_agent: str) -> None:
        info = parse_user_agent(user_agent)
        if info is None:
            assert not user_agent.strip()
            return
        assert set(info) == {"browser", "browser_version", "os", "device_type"}
        assert info["device_type"] in DEVICE_TYPES
        assert isinstance(info["browser"], str) and isinstance(info["os"], str)
        version = info["browser_version"]
        assert version is None or (version.isdigit() and len(version) <= 10)

    @given(st.lists(st.sampled_from(["Mozilla/5.0 (", "Trident/", "rv:", "Opera", "Version/",
                                     "Android", "Mobile", " ", "1", ";", ")", "Chrome/"]),
                    max_size=400))  # fmt: skip
    def test_never_raises_on_adversarial_fragments(self, parts: list[str]) -> None:
        info = parse_user_agent("".join(parts))
        assert info is None or info["device_type"] in DEVICE_TYPES


# --- sign-in records --------------------------------------------------------------------------


class TestSignIn:
    async def test_login_records_ip_user_agent_device_and_a_refresh_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username, SAFARI_IPHONE)
        row = await _row(session, body["access_token"])
        assert row.ip == "127.0.0.1"
        assert row.user_agent == SAFARI_IPHONE
        assert row.device_info == {
            "browser": "Safari",
            "browser_version": "17",
            "os": "iOS",
            "device_type": "mobile",
        }
        assert row.login_method == "PASSWORD"
        assert row.refresh_token_hash == _sha(body["refresh_token"])
        assert body["refresh_token"] != body["access_token"]
        assert datetime.fromisoformat(body["expires_at"]) == row.access_expires_at
        assert datetime.fromisoformat(body["refresh_expires_at"]) == row.expires_at
        assert row.expires_at - row.created_at == timedelta(hours=8)
        assert row.access_expires_at - row.created_at == timedelta(minutes=15)
        tokens = (
            await session.execute(
                text(
                    "select token_hash, expires_at, used_at, replaced_by from iam.refresh_tokens"
                    " where user_session_id = :s"
                ),
                {"s": row.id},
            )
        ).all()
        assert [(t.token_hash, t.expires_at, t.used_at, t.replaced_by) for t in tokens] == [
            (_sha(body["refresh_token"]), row.expires_at, None, None)
        ]

    async def test_no_token_is_stored_or_audited_in_plain(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        renewed = (await _refresh(client, body["refresh_token"])).json()
        tokens = [body["access_token"], body["refresh_token"]]
        tokens += [renewed["access_token"], renewed["refresh_token"]]
        for token in tokens:
            for table in ("iam.user_sessions", "iam.refresh_tokens", "audit.audit_log"):
                found = await session.scalar(
                    text(f"select count(*) from {table} t where t::text like :t"),
                    {"t": f"%{token}%"},
                )
                assert found == 0, table


# --- refresh ----------------------------------------------------------------------------------


class TestRefresh:
    async def test_rotation_gives_a_new_pair_and_ends_the_previous_access_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        first = await _login(client, user.username)
        response = await _refresh(client, first["refresh_token"])
        assert response.status_code == 200, response.text
        second = response.json()
        assert second["access_token"] not in (first["access_token"], second["refresh_token"])
        assert second["refresh_token"] != first["refresh_token"]
        assert second["refresh_expires_at"] == first["refresh_expires_at"]
        # The previous access token stops working at once; the new one works.
        _problem(await client.get(ME, headers=_bearer(first["access_token"])), 401, "invalid-token")
        me = await client.get(ME, headers=_bearer(second["access_token"]))
        assert me.status_code == 200 and me.json()["id"] == str(user.id)
        # One session (the family), its spent token pointing at its successor.
        row = await _row(session, second["access_token"])
        assert row.is_active is True
        assert row.refresh_token_hash == _sha(second["refresh_token"])
        spent = (
            await session.execute(
                text("select used_at, replaced_by from iam.refresh_tokens where token_hash = :h"),
                {"h": _sha(first["refresh_token"])},
            )
        ).one()
        assert spent.used_at is not None
        assert spent.replaced_by == _sha(second["refresh_token"])
        count = await session.scalar(
            text("select count(*) from iam.user_sessions where user_id = :u"), {"u": user.id}
        )
        assert count == 1
        # And again: the chain goes on.
        third = await _refresh(client, second["refresh_token"])
        assert third.status_code == 200
        me = await client.get(ME, headers=_bearer(third.json()["access_token"]))
        assert me.status_code == 200

    async def test_a_reused_refresh_token_revokes_the_whole_family(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        first = await _login(client, user.username)
        other = await _login(client, user.username)  # another sign-in: another family
        second = (await _refresh(client, first["refresh_token"])).json()
        third = (await _refresh(client, second["refresh_token"])).json()
        # Someone replays the first (spent) refresh token.
        reuse = await _refresh(client, first["refresh_token"])
        _problem(reuse, 401, "invalid-token")
        row = await _row(session, await _session_of(session, first["refresh_token"]))
        assert row.is_active is False
        assert row.termination_reason == "REFRESH_TOKEN_REUSE"
        assert row.terminated_at is not None
        # Every token of the family is dead: the latest access and refresh tokens too.
        for access in (first, second, third):
            response = await client.get(ME, headers=_bearer(access["access_token"]))
            _problem(response, 401, "invalid-token")
        for refresh in (first, second, third):
            _problem(await _refresh(client, refresh["refresh_token"]), 401, "invalid-token")
        # The reason is not overwritten by later replays, and the other family lives on.
        assert (await _row(session, row.id)).termination_reason == "REFRESH_TOKEN_REUSE"
        assert (await client.get(ME, headers=_bearer(other["access_token"]))).status_code == 200
        assert (await _refresh(client, other["refresh_token"])).status_code == 200

    async def test_unknown_malformed_and_missing_tokens(self, client: AsyncClient) -> None:
        for token in ("x" * 43, "not-a-token", "a"):
            _problem(await _refresh(client, token), 401, "invalid-token")
        response = await client.post(REFRESH, json={})
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.refresh_token"]
        response = await client.post(REFRESH, json={"refresh_token": "x" * 513})
        assert response.status_code == 422

    async def test_an_access_token_is_not_a_refresh_token(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        _problem(await _refresh(client, body["access_token"]), 401, "invalid-token")
        _problem(await client.get(ME, headers=_bearer(body["refresh_token"])), 401, "invalid-token")
        # Neither attempt ended the session.
        assert (await client.get(ME, headers=_bearer(body["access_token"]))).status_code == 200

    async def test_an_expired_access_token_is_refused_and_a_refresh_renews_it(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        row = await _row(session, body["access_token"])
        await _set(session, row.id, access_expires_at=datetime.now(UTC) - timedelta(seconds=1))
        _problem(await client.get(ME, headers=_bearer(body["access_token"])), 401, "invalid-token")
        renewed = await _refresh(client, body["refresh_token"])
        assert renewed.status_code == 200
        headers = _bearer(renewed.json()["access_token"])
        assert (await client.get(ME, headers=headers)).status_code == 200

    async def test_no_refresh_extends_a_session_past_its_absolute_end(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        row = await _row(session, body["access_token"])
        end = datetime.now(UTC) + timedelta(minutes=2)
        await _set(session, row.id, expires_at=end)
        renewed = await _refresh(client, body["refresh_token"])
        assert renewed.status_code == 200
        # The new access token ends with the session, not 15 minutes from now.
        assert datetime.fromisoformat(renewed.json()["expires_at"]) == end
        assert datetime.fromisoformat(renewed.json()["refresh_expires_at"]) == end
        # Past the end: refused, and the session is ended EXPIRED (as of its end).
        past = datetime.now(UTC) - timedelta(seconds=1)
        await _set(session, row.id, expires_at=past)
        _problem(await _refresh(client, renewed.json()["refresh_token"]), 401, "invalid-token")
        after = await _row(session, row.id)
        assert (after.is_active, after.termination_reason) == (False, "EXPIRED")
        assert after.terminated_at == past

    async def test_an_idle_session_ends(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        row = await _row(session, body["access_token"])
        last = datetime.now(UTC) - timedelta(minutes=31)
        await _set(session, row.id, last_activity_at=last)
        # The access token is refused at once (it is still within its 15 minutes) ...
        _problem(await client.get(ME, headers=_bearer(body["access_token"])), 401, "invalid-token")
        # ... and a refresh ends the session IDLE_TIMEOUT, as of when it went idle.
        _problem(await _refresh(client, body["refresh_token"]), 401, "invalid-token")
        after = await _row(session, row.id)
        assert (after.is_active, after.termination_reason) == (False, "IDLE_TIMEOUT")
        assert after.terminated_at == last + timedelta(minutes=30)

    async def test_a_refresh_within_the_idle_limit_counts_as_activity(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        row = await _row(session, body["access_token"])
        await _set(session, row.id, last_activity_at=datetime.now(UTC) - timedelta(minutes=29))
        before = datetime.now(UTC)
        renewed = await _refresh(client, body["refresh_token"])
        assert renewed.status_code == 200
        assert (await _row(session, row.id)).last_activity_at >= before

    async def test_ended_sessions_and_suspended_users_cannot_refresh(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        assert (
            await client.post("/api/v1/auth/logout", headers=_bearer(body["access_token"]))
        ).status_code == 204
        _problem(await _refresh(client, body["refresh_token"]), 401, "invalid-token")
        assert (await _row(session, body["access_token"])).termination_reason == "LOGOUT"

        suspended = await create_user(session, role="AGENT")
        body = await _login(client, suspended.username)
        await session.execute(
            text("update iam.users set account_status = 'SUSPENDED' where id = :u"),
            {"u": suspended.id},
        )
        _problem(await _refresh(client, body["refresh_token"]), 401, "invalid-token")

    async def test_a_password_change_ends_the_other_families(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        kept = await _login(client, user.username)
        other = await _login(client, user.username)
        response = await client.post(
            "/api/v1/auth/password",
            json={"current_password": PASSWORD, "new_password": "a brand new passphrase 42"},
            headers=_bearer(kept["access_token"]),
        )
        assert response.status_code == 204, response.text
        _problem(await _refresh(client, other["refresh_token"]), 401, "invalid-token")
        assert (await _row(session, other["access_token"])).termination_reason == (
            "PASSWORD_CHANGED"
        )
        assert (await _refresh(client, kept["refresh_token"])).status_code == 200

    async def test_a_refresh_does_not_lift_the_enrolment_restriction(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        # An ADMIN without a second factor gets a session restricted to enrolment (0063).
        admin = await create_user(session, role="ADMIN")
        body = await _login(client, admin.username)
        assert body["two_factor_enrolment_required"] is True
        renewed = await _refresh(client, body["refresh_token"])
        assert renewed.status_code == 200
        assert renewed.json()["two_factor_enrolment_required"] is True
        response = await client.get(SESSIONS, headers=_bearer(renewed.json()["access_token"]))
        _problem(response, 403, "two-factor-enrolment-required")


class TestActivity:
    async def test_last_activity_is_written_at_most_once_a_minute(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        headers = _bearer(body["access_token"])
        row = await _row(session, body["access_token"])
        recent = datetime.now(UTC) - timedelta(seconds=30)
        await _set(session, row.id, last_activity_at=recent)
        assert (await client.get(ME, headers=headers)).status_code == 200
        assert (await _row(session, row.id)).last_activity_at == recent
        stale = datetime.now(UTC) - timedelta(minutes=2)
        await _set(session, row.id, last_activity_at=stale)
        before = datetime.now(UTC)
        assert (await client.get(ME, headers=headers)).status_code == 200
        touched = (await _row(session, row.id)).last_activity_at
        assert before <= touched <= datetime.now(UTC)
        # The write is attributed to the user in the audit trail.
        who = await session.scalar(
            text(
                "select user_id from audit.audit_log where table_name = 'iam.user_sessions'"
                " and record_id = :s and changed_fields = array['last_activity_at']"
                " order by timestamp desc limit 1"
            ),
            {"s": row.id},
        )
        assert who == user.id


# --- one's own sessions -----------------------------------------------------------------------


class TestOwnSessions:
    async def test_list_shows_active_first_with_device_and_current(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        phone = await _login(client, user.username, SAFARI_IPHONE)
        ended = await _login(client, user.username)
        await client.post("/api/v1/auth/logout", headers=_bearer(ended["access_token"]))
        desk = await _login(client, user.username, CHROME_WINDOWS)
        someone_else = await create_user(session, role="AGENT")
        await _login(client, someone_else.username)

        response = await client.get(SESSIONS, headers=_bearer(desk["access_token"]))
        assert response.status_code == 200, response.text
        items = response.json()["items"]
        ids = [(await _row(session, t["access_token"])).id for t in (desk, phone, ended)]
        assert [i["id"] for i in items] == [str(i) for i in ids]
        assert [i["current"] for i in items] == [True, False, False]
        assert [i["is_active"] for i in items] == [True, True, False]
        assert items[2]["termination_reason"] == "LOGOUT"
        assert items[2]["terminated_at"] is not None
        assert items[0]["termination_reason"] is None
        assert items[0]["device_info"] == {
            "browser": "Chrome",
            "browser_version": "120",
            "os": "Windows",
            "device_type": "desktop",
        }
        assert items[1]["device_info"]["device_type"] == "mobile"
        assert items[0]["user_agent"] == CHROME_WINDOWS
        assert items[0]["ip_address"] == "127.0.0.1"
        assert items[0]["login_method"] == "PASSWORD"
        assert set(items[0]) == {
            "id", "created_at", "last_activity_at", "expires_at", "ip_address", "user_agent",
            "device_info", "login_method", "is_active", "terminated_at", "termination_reason",
            "current",
        }  # fmt: skip
        # No token or hash is shown.
        assert "session_id" not in response.text and desk["access_token"] not in response.text
        # The caller's own session comes first, even when it is not the newest.
        response = await client.get(SESSIONS, headers=_bearer(phone["access_token"]))
        assert [(i["id"], i["current"]) for i in response.json()["items"]] == [
            (str(ids[1]), True),
            (str(ids[0]), False),
            (str(ids[2]), False),
        ]
        # ?ended=0 leaves the ended ones out.
        response = await client.get(
            SESSIONS, params={"ended": 0}, headers=_bearer(desk["access_token"])
        )
        assert [i["is_active"] for i in response.json()["items"]] == [True, True]

    async def test_end_one_of_my_sessions(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session, role="AGENT")
        mine = await _login(client, user.username)
        lost_phone = await _login(client, user.username)
        target = (await _row(session, lost_phone["access_token"])).id
        response = await client.delete(
            f"{SESSIONS}/{target}", headers=_bearer(mine["access_token"])
        )
        assert response.status_code == 204
        row = await _row(session, target)
        assert (row.is_active, row.termination_reason) == (False, "REVOKED_BY_USER")
        assert row.terminated_at is not None
        _problem(
            await client.get(ME, headers=_bearer(lost_phone["access_token"])), 401, "invalid-token"
        )
        _problem(await _refresh(client, lost_phone["refresh_token"]), 401, "invalid-token")
        assert (await client.get(ME, headers=_bearer(mine["access_token"]))).status_code == 200
        # Again: nothing changes (the first ending stands).
        again = await client.delete(f"{SESSIONS}/{target}", headers=_bearer(mine["access_token"]))
        assert again.status_code == 204
        assert (await _row(session, target)).terminated_at == row.terminated_at

    async def test_someone_elses_session_is_a_404_like_a_missing_one(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        victim = await create_user(session, role="AGENT")
        mine = await _login(client, user.username)
        theirs = await _login(client, victim.username)
        target = (await _row(session, theirs["access_token"])).id
        for session_id in (target, uuid.uuid4()):
            response = await client.delete(
                f"{SESSIONS}/{session_id}", headers=_bearer(mine["access_token"])
            )
            _problem(response, 404, "not-found")
            assert response.json()["detail"] == f"Session {session_id} does not exist."
        assert (await _row(session, target)).is_active is True
        assert (await client.get(ME, headers=_bearer(theirs["access_token"]))).status_code == 200

    async def test_end_all_my_other_sessions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        current = await _login(client, user.username)
        others = [await _login(client, user.username) for _ in range(2)]
        bystander = await create_user(session, role="AGENT")
        theirs = await _login(client, bystander.username)
        response = await client.delete(SESSIONS, headers=_bearer(current["access_token"]))
        assert response.status_code == 200
        assert response.json() == {"ended": 2}
        for other in others:
            row = await _row(session, other["access_token"])
            assert (row.is_active, row.termination_reason) == (False, "REVOKED_BY_USER")
        assert (await client.get(ME, headers=_bearer(current["access_token"]))).status_code == 200
        assert (await client.get(ME, headers=_bearer(theirs["access_token"]))).status_code == 200
        # Everywhere, this one included.
        response = await client.delete(
            SESSIONS,
            params={"include_current": "true"},
            headers=_bearer(current["access_token"]),
        )
        assert response.json() == {"ended": 1}
        _problem(
            await client.get(ME, headers=_bearer(current["access_token"])), 401, "invalid-token"
        )
        row = await _row(session, current["access_token"])
        assert row.termination_reason == "REVOKED_BY_USER"


# --- anyone's sessions (administrators) ---------------------------------------------------------


class TestAdmin:
    async def test_admin_lists_and_ends_a_users_session(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin = await create_user(session, role="ADMIN", totp=True)
        user = await create_user(session, role="CLAIMS_PROCESSOR")
        admin_token = (await _login(client, admin.username))["access_token"]
        a = await _login(client, user.username, CHROME_WINDOWS)
        b = await _login(client, user.username)
        base = f"/api/v1/iam/users/{user.id}/sessions"
        listed = await client.get(base, headers=_bearer(admin_token))
        assert listed.status_code == 200, listed.text
        items = listed.json()["items"]
        assert {i["id"] for i in items} == {
            str((await _row(session, t["access_token"])).id) for t in (a, b)
        }
        assert not any(i["current"] for i in items)
        target = (await _row(session, a["access_token"])).id
        response = await client.delete(f"{base}/{target}", headers=_bearer(admin_token))
        assert response.status_code == 204
        row = await _row(session, target)
        assert (row.is_active, row.termination_reason) == (False, "REVOKED_BY_ADMIN")
        _problem(await client.get(ME, headers=_bearer(a["access_token"])), 401, "invalid-token")
        _problem(await _refresh(client, a["refresh_token"]), 401, "invalid-token")
        assert (await client.get(ME, headers=_bearer(b["access_token"]))).status_code == 200

    async def test_admin_ends_all_of_a_users_sessions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin = await create_user(session, role="ADMIN", totp=True)
        user = await create_user(session, role="AGENT")
        admin_token = (await _login(client, admin.username))["access_token"]
        tokens = [await _login(client, user.username) for _ in range(3)]
        response = await client.delete(
            f"/api/v1/iam/users/{user.id}/sessions", headers=_bearer(admin_token)
        )
        assert response.status_code == 200
        assert response.json() == {"ended": 3}
        for t in tokens:
            row = await _row(session, t["access_token"])
            assert row.termination_reason == "REVOKED_BY_ADMIN"
            _problem(await _refresh(client, t["refresh_token"]), 401, "invalid-token")
        assert (await client.get(ME, headers=_bearer(admin_token))).status_code == 200

    async def test_a_session_under_the_wrong_user_or_an_unknown_user_is_a_404(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin = await create_user(session, role="ADMIN", totp=True)
        user = await create_user(session, role="AGENT")
        other = await create_user(session, role="AGENT")
        admin_token = (await _login(client, admin.username))["access_token"]
        theirs = await _login(client, other.username)
        target = (await _row(session, theirs["access_token"])).id
        response = await client.delete(
            f"/api/v1/iam/users/{user.id}/sessions/{target}", headers=_bearer(admin_token)
        )
        _problem(response, 404, "not-found")
        assert (await _row(session, target)).is_active is True
        for method in ("GET", "DELETE"):
            response = await client.request(
                method, f"/api/v1/iam/users/{uuid.uuid4()}/sessions", headers=_bearer(admin_token)
            )
            _problem(response, 404, "not-found")

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        user = await create_user(session, role="AGENT")
        await _login(client, user.username)
        base = f"/api/v1/iam/users/{user.id}/sessions"
        auditor = await create_user(session, role="AUDITOR")
        auditor_token = (await _login(client, auditor.username))["access_token"]
        customer = await create_user(session, role="CUSTOMER")
        customer_token = (await _login(client, customer.username))["access_token"]
        # An auditor sees sessions (iam.sessions:read) but cannot end them.
        assert (await client.get(base, headers=_bearer(auditor_token))).status_code == 200
        _problem(await client.delete(base, headers=_bearer(auditor_token)), 403, "forbidden")
        for method in ("GET", "DELETE"):
            response = await client.request(method, base, headers=_bearer(customer_token))
            _problem(response, 403, "forbidden")
        active = await session.scalar(
            text("select count(*) from iam.user_sessions where user_id = :u and is_active"),
            {"u": user.id},
        )
        assert active == 1

    async def test_only_a_super_admin_ends_a_super_admins_sessions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin = await create_user(session, role="ADMIN", totp=True)
        root = await create_user(session, role="SUPER_ADMIN", totp=True)
        root2 = await create_user(session, role="SUPER_ADMIN", totp=True)
        admin_token = (await _login(client, admin.username))["access_token"]
        root_body = await _login(client, root.username)
        root2_token = (await _login(client, root2.username))["access_token"]
        base = f"/api/v1/iam/users/{root.id}/sessions"
        target = (await _row(session, root_body["access_token"])).id
        _problem(await client.delete(base, headers=_bearer(admin_token)), 403, "forbidden")
        response = await client.delete(f"{base}/{target}", headers=_bearer(admin_token))
        _problem(response, 403, "forbidden")
        assert (await _row(session, target)).is_active is True
        response = await client.delete(base, headers=_bearer(root2_token))
        assert response.json() == {"ended": 1}


# --- termination reasons and the sessions job --------------------------------------------------


class TestTermination:
    async def test_the_check_refuses_an_unknown_reason(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        body = await _login(client, user.username)
        row = await _row(session, body["access_token"])
        with pytest.raises(IntegrityError, match="ck_user_sessions_termination_reason"):
            async with session.begin_nested():
                await _set(session, row.id, is_active=False, termination_reason="BORED")
        assert (await _row(session, row.id)).termination_reason is None

    async def test_the_job_ends_idle_and_expired_sessions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await create_user(session, role="AGENT")
        idle, expired, live = [await _login(client, user.username) for _ in range(3)]
        now = datetime.now(UTC)
        idle_row = await _row(session, idle["access_token"])
        expired_row = await _row(session, expired["access_token"])
        last = now - timedelta(minutes=45)
        await _set(session, idle_row.id, last_activity_at=last)
        await _set(session, expired_row.id, expires_at=now - timedelta(minutes=1))
        ended = await end_expired_sessions(session, now, Settings())
        assert ended == 2
        after = await _row(session, idle_row.id)
        assert (after.is_active, after.termination_reason) == (False, "IDLE_TIMEOUT")
        assert after.terminated_at == last + timedelta(minutes=30)
        after = await _row(session, expired_row.id)
        assert (after.is_active, after.termination_reason) == (False, "EXPIRED")
        assert (await _row(session, live["access_token"])).is_active is True
        assert await end_expired_sessions(session, now, Settings()) == 0


# --- two parallel refreshes with one token, on two app instances ---------------------------


@pytest.fixture
async def committed_user(db_url: str) -> AsyncIterator[tuple[uuid.UUID, str]]:
    """A committed user (parallel requests need their own connections); deleted afterwards
    with its sessions and refresh tokens."""
    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    username = f"sessions-race-{uuid.uuid4().hex[:8]}"
    async with AsyncSession(engine, expire_on_commit=False) as s:
        user = await create_user(s, role="AGENT", username=username)
        await s.commit()
    try:
        yield user.id, username
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("delete from iam.user_sessions where user_id = :u"), {"u": user.id}
            )
            await conn.execute(text("delete from iam.users where id = :u"), {"u": user.id})
        await engine.dispose()


async def test_parallel_refreshes_with_one_token_give_one_success_and_end_the_family(
    db_url: str, committed_user: tuple[uuid.UUID, str]
) -> None:
    user_id, username = committed_user
    async with AsyncExitStack() as stack:
        apps = []
        for _ in range(2):
            engine = create_async_engine(with_driver(db_url, "asyncpg"), pool_size=4)
            stack.push_async_callback(engine.dispose)
            app = create_app(Settings(), database=Database.from_engine(engine))
            await stack.enter_async_context(LifespanManager(app))
            apps.append(app)
        clients = [
            await stack.enter_async_context(
                AsyncClient(transport=ASGITransport(app=app), base_url="http://test")
            )
            for app in apps
        ]
        body = await _login(clients[0], username)
        for _ in range(3):  # a few rounds: each starts a new family
            responses = await asyncio.gather(*(_refresh(c, body["refresh_token"]) for c in clients))
            assert sorted(r.status_code for r in responses) == [200, 401]
            (winner,) = [r.json() for r in responses if r.status_code == 200]
            # The loser's replay ended the family: the winner's new tokens are dead too.
            me = await clients[0].get(ME, headers=_bearer(winner["access_token"]))
            assert me.status_code == 401
            assert (await _refresh(clients[1], winner["refresh_token"])).status_code == 401
            body = await _login(clients[1], username)
    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    try:
        async with AsyncSession(engine) as s:
            reasons = (
                await s.execute(
                    text(
                        "select is_active, termination_reason from iam.user_sessions"
                        " where user_id = :u order by created_at"
                    ),
                    {"u": user_id},
                )
            ).all()
    finally:
        await engine.dispose()
    assert [tuple(r) for r in reasons] == [(False, "REFRESH_TOKEN_REUSE")] * 3 + [(True, None)]


async def test_a_request_does_not_wait_for_a_locked_session_row(
    db_url: str, committed_user: tuple[uuid.UUID, str]
) -> None:
    """The once-a-minute activity write skips a session row another transaction holds (a
    slow request of the same session, an administrator ending it) instead of queueing."""
    _, username = committed_user
    engine = create_async_engine(with_driver(db_url, "asyncpg"), pool_size=4)
    try:
        app = create_app(Settings(), database=Database.from_engine(engine))
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            body = await _login(c, username)
            stale = datetime.now(UTC) - timedelta(minutes=5)
            async with engine.begin() as conn:
                await conn.execute(
                    text(
                        "update iam.user_sessions set last_activity_at = :t where session_id = :h"
                    ),
                    {"t": stale, "h": _sha(body["access_token"])},
                )
            async with engine.connect() as holder:
                await holder.execute(
                    text("select 1 from iam.user_sessions where session_id = :h for update"),
                    {"h": _sha(body["access_token"])},
                )
                me = await asyncio.wait_for(
                    c.get(ME, headers=_bearer(body["access_token"])), timeout=10
                )
                assert me.status_code == 200
                await holder.rollback()
            async with engine.connect() as conn:
                last = await conn.scalar(
                    text("select last_activity_at from iam.user_sessions where session_id = :h"),
                    {"h": _sha(body["access_token"])},
                )
            assert last == stale  # skipped this time; the next request writes it
            assert (await c.get(ME, headers=_bearer(body["access_token"]))).status_code == 200
            async with engine.connect() as conn:
                last = await conn.scalar(
                    text("select last_activity_at from iam.user_sessions where session_id = :h"),
                    {"h": _sha(body["access_token"])},
                )
            assert last > stale
    finally:
        await engine.dispose()
