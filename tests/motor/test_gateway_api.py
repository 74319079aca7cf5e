"""Motor payments through the gateway sandbox over real HTTP (decision 0048): card charges
(success, decline, 3-D Secure), signed callbacks sent by the sandbox to the app (served by
uvicorn on 127.0.0.1) processed once, forged and stale callbacks refused, the timeout expiry,
refund limits (also under concurrency), card numbers never stored or logged."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.db.recording import recorded
from polis.integrations.gateway import signed_headers
from polis.motor.gateway import expire_pending_payments, open_token
from tests.integrations.test_gateway import (
    DECLINED,
    KEY,
    SECRET,
    THREE_DS,
    VISA_OK,
    RunningGateway,
    running_gateway,
    serve,
)
from tests.motor.test_policies_api import PAYMENTS, bound_policy, confirm, policy_status, scalar

CALLBACK = f"{PAYMENTS}/gateway/callback"
PROBLEM = "application/problem+json"
CMI_TOTAL = "645.21"


@dataclass
class Api:
    client: AsyncClient
    app: FastAPI
    gateway: RunningGateway

    async def send(self, transaction_id: str) -> dict[str, Any]:
        """Have the sandbox (re)send a transaction's callback to the app now."""
        return await self.gateway.client().send_callback(transaction_id)


def _settings(db_url: str, gateway_url: str) -> Any:
    from polis.config import Settings

    return Settings(
        database_url=db_url,
        payment_gateway_base_url=gateway_url,
        payment_gateway_api_key=KEY,
        payment_gateway_webhook_secret=SECRET,
        payment_gateway_timeout_seconds=5,
        payment_gateway_retries=0,
    )


