"""SMS provider interface and its HTTP client (decision 0063).

`SmsSender` is what the application needs: `send(to, text) -> SmsReceipt`. `HttpSmsClient`
posts `{to, text, sender}` to `<SMS_BASE_URL>/v1/messages` with the `X-API-Key` header:

- a timeout per attempt (`SMS_TIMEOUT_SECONDS`);
- retries (tenacity, `SMS_RETRIES` more attempts, short exponential backoff) on timeouts,
  connection errors and 5xx answers only; a 4xx is an answer and is never retried;
- `SmsUnavailable` when every attempt failed, `SmsRejected` for a 4xx or an answer without a
  message id. Nothing pretends a message went out: a receipt means the provider accepted it.

Our sandbox (`polis.integrations.sms_sandbox`, `polis sandbox sms`) speaks the same API.
Neither the client nor its errors ever carry the message text (it holds one-time codes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from polis.config import Settings

API_KEY_HEADER = "X-API-Key"
SEND_PATH = "/v1/messages"


class SmsError(Exception):
    """Base of the SMS client's failures (never includes the message text)."""


class SmsUnavailable(SmsError):
    """The provider did not answer usefully: unreachable, timed out or 5xx, after retries."""


class SmsRejected(SmsError):
    """The provider refused the message (4xx) or answered something unreadable."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class SmsReceipt:
    """The provider accepted a message."""

    message_id: str
    status: str


class SmsSender(Protocol):
    """Anything that can send one SMS."""

    async def send(self, to: str, text: str) -> SmsReceipt:
        """Send `text` to the phone number `to`; SmsError when it was not accepted."""
        ...


class _Transient(Exception):
    """One failed attempt worth retrying (internal)."""


class HttpSmsClient:
    """The SMS provider's HTTP API with a timeout and retries."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        sender: str = "POLIS",
        timeout_seconds: float = 5.0,
        retries: int = 1,
        backoff_seconds: float = 0.2,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if retries < 0 or timeout_seconds <= 0:
            raise ValueError("retries must be >= 0 and timeout_seconds > 0")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.sender = sender
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> HttpSmsClient:
        """A client configured by the SMS_* settings."""
        return cls(
            settings.sms_base_url,
            settings.sms_api_key,
            sender=settings.sms_sender,
            timeout_seconds=settings.sms_timeout_seconds,
            retries=settings.sms_retries,
        )

    async def send(self, to: str, text: str) -> SmsReceipt:
        """Send one message; SmsUnavailable or SmsRejected when it was not accepted."""
        body = {"to": to, "text": text, "sender": self.sender}
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retries + 1),
            wait=wait_exponential(multiplier=self.backoff_seconds, max=2.0),
            retry=retry_if_exception_type(_Transient),
            reraise=True,
        )
        attempts = 0
        async with httpx.AsyncClient(
            base_url=self.base_url,
            timeout=httpx.Timeout(self.timeout_seconds),
            headers={API_KEY_HEADER: self.api_key},
            transport=self._transport,
        ) as http:
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        return await self._attempt(http, body)
            except _Transient as exc:
                raise SmsUnavailable(
                    f"SMS provider unavailable after {attempts} attempt(s): {exc}"
                ) from None
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, http: httpx.AsyncClient, body: dict[str, Any]) -> SmsReceipt:
        try:
            response = await http.post(SEND_PATH, json=body)
        except httpx.TimeoutException:
            raise _Transient(f"timed out after {self.timeout_seconds}s") from None
        except httpx.TransportError as exc:
            raise _Transient(exc.__class__.__name__) from None
        if response.status_code >= 500:
            raise _Transient(f"HTTP {response.status_code}")
        if response.status_code >= 400:
            raise SmsRejected(
                f"SMS provider refused the message: HTTP {response.status_code}",
                status_code=response.status_code,
            )
        try:
            raw = response.json()
        except ValueError:
            raw = None
        message_id = raw.get("message_id") if isinstance(raw, dict) else None
        if not isinstance(message_id, str) or not message_id:
            raise SmsRejected(
                "SMS provider answered without a message_id", status_code=response.status_code
            )
        status = raw.get("status") if isinstance(raw, dict) else None
        return SmsReceipt(message_id=message_id, status=str(status or "ACCEPTED"))
