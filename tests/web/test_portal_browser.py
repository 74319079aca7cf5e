"""The self-service portal in a real browser on a phone-sized screen: Playwright driving the
system's headless Chromium (/usr/bin/chromium; nothing downloaded) against the app served by
uvicorn on 127.0.0.1, with our SMS sandbox and payment-gateway sandbox served over real HTTP.

A member signs in with the code the SMS sandbox received, sees their cover and a claim,
fails and then succeeds to attach a document, and downloads the EOB. A customer signs in,
opens the premium due with its PromptPay QR; the bank pays it (the gateway sandbox sends its
HMAC-signed callback to the app) and the page turns to paid by itself, with the receipt.
Screenshots go to var/test-artifacts/web/portal-*.png.
"""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.adjudication import submit_claim
from polis.health.models import Member
from polis.integrations.gateway_sandbox import create_gateway_app
from polis.integrations.sms_sandbox import create_sms_sandbox_app
from polis.motor import policies, quotes, schemas
from polis.motor.customers import customers as customer_service
from polis.motor.models import Customer
from polis.motor.policy_schemas import PolicyBind
from polis.motor.quotes import today_bangkok
from polis.motor.rating_schemas import QuoteCreate
from polis.motor.vehicles import vehicles as vehicle_service
from tests.health.test_adjudication_service import build_world, gp, request
from tests.iam.factories import PASSWORD
from tests.integrations.sandbox import serve
from tests.motor.test_customers_api import customer_body
from tests.motor.test_vehicles_api import vehicle_body
from tests.web.helpers import make_user
from tests.web.test_browser import browser, shot  # noqa: F401 - fixture

SMS_KEY, GATEWAY_KEY, WEBHOOK_SECRET = "portal-sms", "portal-gateway", "portal-webhook-secret"
PHONE = "0812345670"


@dataclass
class Site:
    base_url: str
    engine: AsyncEngine
    sms_url: str
    gateway_url: str
    member_username: str
    member_number: str
    claim_id: str
    customer_username: str
    policy_number: str
    payment_id: str


