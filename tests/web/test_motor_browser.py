"""The motor back office in a real browser: Playwright driving the system's headless
Chromium (/usr/bin/chromium; nothing downloaded) against the app served by uvicorn on
127.0.0.1, over a dedicated migrated database, with the DLT sandbox served over real HTTP.

An agent finds a customer, checks the vehicle at DLT, quotes (an invalid start date first),
binds, sees the PromptPay QR, records the payment and opens the receipt; the claims board;
a 375 px phone. Screenshots go to var/test-artifacts/web/motor-*.png.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta

import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.motor import schemas
from polis.motor.customers import customers as customer_service
from polis.motor.quotes import today_bangkok
from polis.motor.vehicles import vehicles as vehicle_service
from tests.iam.factories import PASSWORD
from tests.integrations.sandbox import KEY, running_sandbox, serve
from tests.motor.test_customers_api import customer_body
from tests.motor.test_vehicles_api import vehicle_body
from tests.web.helpers import make_user
from tests.web.test_browser import browser, shot  # noqa: F401 - fixture


@dataclass
class Site:
    """The served app, its database and the journey's data."""

    base_url: str
    engine: AsyncEngine
    username: str
    customer_id: str
    vehicle_id: str
    plate: str


@pytest.fixture
async def site(create_database: Callable[[], str]) -> AsyncIterator[Site]:
    """A migrated database with a committed customer and vehicle, the DLT sandbox, and the
    app served by uvicorn on a free 127.0.0.1 port."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    plate = "1กข 1234"
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        user = await make_user(s, "AGENT")
        body = customer_body(first_name_en="Somchai", last_name_en="Jaidee")
        customer = await customer_service.create(
            s, schemas.CustomerCreate.model_validate(body), user.id
        )
        vehicle = await vehicle_service.create(
            s,
            customer.id,
            schemas.VehicleCreate.model_validate(vehicle_body(registration_number=plate)),
            user.id,
        )
        await s.commit()
    async with running_sandbox() as sandbox:
        settings = Settings(
            database_url=url, dlt_base_url=sandbox.base_url, dlt_api_key=KEY, dlt_retries=0
        )
        app = create_app(settings)
        try:
            async with serve(app, lifespan="on", start_timeout=10.0) as base_url:
                yield Site(
                    base_url,
                    engine,
                    user.username,
                    str(customer.id),
                    str(vehicle.id),
                    plate,
                )
        finally:
            await engine.dispose()


async def sign_in(page: Page, site: Site) -> None:
    await page.goto(f"{site.base_url}/web/sign-in")
    await page.get_by_label("Username").fill(site.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


async def scalar(site: Site, sql: str, **params: object) -> object:
    async with site.engine.connect() as conn:
        return await conn.scalar(text(sql), params)


async def test_quote_bind_pay_journey(site: Site, browser: Browser) -> None:  # noqa: F811
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on("requestfailed", lambda request: failures.append(f"request failed: {request.url}"))
    await sign_in(page, site)

    # Find the customer by part of the English name.
    await page.get_by_role("link", name="Customers", exact=True).first.click()
    await page.get_by_label("Name, national id or email").fill("somch")
    await page.get_by_role("button", name="Search").click()
    await shot(page, "motor-01-customers")
    await page.get_by_role("link", name="สมชาย ใจดี").click()
    await expect(page.locator("#national-id")).to_contain_text("*********")
    await shot(page, "motor-02-customer")

    # The vehicle, checked at DLT now.
    await page.get_by_role("link", name=f"{site.plate} กรุงเทพมหานคร").click()
    await expect(page.get_by_text("Not checked yet.")).to_be_visible()
    await page.get_by_role("button", name="Verify now").click()
    await expect(page.locator("p.flash")).to_contain_text("Department of Land Transport")
    await expect(page.locator("#dlt-checks tbody tr")).to_have_count(1)
    await expect(page.locator("#dlt-checks tbody tr")).to_contain_text("VALID")
    await shot(page, "motor-03-vehicle-verified")

    # Quote: a start date in the past is refused next to the field, nothing stored.
    await page.get_by_role("link", name="Quote a policy").click()
    yesterday = (today_bangkok() - timedelta(days=1)).isoformat()
    await page.get_by_label("Policy type").select_option("CLASS_1")
    await page.get_by_label("Start date").fill(yesterday)
    await page.get_by_label("Sum insured (THB, class 1 and 2)").fill("650000")
    await page.get_by_label("No-claim discount, percent").select_option("20")
    await page.get_by_role("button", name="Price the quote").click()
    await expect(page.locator("#f-start_date-error")).to_contain_text("must not be before today")
    await expect(page.locator("#f-start_date")).to_have_attribute("aria-invalid", "true")
    await shot(page, "motor-04-quote-error")
    assert await scalar(site, "select count(*) from motor.quotes") == 0
    await page.get_by_label("Start date").fill((today_bangkok() + timedelta(days=1)).isoformat())
    await page.get_by_role("button", name="Price the quote").click()
    await expect(page.locator("#premium")).to_contain_text("Total premium")
    total = await scalar(site, "select total_premium from motor.quotes")
    await expect(page.locator("#total-premium")).to_have_text(f"THB {total:,.2f}")
    await shot(page, "motor-05-quote")

    # Bind (monthly instalments), then a PromptPay QR per instalment.
    await page.get_by_label("Payment plan").select_option("INSTALLMENT_12")
    await page.get_by_role("button", name="Bind the policy").click()
    await expect(page.locator("p.flash")).to_contain_text("The policy has been bound.")
    await expect(page.locator("#policy-status")).to_have_text("Draft")
    qr = page.locator("figure.qr img")
    await expect(qr).to_have_count(12)
    assert await qr.first.evaluate("img => img.complete && img.naturalWidth > 100")
    await shot(page, "motor-06-policy-qr")

    # The first instalment received: the policy is active and has its receipt.
    first = page.locator("article.payment").first
    await first.get_by_label("Bank reference of the money received").fill("KBANK-0001")
    await first.get_by_role("button", name="Record the payment").click()
    await expect(page.locator("#policy-status")).to_have_text("Active")
    await expect(page.locator("figure.qr img")).to_have_count(11)
    receipt = page.get_by_role("link", name="Receipt / tax invoice (PDF)")
    await expect(receipt).to_have_count(1)
    href = await receipt.get_attribute("href")
    response = await page.request.get(f"{site.base_url}{href}")
    assert response.status == 200 and (await response.body()).startswith(b"%PDF")
    status = await scalar(site, "select status from motor.policies")
    assert status == "ACTIVE"
    await shot(page, "motor-07-policy-active")

    # Thai: the same page with Thai words and the Thai font.
    await page.locator("nav.langs").get_by_role("link", name="ไทย").click()
    await expect(page.locator("#policy-status")).to_have_text("มีผลบังคับ")
    await shot(page, "motor-08-policy-th")

    # The claims board: a column per status.
    await page.goto(f"{site.base_url}/web/motor/claims?lang=en")
    await expect(page.locator("section.column")).to_have_count(8)
    await shot(page, "motor-09-claims-board")
    await context.close()
    assert failures == []


async def test_phone_width(site: Site, browser: Browser) -> None:  # noqa: F811
    context = await browser.new_context(
        locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await sign_in(page, site)
    await page.goto(f"{site.base_url}/web/motor/vehicles/{site.vehicle_id}/quote")
    await expect(page.locator("#quote-form")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shot(page, "motor-10-quote-375px")
    await page.goto(f"{site.base_url}/web/motor/customers/{site.customer_id}")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shot(page, "motor-11-customer-375px")
    await context.close()
