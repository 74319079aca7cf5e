"""Every page through the app (httpx): status, content, permission refusals (403 page),
anonymous visitors sent to sign in, and CSRF refusals."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.documents import pdf
from polis.health.authorizations import today_jakarta
from polis.health.models import Claim
from polis.iam.models import UserSession
from polis.iam.service import auth as auth_service
from polis.web import i18n, messages
from polis.web.session import REFRESH_COOKIE, SESSION_COOKIE
from tests.web.helpers import (
    csrf,
    decided_claim,
    make_user,
    pended_claim,
    pending_letter,
    sign_in,
    staff,
)

PAGES = [
    "/web/",
    "/web/health/claims",
    "/web/health/authorizations",
    "/web/health/payments",
    "/web/dashboard",
]


class TestFoundation:
    async def test_root_redirects_to_the_pages(self, client: AsyncClient) -> None:
        response = await client.get("/")
        assert (response.status_code, response.headers["location"]) == (303, "/web/")

    async def test_anonymous_visitors_are_sent_to_sign_in(self, client: AsyncClient) -> None:
        for path in PAGES:
            response = await client.get(path)
            assert response.status_code == 303, path
            assert response.headers["location"].startswith("/web/sign-in?next="), path

    async def test_htmx_requests_get_hx_redirect(self, client: AsyncClient) -> None:
        response = await client.get("/web/health/claims", headers={"HX-Request": "true"})
        assert response.status_code == 200
        assert response.headers["hx-redirect"].startswith("/web/sign-in")

    async def test_unknown_page_is_the_404_page_in_the_layout(self, client: AsyncClient) -> None:
        response = await client.get("/web/no/such/page")
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("text/html")
        assert '<html lang="en">' in response.text and "Page not found" in response.text
        assert 'class="skip"' in response.text

    async def test_malformed_id_is_the_404_page(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "CLAIMS_PROCESSOR")
        response = await client.get("/web/health/claims/not-a-uuid")
        assert response.status_code == 404 and "Page not found" in response.text
        other = await client.get("/web/no/such/page")
        assert 'href="/web/health/claims"' in other.text  # the layout knows the visitor

    async def test_unexpected_failure_is_the_500_page_with_the_request_id(
        self, client: AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from polis.web.pages import health

        async def broken(*args: object, **kwargs: object) -> None:
            raise RuntimeError("boom")

        await staff(client, session, "CLAIMS_PROCESSOR")
        monkeypatch.setattr(health.claim_service, "get", broken)
        response = await client.get("/web/health/claims/00000000-0000-4000-8000-000000000000")
        assert response.status_code == 500
        assert "Something went wrong" in response.text and "boom" not in response.text
        assert response.headers["x-request-id"] in response.text

    async def test_api_404_stays_problem_json(self, client: AsyncClient) -> None:
        response = await client.get("/api/v1/no-such-route")
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/problem+json"

    async def test_static_files_are_served_with_cache_headers(self, client: AsyncClient) -> None:
        css = await client.get("/web/static/css/polis.css")
        assert css.status_code == 200 and ":focus-visible" in css.text
        assert css.headers["cache-control"].startswith("public, max-age=")
        htmx = await client.get("/web/static/vendor/htmx/htmx.min.js")
        assert htmx.status_code == 200 and "htmx" in htmx.text
        again = await client.get(
            "/web/static/css/polis.css", headers={"If-None-Match": css.headers["etag"]}
        )
        assert again.status_code == 304

    async def test_thai_font_is_served_from_the_documents_package(
        self, client: AsyncClient
    ) -> None:
        font = await client.get("/web/static/fonts/Sarabun-Regular.ttf")
        assert font.status_code == 200 and len(font.content) > 10_000
        assert font.headers["cache-control"].startswith("public")

    async def test_pages_reference_no_other_site(self, client: AsyncClient) -> None:
        page = await client.get("/web/sign-in")
        assert not re.search(r'(src|href)="(https?:)?//', page.text)
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert page.headers["cache-control"] == "no-store"

    async def test_accept_language_then_cookie_then_query(self, client: AsyncClient) -> None:
        page = await client.get("/web/sign-in", headers={"Accept-Language": "id-ID,id;q=0.9"})
        assert '<html lang="id">' in page.text and "Nama pengguna" in page.text
        switch = await client.get("/web/lang/th?next=/web/sign-in")
        assert switch.status_code == 303 and switch.headers["location"] == "/web/sign-in"
        assert "polis_lang=th" in switch.headers["set-cookie"]
        page = await client.get("/web/sign-in", headers={"Accept-Language": "id"})
        assert '<html lang="th">' in page.text and "ชื่อผู้ใช้" in page.text
        page = await client.get("/web/sign-in?lang=en")
        assert '<html lang="en">' in page.text and "Username" in page.text

    async def test_language_switch_never_leaves_the_site(self, client: AsyncClient) -> None:
        response = await client.get("/web/lang/id?next=https://evil.example/")
        assert response.headers["location"] == "/web/"


class TestSignIn:
    async def test_sign_in_sets_an_httponly_lax_cookie_holding_an_iam_session(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "CLAIMS_PROCESSOR")
        response = await sign_in(client, user.username)
        assert (response.status_code, response.headers["location"]) == (303, "/web/")
        cookie = next(
            c for c in response.headers.get_list("set-cookie") if c.startswith(SESSION_COOKIE)
        )
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/web" in cookie
        assert "Secure" not in cookie  # WEB_COOKIE_SECURE unset outside production
        rows = await session.scalar(
            select(UserSession).where(UserSession.user_id == user.id, UserSession.is_active)
        )
        assert rows is not None and rows.login_method == "PASSWORD"
        home = await client.get("/web/")
        assert home.status_code == 200
        assert "Welcome, Test" in home.text and "CLAIMS_PROCESSOR" in home.text

    async def test_wrong_password_is_one_message_and_counts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "FINANCE")
        response = await sign_in(client, user.username, "wrong password!!")
        assert response.status_code == 401
        assert "Invalid username or password." in response.text
        unknown = await sign_in(client, "nobody-here", "wrong password!!")
        assert unknown.status_code == 401 and "Invalid username or password." in unknown.text
        attempts = await session.scalar(
            text("select failed_login_attempts from iam.users where id = :i"), {"i": user.id}
        )
        assert attempts == 1  # committed although the page answered 401

    async def test_lockout_behaves_as_the_api(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "AUDITOR")
        for _ in range(5):
            await sign_in(client, user.username, "wrong password!!")
        response = await sign_in(client, user.username)  # the right password, too late
        assert response.status_code == 401

    async def test_empty_fields_are_shown_next_to_them(self, client: AsyncClient) -> None:
        form = await client.get("/web/sign-in")
        response = await client.post(
            "/web/sign-in", data={"username": "", "password": "", "csrf_token": csrf(form)}
        )
        assert response.status_code == 422
        assert 'id="username-error"' in response.text and "Enter your username." in response.text
        assert 'aria-describedby="password-error"' in response.text

    async def test_sign_in_without_csrf_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "FINANCE")
        response = await client.post(
            "/web/sign-in", data={"username": user.username, "password": "x"}
        )
        assert response.status_code == 403 and "The form has expired" in response.text
        forged = await client.post(
            "/web/sign-in",
            data={"username": user.username, "password": "x", "csrf_token": "0" * 64},
        )
        assert forged.status_code == 403

    async def test_a_session_awaiting_two_factor_enrolment_is_sent_to_the_enrolment(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        # Second-factor sign-in and enrolment pages: tests/web/test_two_factor_pages.py.
        user = await make_user(session, "ADJUSTER")
        issued = await auth_service.create_session(session, user)
        await session.commit()
        client.cookies.set(SESSION_COOKIE, issued.access_token, path="/web")
        response = await client.get("/web/")
        assert (response.status_code, response.headers["location"]) == (303, "/web/two-factor")

    async def test_must_change_password_leads_to_the_change_form(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await make_user(session, "MEDICAL_REVIEWER", must_change_password=True)
        response = await sign_in(client, user.username)
        assert response.headers["location"] == "/web/password"
        blocked = await client.get("/web/health/claims")
        assert (blocked.status_code, blocked.headers["location"]) == (303, "/web/password")
        form = await client.get("/web/password")
        assert form.status_code == 200 and "set by an administrator" in form.text
        weak = await client.post(
            "/web/password",
            data={
                "current_password": "correct horse battery staple",
                "new_password": "short",
                "new_password_again": "short",
                "csrf_token": csrf(form),
            },
        )
        assert weak.status_code == 422 and 'id="new_password-error"' in weak.text
        wrong = await client.post(
            "/web/password",
            data={
                "current_password": "not it at all",
                "new_password": "Another long passphrase 42",
                "new_password_again": "Another long passphrase 42",
                "csrf_token": csrf(form),
            },
        )
        assert wrong.status_code == 422 and 'id="current_password-error"' in wrong.text
        done = await client.post(
            "/web/password",
            data={
                "current_password": "correct horse battery staple",
                "new_password": "Another long passphrase 42",
                "new_password_again": "Another long passphrase 42",
                "csrf_token": csrf(form),
            },
        )
        assert (done.status_code, done.headers["location"]) == (303, "/web/")
        home = await client.get("/web/")
        assert home.status_code == 200 and "Your password has been changed." in home.text

    async def test_sign_out_ends_the_session(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "FINANCE")
        home = await client.get("/web/")
        refused = await client.post("/web/sign-out", data={})
        assert refused.status_code == 403
        response = await client.post("/web/sign-out", data={"csrf_token": csrf(home)})
        assert (response.status_code, response.headers["location"]) == (303, "/web/sign-in")
        active = await session.scalar(
            text("select count(*) from iam.user_sessions where user_id = :u and is_active"),
            {"u": user.id},
        )
        assert active == 0
        after = await client.get("/web/")
        assert after.status_code == 303


class TestRefresh:
    async def _expire_access(self, session: AsyncSession, user_id: object) -> None:
        await session.execute(
            text(
                "update iam.user_sessions set access_expires_at = now() - interval '1 minute'"
                " where user_id = :u"
            ),
            {"u": user_id},
        )
        await session.commit()

    async def test_an_expired_access_token_is_refreshed_in_place(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "FINANCE")
        home = await client.get("/web/")
        old_access = client.cookies.get(SESSION_COOKIE, path="/web")
        await self._expire_access(session, user.id)
        page = await client.get("/web/health/payments")
        assert page.status_code == 200
        cookies = page.headers.get_list("set-cookie")
        assert any(c.startswith(f"{SESSION_COOKIE}=") for c in cookies)
        assert any(c.startswith(f"{REFRESH_COOKIE}=") for c in cookies)
        assert client.cookies.get(SESSION_COOKIE, path="/web") != old_access
        # A form rendered before the refresh still posts: the CSRF token is the session's.
        response = await client.post("/web/health/payments/runs", data={"csrf_token": csrf(home)})
        assert response.status_code == 303

    async def test_a_reused_refresh_token_ends_the_session(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user = await staff(client, session, "FINANCE")
        stolen = client.cookies.get(REFRESH_COOKIE, path="/web")
        await self._expire_access(session, user.id)
        assert (await client.get("/web/")).status_code == 200  # refreshed: stolen is spent
        client.cookies.set(REFRESH_COOKIE, stolen or "", path="/web")
        client.cookies.set(SESSION_COOKIE, "expired", path="/web")
        response = await client.get("/web/")
        assert response.status_code == 303
        assert response.headers["location"].startswith("/web/sign-in")
        reason = await session.scalar(
            text("select termination_reason from iam.user_sessions where user_id = :u"),
            {"u": user.id},
        )
        assert reason == "REFRESH_TOKEN_REUSE"


class TestHomeAndPermissions:
    async def test_home_links_follow_the_role(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "FINANCE")
        home = await client.get("/web/")
        assert 'href="/web/health/payments"' in home.text
        assert 'href="/web/health/authorizations"' not in home.text

    async def test_pages_refuse_roles_without_the_permission(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "FINANCE")
        for path in ("/web/health/authorizations", "/web/health/members/X-1"):
            response = await client.get(path)
            assert response.status_code == 403, path
            assert "You may not open this page" in response.text

    async def test_auditor_reads_but_may_not_decide(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await staff(client, session, "AUDITOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert page.status_code == 200 and "Save the decision" not in page.text
        response = await client.post(
            f"/web/health/claims/{pended.claim_id}/decision",
            data={"decision": "denied", "notes": "x", "csrf_token": csrf(page)},
        )
        assert response.status_code == 403


class TestClaims:
    async def test_worklist_lists_pended_first_with_filters(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        approved_id = await decided_claim(session, pended.world)
        await staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(
            "/web/health/claims", params={"member": pended.world.member.member_number}
        )
        assert page.status_code == 200
        assert page.text.index(pended.claim_id) < page.text.index(approved_id)
        only = await client.get(
            "/web/health/claims",
            params={"status": "pended", "member": pended.world.member.member_number},
        )
        assert pended.claim_id in only.text and approved_id not in only.text
        partial = await client.get(
            "/web/health/claims",
            params={"status": "approved", "member": pended.world.member.member_number},
            headers={"HX-Request": "true", "HX-Target": "claims-table"},
        )
        assert partial.text.lstrip().startswith('<div id="claims-table"')
        assert approved_id in partial.text and "<html" not in partial.text

    async def test_worklist_pages_with_a_cursor(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        ids = [await decided_claim(session, pended.world) for _ in range(26)]
        await staff(client, session, "CLAIMS_PROCESSOR")
        member = pended.world.member.member_number
        first = await client.get("/web/health/claims", params={"member": member})
        cursor = re.search(r'cursor=([^"&]+)"', first.text)
        assert cursor, "no next page link"
        rows = await client.get(
            "/web/health/claims?member=" + member + "&cursor=" + cursor.group(1),
            headers={"HX-Request": "true", "HX-Target": "more-row"},
        )
        shown = set(re.findall(r"/web/health/claims/([0-9a-f-]{36})", first.text + rows.text))
        assert shown == {pended.claim_id, *ids}

    async def test_bad_dates_are_shown_next_to_their_field(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(
            "/web/health/claims", params={"from": "2025-03-10", "to": "2025-01-01"}
        )
        assert page.status_code == 200 and 'id="to-error"' in page.text

    async def test_claim_page_shows_lines_trace_and_history(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await staff(client, session, "MEDICAL_REVIEWER")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        assert page.status_code == 200
        assert pended.claim_number in page.text and "OP-GP" in page.text
        assert "Provider contract discount" in page.text  # the trace in plain words
        assert "Above the amount a reviewer must check" in page.text
        assert "IDR 1,000,000.00" in page.text
        assert "Save the decision" in page.text
        thai = await client.get(f"/web/health/claims/{pended.claim_id}?lang=th")
        assert "ส่วนลดตามสัญญาผู้ให้บริการ" in thai.text and "2568" in thai.text
        indonesian = await client.get(f"/web/health/claims/{pended.claim_id}?lang=id")
        assert "Diskon kontrak provider" in indonesian.text
        assert "Rp 1.000.000,00" in indonesian.text

    async def test_unknown_claim_is_the_404_page(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "CLAIMS_PROCESSOR")
        response = await client.get("/web/health/claims/00000000-0000-4000-8000-000000000000")
        assert response.status_code == 404 and "Page not found" in response.text

    async def test_decision_errors_are_next_to_the_field_and_nothing_moves(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        response = await client.post(
            f"/web/health/claims/{pended.claim_id}/decision",
            data={"decision": "", "notes": "", "csrf_token": csrf(page)},
        )
        assert response.status_code == 422
        assert 'id="decision-error"' in response.text and "Choose approve or deny." in response.text
        deny = await client.post(
            f"/web/health/claims/{pended.claim_id}/decision",
            data={"decision": "denied", "notes": "", "csrf_token": csrf(page)},
        )
        assert deny.status_code == 422 and 'id="notes-error"' in deny.text
        status = await session.scalar(
            select(Claim.status)
            .where(Claim.id == pended.claim_id)
            .execution_options(populate_existing=True)
        )
        assert status == "pended"

    async def test_decision_without_csrf_is_refused(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await staff(client, session, "CLAIMS_PROCESSOR")
        response = await client.post(
            f"/web/health/claims/{pended.claim_id}/decision", data={"decision": "denied"}
        )
        assert response.status_code == 403 and "The form has expired" in response.text

    async def test_approval_readjudicates_and_links_the_replacement(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/claims/{pended.claim_id}")
        response = await client.post(
            f"/web/health/claims/{pended.claim_id}/decision",
            data={"decision": "approved", "notes": "Checked", "csrf_token": csrf(page)},
        )
        assert response.status_code == 303
        target = response.headers["location"]
        assert target.startswith("/web/health/claims/") and pended.claim_id not in target
        replacement = await client.get(target)
        assert replacement.status_code == 200
        assert "The decision has been saved." in replacement.text
        assert "Download the EOB (PDF)" in replacement.text
        pdf = await client.get(target + "/eob.pdf?lang=en")
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        statuses = dict(
            (
                await session.execute(
                    text("select id::text, status from claims.claim where member_id = :m"),
                    {"m": pended.world.member.id},
                )
            ).all()
        )
        assert statuses[pended.claim_id] == "voided"
        assert statuses[target.rsplit("/", 1)[1]] == "approved"


class TestMemberAuthorizationsPayments:
    async def test_member_page_shows_coverage_bars_and_claims(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        await decided_claim(session, pended.world)
        await staff(client, session, "CLAIMS_PROCESSOR")
        page = await client.get(f"/web/health/members/{pended.world.member.member_number}")
        assert page.status_code == 200
        assert pended.world.policy.policy_number in page.text
        assert "<meter" in page.text and "Plan annual limit" in page.text
        assert pended.claim_number in page.text
        claim_year = await client.get(
            f"/web/health/members/{pended.world.member.member_number}?year=2025"
        )
        assert "used IDR 315,000.00" in claim_year.text  # the approved claim's OP-GP use
        missing = await client.get("/web/health/members/NO-SUCH-MEMBER")
        assert missing.status_code == 404

    async def test_authorization_queue_decision_with_field_errors(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        letter = await pending_letter(session)
        await staff(client, session, "MEDICAL_REVIEWER")
        queue = await client.get("/web/health/authorizations")
        assert queue.status_code == 200 and letter in queue.text
        refused = await client.post(
            f"/web/health/authorizations/{letter}/decision",
            data={
                "decision": "approved",
                "approved_amount": "99999999",
                "approved_days": "",
                "csrf_token": csrf(queue),
            },
        )
        assert refused.status_code == 422
        assert f'id="approved_amount-{letter}-error"' in refused.text
        assert f'id="approved_days-{letter}-error"' in refused.text
        typo = await client.post(
            f"/web/health/authorizations/{letter}/decision",
            data={"decision": "approved", "approved_amount": "abc", "csrf_token": csrf(queue)},
        )
        assert typo.status_code == 422 and "greater than zero" in typo.text
        done = await client.post(
            f"/web/health/authorizations/{letter}/decision",
            data={
                "decision": "approved",
                "approved_amount": "3000000",
                "approved_days": "3",
                "csrf_token": csrf(queue),
            },
        )
        assert done.status_code == 303
        status = await session.scalar(
            text("select status from claims.authorization where authorization_number = :n"),
            {"n": letter},
        )
        assert status == "approved"

    async def test_payment_run_from_the_page(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        pended = await pended_claim(session)
        approved_id = await decided_claim(session, pended.world)
        await staff(client, session, "FINANCE")
        page = await client.get("/web/health/payments")
        assert page.status_code == 200 and "Start a payment run" in page.text
        response = await client.post("/web/health/payments/runs", data={"csrf_token": csrf(page)})
        assert response.status_code == 303
        after = await client.get("/web/health/payments")
        assert "The payment run has been created." in after.text
        assert approved_id in after.text and "PRUN-" in after.text
        status = await session.scalar(
            text("select status from claims.claim where id = :c"), {"c": approved_id}
        )
        assert status == "payment_pending"

    async def test_processor_may_not_start_a_payment_run(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "CLAIMS_PROCESSOR")
        home = await client.get("/web/")
        response = await client.post("/web/health/payments/runs", data={"csrf_token": csrf(home)})
        assert response.status_code == 403


class TestDashboard:
    async def test_dashboard_draws_an_svg_chart_with_a_table(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        await staff(client, session, "AUDITOR")
        page = await client.get("/web/dashboard")
        assert page.status_code == 200
        assert "<svg" in page.text and 'role="img"' in page.text and "<table" in page.text
        thai = await client.get("/web/dashboard?lang=th")
        assert str(today_jakarta().year + 543) in thai.text


class TestCatalogs:
    def test_every_message_is_translated_in_thai_and_indonesian(self) -> None:
        assert messages.missing("th") == []
        assert messages.missing("id") == []

    def test_catalogs_compile_and_translate(self) -> None:
        assert i18n.translations("th").gettext("Sign in") == "เข้าสู่ระบบ"
        assert i18n.translations("id").gettext("Sign in") == "Masuk"
        assert i18n.translations("en").gettext("Sign in") == "Sign in"

    def test_money_follows_the_eob(self) -> None:
        amount = Decimal("1234567.5")
        assert i18n.money(amount, "id") == pdf.money(amount, "IDR", "id") == "Rp 1.234.567,50"
        assert i18n.money(amount, "en") == pdf.money(amount, "IDR", "en")

    def test_thai_dates_are_buddhist_era(self) -> None:
        assert i18n.day(date(2025, 3, 10), "th") == "10 มี.ค. 2568"
        assert i18n.day(date(2025, 3, 10), "id") == "10 Mar 2025"
