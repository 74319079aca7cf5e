"""A sandbox of the Department of Land Transport registration check (decision 0046).

`polis sandbox dlt` serves it; the demo and the tests start it too. One route,
`POST /v1/registrations/check` with `{registration_number, province, chassis_number?}` and the
`X-API-Key` header, answers deterministically by the plate's trailing number N (the digits at
the end of the registration number, e.g. 1234 in "1กข 1234"):

| N                 | answer                                                               |
|-------------------|----------------------------------------------------------------------|
| 9990-9999 "down"  | 503 every time                                                       |
| 9980-9989 "flaky" | 503 for the first `flaky_failures` checks of that plate, then VALID  |
| 9970-9979 "slow"  | VALID after sleeping `slow_seconds`                                  |
| last digit 0-6    | 200 VALID: registration_valid, tax_paid, expiry 60 + N % 300 days on |
| last digit 7-8    | 200 EXPIRED: not valid, tax unpaid, expired 1 + N % 300 days ago     |
| last digit 9      | 404 NOT_FOUND (also a plate without a trailing number)               |

Dates are Bangkok dates (UTC+7). Every answer to an authorised request carries a DLT-like
`reference_number` (`DLT` + yyyymmdd + an 8-digit sequence of this sandbox). A request
without the configured key is a 401 and is not checked. `SandboxState` counts the requests
(all, and per plate) so tests can see whether a client called at all.
"""

from __future__ import annotations

import asyncio
import hmac
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

API_KEY_HEADER = "X-API-Key"
CHECK_PATH = "/v1/registrations/check"
BANGKOK = timezone(timedelta(hours=7))

DOWN = range(9990, 10000)
FLAKY = range(9980, 9990)
SLOW = range(9970, 9980)

_TRAILING_NUMBER = re.compile(r"(\d{1,4})\s*$")


class CheckRequest(BaseModel):
    """The body of a registration check."""

    registration_number: str = Field(min_length=1, max_length=30)
    province: str = Field(min_length=1, max_length=100)
    chassis_number: str | None = Field(default=None, max_length=50)


@dataclass
class SandboxState:
    """Configuration and counters of one sandbox instance."""

    api_key: str
    slow_seconds: float = 3.0
    flaky_failures: int = 2
    requests: int = 0  # every request to the check route, authorised or not
    by_plate: Counter[tuple[str, str]] = field(default_factory=Counter)
    sequence: int = 0

    def reference(self, today: date) -> str:
        """The next reference number."""
        self.sequence += 1
        return f"DLT{today:%Y%m%d}{self.sequence:08d}"


def plate_number(registration_number: str) -> int | None:
    """The trailing number of a plate (1234 of "1กข 1234"), or None."""
    match = _TRAILING_NUMBER.search(registration_number)
    return int(match.group(1)) if match else None


def bangkok_today() -> date:
    """Today's date in Bangkok."""
    return datetime.now(BANGKOK).date()


def outcome(number: int | None) -> str:
    """VALID, EXPIRED or NOT_FOUND for a plate's trailing number (the slow and flaky plates
    are VALID once they answer; the down plates never answer)."""
    if number is None:
        return "NOT_FOUND"
    if number in SLOW or number in FLAKY:
        return "VALID"
    if number % 10 == 9:
        return "NOT_FOUND"
    if number % 10 in (7, 8):
        return "EXPIRED"
    return "VALID"


def answer(
    body: CheckRequest, number: int | None, today: date, reference: str
) -> tuple[int, dict[str, Any]]:
    """The status and JSON of a check by the rule table of the module docstring (pure; the
    fault plates are handled by the route)."""
    common: dict[str, Any] = {
        "reference_number": reference,
        "registration_number": body.registration_number,
        "province": body.province,
        "chassis_number": body.chassis_number,
        "checked_at": datetime.now(UTC).isoformat(),
        "source": "polis-dlt-sandbox",
    }
    kind = outcome(number)
    if number is None or kind == "NOT_FOUND":
        return 404, {
            "status": "NOT_FOUND",
            "message": "No registration with this number in this province.",
            **common,
        }
    if kind == "EXPIRED":
        expiry = today - timedelta(days=1 + number % 300)
        return 200, {
            "status": "EXPIRED",
            "registration_valid": False,
            "tax_paid": False,
            "registration_expiry": expiry.isoformat(),
            **common,
        }
    expiry = today + timedelta(days=60 + number % 300)
    return 200, {
        "status": "VALID",
        "registration_valid": True,
        "tax_paid": True,
        "registration_expiry": expiry.isoformat(),
        **common,
    }


def create_sandbox_app(
    api_key: str, *, slow_seconds: float = 3.0, flaky_failures: int = 2
) -> FastAPI:
    """The sandbox ASGI app; its `state.sandbox` is the SandboxState."""
    app = FastAPI(
        title="Polis DLT sandbox",
        description=__doc__,
        docs_url=None,
        redoc_url=None,
    )
    state = SandboxState(api_key=api_key, slow_seconds=slow_seconds, flaky_failures=flaky_failures)
    app.state.sandbox = state

    @app.middleware("http")
    async def count_and_authorise(request: Request, call_next: Any) -> Any:
        if request.url.path == CHECK_PATH:
            state.requests += 1
            given = request.headers.get(API_KEY_HEADER, "")
            if not hmac.compare_digest(given.encode(), state.api_key.encode()):
                return JSONResponse(
                    {"status": "UNAUTHORIZED", "message": f"{API_KEY_HEADER} missing or wrong."},
                    status_code=401,
                )
        return await call_next(request)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post(CHECK_PATH)
    async def check(body: CheckRequest) -> JSONResponse:
        """Check a registration (see the module docstring for the deterministic rules)."""
        key = (body.registration_number, body.province)
        state.by_plate[key] += 1
        number = plate_number(body.registration_number)
        today = bangkok_today()
        reference = state.reference(today)
        unavailable = {
            "status": "UNAVAILABLE",
            "message": "Registration service temporarily unavailable.",
            "reference_number": reference,
        }
        if number in DOWN:
            return JSONResponse(unavailable, status_code=503)
        if number in FLAKY and state.by_plate[key] <= state.flaky_failures:
            return JSONResponse(unavailable, status_code=503)
        if number in SLOW:
            await asyncio.sleep(state.slow_seconds)
        status, content = answer(body, number, today, reference)
        return JSONResponse(content, status_code=status)

    return app


def serve_in_thread(app: FastAPI, host: str, port: int) -> Any:
    """Start uvicorn serving `app` on host:port in a daemon thread; returns the
    uvicorn.Server (set `should_exit` to stop it). Used by the demo."""
    import threading

    import uvicorn

    server = uvicorn.Server(
        uvicorn.Config(app, host=host, port=port, log_level="warning", access_log=False)
    )
    thread = threading.Thread(target=server.run, name="dlt-sandbox", daemon=True)
    thread.start()
    return server


def start_for_demo(base_url: str, api_key: str) -> tuple[str, Any]:
    """Start the sandbox in a background thread where DLT_BASE_URL points (127.0.0.1 or
    localhost only, and only when that port is free): a line saying what happened and the
    uvicorn.Server (None when not started)."""
    import socket
    from urllib.parse import urlsplit

    url = urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
        return f"DLT: {base_url} (not a local sandbox; not started)", None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", url.port))
        except OSError:
            return f"DLT sandbox: port {url.port} is taken; not started", None
    server = serve_in_thread(create_sandbox_app(api_key), "127.0.0.1", url.port)
    return f"DLT sandbox on http://127.0.0.1:{url.port}", server
