"""Motor payment operations on the pages through the app (httpx): bank-statement
reconciliation (lines MATCHED / UNMATCHED / DISPUTED as the service writes them, a bad file
refused next to the file field writing nothing) and refunds of received premium through our
gateway sandbox served over real HTTP (the refund payment to the satang, too much or the
gateway down refused next to the amount writing nothing); permissions; the customer portal's
policy page without the staff-only parts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient, Response
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.integrations.gateway import GatewayClient
from tests.iam.factories import signed_in
from tests.integrations.sandbox import closed_port_url
from tests.integrations.test_gateway import KEY, SECRET, VISA_OK, RunningGateway, running_gateway
from tests.motor.test_policies_api import PAYMENTS, bound_policy, confirm
from tests.web.helpers import csrf, sign_in, staff
from tests.web.test_motor_pages import error_of
from tests.web.test_portal import login_for

PAGE = "/web/motor/reconciliation"
HEADER = "date,amount,reference,bank_transaction_id"
CMI_TOTAL = Decimal("645.21")


@dataclass
class Site:
    """The app (requests inside the test transaction) calling a gateway sandbox served over
    HTTP for this test, and its client."""

    client: AsyncClient
    app: FastAPI
    gateway: RunningGateway


@pytest.fixture
async def site(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Site]:
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    async with running_gateway() as gw:
        settings = Settings(
            database_url=db_url,
            payment_gateway_base_url=gw.base_url,
            payment_gateway_api_key=KEY,
            payment_gateway_webhook_secret=SECRET,
            payment_gateway_timeout_seconds=5,
            payment_gateway_retries=0,
        )
        database = Database(engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(settings, database=database)
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            yield Site(client=c, app=app, gateway=gw)


async def agent(site: Site, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(site.client, session, role="AGENT")
    return headers


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return await session.scalar(text(sql), params)


async def bank_rows(session: AsyncSession) -> int:
    return int(
        await scalar(
            session,
            "select count(*) from motor.payment_transactions"
            " where gateway_provider = 'BANK_STATEMENT'",
        )
    )


async def reconciliation_of(session: AsyncSession, payment_id: str) -> Any:
    return (
        await session.execute(
            text("select reconciliation_status, reconciled_at from motor.payments where id = :p"),
            {"p": payment_id},
        )
    ).one()


def statement(*lines: str, header: str = HEADER) -> bytes:
    return ("\n".join((header, *lines)) + "\n").encode()


async def upload(site: Site, data: bytes, name: str = "statement.csv") -> Response:
    page = await site.client.get(PAGE)
    assert page.status_code == 200, page.text
    return await site.client.post(
        PAGE, data={"csrf_token": csrf(page)}, files={"file": (name, data, "text/csv")}
    )


def line_row(html: str, number: int) -> str:
    found = re.search(rf'<tr id="line-{number}".*?</tr>', html, re.S)
    assert found, f"line {number} is not shown"
    return found.group(0)


def squeeze(html: str) -> str:
    return " ".join(html.split())


# --- reconciliation --------------------------------------------------------------------------


class TestReconciliation:
    async def test_matched_unmatched_and_disputed_lines(
        self, site: Site, session: AsyncSession
    ) -> None:
        headers = await agent(site, session)
        paid = await bound_policy(site.client, headers)
        p1 = paid["payments"][0]
        assert (await confirm(site.client, headers, p1, "KBANK-PAGE-1")).status_code == 200
        due = await bound_policy(site.client, headers)
        p2 = due["payments"][0]
        await staff(site.client, session, "FINANCE")

        form = await site.client.get(PAGE)
        assert form.status_code == 200
        assert f'<code id="statement-header">{HEADER}</code>' in form.text
        assert 'enctype="multipart/form-data"' in form.text
        assert 'href="/web/motor/reconciliation"' in form.text  # the navigation

        data = statement(
            f"2026-01-05,645.21,{p1['reference']},KB-P-0001",
            "2026-01-05,999.00,NOBODY-123,KB-P-0002",
            f"2026-01-06,600.00,{p2['reference']},KB-P-0003",
        )
        result = await upload(site, data)
        assert result.status_code == 200, result.text
        html = result.text

        matched = line_row(html, 2)
        assert 'data-status="MATCHED"' in matched and ">Matched<" in matched
        assert f'href="/web/motor/policies/{paid["policy_number"]}#payment-{p1["id"]}"' in matched
        unmatched = line_row(html, 3)
        assert 'data-status="UNMATCHED"' in unmatched
        assert "No payment has this reference." in unmatched
        disputed = line_row(html, 4)
        assert 'data-status="DISPUTED"' in disputed
        assert f'href="/web/motor/policies/{due["policy_number"]}' in disputed
        assert "The payment&#39;s amount is THB 645.21, the bank&#39;s THB 600.00." in disputed

        totals = squeeze(html[html.index('id="reconciliation-totals"') :])
        assert re.search(r'id="total-matched">.*?>1</td>.*?THB 645.21', totals)
        assert re.search(r'id="total-unmatched">.*?>1</td>.*?THB 999.00', totals)
        assert re.search(r'id="total-disputed">.*?>1</td>.*?THB 600.00', totals)
        assert re.search(r'id="total-all">.*?>3</td>.*?THB 2,244.21', totals)

        # As the service writes them: MATCHED with reconciled_at, DISPUTED without.
        one = await reconciliation_of(session, p1["id"])
        assert one.reconciliation_status == "MATCHED" and one.reconciled_at is not None
        two = await reconciliation_of(session, p2["id"])
        assert (two.reconciliation_status, two.reconciled_at) == ("DISPUTED", None)
        assert await bank_rows(session) == 2
        assert f'datetime="{one.reconciled_at.isoformat()}"' in matched

        # The policy pages show each payment's reconciliation status (and when it matched).
        page = await site.client.get(f"/web/motor/policies/{paid['policy_number']}")
        assert f'id="payment-{p1["id"]}-reconciliation">Matched<' in page.text
        assert (
            f'id="payment-{p1["id"]}-reconciled-at" datetime="{one.reconciled_at.isoformat()}"'
            in page.text
        )
        other = await site.client.get(f"/web/motor/policies/{due['policy_number']}")
        assert f'id="payment-{p2["id"]}-reconciliation">Disputed<' in other.text
        assert f'id="payment-{p2["id"]}-reconciled-at"' not in other.text

        # The same statement again: the same verdicts, nothing written.
        again = await upload(site, data)
        assert again.status_code == 200
        assert 'id="already-reconciled"' in again.text
        assert 'data-status="MATCHED"' in line_row(again.text, 2)
        assert await bank_rows(session) == 2
        assert (await reconciliation_of(session, p1["id"])).reconciled_at == one.reconciled_at

    async def test_a_bad_file_is_refused_next_to_the_field_and_changes_nothing(
        self, site: Site, session: AsyncSession
    ) -> None:
        headers = await agent(site, session)
        paid = await bound_policy(site.client, headers)
        p1 = paid["payments"][0]
        assert (await confirm(site.client, headers, p1, "KBANK-PAGE-2")).status_code == 200
        await staff(site.client, session, "FINANCE")
        good = f"2026-01-05,645.21,{p1['reference']},KB-BAD-1"

        bad_amounts = await upload(
            site, statement(good, "2026-13-01,1.001,R,KB-BAD-2", "2026-01-01,1,000.00,R,KB-BAD-3")
        )
        assert bad_amounts.status_code == 422
        assert "nothing was written" in error_of(bad_amounts.text, "file")
        listed = bad_amounts.text[bad_amounts.text.index('id="f-file-errors"') :]
        assert "Line 3: the date must be YYYY-MM-DD." in listed
        assert "Line 3: the amount must be above zero" in listed
        assert "Line 4: expected 4 columns." in listed
        assert 'aria-invalid="true"' in bad_amounts.text

        wrong_columns = await upload(site, statement(good, header="when,amount,ref,id"))
        assert wrong_columns.status_code == 422
        assert f"The first line must be the header {HEADER}." in wrong_columns.text

        not_csv = await upload(site, b"%PDF-1.4\n\xff\xfe\x00binary", name="statement.pdf")
        assert not_csv.status_code == 422
        assert error_of(not_csv.text, "file")
        assert "The file is not UTF-8 text" in not_csv.text

        page = await site.client.get(PAGE)
        no_file = await site.client.post(PAGE, data={"csrf_token": csrf(page)})
        assert no_file.status_code == 422 and "Choose a file." in no_file.text

        # The good line of a refused file was not reconciled either.
        assert await bank_rows(session) == 0
        assert (await reconciliation_of(session, p1["id"])) == ("PENDING", None)


# --- refunds ---------------------------------------------------------------------------------


async def card_paid_policy(site: Site, session: AsyncSession) -> tuple[dict[str, Any], str]:
    """A policy whose premium was charged to a card through the gateway sandbox (the API)."""
    _, admin = await signed_in(site.client, session, role="ADMIN")
    policy = await bound_policy(site.client, admin)
    payment_id = policy["payments"][0]["id"]
    card = {"number": VISA_OK, "exp_month": 12, "exp_year": 2099, "cvc": "123"}
    charged = await site.client.post(
        f"{PAYMENTS}/{payment_id}/charge", json={"card": card}, headers=admin
    )
    assert charged.status_code == 200 and charged.json()["status"] == "SUCCESS", charged.text
    return policy, payment_id


async def refund_rows(session: AsyncSession, policy_id: str) -> list[Any]:
    return list(
        (
            await session.execute(
                text(
                    "select id, amount, total_amount, payment_direction, payment_status,"
                    " transaction_reference from motor.payments"
                    " where policy_id = :p and payment_type = 'REFUND' order by created_at"
                ),
                {"p": policy_id},
            )
        ).all()
    )


def refund_error(html: str, payment_id: str) -> str:
    found = re.search(rf'id="refund_amount-{payment_id}-error">([^<]*)<', html)
    return found.group(1) if found else ""


class TestRefunds:
    async def test_refund_through_the_gateway_then_too_much_is_refused(
        self, site: Site, session: AsyncSession
    ) -> None:
        policy, payment_id = await card_paid_policy(site, session)
        number = policy["policy_number"]
        await staff(site.client, session, "FINANCE")
        url = f"/web/motor/policies/{number}"
        page = await site.client.get(url)
        assert f'action="/web/motor/payments/{payment_id}/refund"' in page.text
        assert "At most THB 645.21" in page.text
        action = f"/web/motor/payments/{payment_id}/refund"

        done = await site.client.post(
            action,
            data={"refund_amount": "400.00", "refund_reason": "goodwill", "csrf_token": csrf(page)},
        )
        assert done.status_code == 303, done.text
        rows = await refund_rows(session, policy["id"])
        assert len(rows) == 1
        refund = rows[0]
        assert refund.amount == Decimal("400.00") and refund.total_amount == Decimal("400.00")
        assert (refund.payment_direction, refund.payment_status) == ("OUTGOING", "SUCCESS")
        assert refund.transaction_reference.startswith("rf_")
        at_gateway = site.gateway.state.transactions[refund.transaction_reference]
        assert at_gateway["amount"] == "400.00" and at_gateway["charge_id"] is not None
        assert await scalar(
            session,
            "select sum(amount) from motor.payment_transactions"
            " where payment_id = :p and transaction_type = 'REFUND'",
            p=payment_id,
        ) == Decimal("400.00")

        after = await site.client.get(url)
        assert "The refund has been paid through the payment gateway." in after.text
        assert f'id="payment-{refund.id}"' in after.text  # the refund in the payments list
        assert f"<code>{refund.transaction_reference}</code>" in after.text
        assert f'id="payment-{payment_id}-refunded">THB 400.00<' in after.text
        assert "At most THB 245.21" in after.text

        over = await site.client.post(
            action,
            data={"refund_amount": "245.22", "refund_reason": "more", "csrf_token": csrf(page)},
        )
        assert over.status_code == 422
        assert refund_error(over.text, payment_id) == (
            "At most THB 245.21 can be refunded: THB 645.21 was paid, THB 400.00 already refunded."
        )
        assert 'value="245.22"' in over.text  # the form keeps what was typed
        assert len(await refund_rows(session, policy["id"])) == 1

        for amount, reason in (("abc", "x"), ("0", "x"), ("1.001", "x")):
            refused = await site.client.post(
                action,
                data={"refund_amount": amount, "refund_reason": reason, "csrf_token": csrf(page)},
            )
            assert refused.status_code == 422, amount
            assert "at most two decimals" in refund_error(refused.text, payment_id)
        no_reason = await site.client.post(
            action, data={"refund_amount": "1.00", "csrf_token": csrf(page)}
        )
        assert no_reason.status_code == 422
        assert f'id="refund_reason-{payment_id}-error">Required.<' in no_reason.text
        assert len(await refund_rows(session, policy["id"])) == 1

        rest = await site.client.post(
            action,
            data={"refund_amount": "245.21", "refund_reason": "rest", "csrf_token": csrf(page)},
        )
        assert rest.status_code == 303
        assert sum(r.total_amount for r in await refund_rows(session, policy["id"])) == CMI_TOTAL
        final = await site.client.get(url)
        assert f'action="/web/motor/payments/{payment_id}/refund"' not in final.text

    async def test_gateway_down_writes_nothing(self, site: Site, session: AsyncSession) -> None:
        headers = await agent(site, session)
        policy = await bound_policy(site.client, headers)
        payment = policy["payments"][0]
        assert (await confirm(site.client, headers, payment, "KBANK-DOWN-1")).status_code == 200
        await staff(site.client, session, "FINANCE")
        page = await site.client.get(f"/web/motor/policies/{policy['policy_number']}")
        site.app.state.gateway_client = GatewayClient(
            closed_port_url(), KEY, timeout_seconds=1, retries=0
        )
        down = await site.client.post(
            f"/web/motor/payments/{payment['id']}/refund",
            data={"refund_amount": "100.00", "refund_reason": "x", "csrf_token": csrf(page)},
        )
        assert down.status_code == 503
        assert "did not answer" in refund_error(down.text, payment["id"])
        assert await refund_rows(session, policy["id"]) == []
        assert not await scalar(
            session,
            "select count(*) from motor.payment_transactions where transaction_type = 'REFUND'"
            " and payment_id = :p",
            p=payment["id"],
        )


# --- permissions and the portal ---------------------------------------------------------------


async def test_roles_without_the_permissions_get_403_and_write_nothing(
    site: Site, session: AsyncSession
) -> None:
    headers = await agent(site, session)
    policy = await bound_policy(site.client, headers)
    payment = policy["payments"][0]
    assert (await confirm(site.client, headers, payment, "KBANK-403-1")).status_code == 200
    await staff(site.client, session, "AGENT")  # motor.payments:read and :write, no more
    page = await site.client.get(f"/web/motor/policies/{policy['policy_number']}")
    assert page.status_code == 200
    assert "/refund" not in page.text  # no refund form
    assert 'href="/web/motor/reconciliation"' not in page.text  # no navigation link
    assert f'id="payment-{payment["id"]}-reconciliation">Not reconciled yet<' in page.text
    token = csrf(page)

    assert (await site.client.get(PAGE)).status_code == 403
    posted = await site.client.post(
        PAGE,
        data={"csrf_token": token},
        files={
            "file": ("s.csv", statement(f"2026-01-05,645.21,{payment['reference']},K"), "text/csv")
        },
    )
    assert posted.status_code == 403
    refund = await site.client.post(
        f"/web/motor/payments/{payment['id']}/refund",
        data={"refund_amount": "1.00", "refund_reason": "x", "csrf_token": token},
    )
    assert refund.status_code == 403
    assert await refund_rows(session, policy["id"]) == []
    assert await bank_rows(session) == 0

    site.client.cookies.clear()
    await staff(site.client, session, "SURVEYOR")  # not even motor.payments:read
    assert (await site.client.get(PAGE)).status_code == 403


async def test_the_portal_policy_page_has_no_refund_form(site: Site, session: AsyncSession) -> None:
    headers = await agent(site, session)
    policy = await bound_policy(site.client, headers)
    payment = policy["payments"][0]
    assert (await confirm(site.client, headers, payment, "KBANK-PORTAL-1")).status_code == 200
    user = await login_for(session, "CUSTOMER", customer=policy["customer_id"])
    assert (await sign_in(site.client, user.username)).status_code == 303
    for url in (
        f"/web/me/motor/policies/{policy['policy_number']}",
        f"/web/me/motor/payments/{payment['id']}",
    ):
        page = await site.client.get(url)
        assert page.status_code == 200, url
        assert "/receipt.pdf" in page.text  # the paid premium is shown
        assert "/refund" not in page.text and "refund_amount" not in page.text, url
        assert "-reconciliation" not in page.text and "Bank reconciliation" not in page.text
    assert 'href="/web/motor/reconciliation"' not in page.text
