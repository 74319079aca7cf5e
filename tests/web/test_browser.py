"""Journeys in a real browser: Playwright driving the system's headless Chromium
(/usr/bin/chromium; no browser is downloaded) against the app served by uvicorn on
127.0.0.1, over a dedicated migrated database whose test data is committed.

Screenshots of the main pages are kept under var/test-artifacts/web/. Without
/usr/bin/chromium these tests fail, unless POLIS_ALLOW_NO_BROWSER is set: then they skip.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from tests.iam.factories import PASSWORD
from tests.integrations.sandbox import serve
from tests.web.helpers import Pended, decided_claim, make_user, pended_claim

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "var" / "test-artifacts" / "web"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
]

if not CHROMIUM.exists():
    if os.environ.get("POLIS_ALLOW_NO_BROWSER"):
        pytest.skip(
            "/usr/bin/chromium is not installed and POLIS_ALLOW_NO_BROWSER is set",
            allow_module_level=True,
        )
    pytest.fail(
        "/usr/bin/chromium is missing: install it (apt-get install chromium; .ci/run does)"
        " or set POLIS_ALLOW_NO_BROWSER=1 to skip the browser tests",
        pytrace=False,
    )

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
from playwright.async_api import Browser, Page, async_playwright, expect  # noqa: E402


@dataclass
class Site:
    """The served app, its database and the journey's data."""

    base_url: str
    engine: AsyncEngine
    pended: Pended
    approved_id: str
    username: str


@pytest.fixture
async def site(create_database: Callable[[], str]) -> AsyncIterator[Site]:
    """A migrated database with committed data, and the app served by uvicorn on a free
    127.0.0.1 port; stopped afterwards (the database is dropped with the test server)."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        pended = await pended_claim(s)
        approved_id = await decided_claim(s, pended.world)
        user = await make_user(s, "CLAIMS_PROCESSOR")
    app = create_app(Settings(database_url=url))
    try:
        async with serve(app, lifespan="on", start_timeout=10.0) as base_url:
            yield Site(base_url, engine, pended, approved_id, user.username)
    finally:
        await engine.dispose()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    """Headless Chromium from the system, never a downloaded build."""
    async with async_playwright() as pw:
        launched = await pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str) -> None:
    """Keep a full-page screenshot as a test artifact."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, site: Site) -> None:
    await page.goto(f"{site.base_url}/web/")
    await expect(page).to_have_url(f"{site.base_url}/web/sign-in?next=%2Fweb%2F")
    await page.get_by_label("Username").fill(site.username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Welcome")


async def claim_status(site: Site, claim_id: str) -> str:
    async with site.engine.connect() as conn:
        return str(
            await conn.scalar(
                text("select status from claims.claim where id = :c"), {"c": claim_id}
            )
        )


async def test_claims_journey(site: Site, browser: Browser) -> None:
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    page.on(
        "requestfailed",
        lambda request: failures.append(f"request failed: {request.url}"),
    )

    await page.goto(f"{site.base_url}/web/sign-in")
    await shot(page, "01-sign-in")
    await page.keyboard.press("Tab")  # the first stop is the skip link
    await expect(page.locator("a.skip")).to_be_focused()
    await sign_in(page, site)
    await shot(page, "02-home")

    # The worklist, filtered to pended claims by htmx (the table alone is replaced).
    await page.get_by_role("link", name="Claims", exact=True).first.click()
    member = site.pended.world.member.member_number
    # A marker that survives only if htmx swaps the table instead of loading a new page.
    await page.evaluate("window.polisMarker = 1")
    await page.get_by_label("Member number").fill(member)
    await page.get_by_role("button", name="Filter").click()
    rows = page.locator("#claims-rows tr")
    await expect(rows).to_have_count(2)
    await expect(rows.first).to_contain_text(site.pended.claim_number)  # pended first
    await page.get_by_label("Status").select_option("pended")
    await expect(rows).to_have_count(1)
    await expect(page).to_have_url(
        f"{site.base_url}/web/health/claims?status=pended&member={member}&provider=&from=&to="
    )
    assert await page.evaluate("window.polisMarker") == 1
    await shot(page, "03-worklist")

    # The pended claim: an invalid decision shows its error next to the field.
    await page.get_by_role("link", name=site.pended.claim_number).click()
    await expect(page.locator("#claim-status")).to_have_text("Pended")
    await expect(page.locator("ol.trace").first).to_contain_text("Provider contract discount")
    await shot(page, "04-claim")
    await page.get_by_role("button", name="Save the decision").click()
    error = page.locator("#decision-error")
    await expect(error).to_have_text("Choose approve or deny.")
    await expect(page.locator("fieldset.invalid")).to_contain_text("Choose approve or deny.")
    await shot(page, "05-decision-error")
    assert await claim_status(site, site.pended.claim_id) == "pended"

    # A valid decision: approved, re-adjudicated into a new claim.
    await page.get_by_label("Approve").check()
    await page.get_by_label("Notes").fill("Medically necessary")
    await page.get_by_role("button", name="Save the decision").click()
    await expect(page.locator("p.flash")).to_have_text("The decision has been saved.")
    await expect(page.locator("#claim-status")).to_have_text("Approved")
    assert await claim_status(site, site.pended.claim_id) == "voided"
    replacement = page.url.rsplit("/", 1)[1]
    assert await claim_status(site, replacement) == "approved"
    await shot(page, "06-decided")

    # The language switch: Thai, then Indonesian (a translated label appears).
    await page.locator("nav.langs").get_by_role("link", name="ไทย").click()
    await expect(page.locator("html")).to_have_attribute("lang", "th")
    await expect(page.get_by_role("navigation", name="เมนูหลัก")).to_contain_text("เคลม")
    await expect(page.locator("#claim-status")).to_have_text("อนุมัติแล้ว")
    await shot(page, "07-claim-th")
    await page.locator("nav.langs").get_by_role("link", name="Bahasa Indonesia").click()
    await expect(page.locator("html")).to_have_attribute("lang", "id")
    await expect(page.get_by_role("heading", level=2).first).to_contain_text("Rincian layanan")
    await shot(page, "08-claim-id")

    # The member page and the dashboard, in Indonesian now.
    await page.get_by_role("link", name=member).first.click()
    await expect(page.locator("meter").first).to_be_visible()
    await shot(page, "09-member")
    await page.goto(f"{site.base_url}/web/dashboard")
    await expect(page.locator("svg[role=img]")).to_be_visible()
    await shot(page, "10-dashboard")
    await context.close()
    assert failures == []


async def test_phone_width(site: Site, browser: Browser) -> None:
    context = await browser.new_context(
        locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await sign_in(page, site)
    await page.goto(f"{site.base_url}/web/health/claims")
    await expect(page.locator("#claims-rows tr").first).to_be_visible()
    # Nothing wider than the screen: no sideways scrolling on a phone.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shot(page, "11-worklist-375px")
    await page.goto(f"{site.base_url}/web/health/claims/{site.pended.claim_id}")
    await shot(page, "12-claim-375px")
    await context.close()
