"""Motor back office pages through the app (httpx): customers and vehicles (the DLT check
against the sandbox served over real HTTP), the quote -> bind -> pay wizard with its
PromptPay QR, the policy page (documents, payments, receipts, renewals) and claims (board,
first notice of loss, assessment, approval, settlement). Status, contents, rows written and
not written, refusals by permission and CSRF."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.integrations.dlt import DltClient
from polis.motor.quotes import today_bangkok
from polis.web.pages.motor import BANGKOK, baht
from polis.web.session import LANG_COOKIE, SESSION_COOKIE
from tests.iam.factories import signed_in
from tests.integrations.sandbox import KEY, RunningSandbox, running_sandbox
from tests.motor.claim_factory import backdate_policy, class1_quote, insert_claim
from tests.motor.test_customers_api import CUSTOMERS, customer_body
from tests.motor.test_policies_api import MOTOR, bind, confirm, quote
from tests.motor.test_vehicles_api import vehicle_body
from tests.web.helpers import csrf, staff

DLT_DOWN_PLATE = "1กข 9995"  # the sandbox answers 503 for this plate


@dataclass
class Site:
    """The app (requests inside the test transaction, DLT at a sandbox) and its client."""

    client: AsyncClient
    app: FastAPI
    sandbox: RunningSandbox


@pytest.fixture
async def site(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Site]:
    """The app configured by DLT_* settings to call a sandbox served for this test."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    async with running_sandbox() as sandbox:
        settings = Settings(
            database_url=db_url,
            dlt_base_url=sandbox.base_url,
            dlt_api_key=KEY,
            dlt_timeout_seconds=2,
            dlt_retries=0,
            dlt_breaker_failures=5,
            dlt_breaker_reset_seconds=60,
        )
        database = Database(engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(settings, database=database)
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            yield Site(client=c, app=app, sandbox=sandbox)


@dataclass
class World:
    """A customer with a vehicle made through the API by an agent."""

    headers: dict[str, str]
    customer: dict[str, Any]
    vehicle: dict[str, Any]
    national_id: str


async def world(
    client: AsyncClient, session: AsyncSession, plate: str | None = None, **customer: Any
) -> World:
    _, headers = await signed_in(client, session, role="AGENT")
    body = customer_body(**customer)
    made = await client.post(CUSTOMERS, json=body, headers=headers)
    assert made.status_code == 201, made.text
    vbody = vehicle_body(**({"registration_number": plate, "province": "Bangkok"} if plate else {}))
    vehicle = await client.post(
        f"{CUSTOMERS}/{made.json()['id']}/vehicles", json=vbody, headers=headers
    )
    assert vehicle.status_code == 201, vehicle.text
    return World(headers, made.json(), vehicle.json(), body["national_id"])


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def post_form(client: AsyncClient, page: str, action: str, data: dict[str, str]) -> Response:
    """GET `page` for its CSRF token, then POST `data` to `action`."""
    got = await client.get(page)
    assert got.status_code == 200, got.text
    return await client.post(action, data={**data, "csrf_token": csrf(got)})


def error_of(html: str, field: str) -> str:
    """The error text shown next to form field `field` ('' when none)."""
    found = re.search(rf'id="f-{field}-error">([^<]*)<', html)
    return found.group(1) if found else ""


async def web_session_of(client: AsyncClient, session: AsyncSession, role: str) -> uuid.UUID:
    """A signed-in user of a role that requires a second factor, without going through the
    sign-in pages (tests/web/test_two_factor_pages.py covers those): the API's full session
    (password + TOTP) placed in the page cookie. Returns the user id."""
    user, headers = await signed_in(client, session, role=role)
    token = headers["Authorization"].removeprefix("Bearer ")
    client.cookies.set(SESSION_COOKIE, token, path="/web")
    client.cookies.set(LANG_COOKIE, "en", path="/web")  # the factory's users prefer Thai
    return user.id


# --- customers and vehicles ------------------------------------------------------------------


class TestCustomers:
    async def test_search_by_national_id_through_the_blind_index(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session)
        await staff(site.client, session, "AGENT")
        nid = w.national_id
        spaced = f"{nid[0]}-{nid[1:5]}-{nid[5:10]}-{nid[10:12]}-{nid[12]}"
        page = await site.client.get("/web/motor/customers", params={"q": spaced})
        assert page.status_code == 200
        assert f'href="/web/motor/customers/{w.customer["id"]}"' in page.text
        assert nid not in page.text  # masked as the API masks it
        assert w.customer["national_id"] in page.text and "*" in w.customer["national_id"]

    async def test_search_by_name_and_email(self, site: Site, session: AsyncSession) -> None:
        marker = "".join(chr(ord("a") + int(c, 16) % 26) for c in uuid.uuid4().hex[:6])
        w = await world(site.client, session, first_name_en=f"Kittipong{marker}")
        other = await world(site.client, session)
        await staff(site.client, session, "AGENT")
        by_name = await site.client.get("/web/motor/customers", params={"q": f"ttipong{marker}"})
        assert f"/web/motor/customers/{w.customer['id']}" in by_name.text
        assert f"/web/motor/customers/{other.customer['id']}" not in by_name.text
        email = other.customer["email"].upper()
        by_email = await site.client.get("/web/motor/customers", params={"q": email})
        assert f"/web/motor/customers/{other.customer['id']}" in by_email.text
        assert f"/web/motor/customers/{w.customer['id']}" not in by_email.text
        none = await site.client.get("/web/motor/customers", params={"q": "nobody-like-this"})
        assert "No customer matches." in none.text

    async def test_customer_page_vehicles_policies_claims(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session)
        q = await quote(site.client, w.headers, w.vehicle["id"])
        bound = await bind(site.client, w.headers, q["quote_number"])
        assert bound.status_code == 201
        await staff(site.client, session, "AGENT")
        page = await site.client.get(f"/web/motor/customers/{w.customer['id']}")
        assert page.status_code == 200
        assert w.customer["national_id"] in page.text and w.national_id not in page.text
        assert f'href="/web/motor/vehicles/{w.vehicle["id"]}"' in page.text
        assert bound.json()["policy_number"] in page.text
        assert "Draft" in page.text
        assert "No claims." in page.text

    async def test_roles_without_motor_read_get_the_403_page(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session)
        anonymous = await site.client.get("/web/motor/customers")
        assert anonymous.status_code == 303
        assert anonymous.headers["location"].startswith("/web/sign-in?next=")
        await staff(site.client, session, "CLAIMS_PROCESSOR")
        for path in (
            "/web/motor/customers",
            f"/web/motor/customers/{w.customer['id']}",
            f"/web/motor/vehicles/{w.vehicle['id']}",
            "/web/motor/claims",
        ):
            response = await site.client.get(path)
            assert response.status_code == 403, path
            assert "You may not open this page" in response.text
        home = await site.client.get("/web/")
        assert "/web/motor/customers" not in home.text

    async def test_navigation_of_an_agent(self, site: Site, session: AsyncSession) -> None:
        await staff(site.client, session, "AGENT")
        home = await site.client.get("/web/")
        assert 'href="/web/motor/customers"' in home.text
        assert 'href="/web/motor/claims"' in home.text
        assert 'href="/web/health/claims"' not in home.text


class TestVehicle:
    async def test_verify_now_calls_dlt_and_stores_the_answer(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session, plate="1กข 1234")
        vid = w.vehicle["id"]
        await staff(site.client, session, "AGENT")
        page = await site.client.get(f"/web/motor/vehicles/{vid}")
        assert "Not checked yet." in page.text and 'id="verify-now"' in page.text
        response = await site.client.post(
            f"/web/motor/vehicles/{vid}/verifications", data={"csrf_token": csrf(page)}
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/web/motor/vehicles/{vid}"
        assert site.sandbox.state.requests == 1
        row = (
            await session.execute(
                text(
                    "select registration_valid, tax_paid, dlt_reference_number, verified_by"
                    " from motor.dlt_verifications where vehicle_id = :v"
                ),
                {"v": vid},
            )
        ).one()
        assert (row.registration_valid, row.tax_paid, row.verified_by) == (True, True, "agent")
        after = await site.client.get(f"/web/motor/vehicles/{vid}")
        assert "has been checked at the Department of Land Transport" in after.text
        table = after.text.split('id="dlt-checks"')[1]
        assert row.dlt_reference_number in table and "VALID" in table

    async def test_dlt_down_writes_nothing_and_says_so(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session, plate=DLT_DOWN_PLATE)
        vid = w.vehicle["id"]
        await staff(site.client, session, "AGENT")
        response = await post_form(
            site.client,
            f"/web/motor/vehicles/{vid}",
            f"/web/motor/vehicles/{vid}/verifications",
            {},
        )
        assert response.status_code == 503
        assert 'id="dlt-problem"' in response.text and "Nothing was stored" in response.text
        assert await count(session, "select count(*) from motor.dlt_verifications") == 0

    async def test_dlt_refusing_is_502_and_writes_nothing(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session, plate="1กข 1234")
        vid = w.vehicle["id"]
        await staff(site.client, session, "AGENT")
        site.app.state.dlt_client = DltClient(site.sandbox.base_url, "not-the-key")
        response = await post_form(
            site.client,
            f"/web/motor/vehicles/{vid}",
            f"/web/motor/vehicles/{vid}/verifications",
            {},
        )
        assert response.status_code == 502 and "refused the check" in response.text
        assert await count(session, "select count(*) from motor.dlt_verifications") == 0

    async def test_no_csrf_or_no_write_permission_writes_nothing(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session, plate="1กข 1234")
        vid = w.vehicle["id"]
        await staff(site.client, session, "AGENT")
        forged = await site.client.post(f"/web/motor/vehicles/{vid}/verifications")
        assert forged.status_code == 403
        site.client.cookies.clear()
        await staff(site.client, session, "SURVEYOR")
        page = await site.client.get(f"/web/motor/vehicles/{vid}")
        assert page.status_code == 200 and 'id="verify-now"' not in page.text
        refused = await site.client.post(
            f"/web/motor/vehicles/{vid}/verifications", data={"csrf_token": csrf(page)}
        )
        assert refused.status_code == 403
        assert site.sandbox.state.requests == 0
        assert await count(session, "select count(*) from motor.dlt_verifications") == 0


# --- quote, bind, pay ------------------------------------------------------------------------


def quote_form(**over: str) -> dict[str, str]:
    values = {
        "policy_type": "CLASS_1",
        "coverage_option": "STANDARD",
        "start_date": (today_bangkok() + timedelta(days=3)).isoformat(),
        "policy_period_months": "12",
        "sum_insured": "650000",
        "voluntary_deductible": "2000",
        "ncd_percent": "20",
        "driver_age": "",
    }
    values.update(over)
    return values


async def quoted(site: Site, session: AsyncSession, **over: str) -> tuple[World, str]:
    """A world, an agent signed in on the pages and a quote made through the form."""
    w = await world(site.client, session)
    await staff(site.client, session, "AGENT")
    vid = w.vehicle["id"]
    response = await post_form(
        site.client,
        f"/web/motor/vehicles/{vid}/quote",
        f"/web/motor/vehicles/{vid}/quote",
        quote_form(**over),
    )
    assert response.status_code == 303, response.text
    number = response.headers["location"].rsplit("/", 1)[1]
    return w, number


class TestQuoteBindPay:
    async def test_refused_quote_shows_errors_next_to_fields_and_stores_nothing(
        self, site: Site, session: AsyncSession
    ) -> None:
        w = await world(site.client, session)
        await staff(site.client, session, "AGENT")
        vid = w.vehicle["id"]
        before = await count(session, "select count(*) from motor.quotes")
        past = (today_bangkok() - timedelta(days=1)).isoformat()
        response = await post_form(
            site.client,
            f"/web/motor/vehicles/{vid}/quote",
            f"/web/motor/vehicles/{vid}/quote",
            quote_form(sum_insured="", start_date=past),
        )
        assert response.status_code == 422
        assert "start_date must not be before today" in error_of(response.text, "start_date")
        assert await count(session, "select count(*) from motor.quotes") == before
        missing = await post_form(
            site.client,
            f"/web/motor/vehicles/{vid}/quote",
            f"/web/motor/vehicles/{vid}/quote",
            quote_form(sum_insured="", ncd_percent="25"),
        )
        assert missing.status_code == 422
        assert error_of(missing.text, "ncd_percent")
        assert 'value="CLASS_1" selected' in missing.text  # the values are kept
        assert await count(session, "select count(*) from motor.quotes") == before

    async def test_premium_breakdown_is_the_apis(self, site: Site, session: AsyncSession) -> None:
        w, number = await quoted(site, session)
        page = await site.client.get(f"/web/motor/quotes/{number}")
        assert page.status_code == 200
        api = (await site.client.get(f"{MOTOR}/quotes/{number}", headers=w.headers)).json()
        assert Decimal(api["base_premium"]) - Decimal(api["discounts_total"]) + Decimal(
            api["fees_total"]
        ) == Decimal(api["total_premium"])
        assert {d["code"] for d in api["discounts"]} >= {"NCD"}
        assert {f["code"] for f in api["fees"]} == {"stamp_duty", "vat"}
        html = page.text
        assert f'id="base-premium">{baht(api["base_premium"], "en")}<' in html
        assert f"<strong>{baht(api['total_premium'], 'en')}</strong>" in html
        for line in api["discounts"] + api["fees"]:
            assert line["description"] in html and baht(line["amount"], "en") in html
        assert 'id="bind-form"' in html

    async def test_bind_then_a_promptpay_qr_per_payment(
        self, site: Site, session: AsyncSession
    ) -> None:
        w, number = await quoted(site, session)
        response = await post_form(
            site.client,
            f"/web/motor/quotes/{number}",
            f"/web/motor/quotes/{number}/bind",
            {"payment_plan": "INSTALLMENT_6", "auto_renewal": "on"},
        )
        assert response.status_code == 303, response.text
        policy_number = response.headers["location"].rsplit("/", 1)[1]
        assert await count(
            session,
            "select count(*) from motor.policies where policy_number = :n and status = 'DRAFT'"
            " and auto_renewal and payment_plan = 'INSTALLMENT_6'",
            n=policy_number,
        )
        page = await site.client.get(f"/web/motor/policies/{policy_number}")
        assert page.status_code == 200 and "The policy has been bound." in page.text
        api = (await site.client.get(f"{MOTOR}/policies/{policy_number}", headers=w.headers)).json()
        assert len(api["payments"]) == 6
        assert sum(Decimal(p["total_amount"]) for p in api["payments"]) == Decimal(
            api["total_premium"]
        )
        for p in api["payments"]:
            assert f'src="/web/motor/payments/{p["id"]}/promptpay.png"' in page.text
            qr = await site.client.get(f"{MOTOR}/payments/{p['id']}/promptpay", headers=w.headers)
            assert qr.json()["payload"] in page.text
        first = api["payments"][0]["id"]
        png = await site.client.get(f"/web/motor/payments/{first}/promptpay.png")
        same = await site.client.get(
            f"{MOTOR}/payments/{first}/promptpay", params={"format": "png"}, headers=w.headers
        )
        assert png.status_code == 200 and png.headers["content-type"] == "image/png"
        assert png.content == same.content and png.content.startswith(b"\x89PNG")

    async def test_a_bound_quote_cannot_be_bound_twice(
        self, site: Site, session: AsyncSession
    ) -> None:
        _, number = await quoted(site, session)
        first = await post_form(
            site.client,
            f"/web/motor/quotes/{number}",
            f"/web/motor/quotes/{number}/bind",
            {"payment_plan": "FULL"},
        )
        assert first.status_code == 303
        page = await site.client.get(f"/web/motor/quotes/{number}")
        assert "Bound" in page.text and 'id="bind-form"' not in page.text
        again = await site.client.post(
            f"/web/motor/quotes/{number}/bind",
            data={"payment_plan": "FULL", "csrf_token": csrf(await site.client.get("/web/"))},
        )
        assert again.status_code == 422
        assert 'id="bind-error">This quote can no longer be bound' in again.text
        assert (
            await count(
                session,
                "select count(*) from motor.policies p join motor.quotes q"
                " on q.vehicle_id = p.vehicle_id where q.quote_number = :n",
                n=number,
            )
            == 1
        )

    async def test_a_bad_plan_is_refused_next_to_the_field(
        self, site: Site, session: AsyncSession
    ) -> None:
        _, number = await quoted(site, session)
        response = await post_form(
            site.client,
            f"/web/motor/quotes/{number}",
            f"/web/motor/quotes/{number}/bind",
            {"payment_plan": "WEEKLY"},
        )
        assert response.status_code == 422 and error_of(response.text, "payment_plan")
        status = await site.client.get(f"/web/motor/quotes/{number}")
        assert 'id="quote-status">Quoted' in status.text.replace("\n", "")

    async def test_surveyor_cannot_quote(self, site: Site, session: AsyncSession) -> None:
        w = await world(site.client, session)
        await staff(site.client, session, "SURVEYOR")
        form = await site.client.get(f"/web/motor/vehicles/{w.vehicle['id']}/quote")
        assert form.status_code == 403


# --- policies --------------------------------------------------------------------------------


async def bound_on_pages(site: Site, session: AsyncSession, **over: str) -> tuple[World, str]:
    w, number = await quoted(site, session, **over)
    response = await post_form(
        site.client,
        f"/web/motor/quotes/{number}",
        f"/web/motor/quotes/{number}/bind",
        {"payment_plan": "FULL"},
    )
    assert response.status_code == 303, response.text
    return w, response.headers["location"].rsplit("/", 1)[1]


class TestPolicy:
    async def test_recording_the_payment_activates_and_issues_receipt_and_documents(
        self, site: Site, session: AsyncSession
    ) -> None:
        w, number = await bound_on_pages(site, session)
        page = await site.client.get(f"/web/motor/policies/{number}")
        payment_id = re.search(r'id="payment-([0-9a-f-]{36})"', page.text).group(1)  # type: ignore[union-attr]
        refused = await site.client.post(
            f"/web/motor/payments/{payment_id}/confirm",
            data={"reference": "", "csrf_token": csrf(page)},
        )
        assert refused.status_code == 422
        assert f'id="reference-{payment_id}-error"' in refused.text
        assert await count(
            session,
            "select count(*) from motor.payments where id = :i and payment_status = 'PENDING'",
            i=payment_id,
        )
        response = await site.client.post(
            f"/web/motor/payments/{payment_id}/confirm",
            data={"reference": "BANK-778899", "csrf_token": csrf(page)},
        )
        assert response.status_code == 303
        paid = await site.client.get(f"/web/motor/policies/{number}")
        assert 'id="policy-status">Active' in paid.text.replace("\n", "")
        assert "The payment has been recorded." in paid.text
        assert f"/web/motor/payments/{payment_id}/promptpay.png" not in paid.text
        receipt_link = f"/web/motor/payments/{payment_id}/receipt.pdf?lang=en"
        assert receipt_link in paid.text
        receipt = await site.client.get(receipt_link)
        assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
        docs = re.findall(rf'href="(/web/motor/policies/{number}/documents/[0-9a-f-]+)"', paid.text)
        assert docs, "an active policy has its schedule"
        pdf = await site.client.get(docs[0])
        assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
        api = await site.client.get(
            f"{MOTOR}{docs[0].removeprefix('/web/motor')}", headers=w.headers
        )
        assert api.content == pdf.content

    async def test_renewal_too_early_is_refused_and_in_window_renews(
        self, site: Site, session: AsyncSession
    ) -> None:
        w, number = await bound_on_pages(
            site,
            session,
            policy_type="CMI",
            sum_insured="",
            ncd_percent="",
            voluntary_deductible="",
        )
        api = (await site.client.get(f"{MOTOR}/policies/{number}", headers=w.headers)).json()
        paid = await confirm(site.client, w.headers, api["payments"][0], "BANK-1")
        assert paid.status_code == 200, paid.text
        page = await site.client.get(f"/web/motor/policies/{number}")
        early = await site.client.post(
            f"/web/motor/policies/{number}/renewals", data={"csrf_token": csrf(page)}
        )
        assert early.status_code == 422 and 'id="renewal-error"' in early.text
        assert await count(session, "select count(*) from motor.policy_renewals") == 0
        await backdate_policy(session, api["id"], 340)
        await session.commit()
        renewed = await site.client.post(
            f"/web/motor/policies/{number}/renewals", data={"csrf_token": csrf(page)}
        )
        assert renewed.status_code == 303, renewed.text
        new_number = renewed.headers["location"].rsplit("/", 1)[1]
        assert new_number != number
        history = await site.client.get(f"/web/motor/policies/{number}")
        assert f'href="/web/motor/policies/{new_number}"' in history.text
        assert await count(session, "select count(*) from motor.policy_renewals") == 1


# --- claims ----------------------------------------------------------------------------------


async def active_policy_id(site: Site, session: AsyncSession) -> tuple[World, dict[str, Any]]:
    """An ACTIVE CLASS_1 policy made through the API (quote, bind, pay)."""
    w = await world(site.client, session)
    q = await quote(
        site.client, w.headers, w.vehicle["id"], start=today_bangkok(), **class1_quote()
    )
    bound = await bind(site.client, w.headers, q["quote_number"])
    assert bound.status_code == 201, bound.text
    paid = await confirm(site.client, w.headers, bound.json()["payments"][0], "BANK-2")
    assert paid.status_code == 200, paid.text
    await backdate_policy(session, bound.json()["id"], 2)  # incidents a little while ago
    await session.commit()
    return w, bound.json()


class TestClaims:
    async def test_board_has_a_column_per_status_with_counts(
        self, site: Site, session: AsyncSession
    ) -> None:
        _, policy = await active_policy_id(site, session)
        a = await insert_claim(session, policy["id"], status="REPORTED")
        b = await insert_claim(session, policy["id"], status="ASSESSED")
        await session.commit()
        await staff(site.client, session, "SURVEYOR")
        board = await site.client.get("/web/motor/claims")
        assert board.status_code == 200
        for status in ("REPORTED", "ASSIGNED", "ASSESSED", "APPROVED", "SETTLED", "CLOSED"):
            assert f'id="column-{status}"' in board.text
        reported = board.text.split('id="column-REPORTED"')[1].split("</section>")[0]
        assert (
            f"/web/motor/claims/{a.id}" in reported and '<span class="count">1</span>' in reported
        )
        assessed = board.text.split('id="column-ASSESSED"')[1].split("</section>")[0]
        assert f"/web/motor/claims/{b.id}" in assessed
        only = await site.client.get("/web/motor/claims", params={"status": "ASSESSED"})
        assert f"/web/motor/claims/{b.id}" in only.text and str(a.id) not in only.text
        assert "/web/motor/claims/new" not in board.text  # a surveyor reports no claim

    async def test_first_notice_of_loss(self, site: Site, session: AsyncSession) -> None:
        # ADJUSTER holds motor.claims:write and needs a second factor: its API session is
        # placed in the page cookie (decision 0066: the pages have no second step yet).
        _, policy = await active_policy_id(site, session)
        await web_session_of(site.client, session, "ADJUSTER")
        form = await site.client.get(f"/web/motor/claims/new?policy={policy['policy_number']}")
        assert form.status_code == 200
        assert f'value="{policy["policy_number"]}"' in form.text
        future = (datetime.now(BANGKOK) + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
        before = await count(session, "select count(*) from motor.claims")
        refused = await site.client.post(
            "/web/motor/claims/new",
            data={
                "csrf_token": csrf(form),
                "policy_number": policy["policy_number"],
                "claim_type": "ACCIDENT",
                "incident_date": future,
                "incident_description": "",
            },
        )
        assert refused.status_code == 422
        assert error_of(refused.text, "incident_description")
        assert await count(session, "select count(*) from motor.claims") == before
        future_only = await site.client.post(
            "/web/motor/claims/new",
            data={
                "csrf_token": csrf(form),
                "policy_number": policy["policy_number"],
                "claim_type": "ACCIDENT",
                "incident_date": future,
                "incident_description": "Hit a post",
            },
        )
        assert future_only.status_code == 422 and error_of(future_only.text, "incident_date")
        when = (datetime.now(BANGKOK) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
        made = await site.client.post(
            "/web/motor/claims/new",
            data={
                "csrf_token": csrf(form),
                "policy_number": policy["policy_number"],
                "claim_type": "ACCIDENT",
                "incident_date": when,
                "incident_description": "Rear-ended at a red light on Rama IV",
                "damage_description": "Rear bumper cracked",
                "estimated_amount": "25000",
            },
        )
        assert made.status_code == 303, made.text
        claim_id = made.headers["location"].rsplit("/", 1)[1]
        row = (
            await session.execute(
                text("select status, estimated_amount from motor.claims where id = :i"),
                {"i": claim_id},
            )
        ).one()
        assert row.status == "REPORTED" and row.estimated_amount == Decimal("25000.00")
        page = await site.client.get(f"/web/motor/claims/{claim_id}")
        assert "The claim has been reported." in page.text and "THB 25,000.00" in page.text

    async def test_assess_approve_settle(self, site: Site, session: AsyncSession) -> None:
        _, policy = await active_policy_id(site, session)
        claim = await insert_claim(session, policy["id"], status="ASSIGNED")
        await session.commit()
        cid = claim.id
        page_path = f"/web/motor/claims/{cid}"

        # A surveyor (no second factor) signs in on the pages and assesses.
        await staff(site.client, session, "SURVEYOR")
        page = await site.client.get(page_path)
        assert 'id="assessment-form"' in page.text and 'id="approval-form"' not in page.text
        refused = await site.client.post(
            f"{page_path}/assessments",
            data={
                "csrf_token": csrf(page),
                "assessment_type": "INITIAL",
                "damage": "Rear bumper cracked",
                "recommended_action": "APPROVE",
                "recommended_amount": "",
            },
        )
        assert refused.status_code == 422
        assert "recommended_amount is required" in error_of(refused.text, "recommended_amount")
        assert await count(session, "select count(*) from motor.claim_assessments") == 0
        done = await site.client.post(
            f"{page_path}/assessments",
            data={
                "csrf_token": csrf(page),
                "assessment_type": "INITIAL",
                "damage": "Rear bumper cracked",
                "recommended_action": "APPROVE",
                "recommended_amount": "18500.50",
                "liability_percentage": "0",
            },
        )
        assert done.status_code == 303, done.text
        state = (
            await session.execute(
                text("select status, assessed_amount from motor.claims where id = :i"), {"i": cid}
            )
        ).one()
        assert (state.status, state.assessed_amount) == ("ASSESSED", Decimal("18500.50"))

        # An adjuster (second factor: the API session in the cookie) approves.
        site.client.cookies.clear()
        await web_session_of(site.client, session, "ADJUSTER")
        page = await site.client.get(page_path)
        assert 'id="approval-form"' in page.text
        bad = await site.client.post(
            f"{page_path}/approval", data={"csrf_token": csrf(page), "approved_amount": "-5"}
        )
        assert bad.status_code == 422 and error_of(bad.text, "approved_amount")
        approved = await site.client.post(
            f"{page_path}/approval",
            data={"csrf_token": csrf(page), "approved_amount": "18500.50", "notes": "OK"},
        )
        assert approved.status_code == 303, approved.text
        assert (
            await session.scalar(text("select status from motor.claims where id = :i"), {"i": cid})
            == "APPROVED"
        )

        # Finance (no second factor) settles.
        site.client.cookies.clear()
        await staff(site.client, session, "FINANCE")
        page = await site.client.get(page_path)
        assert 'id="settlement-form"' in page.text
        missing = await site.client.post(
            f"{page_path}/settlements",
            data={
                "csrf_token": csrf(page),
                "payee_type": "CUSTOMER",
                "payee_name": "",
                "settlement_method": "BANK_TRANSFER",
                "head_of_loss": "OWN_DAMAGE",
                "gross_amount": "18500.50",
            },
        )
        assert missing.status_code == 422 and error_of(missing.text, "payee_name")
        too_much = await site.client.post(
            f"{page_path}/settlements",
            data={
                "csrf_token": csrf(page),
                "payee_type": "CUSTOMER",
                "payee_name": "Somchai Jaidee",
                "settlement_method": "BANK_TRANSFER",
                "head_of_loss": "OWN_DAMAGE",
                "gross_amount": "99999.00",
                "bank_code": "004",
                "bank_account_name": "Somchai Jaidee",
                "bank_account_number": "123-4-56789-0",
            },
        )
        assert too_much.status_code == 422
        assert await count(session, "select count(*) from motor.claim_settlements") == 0
        settled = await site.client.post(
            f"{page_path}/settlements",
            data={
                "csrf_token": csrf(page),
                "payee_type": "CUSTOMER",
                "payee_name": "Somchai Jaidee",
                "settlement_method": "BANK_TRANSFER",
                "head_of_loss": "OWN_DAMAGE",
                "gross_amount": "18500.50",
                "bank_code": "004",
                "bank_account_name": "Somchai Jaidee",
                "bank_account_number": "123-4-56789-0",
            },
        )
        assert settled.status_code == 303, settled.text
        row = (
            await session.execute(
                text("select gross_amount, net_amount from motor.claim_settlements")
            )
        ).one()
        assert row.gross_amount == Decimal("18500.50")
        after = await site.client.get(page_path)
        assert "The settlement has been created." in after.text
        assert baht(row.net_amount, "en") in after.text

    async def test_forms_need_their_permission(self, site: Site, session: AsyncSession) -> None:
        _, policy = await active_policy_id(site, session)
        claim = await insert_claim(session, policy["id"], status="ASSESSED")
        await session.commit()
        await staff(site.client, session, "AGENT")  # motor.claims:read only
        page = await site.client.get(f"/web/motor/claims/{claim.id}")
        assert page.status_code == 200 and 'id="approval-form"' not in page.text
        for action, data in (
            ("approval", {"approved_amount": "100"}),
            ("assessments", {"assessment_type": "FINAL"}),
            ("settlements", {"payee_name": "x"}),
        ):
            response = await site.client.post(
                f"/web/motor/claims/{claim.id}/{action}", data={**data, "csrf_token": csrf(page)}
            )
            assert response.status_code == 403, action
        new = await site.client.get("/web/motor/claims/new")
        assert new.status_code == 403
        assert (
            await session.scalar(
                text("select status from motor.claims where id = :i"), {"i": claim.id}
            )
            == "ASSESSED"
        )


class TestLanguages:
    async def test_thai_policy_page_shows_thai_words_and_baht(
        self, site: Site, session: AsyncSession
    ) -> None:
        _, number = await bound_on_pages(site, session)
        page = await site.client.get(f"/web/motor/policies/{number}", params={"lang": "th"})
        assert page.status_code == 200 and '<html lang="th">' in page.text
        assert "THB " in page.text
        assert "Payments" not in page.text  # translated
