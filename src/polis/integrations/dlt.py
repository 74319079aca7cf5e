"""Client of the Department of Land Transport registration check (decision 0046).

`DltClient.check_registration(registration_number, province, chassis_number)` posts to
`<base_url>/v1/registrations/check` with the `X-API-Key` header and answers a `DltResult`
(VALID, EXPIRED or NOT_FOUND, with the raw JSON). Around each HTTP attempt:

- a timeout (`timeout_seconds`, per attempt);
- retries with tenacity: up to `retries` more attempts, exponential backoff, on timeouts,
  connection errors and 5xx answers only - a 4xx is an answer, never retried;
- a circuit breaker: `breaker_failures` consecutive failed attempts open it for
  `breaker_reset_seconds`; while open every call fails fast with `DltCircuitOpen` without a
  request; then one trial call is let through (half-open): success closes the breaker, failure
  opens it again for another period.

Errors: `DltUnavailable` (unreachable, timed out or 5xx after the retries; `DltCircuitOpen`
is one) and `DltRejected` (a 4xx other than the check's own 404, or an answer that is not the
check's JSON). A 404 counts as NOT_FOUND only when its body says `"status": "NOT_FOUND"`, so
a wrong base URL is never taken for an unknown vehicle.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from polis.config import Settings

API_KEY_HEADER = "X-API-Key"
CHECK_PATH = "/v1/registrations/check"
OUTCOMES = ("VALID", "EXPIRED", "NOT_FOUND")


class DltError(Exception):
    """Base of the DLT client's failures."""


class DltUnavailable(DltError):
    """DLT did not answer usefully: unreachable, timed out, 5xx (after the retries)."""

    def __init__(self, message: str, *, attempts: int = 0, retry_after: float | None = None):
        super().__init__(message)
        self.attempts = attempts
        self.retry_after = retry_after


class DltCircuitOpen(DltUnavailable):
    """The circuit breaker is open: the call failed fast, no request was made."""


class DltRejected(DltError):
    """DLT refused the request (4xx other than NOT_FOUND) or answered unreadable JSON."""

    def __init__(self, message: str, *, status_code: int | None = None):
        super().__init__(message)
        self.status_code = status_code


class _Transient(Exception):
    """One failed attempt that is worth retrying (internal)."""


