"""A motor claim from first notice to closure in a real browser: Playwright driving the
system's headless Chromium (/usr/bin/chromium; nothing downloaded) against the app served by
uvicorn on 127.0.0.1, over a dedicated migrated database with an ACTIVE class 1 policy.

An adjuster signs in with their authenticator code, reports a claim on the policy (a refused
field first), assigns it to themself and a surveyor; the surveyor records the assessment
(nobody approves a claim they assessed); the adjuster approves it, settles it to the
customer, marks the settlement paid with the bank's reference and closes the claim.
Screenshots go to var/test-artifacts/web/motor-claim-*.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.motor import payments, policies, quotes, schemas
from polis.motor.customers import customers as customer_service
from polis.motor.payment_schemas import PaymentConfirm
from polis.motor.policy_schemas import PolicyBind
from polis.motor.quotes import today_bangkok
from polis.motor.rating_schemas import QuoteCreate
from polis.motor.vehicles import vehicles as vehicle_service
from polis.web.pages.motor import BANGKOK
from tests.iam.factories import PASSWORD, totp_code
from tests.integrations.sandbox import serve
from tests.motor.claim_factory import backdate_policy, class1_quote
from tests.motor.test_customers_api import customer_body
from tests.motor.test_vehicles_api import vehicle_body
from tests.web.helpers import make_user
from tests.web.test_browser import browser, shot  # noqa: F401 - fixture


@dataclass
class Site:
    """The served app, its database, the policy and the two people of the journey."""

    base_url: str
    engine: AsyncEngine
    policy_number: str
    adjuster: str
    adjuster_id: str
    surveyor: str
    surveyor_id: str


@pytest.fixture
async def site(create_database: Callable[[], str]) -> AsyncIterator[Site]:
    """A migrated database with an ACTIVE class 1 policy (quoted, bound and paid through the
    services, started two days ago), an adjuster with TOTP and a surveyor; the app served
    on a free 127.0.0.1 port."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        agent = await make_user(s, "AGENT")
        adjuster = await make_user(s, "ADJUSTER", totp=True, first_name="Anan")
        surveyor = await make_user(s, "SURVEYOR", first_name="Suda")
        customer = await customer_service.create(
            s,
            schemas.CustomerCreate.model_validate(
                customer_body(first_name_en="Somchai", last_name_en="Jaidee")
            ),
            agent.id,
        )
        vehicle = await vehicle_service.create(
            s,
            customer.id,
            schemas.VehicleCreate.model_validate(vehicle_body(registration_number="3กข 5150")),
            agent.id,
        )
        quote = await quotes.create_quote(
            s,
            QuoteCreate.model_validate(
                {
                    **class1_quote(),
                    "vehicle_id": str(vehicle.id),
                    "start_date": today_bangkok().isoformat(),
                    "policy_period_months": 12,
                }
            ),
            user_id=agent.id,
        )
        policy, due = await policies.bind_quote(
            s, PolicyBind(quote_number=quote.quote_number, payment_plan="FULL"), user_id=agent.id
        )
        await payments.confirm_payment(
            s,
            due[0].id,
            PaymentConfirm(
                method="PROMPTPAY",
                reference="KBANK-IN-0001",
                paid_at=datetime.now(UTC),
                amount=due[0].total_amount,
            ),
            user_id=agent.id,
        )
        await backdate_policy(s, str(policy.id), 2)
        await s.commit()
    app = create_app(Settings(database_url=url))
    try:
        async with serve(app, lifespan="on", start_timeout=10.0) as base_url:
            yield Site(
                base_url,
                engine,
                policy.policy_number,
                adjuster.username,
                str(adjuster.id),
                surveyor.username,
                str(surveyor.id),
            )
    finally:
        await engine.dispose()


