"""A sandbox of a card and PromptPay payment gateway (decision 0048).

`polis sandbox gateway` serves it; the tests start it too. Every `/v1/...` request needs the
`X-API-Key` header (401 otherwise). Routes:

- `POST /v1/tokens` `{number, exp_month, exp_year, cvc, holder_name?}` -> `{token, last_four,
  card_type, funding}`: the card number stays here; callers keep the token and last four.
- `GET /v1/tokens/{token}` -> the same without the number.
- `POST /v1/charges` `{token, amount, currency, reference, description?}` with an optional
  `Idempotency-Key` header (the same key answers the same transaction, nothing charged twice)
  -> `{transaction_id, kind: CHARGE, status, amount, reference, authorization_code,
  failure_code, failure_message, card_last_four, card_type, funding}`.
- `POST /v1/refunds` `{charge_id?, reference, amount, reason?}` (+ `Idempotency-Key`) ->
  `{transaction_id, kind: REFUND, status: SUCCESS, ...}`; a refund above what the charge has
  left is 422.
- `POST /v1/promptpay/payments` `{reference, amount}`: simulates "the customer paid the QR of
  this reference" -> a PROMPTPAY transaction, SUCCESS.
- `POST /v1/callbacks/{transaction_id}/send`: (re)send the callback of a transaction now and
  answer `{delivered, status_code}` (tests and operators replay callbacks with it).
- `GET /v1/transactions/{transaction_id}`.

Test cards (the outcome depends on the number only; any future expiry, any 3-4 digit CVC):

| number            | card_type  | funding | charge                                      |
|-------------------|------------|---------|---------------------------------------------|
| 4242424242424242  | VISA       | credit  | SUCCESS                                     |
| 5555555555554444  | MASTERCARD | credit  | SUCCESS                                     |
| 4000056655665556  | VISA       | debit   | SUCCESS                                     |
| 4000000000000002  | VISA       | credit  | FAILED `card_declined`                      |
| 4000000000009995  | VISA       | credit  | FAILED `insufficient_funds`                 |
| 4000000000003220  | VISA       | credit  | PENDING (3-D Secure): SUCCESS by callback   |
| other Luhn-valid  | by prefix  | credit  | SUCCESS                                     |

A number failing the Luhn check, or an expiry in the past, is refused at tokenisation (422).

Callbacks: when a transaction is made (and `auto_callbacks` is on) or on `/send`, the sandbox
POSTs `{event_id, event_type, transaction_id, kind, status, amount, currency, reference,
charge_id, authorization_code, failure_code, failure_message, card_last_four, card_type,
occurred_at}` as JSON to `webhook_url` with `X-Timestamp: <unix seconds>` and
`X-Signature: sha256=<hex HMAC-SHA256(secret, timestamp + "." + raw body)>`. A PENDING card
charge's callback reports its final status (SUCCESS). Amounts are decimal strings.
"""

from __future__ import annotations

import hmac
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from polis.integrations.gateway import (
    API_KEY_HEADER,
    IDEMPOTENCY_HEADER,
    signed_headers,
)

PROVIDER = "POLIS_SANDBOX"

# number -> (status, failure_code, funding)
TEST_CARDS: dict[str, tuple[str, str | None, str]] = {
    "4242424242424242": ("SUCCESS", None, "credit"),
    "5555555555554444": ("SUCCESS", None, "credit"),
    "4000056655665556": ("SUCCESS", None, "debit"),
    "4000000000000002": ("FAILED", "card_declined", "credit"),
    "4000000000009995": ("FAILED", "insufficient_funds", "credit"),
    "4000000000003220": ("PENDING", None, "credit"),
}
FAILURE_MESSAGES = {
    "card_declined": "The card was declined.",
    "insufficient_funds": "The card has insufficient funds.",
}


def luhn_ok(number: str) -> bool:
    """The Luhn check of a card number (digits only)."""
    if not number.isdigit() or not 13 <= len(number) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def card_type(number: str) -> str:
    """The card scheme by prefix."""
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "MASTERCARD"
    if number[:2] in {"34", "37"}:
        return "AMEX"
    if number[:2] == "35":
        return "JCB"
    if number[:2] == "62":
        return "UNIONPAY"
    return "OTHER"


def charge_outcome(number: str) -> tuple[str, str | None, str]:
    """(status, failure_code, funding) of a charge on a card (the table above)."""
    return TEST_CARDS.get(number, ("SUCCESS", None, "credit"))


class TokenRequest(BaseModel):
    number: str = Field(min_length=12, max_length=23)
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^\d{3,4}$")
    holder_name: str | None = Field(default=None, max_length=100)


class ChargeRequest(BaseModel):
    token: str = Field(min_length=1, max_length=100)
    amount: str
    currency: str = "THB"
    reference: str = Field(min_length=1, max_length=100)
    description: str | None = Field(default=None, max_length=200)