@pytest.fixture
async def site(create_database: Callable[[], str]) -> AsyncIterator[Site]:
    """A migrated database with a member (two claims) and a customer (a policy with its
    premium due), each with a linked login; the SMS and gateway sandboxes; the app."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    async with async_sessionmaker(engine, expire_on_commit=False)() as s:
        world = await build_world(s)
        claim = await submit_claim(s, request(world, gp()))
        member_user = await make_user(s, "MEMBER", phone_number=PHONE)
        await s.execute(
            update(Member).where(Member.id == world.member.id).values(user_id=member_user.id)
        )
        agent = await make_user(s, "AGENT")
        customer = await customer_service.create(
            s,
            schemas.CustomerCreate.model_validate(
                customer_body(first_name_en="Kanya", last_name_en="Srisuk")
            ),
            agent.id,
        )
        vehicle = await vehicle_service.create(
            s,
            customer.id,
            schemas.VehicleCreate.model_validate(vehicle_body(registration_number="2กค 4821")),
            agent.id,
        )
        quote = await quotes.create_quote(
            s,
            QuoteCreate.model_validate(
                {
                    "policy_type": "CMI",
                    "vehicle_id": str(vehicle.id),
                    "start_date": (today_bangkok() + timedelta(days=3)).isoformat(),
                    "policy_period_months": 12,
                }
            ),
            user_id=agent.id,
        )
        policy, payments = await policies.bind_quote(
            s, PolicyBind(quote_number=quote.quote_number, payment_plan="FULL"), user_id=agent.id
        )
        customer_user = await make_user(s, "CUSTOMER")
        await s.execute(
            update(Customer).where(Customer.id == customer.id).values(user_id=customer_user.id)
        )
        await s.commit()
    gateway = create_gateway_app(GATEWAY_KEY, WEBHOOK_SECRET)
    async with (
        serve(create_sms_sandbox_app(SMS_KEY)) as sms_url,
        serve(gateway) as gateway_url,
    ):
        settings = Settings(
            database_url=url,
            sms_base_url=sms_url,
            sms_api_key=SMS_KEY,
            payment_gateway_base_url=gateway_url,
            payment_gateway_api_key=GATEWAY_KEY,
            payment_gateway_webhook_secret=WEBHOOK_SECRET,
        )
        try:
            async with serve(create_app(settings), lifespan="on", start_timeout=10.0) as base:
                gateway.state.gateway.webhook_url = f"{base}/api/v1/motor/payments/gateway/callback"
                yield Site(
                    base,
                    engine,
                    sms_url,
                    gateway_url,
                    member_user.username,
                    world.member.member_number,
                    str(claim.claim_id),
                    customer_user.username,
                    policy.policy_number,
                    str(payments[0].id),
                )
        finally:
            await engine.dispose()


async def phone(browser: Browser) -> tuple[object, Page, list[str]]:  # noqa: F811
    context = await browser.new_context(
        locale="en-US", viewport={"width": 375, "height": 740}, is_mobile=True, has_touch=True
    )
    page = await context.new_page()
    failures: list[str] = []
    page.on("pageerror", lambda exc: failures.append(str(exc)))
    return context, page, failures


async def no_sideways_scrolling(page: Page) -> None:
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375, width


async def test_a_member_on_a_phone(site: Site, browser: Browser, tmp_path: Path) -> None:  # noqa: F811
    context, page, failures = await phone(browser)
    await page.goto(f"{site.base_url}/web/")
    await page.get_by_role("link", name="Member or customer? Sign in with a code by SMS").click()
    await page.get_by_label("Username").fill(site.member_username)
    await page.get_by_role("button", name="Send me a code").click()
    await expect(page.get_by_role("heading", level=1)).to_have_text("Enter the code")
    await shot(page, "portal-01-sms-code")

    # A wrong code first: the error next to the field.
    await page.get_by_label("Code from the SMS").fill("12345")
    await page.get_by_role("button", name="Sign in").click()
    await expect(page.locator("#code-error")).to_contain_text("not correct")
    async with httpx.AsyncClient(base_url=site.sms_url) as sms:
        messages = (await sms.get("/messages", params={"to": PHONE})).json()["items"]
    code = re.findall(r"\b(\d{6})\b", messages[-1]["text"])[0]
    await page.get_by_label("Code from the SMS").fill(code)
    await page.get_by_role("button", name="Sign in").click()

    # Their cover and claims.
    await expect(page).to_have_url(f"{site.base_url}/web/me/health")
    await expect(page.get_by_role("heading", level=1)).to_contain_text(site.member_number)
    await expect(page.locator("meter").first).to_be_visible()
    await no_sideways_scrolling(page)
    await shot(page, "portal-02-member")
    claim_link = page.locator(f'a[href="/web/me/health/claims/{site.claim_id}"]')
    await claim_link.click()
    await expect(page.locator("ol.trace").first).to_be_visible()
    await no_sideways_scrolling(page)
    await shot(page, "portal-03-claim")

    # A document: no file chosen is refused next to the field; then a PDF.
    await page.get_by_role("button", name="Attach the document").click()
    await expect(page.locator("#document-file-error")).to_have_text("Choose a file.")
    pdf = tmp_path / "kuitansi.pdf"
    pdf.write_bytes(b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n")
    await page.get_by_label("Kind of document").select_option("receipt")
    await page.get_by_label("File (PDF, JPEG, PNG or TIFF)").set_input_files(str(pdf))
    await page.get_by_role("button", name="Attach the document").click()
    await expect(page.locator("p.flash")).to_have_text("The document has been attached.")
    await expect(page.get_by_role("link", name="kuitansi.pdf")).to_be_visible()
    async with site.engine.connect() as conn:
        stored = await conn.scalar(
            text("select count(*) from claims.claim_document where claim_id = :c"),
            {"c": site.claim_id},
        )
    assert stored == 1

    # The EOB as a PDF download.
    async with page.expect_download() as info:
        await page.get_by_role("link", name="Download the EOB (PDF)").click()
    download = await info.value
    saved = tmp_path / "eob.pdf"
    await download.save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    await context.close()  # type: ignore[attr-defined]
    assert failures == []


async def test_a_customer_pays_a_premium_by_promptpay(
    site: Site,
    browser: Browser,  # noqa: F811
    tmp_path: Path,
) -> None:
    context, page, failures = await phone(browser)
    await page.goto(f"{site.base_url}/web/sign-in")
    await page.get_by_label("Username").fill(site.customer_username)
    await page.get_by_label("Password").fill(PASSWORD)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{site.base_url}/web/me/motor")
    await expect(page.get_by_role("heading", level=1)).to_contain_text("Kanya Srisuk")
    await no_sideways_scrolling(page)
    await shot(page, "portal-04-customer")

    await page.get_by_role("link", name=site.policy_number).click()
    status = page.locator(f"#payment-{site.payment_id}-status")
    await expect(status).to_have_text("Pending")
    qr = page.locator(f"#payment-{site.payment_id} img")
    await expect(qr).to_be_visible()
    assert await qr.evaluate("img => img.decode().then(() => img.naturalWidth)") > 0  # PNG
    reference = await page.locator(f"#payment-{site.payment_id} figcaption code").inner_text()
    await no_sideways_scrolling(page)
    await shot(page, "portal-05-promptpay")

    # The bank pays the QR: the gateway sandbox confirms it to the app by a signed callback,
    # and the page, which follows the payment, turns to paid without a reload.
    async with site.engine.connect() as conn:
        amount = await conn.scalar(
            text("select total_amount from motor.payments where id = :p"), {"p": site.payment_id}
        )
    async with httpx.AsyncClient(base_url=site.gateway_url) as gateway:
        paid = await gateway.post(
            "/v1/promptpay/payments",
            json={"amount": str(amount), "reference": reference, "currency": "THB"},
            headers={"X-API-Key": GATEWAY_KEY, "Idempotency-Key": str(uuid.uuid4())},
        )
    assert paid.status_code == 201, paid.text
    await page.evaluate("window.polisMarker = 1")
    await expect(status).to_have_text("Paid", timeout=15_000)
    assert await page.evaluate("window.polisMarker") == 1  # the same page, updated by htmx
    await expect(qr).to_have_count(0)
    await shot(page, "portal-06-paid")
    async with site.engine.connect() as conn:
        policy_status = await conn.scalar(
            text("select status from motor.policies where policy_number = :n"),
            {"n": site.policy_number},
        )
    assert policy_status == "ACTIVE"

    async with page.expect_download() as info:
        await page.get_by_role("link", name="Receipt / tax invoice (PDF)").click()
    saved = tmp_path / "receipt.pdf"
    await (await info.value).save_as(saved)
    assert saved.read_bytes().startswith(b"%PDF")
    await context.close()  # type: ignore[attr-defined]
    assert failures == []
