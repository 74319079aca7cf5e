"""A sandbox SMS provider (decision 0063): keeps every message in memory and lists them.

`polis sandbox sms` serves it; the tests start it on 127.0.0.1 with a free port.

- `POST /v1/messages` `{to, text, sender?}` with the `X-API-Key` header: 202
  `{message_id, status: "QUEUED"}`; without the key, 401 and nothing is stored. A number
  ending in 9999 is "down": 503 every time, nothing stored (to try the client's failures).
- `GET /messages?to=...`: the stored messages (to one number, or all), oldest first. It is a
  test and demo aid: the sandbox holds one-time codes, so it listens on 127.0.0.1 only and
  must never stand in for a real provider.
- `GET /healthz`.
"""

from __future__ import annotations

import hmac
import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

API_KEY_HEADER = "X-API-Key"
SEND_PATH = "/v1/messages"
DOWN_SUFFIX = "9999"


class SendRequest(BaseModel):
    """One message to send."""

    to: str = Field(min_length=3, max_length=20)
    text: str = Field(min_length=1, max_length=1000)
    sender: str | None = Field(default=None, max_length=11)


@dataclass
class SmsSandboxState:
    """The sandbox's key, its stored messages and counters."""

    api_key: str
    messages: list[dict[str, Any]] = field(default_factory=list)
    requests: int = 0  # every POST to the send route, authorised or not
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def store(self, body: SendRequest) -> dict[str, Any]:
        """Keep one message and answer its record."""
        record = {
            "message_id": f"SMS{next(self._ids):010d}",
            "to": body.to,
            "text": body.text,
            "sender": body.sender,
            "received_at": datetime.now(UTC).isoformat(),
        }
        self.messages.append(record)
        return record

    def to(self, number: str) -> list[dict[str, Any]]:
        """The messages sent to `number`, oldest first."""
        return [m for m in self.messages if m["to"] == number]


def create_sms_sandbox_app(api_key: str) -> FastAPI:
    """The sandbox ASGI app; its `state.sandbox` is the SmsSandboxState."""
    app = FastAPI(title="Polis SMS sandbox", description=__doc__, docs_url=None, redoc_url=None)
    state = SmsSandboxState(api_key=api_key)
    app.state.sandbox = state

    @app.middleware("http")
    async def authorise(request: Request, call_next: Any) -> Any:
        if request.url.path == SEND_PATH:
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

    @app.post(SEND_PATH, status_code=202)
    async def send(body: SendRequest) -> JSONResponse:
        """Store the message (a number ending in 9999 is down: 503)."""
        if body.to.endswith(DOWN_SUFFIX):
            return JSONResponse(
                {"status": "UNAVAILABLE", "message": "Carrier temporarily unavailable."},
                status_code=503,
            )
        record = state.store(body)
        return JSONResponse(
            {"message_id": record["message_id"], "status": "QUEUED"}, status_code=202
        )

    @app.get("/messages")
    async def messages(to: str | None = Query(default=None)) -> dict[str, Any]:
        """The stored messages, to one number or all, oldest first."""
        return {"items": state.to(to) if to is not None else list(state.messages)}

    return app


def start_for_demo(base_url: str, api_key: str) -> tuple[str, Any]:
    """Start the sandbox in a background thread where SMS_BASE_URL points (127.0.0.1 or
    localhost only, and only when that port is free): a line saying what happened and the
    uvicorn.Server (None when not started)."""
    import socket
    from urllib.parse import urlsplit

    from polis.integrations.dlt_sandbox import serve_in_thread

    url = urlsplit(base_url)
    if url.hostname not in ("127.0.0.1", "localhost") or url.port is None:
        return f"SMS: {base_url} (not a local sandbox; not started)", None
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", url.port))
        except OSError:
            return f"SMS sandbox: port {url.port} is taken; not started", None
    server = serve_in_thread(create_sms_sandbox_app(api_key), "127.0.0.1", url.port)
    return (
        f"SMS sandbox on http://127.0.0.1:{url.port} (sign-in codes: GET /messages?to=<phone>)",
        server,
    )