class RefundRequest(BaseModel):
    charge_id: str | None = Field(default=None, max_length=100)
    reference: str = Field(min_length=1, max_length=100)
    amount: str
    currency: str = "THB"
    reason: str | None = Field(default=None, max_length=500)


class PromptPayRequest(BaseModel):
    reference: str = Field(min_length=1, max_length=100)
    amount: str
    currency: str = "THB"


@dataclass
class _Card:
    last_four: str
    card_type: str
    funding: str
    outcome: tuple[str, str | None, str]


@dataclass
class GatewayState:
    """Configuration and memory of one sandbox instance."""

    api_key: str
    webhook_secret: str
    webhook_url: str | None = None
    auto_callbacks: bool = True
    tokens: dict[str, _Card] = field(default_factory=dict)
    transactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_idempotency_key: dict[str, str] = field(default_factory=dict)
    refunded: dict[str, Decimal] = field(default_factory=dict)
    callbacks: list[dict[str, Any]] = field(default_factory=list)  # what was sent, in order
    requests: int = 0
    _seq: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def next_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._seq):06d}{secrets.token_hex(4)}"


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    if not value.is_finite() or value <= 0 or value != value.quantize(Decimal("0.01")):
        return None
    return value


def _error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": code, "message": message}, status_code=status)


def callback_body(txn: dict[str, Any]) -> dict[str, Any]:
    """The callback of a transaction (a PENDING charge reports its final status, SUCCESS)."""
    status = "SUCCESS" if txn["status"] == "PENDING" else txn["status"]
    kind = str(txn["kind"]).lower()
    return {
        "event_id": f"evt_{txn['transaction_id']}",
        "event_type": f"{kind}.{'succeeded' if status == 'SUCCESS' else 'failed'}",
        "transaction_id": txn["transaction_id"],
        "kind": txn["kind"],
        "status": status,
        "amount": txn["amount"],
        "currency": txn["currency"],
        "reference": txn["reference"],
        "charge_id": txn.get("charge_id"),
        "authorization_code": txn.get("authorization_code")
        or (f"A{secrets.randbelow(10**6):06d}" if status == "SUCCESS" else None),
        "failure_code": txn.get("failure_code"),
        "failure_message": txn.get("failure_message"),
        "card_last_four": txn.get("card_last_four"),
        "card_type": txn.get("card_type"),
        "occurred_at": datetime.now(UTC).isoformat(),
    }


async def send_callback(state: GatewayState, transaction_id: str) -> dict[str, Any]:
    """POST the signed callback of a transaction to the webhook: {delivered, status_code}."""
    txn = state.transactions[transaction_id]
    if txn["status"] == "PENDING":
        txn["status"] = "SUCCESS"  # the 3-D Secure step completes
        txn["authorization_code"] = f"A{secrets.randbelow(10**6):06d}"
    body = callback_body(txn)
    state.callbacks.append(body)
    if not state.webhook_url:
        return {"delivered": False, "status_code": None, "reason": "no webhook_url"}
    import json

    raw = json.dumps(body, separators=(",", ":")).encode()
    try:
        async with httpx.AsyncClient(timeout=httpx.Timeout(10.0)) as http:
            response = await http.post(
                state.webhook_url,
                content=raw,
                headers={
                    "Content-Type": "application/json",
                    **signed_headers(state.webhook_secret, raw),
                },
            )
    except httpx.HTTPError as exc:
        return {"delivered": False, "status_code": None, "reason": str(exc)}
    return {"delivered": response.status_code < 300, "status_code": response.status_code}


