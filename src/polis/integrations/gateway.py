"""Client of the payment gateway (our sandbox, `polis sandbox gateway`; decision 0048), and
the callback signature both sides use.

`GatewayClient` calls `<base_url>/v1/...` with the `X-API-Key` header: `tokenize`,
`card`, `charge`, `refund` and `promptpay_paid` (the sandbox's "customer paid"). Each call has
a timeout and tenacity retries (exponential backoff) on timeouts, connection errors and 5xx;
the money-moving calls send an `Idempotency-Key`, so a retried charge is never charged twice.
A 4xx is the gateway's answer (`GatewayRejected`, with its `error` code), never retried; no
answer after the retries is `GatewayUnavailable`.

Callbacks are signed: `X-Timestamp: <unix seconds>` and `X-Signature: sha256=<hex>` where the
hex is HMAC-SHA256 under the shared secret of `<timestamp>.<raw body>`; `verify_signature`
compares in constant time and refuses a timestamp outside the tolerance window (replays).
"""

from __future__ import annotations

import hashlib
import hmac
import time
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from polis.config import Settings

API_KEY_HEADER = "X-API-Key"
IDEMPOTENCY_HEADER = "Idempotency-Key"
SIGNATURE_HEADER = "X-Signature"
TIMESTAMP_HEADER = "X-Timestamp"
SIGNATURE_PREFIX = "sha256="


class GatewayError(Exception):
    """Base of the gateway client's failures."""


class GatewayUnavailable(GatewayError):
    """The gateway did not answer usefully: unreachable, timed out, 5xx (after retries)."""


class GatewayRejected(GatewayError):
    """The gateway refused the request (4xx) or answered something unreadable."""

    def __init__(self, message: str, *, status_code: int | None = None, code: str | None = None):
        super().__init__(message)
        self.status_code = status_code
        self.code = code


class SignatureInvalid(GatewayError):
    """A callback whose signature or timestamp is refused."""


class _Transient(Exception):
    """One failed attempt worth retrying (internal)."""


def sign(secret: str, timestamp: int | str, raw: bytes) -> str:
    """The hex HMAC-SHA256 of `<timestamp>.<raw body>` under the secret."""
    message = str(timestamp).encode() + b"." + raw
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signed_headers(secret: str, raw: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The X-Timestamp and X-Signature headers of a callback body."""
    ts = int(time.time()) if timestamp is None else timestamp
    return {TIMESTAMP_HEADER: str(ts), SIGNATURE_HEADER: SIGNATURE_PREFIX + sign(secret, ts, raw)}


def verify_signature(
    secret: str,
    raw: bytes,
    signature: str | None,
    timestamp: str | None,
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> int:
    """Check a callback's signature (constant-time) and timestamp window; the timestamp, or
    SignatureInvalid."""
    if not signature or not timestamp:
        raise SignatureInvalid("X-Signature and X-Timestamp are required")
    try:
        ts = int(timestamp)
    except ValueError:
        raise SignatureInvalid("X-Timestamp is not a unix time") from None
    expected = SIGNATURE_PREFIX + sign(secret, ts, raw)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise SignatureInvalid("the signature does not match the body")
    current = time.time() if now is None else now
    if abs(current - ts) > tolerance_seconds:
        raise SignatureInvalid(f"the timestamp is outside the {tolerance_seconds}s window")
    return ts


@dataclass(frozen=True)
class GatewayAnswer:
    """A 2xx JSON answer of the gateway."""

    status_code: int
    body: dict[str, Any]


class GatewayClient:
    """The payment gateway with timeouts and retries."""

    provider = "POLIS_SANDBOX"

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 10.0,
        retries: int = 2,
        backoff_seconds: float = 0.2,
        backoff_max_seconds: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if retries < 0 or timeout_seconds <= 0:
            raise ValueError("retries must be >= 0 and timeout_seconds > 0")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> GatewayClient:
        """A client configured by the PAYMENT_GATEWAY_* settings."""
        return cls(
            settings.payment_gateway_base_url,
            settings.payment_gateway_api_key,
            timeout_seconds=settings.payment_gateway_timeout_seconds,
            retries=settings.payment_gateway_retries,
        )

    async def _call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> GatewayAnswer:
        headers = {API_KEY_HEADER: self.api_key}
        if idempotency_key:
            headers[IDEMPOTENCY_HEADER] = idempotency_key
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=self.backoff_max_seconds),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        attempts = 0
        async with httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_seconds),
            headers=headers,
            transport=self._transport,
        ) as http:
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        try:
                            response = await http.request(method, path, json=body)
                        except httpx.TimeoutException as exc:
                            raise _Transient(f"timed out after {self.timeout_seconds}s") from exc
                        except httpx.TransportError as exc:
                            raise _Transient(f"{exc.__class__.__name__}: {exc}") from exc
                        if response.status_code >= 500:
                            raise _Transient(f"HTTP {response.status_code}")
                        return _parse(response)
            except _Transient as exc:
                raise GatewayUnavailable(
                    f"payment gateway unavailable after {attempts} attempt(s): {exc}"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def tokenize(
        self, number: str, exp_month: int, exp_year: int, cvc: str, holder_name: str | None
    ) -> dict[str, Any]:
        """A token for a card: {token, last_four, card_type, funding}."""
        body = {
            "number": number,
            "exp_month": exp_month,
            "exp_year": exp_year,
            "cvc": cvc,
            "holder_name": holder_name,
        }
        return (await self._call("POST", "/v1/tokens", body)).body

    async def card(self, token: str) -> dict[str, Any]:
        """What the gateway knows of a token: {token, last_four, card_type, funding}."""
        return (await self._call("GET", f"/v1/tokens/{token}")).body

    async def charge(
        self, token: str, amount: str, reference: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Charge a token: the transaction (status SUCCESS, FAILED or PENDING)."""
        body = {"token": token, "amount": amount, "currency": "THB", "reference": reference}
        return (await self._call("POST", "/v1/charges", body, idempotency_key or None)).body

    async def refund(
        self,
        amount: str,
        reference: str,
        idempotency_key: str,
        *,
        charge_id: str | None = None,
        reason: str | None = None,
    ) -> dict[str, Any]:
        """Pay money back (to a charge's card, or to the reference's account)."""
        body = {
            "charge_id": charge_id,
            "amount": amount,
            "currency": "THB",
            "reference": reference,
            "reason": reason,
        }
        return (await self._call("POST", "/v1/refunds", body, idempotency_key)).body

    async def promptpay_paid(self, reference: str, amount: str) -> dict[str, Any]:
        """Sandbox only: the customer paid the PromptPay QR of a reference."""
        body = {"reference": reference, "amount": amount, "currency": "THB"}
        return (await self._call("POST", "/v1/promptpay/payments", body)).body

    async def send_callback(self, transaction_id: str) -> dict[str, Any]:
        """Sandbox only: (re)send a transaction's callback now."""
        return (await self._call("POST", f"/v1/callbacks/{transaction_id}/send")).body


def new_idempotency_key() -> str:
    """A fresh key for one money-moving request."""
    return str(uuid.uuid4())


def _parse(response: httpx.Response) -> GatewayAnswer:
    try:
        raw = response.json()
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise GatewayRejected(
            f"payment gateway answered HTTP {response.status_code} without a JSON object",
            status_code=response.status_code,
        )
    if response.status_code >= 400:
        code = raw.get("error")
        raise GatewayRejected(
            f"payment gateway refused the request: {raw.get('message') or code}",
            status_code=response.status_code,
            code=str(code) if code else None,
        )
    return GatewayAnswer(response.status_code, raw)
