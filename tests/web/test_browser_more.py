"""Browser journeys of the configuration, claim action and dashboard pages (issue 8 items 2
and 5), as tests/web/test_browser.py drives the others: the system's headless Chromium
against the app served on 127.0.0.1; screenshots under var/test-artifacts/web/."""

from __future__ import annotations

from playwright.async_api import Browser, expect

from tests.web.test_browser import (  # noqa: F401 - fixtures
    Site,
    browser,
    claim_status,
    shot,
    sign_in,
    site,
)


async def test_appeal_plans_and_dashboards(site: Site, browser: Browser) -> None:  # noqa: F811
    context = await browser.new_context(locale="en-US", viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    await sign_in(page, site)

    # An approved claim: an appeal without a reason is refused next to the field.
    await page.goto(f"{site.base_url}/web/health/claims/{site.approved_id}")
    await page.get_by_role("button", name="Record the appeal").click()
    await expect(page.locator("#appeal-reason-error")).to_have_text("Say why.")
    assert await claim_status(site, site.approved_id) == "approved"
    await shot(page, "20-appeal-error")
    await page.get_by_label("Why is the decision appealed?").fill("Copay was removed in March")
    await page.get_by_role("button", name="Record the appeal").click()
    await expect(page.locator("p.flash")).to_have_text("The appeal has been recorded.")
    await expect(page.locator("#claim-status")).to_have_text("Appealed")
    assert await claim_status(site, site.approved_id) == "appealed"
    await page.get_by_label("Reject").check()
    await page.get_by_role("button", name="Save the appeal decision").click()
    await expect(page.locator("#claim-status")).to_have_text("Approved")
    await shot(page, "21-appeal-decided")

    # Plans: the list and a plan with its benefits (a processor reads, never changes).
    await page.get_by_role("link", name="Plans", exact=True).click()
    plan_code = site.pended.world.plan.plan_code
    await page.get_by_role("link", name=plan_code).click()
    await expect(page.locator("table.list").first).to_contain_text("OP-GP")
    await expect(page.get_by_role("link", name="Change the plan")).to_have_count(0)
    await shot(page, "22-plan")

    # Dashboards: loss ratio and fund balances, charts with their tables.
    await page.goto(f"{site.base_url}/web/dashboard/loss-ratio")
    await expect(page.locator("#health-table")).to_be_visible()
    await shot(page, "23-loss-ratio")
    await page.goto(f"{site.base_url}/web/dashboard/funds")
    await expect(page.locator("#funds-table")).to_be_visible()
    await page.get_by_label("Low below (rupiah)").fill("lots")
    await page.get_by_role("button", name="Show").click()
    await expect(page.locator("#below-error")).to_be_visible()
    await shot(page, "24-funds")

    # Thai: the plan page's words.
    await page.goto(f"{site.base_url}/web/health/plans/{plan_code}?lang=th")
    await expect(page.get_by_role("heading", level=2).first).to_have_text("ผลประโยชน์")
    await shot(page, "25-plan-th")
    await context.close()
    assert failures == []


async def test_plan_page_on_a_phone(site: Site, browser: Browser) -> None:  # noqa: F811
    context = await browser.new_context(
        locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    await sign_in(page, site)
    await page.goto(f"{site.base_url}/web/health/plans/{site.pended.world.plan.plan_code}")
    await expect(page.locator("h1")).to_be_visible()
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shot(page, "26-plan-375px")
    await page.goto(f"{site.base_url}/web/dashboard/loss-ratio")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width
    await shot(page, "27-loss-ratio-375px")
    await context.close()