def create_gateway_app(
    api_key: str,
    webhook_secret: str,
    *,
    webhook_url: str | None = None,
    auto_callbacks: bool = True,
) -> FastAPI:
    """The sandbox ASGI app; its `state.gateway` is the GatewayState."""
    app = FastAPI(
        title="Polis payment-gateway sandbox",
        description=__doc__,
        docs_url=None,
        redoc_url=None,
    )
    state = GatewayState(
        api_key=api_key,
        webhook_secret=webhook_secret,
        webhook_url=webhook_url,
        auto_callbacks=auto_callbacks,
    )
    app.state.gateway = state

    @app.middleware("http")
    async def authorise(request: Request, call_next: Any) -> Any:
        if request.url.path.startswith("/v1/"):
            state.requests += 1
            given = request.headers.get(API_KEY_HEADER, "")
            if not hmac.compare_digest(given.encode(), state.api_key.encode()):
                return _error(401, "unauthorized", f"{API_KEY_HEADER} missing or wrong.")
        return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    def _auto(transaction_id: str) -> None:
        if state.auto_callbacks and state.webhook_url:
            import asyncio

            asyncio.get_running_loop().call_later(
                0.2, lambda: asyncio.ensure_future(send_callback(state, transaction_id))
            )

    def _replayed(request: Request) -> JSONResponse | None:
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key and key in state.by_idempotency_key:
            return JSONResponse(state.transactions[state.by_idempotency_key[key]])
        return None

    def _store(request: Request, txn: dict[str, Any]) -> JSONResponse:
        state.transactions[txn["transaction_id"]] = txn
        key = request.headers.get(IDEMPOTENCY_HEADER)
        if key:
            state.by_idempotency_key[key] = txn["transaction_id"]
        _auto(txn["transaction_id"])
        return JSONResponse(txn, status_code=201)

    @app.post("/v1/tokens")
    async def tokenize(body: TokenRequest) -> JSONResponse:
        number = "".join(ch for ch in body.number if ch.isdigit())
        if not luhn_ok(number):
            return _error(422, "invalid_number", "The card number is not valid.")
        now = datetime.now(UTC)
        if (body.exp_year, body.exp_month) < (now.year, now.month):
            return _error(422, "expired_card", "The card has expired.")
        outcome = charge_outcome(number)
        token = "tok_" + secrets.token_urlsafe(18)
        state.tokens[token] = _Card(number[-4:], card_type(number), outcome[2], outcome)
        card = state.tokens[token]
        return JSONResponse(
            {
                "token": token,
                "last_four": card.last_four,
                "card_type": card.card_type,
                "funding": card.funding,
            },
            status_code=201,
        )

    @app.get("/v1/tokens/{token}")
    async def get_token(token: str) -> JSONResponse:
        card = state.tokens.get(token)
        if card is None:
            return _error(404, "unknown_token", "No such token.")
        return JSONResponse(
            {
                "token": token,
                "last_four": card.last_four,
                "card_type": card.card_type,
                "funding": card.funding,
            }
        )

    @app.post("/v1/charges")
    async def charge(body: ChargeRequest, request: Request) -> JSONResponse:
        if (replay := _replayed(request)) is not None:
            return replay
        card = state.tokens.get(body.token)
        if card is None:
            return _error(422, "unknown_token", "No such token.")
        amount = _amount(body.amount)
        if amount is None:
            return _error(422, "invalid_amount", "amount must be a positive decimal string.")
        status, failure, funding = card.outcome
        txn = {
            "transaction_id": state.next_id("ch"),
            "kind": "CHARGE",
            "status": status,
            "amount": str(amount),
            "currency": body.currency,
            "reference": body.reference,
            "authorization_code": f"A{secrets.randbelow(10**6):06d}"
            if status == "SUCCESS"
            else None,
            "failure_code": failure,
            "failure_message": FAILURE_MESSAGES.get(failure or ""),
            "card_last_four": card.last_four,
            "card_type": card.card_type,
            "funding": funding,
            "created_at": datetime.now(UTC).isoformat(),
        }
        return _store(request, txn)

    @app.post("/v1/refunds")
    async def refund(body: RefundRequest, request: Request) -> JSONResponse:
        if (replay := _replayed(request)) is not None:
            return replay
        amount = _amount(body.amount)
        if amount is None:
            return _error(422, "invalid_amount", "amount must be a positive decimal string.")
        if body.charge_id is not None:
            original = state.transactions.get(body.charge_id)
            if original is None or original["status"] != "SUCCESS":
                return _error(422, "unknown_charge", "No successful charge with this id.")
            left = Decimal(original["amount"]) - state.refunded.get(body.charge_id, Decimal(0))
            if amount > left:
                return _error(422, "amount_too_large", f"At most {left} can be refunded.")
            state.refunded[body.charge_id] = state.refunded.get(body.charge_id, Decimal(0)) + amount
        txn = {
            "transaction_id": state.next_id("rf"),
            "kind": "REFUND",
            "status": "SUCCESS",
            "amount": str(amount),
            "currency": body.currency,
            "reference": body.reference,
            "charge_id": body.charge_id,
            "reason": body.reason,
            "created_at": datetime.now(UTC).isoformat(),
        }
        return _store(request, txn)

    @app.post("/v1/promptpay/payments")
    async def promptpay_paid(body: PromptPayRequest, request: Request) -> JSONResponse:
        amount = _amount(body.amount)
        if amount is None:
            return _error(422, "invalid_amount", "amount must be a positive decimal string.")
        txn = {
            "transaction_id": state.next_id("pp"),
            "kind": "PROMPTPAY",
            "status": "SUCCESS",
            "amount": str(amount),
            "currency": body.currency,
            "reference": body.reference,
            "authorization_code": f"P{secrets.randbelow(10**6):06d}",
            "created_at": datetime.now(UTC).isoformat(),
        }
        return _store(request, txn)

    @app.get("/v1/transactions/{transaction_id}")
    async def get_transaction(transaction_id: str) -> JSONResponse:
        txn = state.transactions.get(transaction_id)
        if txn is None:
            return _error(404, "unknown_transaction", "No such transaction.")
        return JSONResponse(txn)

    @app.post("/v1/callbacks/{transaction_id}/send")
    async def resend(transaction_id: str) -> JSONResponse:
        if transaction_id not in state.transactions:
            return _error(404, "unknown_transaction", "No such transaction.")
        return JSONResponse(await send_callback(state, transaction_id))

    return app
