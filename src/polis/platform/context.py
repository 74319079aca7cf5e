"""The request context (request id, client, user) and the per-transaction audit context.

The request middleware creates one `RequestContext` per request; authentication fills in the
user; `apply_audit_context` copies it into the transaction's `app.*` settings, which the audit
trigger (`audit.log_change()`, migration 0001) reads to record who changed what.
"""

from __future__ import annotations

import ipaddress
import uuid
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

FALLBACK_IP = "127.0.0.1"
MAX_USER_AGENT = 500


@dataclass
class RequestContext:
    """Who is asking, from where, under which request id."""

    request_id: uuid.UUID
    ip_address: str = FALLBACK_IP
    user_agent: str | None = None
    user_id: uuid.UUID | None = None
    user_role: str | None = None
    business_context: str | None = None


_current: ContextVar[RequestContext | None] = ContextVar("polis_request_context", default=None)


def current_context() -> RequestContext | None:
    """The context of the request being served, if any."""
    return _current.get()


def set_context(ctx: RequestContext | None) -> None:
    """Make `ctx` the current request context (the middleware calls this)."""
    _current.set(ctx)


def current_request_id() -> str | None:
    """The current request id as a string, or None outside a request."""
    ctx = _current.get()
    return str(ctx.request_id) if ctx else None


def parse_request_id(value: str | None) -> uuid.UUID:
    """The client's X-Request-ID when it is a UUID, else a fresh one."""
    if value:
        try:
            return uuid.UUID(value.strip())
        except ValueError:
            pass
    return uuid.uuid4()


def client_ip(host: str | None) -> str:
    """A valid IP address for INET columns: the client's, or 127.0.0.1."""
    if host:
        try:
            return str(ipaddress.ip_address(host))
        except ValueError:
            pass
    return FALLBACK_IP


_SET_AUDIT = text(
    "select set_config('app.user_id', :user_id, true),"
    " set_config('app.user_role', :user_role, true),"
    " set_config('app.request_id', :request_id, true),"
    " set_config('app.ip_address', :ip_address, true),"
    " set_config('app.user_agent', :user_agent, true),"
    " set_config('app.business_context', :business_context, true)"
)


def audit_values(ctx: RequestContext) -> dict[str, str]:
    """The `app.*` values of a request context, as `_SET_AUDIT` takes them."""
    return {
        "user_id": str(ctx.user_id) if ctx.user_id else "",
        "user_role": ctx.user_role or "",
        "request_id": str(ctx.request_id),
        "ip_address": ctx.ip_address,
        "user_agent": (ctx.user_agent or "")[:MAX_USER_AGENT],
        "business_context": ctx.business_context or "",
    }


async def apply_audit_context(session: AsyncSession, ctx: RequestContext | None = None) -> None:
    """Set the transaction-local `app.*` settings the audit trigger reads.

    Every value is set (empty when unknown), so nothing leaks from an earlier request that
    used the same transaction or connection. (An authenticated request's are set by the
    session lookup itself, in the same statement: `polis.iam.repository`.)
    """
    ctx = ctx or current_context()
    if ctx is None:
        return
    await session.execute(_SET_AUDIT, audit_values(ctx))
