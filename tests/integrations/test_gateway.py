"""The payment-gateway client against our sandbox over real HTTP (uvicorn on 127.0.0.1, started
and stopped by each test), and the callback signature (decision 0048)."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI, Request
from hypothesis import given
from hypothesis import strategies as st

from polis.integrations.gateway import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    GatewayClient,
    GatewayRejected,
    GatewayUnavailable,
    SignatureInvalid,
    sign,
    signed_headers,
    verify_signature,
)
from polis.integrations.gateway_sandbox import (
    GatewayState,
    card_type,
    charge_outcome,
    create_gateway_app,
    luhn_ok,
)
from tests.integrations.sandbox import closed_port_url, serve

KEY = "test-gateway-key"
SECRET = "test-gateway-webhook-secret"
VISA_OK = "4242424242424242"
DECLINED = "4000000000000002"
NO_FUNDS = "4000000000009995"
THREE_DS = "4000000000003220"


@dataclass
class RunningGateway:
    app: FastAPI
    base_url: str

    @property
    def state(self) -> GatewayState:
        state: GatewayState = self.app.state.gateway
        return state

    def client(self, **options: Any) -> GatewayClient:
        return GatewayClient(self.base_url, KEY, **options)


@asynccontextmanager
async def running_gateway(
    webhook_url: str | None = None, *, auto_callbacks: bool = False
) -> AsyncIterator[RunningGateway]:
    """A new gateway sandbox over real HTTP (callbacks only on /send unless auto)."""
    app = create_gateway_app(KEY, SECRET, webhook_url=webhook_url, auto_callbacks=auto_callbacks)
    async with serve(app) as base_url:
        yield RunningGateway(app=app, base_url=base_url)


# --- signature --------------------------------------------------------------------------


def test_signature_round_trip_and_refusals() -> None:
    raw = b'{"transaction_id":"ch_1","status":"SUCCESS"}'
    now = 1_800_000_000
    headers = signed_headers(SECRET, raw, timestamp=now)
    assert headers[SIGNATURE_HEADER] == "sha256=" + sign(SECRET, now, raw)
    assert (
        verify_signature(
            SECRET,
            raw,
            headers[SIGNATURE_HEADER],
            headers[TIMESTAMP_HEADER],
            tolerance_seconds=300,
            now=now + 10,
        )
        == now
    )
    cases = [
        (raw.replace(b"SUCCESS", b"FAILED"), headers[SIGNATURE_HEADER], str(now), now),  # body
        (raw, "sha256=" + sign("other", now, raw), str(now), now),  # wrong secret
        (raw, headers[SIGNATURE_HEADER], str(now + 1), now),  # timestamp changed
        (raw, headers[SIGNATURE_HEADER], str(now), now + 301),  # stale
        (raw, headers[SIGNATURE_HEADER], str(now), now - 301),  # from the future
        (raw, None, str(now), now),
        (raw, headers[SIGNATURE_HEADER], None, now),
        (raw, headers[SIGNATURE_HEADER], "yesterday", now),
    ]
    for body, signature, timestamp, at in cases:
        with pytest.raises(SignatureInvalid):
            verify_signature(SECRET, body, signature, timestamp, tolerance_seconds=300, now=at)


def _with_check_digit(stem: str) -> str:
    for digit in "0123456789":
        if luhn_ok(stem + digit):
            return stem + digit
    raise AssertionError("unreachable")


@given(st.text(alphabet="0123456789", min_size=12, max_size=18))
def test_exactly_one_check_digit_passes_luhn(stem: str) -> None:
    assert sum(luhn_ok(stem + d) for d in "0123456789") == 1


def test_test_cards() -> None:
    for number in (VISA_OK, "5555555555554444", "4000056655665556", DECLINED, NO_FUNDS, THREE_DS):
        assert luhn_ok(number), number
    assert charge_outcome(VISA_OK) == ("SUCCESS", None, "credit")
    assert charge_outcome("4000056655665556") == ("SUCCESS", None, "debit")
    assert charge_outcome(DECLINED) == ("FAILED", "card_declined", "credit")
    assert charge_outcome(NO_FUNDS) == ("FAILED", "insufficient_funds", "credit")
    assert charge_outcome(THREE_DS)[0] == "PENDING"
    assert charge_outcome(_with_check_digit("411111111111111"))[0] == "SUCCESS"
    assert card_type(VISA_OK) == "VISA"
    assert card_type("5555555555554444") == "MASTERCARD"
    assert card_type("378282246310005") == "AMEX"
    assert not luhn_ok("4242424242424241")


# --- client and sandbox over HTTP -------------------------------------------------------


async def test_tokenize_and_charge_success_and_decline() -> None:
    async with running_gateway() as gw:
        client = gw.client()
        card = await client.tokenize(VISA_OK, 12, 2099, "123", "Somchai")
        assert card["last_four"] == "4242"
        assert card["card_type"] == "VISA"
        assert VISA_OK not in json.dumps(card)
        assert (await client.card(card["token"]))["last_four"] == "4242"
        ok = await client.charge(card["token"], "645.21", "MTR20260000000101", "key-1")
        assert ok["status"] == "SUCCESS"
        assert ok["amount"] == "645.21"
        assert ok["authorization_code"]
        assert ok["transaction_id"].startswith("ch_")
        again = await client.charge(card["token"], "645.21", "MTR20260000000101", "key-1")
        assert again == ok  # the same idempotency key: the same transaction, charged once
        assert len(gw.state.transactions) == 1

        bad = await client.tokenize(DECLINED, 1, 2099, "123", None)
        declined = await client.charge(bad["token"], "100.00", "R", "key-2")
        assert declined["status"] == "FAILED"
        assert declined["failure_code"] == "card_declined"
        assert declined["authorization_code"] is None
        poor = await client.tokenize(NO_FUNDS, 1, 2099, "123", None)
        assert (await client.charge(poor["token"], "1.00", "R", "key-3"))[
            "failure_code"
        ] == "insufficient_funds"
        pending = await client.tokenize(THREE_DS, 1, 2099, "123", None)
        assert (await client.charge(pending["token"], "1.00", "R", "key-4"))["status"] == "PENDING"


async def test_refusals_are_gateway_rejected() -> None:
    async with running_gateway() as gw:
        client = gw.client()
        with pytest.raises(GatewayRejected) as invalid:
            await client.tokenize("4242424242424241", 12, 2099, "123", None)
        assert invalid.value.status_code == 422 and invalid.value.code == "invalid_number"
        with pytest.raises(GatewayRejected) as expired:
            await client.tokenize(VISA_OK, 1, 2020, "123", None)
        assert expired.value.code == "expired_card"
        with pytest.raises(GatewayRejected) as unknown:
            await client.charge("tok_nope", "1.00", "R", "k")
        assert unknown.value.code == "unknown_token"
        card = await client.tokenize(VISA_OK, 12, 2099, "123", None)
        charge = await client.charge(card["token"], "100.00", "R", "k2")
        await client.refund("60.00", "R", "r1", charge_id=charge["transaction_id"])
        with pytest.raises(GatewayRejected) as too_much:
            await client.refund("40.01", "R", "r2", charge_id=charge["transaction_id"])
        assert too_much.value.code == "amount_too_large"
        with pytest.raises(GatewayRejected) as key:
            await GatewayClient(gw.base_url, "wrong-key").card(card["token"])
        assert key.value.status_code == 401


async def test_unreachable_gateway_is_unavailable_after_retries() -> None:
    client = GatewayClient(closed_port_url(), KEY, retries=1, backoff_seconds=0.01)
    with pytest.raises(GatewayUnavailable) as exc:
        await client.promptpay_paid("R", "1.00")
    assert "2 attempt" in str(exc.value)


async def test_callbacks_are_signed_over_the_raw_body() -> None:
    received: list[tuple[bytes, dict[str, str]]] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append((await request.body(), dict(request.headers)))
        return {"ok": "yes"}

    async with serve(receiver) as hook_url, running_gateway(hook_url + "/hook") as gw:
        client = gw.client()
        paid = await client.promptpay_paid("MTR20260000000101", "645.21")
        assert paid["status"] == "SUCCESS" and paid["kind"] == "PROMPTPAY"
        sent = await client.send_callback(paid["transaction_id"])
        assert sent == {"delivered": True, "status_code": 200}
        card = await client.tokenize(THREE_DS, 12, 2099, "123", None)
        charge = await client.charge(card["token"], "10.00", "R2", "k")
        await client.send_callback(charge["transaction_id"])

    assert len(received) == 2
    raw, headers = received[0]
    verify_signature(
        SECRET,
        raw,
        headers["x-signature"],
        headers["x-timestamp"],
        tolerance_seconds=60,
        now=time.time(),
    )
    body = json.loads(raw)
    assert body["transaction_id"] == paid["transaction_id"]
    assert body["event_type"] == "promptpay.succeeded"
    assert (body["status"], body["amount"], body["reference"]) == (
        "SUCCESS",
        "645.21",
        "MTR20260000000101",
    )
    three_ds = json.loads(received[1][0])
    assert (three_ds["kind"], three_ds["status"]) == ("CHARGE", "SUCCESS")  # 3-D Secure done
    assert three_ds["authorization_code"]


async def test_auto_callbacks_are_sent_after_the_answer() -> None:
    received: list[bytes] = []
    receiver = FastAPI()

    @receiver.post("/hook")
    async def hook(request: Request) -> dict[str, str]:
        received.append(await request.body())
        return {"ok": "yes"}

    async with (
        serve(receiver) as hook_url,
        running_gateway(hook_url + "/hook", auto_callbacks=True) as gw,
    ):
        paid = await gw.client().promptpay_paid("REF01", "5.00")
        for _ in range(200):
            if received:
                break
            await asyncio.sleep(0.02)
    assert [json.loads(r)["transaction_id"] for r in received] == [paid["transaction_id"]]