async def sign_in(page: Page, site: Site, username: str, *, totp: bool) -> None:
    await page.goto(f"{site.base_url}/web/sign-in")
    await page.get_by_label("Username").fill(username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    if totp:
        await expect(page.get_by_role("heading", level=1)).to_have_text("Second sign-in step")
        await page.get_by_label("Code").fill(totp_code(username))
        await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


async def claim_status(site: Site) -> str:
    async with site.engine.connect() as conn:
        return str(await conn.scalar(text("select status from motor.claims")))


async def test_a_claim_from_notice_to_closure(site: Site, browser: Browser) -> None:  # noqa: F811
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on("requestfailed", lambda request: failures.append(f"request failed: {request.url}"))
    await sign_in(page, site, site.adjuster, totp=True)

    # First notice of loss from the policy page: a claim without its story is refused.
    await page.goto(f"{site.base_url}/web/motor/policies/{site.policy_number}?lang=en")
    await page.get_by_role("link", name="Report a claim").click()
    two_hours_ago = (datetime.now(BANGKOK) - timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    await page.get_by_label("When it happened (Bangkok time)").fill(two_hours_ago)
    await page.get_by_label("Damage to the insured vehicle").fill("Rear bumper cracked")
    await page.get_by_label("Estimated amount (THB)").fill("25000")
    await page.get_by_role("button", name="Report the claim").click()
    await expect(page.locator("#f-incident_description-error")).to_be_visible()
    await expect(page.locator("#f-incident_description")).to_have_attribute("aria-invalid", "true")
    await shot(page, "motor-claim-01-notice-refused")
    async with site.engine.connect() as conn:
        assert await conn.scalar(text("select count(*) from motor.claims")) == 0
    await page.get_by_label("What happened").fill("Rear-ended at a red light on Rama IV")
    await page.get_by_role("button", name="Report the claim").click()
    await expect(page.locator("p.flash")).to_have_text("The claim has been reported.")
    await expect(page.locator("#claim-status")).to_have_text("Reported")
    claim_url = page.url

    # Assigned to the adjuster signed in and to a surveyor.
    await page.get_by_label("Adjuster", exact=True).select_option(site.adjuster_id)
    await page.get_by_label("Surveyor", exact=True).select_option(site.surveyor_id)
    await shot(page, "motor-claim-02-reported")
    await page.get_by_role("button", name="Assign", exact=True).click()
    await expect(page.locator("p.flash")).to_have_text("The claim has been assigned.")
    await expect(page.locator("#claim-status")).to_have_text("Assigned")
    await expect(page.locator("#claim-surveyor")).to_contain_text("Suda")
    assert await claim_status(site) == "ASSIGNED"
    await shot(page, "motor-claim-03-assigned")

    # The surveyor records the assessment (the adjuster will approve it).
    surveyor_context = await browser.new_context(locale="en-US")
    surveyor = await surveyor_context.new_page()
    await sign_in(surveyor, site, site.surveyor, totp=False)
    await surveyor.goto(claim_url)
    await surveyor.get_by_label("Damage found").fill("Rear bumper and boot lid")
    await surveyor.get_by_label("Recommended amount (THB)").fill("18500.50")
    await surveyor.get_by_role("button", name="Record the assessment").click()
    await expect(surveyor.locator("p.flash")).to_have_text("The assessment has been recorded.")
    await expect(surveyor.locator("#claim-status")).to_have_text("Assessed")
    await surveyor_context.close()

    # The adjuster approves the assessed amount and settles it to the customer.
    await page.reload()
    await expect(page.locator("#claim-status")).to_have_text("Assessed")
    await expect(page.get_by_label("Approved amount (THB)")).to_have_value("18500.50")
    await page.get_by_role("button", name="Approve", exact=True).click()
    await expect(page.locator("#claim-status")).to_have_text("Approved")
    await page.get_by_label("Payee name").fill("Somchai Jaidee")
    await page.get_by_label("Bank code").fill("004")
    await page.get_by_label("Account name").fill("Somchai Jaidee")
    await page.get_by_label("Account number").fill("123-4-56789-0")
    await page.get_by_role("button", name="Create the settlement").click()
    await expect(page.locator("p.flash")).to_have_text("The settlement has been created.")
    settlement = page.locator("article.settlement")
    await expect(settlement).to_have_count(1)
    await shot(page, "motor-claim-04-settlement")

    # The bank's reference of the transfer: paid, the claim SETTLED.
    await settlement.get_by_label("Bank reference of the payment made").fill("KBANK-OUT-0042")
    await settlement.get_by_role("button", name="Mark as paid").click()
    await expect(page.locator("p.flash")).to_have_text("The settlement has been recorded as paid.")
    await expect(page.locator("#claim-status")).to_have_text("Settled")
    await expect(page.locator("article.settlement .badge")).to_have_text("Paid")
    await expect(page.locator("article.settlement")).to_contain_text("KBANK-OUT-0042")
    await shot(page, "motor-claim-05-paid")

    # Closed, with the notes in the history.
    await page.get_by_label("Closing notes").fill("Customer informed, file complete")
    await page.get_by_role("button", name="Close the claim").click()
    await expect(page.locator("p.flash")).to_have_text("The claim has been closed.")
    await expect(page.locator("#claim-status")).to_have_text("Closed")
    await expect(page.locator("ol.history")).to_contain_text("Customer informed, file complete")
    assert await claim_status(site) == "CLOSED"
    await shot(page, "motor-claim-06-closed")
    await context.close()
    assert failures == []