class CircuitBreaker:
    """Consecutive-failure circuit breaker: closed -> open (after `failures` failures in a
    row) -> half-open (after `reset_seconds`: one trial call) -> closed or open again.

    Not thread-safe: one instance serves one event loop (the app's)."""

    def __init__(
        self,
        failures: int,
        reset_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failures < 1 or reset_seconds <= 0:
            raise ValueError("failures must be >= 1 and reset_seconds > 0")
        self.threshold = failures
        self.reset_seconds = reset_seconds
        self._clock = clock
        self.consecutive_failures = 0
        self._opened_at: float | None = None
        self._trial_running = False

    @property
    def state(self) -> str:
        """closed, open or half-open."""
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at >= self.reset_seconds:
            return "half-open"
        return "open"

    def retry_after(self) -> float:
        """Seconds until a trial call is allowed (0 when it is)."""
        if self._opened_at is None:
            return 0.0
        return max(0.0, self.reset_seconds - (self._clock() - self._opened_at))

    def before_call(self) -> None:
        """Let the call through or raise DltCircuitOpen."""
        state = self.state
        if state == "closed":
            return
        if state == "half-open" and not self._trial_running:
            self._trial_running = True
            return
        wait = self.retry_after() or self.reset_seconds
        raise DltCircuitOpen(
            f"DLT circuit breaker is open after {self.consecutive_failures} consecutive "
            f"failures; next try in {wait:.1f}s",
            retry_after=wait,
        )

    def record_success(self) -> None:
        """The service answered: close."""
        self.consecutive_failures = 0
        self._opened_at = None
        self._trial_running = False

    def record_failure(self) -> None:
        """A failed attempt: count it; a failed trial or the threshold opens the breaker."""
        self.consecutive_failures += 1
        if self._trial_running or self.consecutive_failures >= self.threshold:
            self._opened_at = self._clock()
        self._trial_running = False

    def release(self) -> None:
        """A call ended without a verdict (cancelled): free the half-open trial slot."""
        self._trial_running = False


@dataclass(frozen=True)
class DltResult:
    """One answered check."""

    status: str  # VALID, EXPIRED or NOT_FOUND
    registration_valid: bool
    tax_paid: bool
    registration_expiry: date | None
    reference_number: str | None
    raw: dict[str, Any]  # the JSON body as DLT sent it
    http_status: int


def _parse(response: httpx.Response) -> DltResult:
    try:
        raw = response.json()
    except ValueError:
        raw = None
    if not isinstance(raw, dict):
        raise DltRejected(
            f"DLT answered HTTP {response.status_code} without a JSON object",
            status_code=response.status_code,
        )
    reference = raw.get("reference_number")
    if reference is not None and (not isinstance(reference, str) or len(reference) > 50):
        raise DltRejected("DLT answered an unreadable reference_number", status_code=200)
    if response.status_code == 404:
        if raw.get("status") != "NOT_FOUND":
            raise DltRejected(
                "DLT answered 404 without a NOT_FOUND body (wrong DLT_BASE_URL?)",
                status_code=404,
            )
        return DltResult("NOT_FOUND", False, False, None, reference, raw, 404)
    valid, tax_paid, expiry = (
        raw.get("registration_valid"),
        raw.get("tax_paid"),
        raw.get("registration_expiry"),
    )
    if not isinstance(valid, bool) or not isinstance(tax_paid, bool):
        raise DltRejected("DLT answer lacks registration_valid or tax_paid", status_code=200)
    try:
        expiry_date = date.fromisoformat(expiry) if expiry is not None else None
    except (TypeError, ValueError):
        raise DltRejected(
            "DLT answered an unreadable registration_expiry", status_code=200
        ) from None
    status = raw.get("status")
    if status not in OUTCOMES or status == "NOT_FOUND":
        status = "VALID" if valid and tax_paid else "EXPIRED"
    return DltResult(status, valid, tax_paid, expiry_date, reference, raw, response.status_code)


class DltClient:
    """The DLT registration check with timeout, retries and a circuit breaker."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        timeout_seconds: float = 5.0,
        retries: int = 2,
        breaker_failures: int = 5,
        breaker_reset_seconds: float = 30.0,
        backoff_seconds: float = 0.2,
        backoff_max_seconds: float = 2.0,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if retries < 0 or timeout_seconds <= 0:
            raise ValueError("retries must be >= 0 and timeout_seconds > 0")
        self.base_url = base_url.rstrip("/")
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.backoff_max_seconds = backoff_max_seconds
        self.breaker = CircuitBreaker(breaker_failures, breaker_reset_seconds, clock)
        self._transport = transport

    @classmethod
    def from_settings(cls, settings: Settings) -> DltClient:
        """A client configured by the DLT_* settings."""
        return cls(
            settings.dlt_base_url,
            settings.dlt_api_key,
            timeout_seconds=settings.dlt_timeout_seconds,
            retries=settings.dlt_retries,
            breaker_failures=settings.dlt_breaker_failures,
            breaker_reset_seconds=settings.dlt_breaker_reset_seconds,
        )

    async def check_registration(
        self, registration_number: str, province: str, chassis_number: str | None = None
    ) -> DltResult:
        """Check a registration; DltUnavailable / DltCircuitOpen / DltRejected on failure."""
        body: dict[str, Any] = {"registration_number": registration_number, "province": province}
        if chassis_number:
            body["chassis_number"] = chassis_number
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
            headers={API_KEY_HEADER: self.api_key},
            transport=self._transport,
        ) as http:
            try:
                async for attempt in retrying:
                    with attempt:
                        attempts += 1
                        return await self._attempt(http, body)
            except _Transient as exc:
                raise DltUnavailable(
                    f"DLT unavailable after {attempts} attempt(s): {exc}", attempts=attempts
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def _attempt(self, http: httpx.AsyncClient, body: dict[str, Any]) -> DltResult:
        self.breaker.before_call()
        try:
            response = await http.post(CHECK_PATH, json=body)
        except httpx.TimeoutException as exc:
            self.breaker.record_failure()
            raise _Transient(f"timed out after {self.timeout_seconds}s") from exc
        except httpx.TransportError as exc:
            self.breaker.record_failure()
            raise _Transient(f"{exc.__class__.__name__}: {exc}") from exc
        except BaseException:
            self.breaker.release()
            raise
        if response.status_code >= 500:
            self.breaker.record_failure()
            raise _Transient(f"HTTP {response.status_code}")
        self.breaker.record_success()  # any other answer shows the service is up
        if response.status_code in (200, 404):
            return _parse(response)
        raise DltRejected(
            f"DLT refused the check: HTTP {response.status_code}",
            status_code=response.status_code,
        )
