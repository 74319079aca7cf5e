"""Our sandboxes (DLT, payment gateway, SMS) served by uvicorn on a free 127.0.0.1 port in
the test's event loop."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import uvicorn
from fastapi import FastAPI

from polis.integrations.dlt_sandbox import SandboxState, create_sandbox_app

KEY = "test-dlt-key"


@dataclass
class RunningSandbox:
    app: FastAPI
    base_url: str

    @property
    def state(self) -> SandboxState:
        state: SandboxState = self.app.state.sandbox
        return state


@asynccontextmanager
async def serve(
    app: Any, *, lifespan: str = "off", start_timeout: float = 5.0
) -> AsyncIterator[str]:
    """Serve an ASGI app (a sandbox of ours, or Polis itself with lifespan="on") over real
    HTTP on a free 127.0.0.1 port, in the test's event loop; stopped, and the port closed, on
    exit. Yields its base URL; fails when it has not started within `start_timeout` seconds."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", access_log=False, lifespan=lifespan)
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(int(start_timeout / 0.01)):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        assert server.started, "uvicorn did not start"
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=30)
        sock.close()


@asynccontextmanager
async def running_sandbox(api_key: str = KEY, **options: Any) -> AsyncIterator[RunningSandbox]:
    """Serve a new DLT sandbox over real HTTP; stopped (and the port closed) on exit."""
    app = create_sandbox_app(api_key, **options)
    async with serve(app) as base_url:
        yield RunningSandbox(app=app, base_url=base_url)


def closed_port_url() -> str:
    """A 127.0.0.1 URL nobody listens on (connection refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"