@pytest.fixture
async def api(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[Api]:
    """The app (requests inside the test transaction) calling a gateway sandbox served for
    this test; the app is served over HTTP too, as the sandbox's webhook."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.db.session import Database

    async with running_gateway() as gw:
        database = Database(engine=connection.engine, sessionmaker=sessionmaker)
        app = create_app(_settings(db_url, gw.base_url), database=database)
        async with (
            LifespanManager(app),
            serve(app) as app_url,
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
        ):
            gw.state.webhook_url = app_url + CALLBACK
            yield Api(client=c, app=app, gateway=gw)


async def _headers(api: Api, session: AsyncSession, role: str = "ADMIN") -> dict[str, str]:
    from tests.iam.factories import signed_in

    _, headers = await signed_in(api.client, session, role=role)
    return headers


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await scalar(session, sql, **params) or 0)


async def _transactions(session: AsyncSession, payment_id: str) -> int:
    return await _count(
        session,
        "select count(*) from motor.payment_transactions where payment_id = :p",
        p=payment_id,
    )


async def _receipts(session: AsyncSession, payment_id: str) -> int:
    return await _count(
        session, "select count(*) from motor.payment_receipts where payment_id = :p", p=payment_id
    )


async def _payment(session: AsyncSession, payment_id: str) -> Any:
    return (
        await session.execute(
            text(
                "select payment_status, payment_method, card_last_four, card_type, card_token,"
                " gateway_provider, gateway_transaction_id, authorization_code,"
                " transaction_reference, gateway_response"
                " from motor.payments where id = :p"
            ),
            {"p": payment_id},
        )
    ).one()


def _card(number: str = VISA_OK) -> dict[str, Any]:
    return {"card": {"number": number, "exp_month": 12, "exp_year": 2099, "cvc": "123"}}


async def _charge(api: Api, headers: dict[str, str], payment_id: str, body: dict[str, Any]) -> Any:
    return await api.client.post(f"{PAYMENTS}/{payment_id}/charge", json=body, headers=headers)


def _forge(body: dict[str, Any], secret: str = SECRET, *, at: int | None = None) -> Any:
    raw = json.dumps(body).encode()
    return raw, {"Content-Type": "application/json", **signed_headers(secret, raw, timestamp=at)}


class TestCards:
    async def test_card_success_pays_activates_and_keeps_only_token_and_last_four(
        self, api: Api, session: AsyncSession, capsys: pytest.CaptureFixture[str]
    ) -> None:
        headers = await _headers(api, session, role="AGENT")
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        response = await _charge(api, headers, payment["id"], _card())
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == "SUCCESS"
        assert result["card_last_four"] == "4242"
        assert result["card_type"] == "VISA"
        assert result["authorization_code"]
        assert result["payment"]["payment_status"] == "SUCCESS"
        assert result["payment"]["payment_method"] == "CREDIT_CARD"
        assert result["payment"]["total_amount"] == CMI_TOTAL
        txn_id = result["gateway_transaction_id"]
        assert result["payment"]["transaction_reference"] == txn_id
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"
        assert await _transactions(session, payment["id"]) == 1
        assert await _receipts(session, payment["id"]) == 1

        row = await _payment(session, payment["id"])
        assert (row.card_last_four, row.card_type, row.gateway_provider) == (
            "4242",
            "VISA",
            "POLIS_SANDBOX",
        )
        assert row.gateway_transaction_id == txn_id and row.authorization_code
        token = open_token(row.card_token)
        assert token.startswith("tok_") and token not in row.card_token  # sealed
        assert token in api.gateway.state.tokens

        # The sandbox's callback of the same charge afterwards changes nothing.
        assert await api.send(txn_id) == {"delivered": True, "status_code": 200}
        assert await _transactions(session, payment["id"]) == 1
        assert await _receipts(session, payment["id"]) == 1

        # The card number is nowhere: not in any motor table, the audit log, nor the logs.
        dump = await scalar(
            session,
            "select string_agg(t::text, '|') from ("
            " select row_to_json(p)::text as t from motor.payments p"
            " union all select row_to_json(x)::text from motor.payment_transactions x"
            " union all select row_to_json(r)::text from motor.payment_receipts r) s",
        )
        assert "4242" in dump and VISA_OK not in dump
        audit = await scalar(
            session,
            "select coalesce(string_agg(a::text, '|'), '') from audit.audit_log a"
            " where a.table_name in ('payments', 'payment_transactions')",
        )
        assert VISA_OK not in audit and token not in audit
        out = capsys.readouterr()
        assert VISA_OK not in out.out + out.err

    async def test_card_given_as_gateway_token(self, api: Api, session: AsyncSession) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        card = await api.gateway.client().tokenize("4000056655665556", 1, 2099, "999", None)
        response = await _charge(
            api, headers, policy["payments"][0]["id"], {"card_token": card["token"]}
        )
        assert response.status_code == 200, response.text
        assert response.json()["payment"]["payment_method"] == "DEBIT_CARD"
        assert response.json()["card_last_four"] == "5556"

    async def test_declined_card_records_the_failure_and_leaves_the_payment_due(
        self, api: Api, session: AsyncSession
    ) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        response = await _charge(api, headers, payment["id"], _card(DECLINED))
        assert response.status_code == 200, response.text
        result = response.json()
        assert result["status"] == "FAILED"
        assert result["response_code"] == "card_declined"
        assert result["response_message"] == "The card was declined."
        assert result["payment"]["payment_status"] == "PENDING"
        assert await policy_status(session, policy["policy_number"]) == "DRAFT"
        row = (
            await session.execute(
                text(
                    "select transaction_type, status, gateway_reference, amount, response_code"
                    " from motor.payment_transactions where payment_id = :p"
                ),
                {"p": payment["id"]},
            )
        ).one()
        assert tuple(row) == (
            "CAPTURE",
            "FAILED",
            result["gateway_transaction_id"],
            Decimal(CMI_TOTAL),
            "card_declined",
        )
        assert await _receipts(session, payment["id"]) == 0
        # The customer tries another card: paid.
        again = await _charge(api, headers, payment["id"], _card())
        assert again.json()["status"] == "SUCCESS"
        assert await _transactions(session, payment["id"]) == 2
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"

    async def test_bad_requests_write_nothing(self, api: Api, session: AsyncSession) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        pid = policy["payments"][0]["id"]
        invalid = await _charge(api, headers, pid, _card("4242424242424241"))
        assert invalid.status_code == 422
        assert invalid.headers["content-type"] == PROBLEM
        assert invalid.json()["errors"][0]["field"] == "body.card.number"
        assert "4242424242424241" not in invalid.text
        both = await _charge(api, headers, pid, {**_card(), "card_token": "tok_x"})
        assert both.status_code == 422
        unknown = await _charge(api, headers, pid, {"card_token": "tok_unknown"})
        assert unknown.status_code == 422
        assert await _transactions(session, pid) == 0
        missing = await _charge(api, headers, str(uuid.uuid4()), _card())
        assert missing.status_code == 404
        reader = await _headers(api, session, role="CUSTOMER")
        assert (await _charge(api, reader, pid, _card())).status_code == 403

    async def test_gateway_down_is_503_and_writes_nothing(
        self, api: Api, session: AsyncSession
    ) -> None:
        from tests.integrations.sandbox import closed_port_url

        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        pid = policy["payments"][0]["id"]
        api.app.state.gateway_client = None
        api.app.state.settings = _settings("x", closed_port_url())
        response = await _charge(api, headers, pid, _card())
        assert response.status_code == 503
        assert response.json()["type"].endswith("payment-gateway-unavailable")
        assert await _transactions(session, pid) == 0


class TestCallbacks:
    async def test_the_receipt_number_is_the_last_statement_of_a_paying_callback(
        self, api: Api, session: AsyncSession, connection: AsyncConnection
    ) -> None:
        # The year's receipt counter stays locked from the statement that takes the number
        # until commit (decision 0049), so nothing may follow it (decision 0072). Every
        # statement on the connection is seen: the ORM's and polis.db.raw's (decision 0073).
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        qr = (await api.client.get(f"{PAYMENTS}/{payment['id']}/promptpay", headers=headers)).json()
        paid = await api.gateway.client().promptpay_paid(qr["reference"], qr["amount"])
        async with recorded(connection) as seen:
            assert (await api.send(paid["transaction_id"]))["status_code"] == 200
        numbered = [i for i, sql in enumerate(seen) if "receipt_number_counters" in sql]
        assert len(numbered) == 1 and await _receipts(session, payment["id"]) == 1
        after = [sql for sql in seen[numbered[0] + 1 :] if "SAVEPOINT" not in sql.upper()]
        assert after == []
        # the gateway's fields (an ORM flush) and the activation came before the number
        before = " ".join(seen[: numbered[0]])
        assert "UPDATE motor.payments SET gateway_transaction_id" in before
        assert "UPDATE motor.policies SET status" in before
        row = await _payment(session, payment["id"])
        assert row.gateway_transaction_id == paid["transaction_id"]

    async def test_promptpay_callback_pays_once(self, api: Api, session: AsyncSession) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        qr = (await api.client.get(f"{PAYMENTS}/{payment['id']}/promptpay", headers=headers)).json()
        paid = await api.gateway.client().promptpay_paid(qr["reference"], qr["amount"])
        assert await _transactions(session, payment["id"]) == 0  # the callback is not sent yet

        assert await api.send(paid["transaction_id"]) == {"delivered": True, "status_code": 200}
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"
        row = await _payment(session, payment["id"])
        assert (row.payment_status, row.payment_method, row.transaction_reference) == (
            "SUCCESS",
            "PROMPTPAY",
            paid["transaction_id"],
        )
        assert row.gateway_transaction_id == paid["transaction_id"]
        txn = (
            await session.execute(
                text(
                    "select transaction_type, status, signature_valid, gateway_reference"
                    " from motor.payment_transactions where payment_id = :p"
                ),
                {"p": payment["id"]},
            )
        ).one()
        assert tuple(txn) == ("WEBHOOK", "SUCCESS", True, paid["transaction_id"])
        counts = (
            await _transactions(session, payment["id"]),
            await _receipts(session, payment["id"]),
            await _count(session, "select count(*) from motor.payments"),
        )
        assert counts[:2] == (1, 1)
        version = await scalar(
            session, "select version from motor.payments where id = :p", p=payment["id"]
        )

        # The same callback again (the gateway retries): nothing changes.
        assert await api.send(paid["transaction_id"]) == {"delivered": True, "status_code": 200}
        raw, hdrs = _forge(api.gateway.state.callbacks[-1])
        dup = await api.client.post(CALLBACK, content=raw, headers=hdrs)
        assert dup.status_code == 200
        assert dup.json()["result"] == "duplicate"
        assert dup.json()["payment_status"] == "SUCCESS"
        assert (
            await _transactions(session, payment["id"]),
            await _receipts(session, payment["id"]),
            await _count(session, "select count(*) from motor.payments"),
        ) == counts
        assert (
            await scalar(
                session, "select version from motor.payments where id = :p", p=payment["id"]
            )
            == version
        )

    async def test_forged_or_stale_callbacks_are_401_and_write_nothing(
        self, api: Api, session: AsyncSession
    ) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        reference = payment["reference"]
        body = {
            "event_id": "evt_x",
            "event_type": "promptpay.succeeded",
            "transaction_id": "pp_forged_1",
            "kind": "PROMPTPAY",
            "status": "SUCCESS",
            "amount": CMI_TOTAL,
            "currency": "THB",
            "reference": reference,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        forged_raw, forged = _forge(body, secret="not-the-secret")
        stale_raw, stale = _forge(body, at=int(time.time()) - 301)
        good_raw, good = _forge(body)
        cases = [
            (forged_raw, forged),
            (stale_raw, stale),
            (good_raw.replace(b"645.21", b"1.00"), good),  # tampered amount
            (good_raw, {"Content-Type": "application/json"}),  # unsigned
        ]
        for raw, hdrs in cases:
            response = await api.client.post(CALLBACK, content=raw, headers=hdrs)
            assert response.status_code == 401, response.text
            assert response.headers["content-type"] == PROBLEM
            assert response.json()["type"].endswith("invalid-signature")
        assert await _transactions(session, payment["id"]) == 0
        assert await policy_status(session, policy["policy_number"]) == "DRAFT"
        # The genuine one is processed (the route needs no bearer token).
        ok = await api.client.post(CALLBACK, content=good_raw, headers=good)
        assert ok.status_code == 200, ok.text
        assert ok.json()["result"] == "processed"
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"

    async def test_callback_with_the_wrong_amount_is_422_and_writes_nothing(
        self, api: Api, session: AsyncSession
    ) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        paid = await api.gateway.client().promptpay_paid(payment["reference"], "600.00")
        assert (await api.send(paid["transaction_id"]))["status_code"] == 422
        unknown = await api.gateway.client().promptpay_paid("MTR20999999999901", "1.00")
        assert (await api.send(unknown["transaction_id"]))["status_code"] == 404
        assert await _transactions(session, payment["id"]) == 0


class TestTimeout:
    async def test_three_d_secure_attempt_expires_then_a_late_callback_still_pays(
        self, api: Api, session: AsyncSession
    ) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        response = await _charge(api, headers, payment["id"], _card(THREE_DS))
        assert response.json()["status"] == "PENDING"
        assert response.json()["payment"]["payment_status"] == "PENDING"
        txn_id = response.json()["gateway_transaction_id"]
        second = await _charge(api, headers, payment["id"], _card())
        assert second.status_code == 409  # one attempt at a time

        now = datetime.now(UTC)
        assert await expire_pending_payments(session, now + timedelta(minutes=14)) == []
        expired = await expire_pending_payments(session, now + timedelta(minutes=16))
        assert [r.gateway_reference for r in expired] == [txn_id]
        assert await expire_pending_payments(session, now + timedelta(minutes=30)) == []
        status = await scalar(
            session,
            "select status from motor.payment_transactions where gateway_reference = :t",
            t=txn_id,
        )
        assert status == "TIMEOUT"
        assert (await _payment(session, payment["id"])).payment_status == "PENDING"
        # After the timeout a new attempt is allowed; here the late 3-D Secure result arrives.
        assert (await api.send(txn_id))["status_code"] == 200
        assert (await _payment(session, payment["id"])).payment_status == "SUCCESS"
        assert await _transactions(session, payment["id"]) == 1
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"


class TestRefunds:
    async def test_refund_limits(self, api: Api, session: AsyncSession) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        await _charge(api, headers, payment["id"], _card())
        url = f"{PAYMENTS}/{payment['id']}/refund"
        first = await api.client.post(
            url, json={"amount": "400.00", "reason": "goodwill"}, headers=headers
        )
        assert first.status_code == 200, first.text
        r = first.json()
        assert (r["payment_type"], r["payment_direction"], r["payment_status"]) == (
            "REFUND",
            "OUTGOING",
            "SUCCESS",
        )
        assert r["total_amount"] == "400.00" and r["policy_id"] == policy["id"]
        over = await api.client.post(url, json={"amount": "245.22", "reason": "x"}, headers=headers)
        assert over.status_code == 422
        assert over.headers["content-type"] == PROBLEM
        assert over.json()["errors"][0]["type"] == "exceeds_refundable"
        rest = await api.client.post(url, json={"amount": "245.21", "reason": "x"}, headers=headers)
        assert rest.status_code == 200
        again = await api.client.post(url, json={"amount": "0.01", "reason": "x"}, headers=headers)
        assert again.status_code == 422
        assert (
            await _count(
                session,
                "select count(*) from motor.payments where payment_type = 'REFUND'"
                " and policy_id = :p",
                p=policy["id"],
            )
            == 2
        )
        assert await scalar(
            session,
            "select sum(amount) from motor.payment_transactions where payment_id = :p"
            " and transaction_type = 'REFUND'",
            p=payment["id"],
        ) == Decimal(CMI_TOTAL)
        # Permission: motor.payments:refund.
        agent = await _headers(api, session, role="AGENT")
        assert (
            await api.client.post(url, json={"amount": "1", "reason": "x"}, headers=agent)
        ).status_code == 403
        pending = await api.client.post(
            f"{PAYMENTS}/{payment['id']}/refund",
            json={"amount": "-1", "reason": "x"},
            headers=headers,
        )
        assert pending.status_code == 422

    async def test_unpaid_payment_cannot_be_refunded(self, api: Api, session: AsyncSession) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        url = f"{PAYMENTS}/{policy['payments'][0]['id']}/refund"
        response = await api.client.post(
            url, json={"amount": "1.00", "reason": "x"}, headers=headers
        )
        assert response.status_code == 409

    async def test_cancellation_refund_is_paid_out_through_the_gateway(
        self, api: Api, session: AsyncSession
    ) -> None:
        headers = await _headers(api, session)
        policy = await bound_policy(api.client, headers)
        payment = policy["payments"][0]
        assert (await confirm(api.client, headers, payment, "BANK-CANCEL-1")).status_code == 200
        refund_id = uuid.uuid4()
        amount = Decimal("300.00")
        await session.execute(
            text(
                "insert into motor.payments (id, policy_id, customer_id, payment_type,"
                " payment_direction, amount, fees, total_amount, payment_method, payment_status,"
                " due_date) values (:i, :p, :c, 'REFUND', 'OUTGOING', :a, 0, :a,"
                " 'BANK_TRANSFER', 'PENDING', current_date)"
            ),
            {"i": refund_id, "p": policy["id"], "c": policy["customer_id"], "a": amount},
        )
        url = f"{PAYMENTS}/{refund_id}/refund"
        wrong = await api.client.post(
            url, json={"amount": "299.99", "reason": "x"}, headers=headers
        )
        assert wrong.status_code == 422
        paid = await api.client.post(
            url, json={"amount": "300.00", "reason": "cancelled"}, headers=headers
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["payment_status"] == "SUCCESS"
        assert paid.json()["transaction_reference"].startswith("rf_")
        assert await _transactions(session, str(refund_id)) == 1
        twice = await api.client.post(
            url, json={"amount": "300.00", "reason": "x"}, headers=headers
        )
        assert twice.status_code == 409


# --- concurrency: a dedicated database whose connections commit -------------------------


async def test_two_concurrent_refunds_cannot_exceed_what_was_paid(
    create_database: Callable[[], str],
) -> None:
    from polis.app import create_app
    from polis.db import migrate
    from polis.db.urls import with_driver
    from tests.iam.factories import create_user, login
    from tests.motor.test_policies_api import staff  # noqa: F401  (same helpers)

    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
            user = await create_user(s, role="ADMIN", totp=True)
        async with running_gateway() as gw:
            app = create_app(_settings(url, gw.base_url))
            async with (
                serve_with_lifespan(app) as app_url,
                httpx.AsyncClient(base_url=app_url, timeout=60) as http,
            ):
                # An ADMIN signs in with the second factor (decision 0063).
                headers = {"Authorization": f"Bearer {await login(http, user.username)}"}
                policy = await bound_policy(http, headers)
                payment = policy["payments"][0]
                assert (await confirm(http, headers, payment, "BANK-CONC-1")).status_code == 200
                refund_url = f"{PAYMENTS}/{payment['id']}/refund"

                async def refund() -> httpx.Response:
                    return await http.post(
                        refund_url, json={"amount": "400.00", "reason": "dup"}, headers=headers
                    )

                responses = await asyncio.gather(*(refund() for _ in range(4)))
        assert sorted(r.status_code for r in responses) == [200, 422, 422, 422]
        async with engine.connect() as conn:
            total = await conn.scalar(
                text(
                    "select coalesce(sum(amount), 0) from motor.payments"
                    " where payment_type = 'REFUND' and policy_id = :p"
                ),
                {"p": policy["id"]},
            )
        assert total == Decimal("400.00")
    finally:
        await engine.dispose()


def serve_with_lifespan(app: Any) -> Any:
    """serve() with the app's lifespan on (its own database engine)."""
    from contextlib import asynccontextmanager

    from asgi_lifespan import LifespanManager

    @asynccontextmanager
    async def run() -> AsyncIterator[str]:
        async with LifespanManager(app), serve(app) as base:
            yield base

    return run()


def test_expire_payments_command(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`polis motor expire-payments` runs in its own transaction (the shared test database
    holds no committed attempts, so it finds none)."""
    from typer.testing import CliRunner

    from polis.cli import app
    from polis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["motor", "expire-payments"])
        assert result.exit_code == 0, result.output
        assert "expired 0 gateway attempt(s)" in result.output
    finally:
        get_settings.cache_clear()
