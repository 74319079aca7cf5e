"""Prometheus metrics (issue 7, item 2) at `GET /metrics`, in the text exposition format.

- `polis_http_request_duration_seconds` (histogram): per method, route template (never the
  raw path, so ids do not explode the series) and status code; observed by the request
  middleware of polis.platform.logging for every HTTP request.
- `polis_db_pool_connections` (gauge): checked-out and idle connections and overflow of each
  engine pool (primary, replica).
- Business and queue figures read from the database when scraped, cached for
  METRICS_CACHE_SECONDS: health claims adjudicated per status, motor premiums written,
  jobs per queue status. They are totals held by the database, not per-process counters, so
  several server processes (`polis serve --workers N`) report the same truth and a restart
  does not reset them (decision 0057).

Access: with METRICS_TOKEN set, a scrape must send `Authorization: Bearer <token>`;
unset, only loopback clients are answered (a scraper beside the server, or a tunnel).
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from polis.config import Settings

REGISTRY = CollectorRegistry()
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

REQUEST_SECONDS = Histogram(
    "polis_http_request_duration_seconds",
    "HTTP request latency by route template",
    ("method", "route", "status"),
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    registry=REGISTRY,
)

UNMATCHED_ROUTE = "<unmatched>"


def _templates(app: Any) -> dict[int, str]:
    """id(APIRoute) -> the full path template, for the routes of included routers (whose
    own `path` lacks the prefixes: FastAPI keeps the original route objects and records the
    effective, prefixed template beside them). Built once per app, on first use."""
    state = getattr(app, "state", None)
    cached = getattr(state, "route_templates", None) if state is not None else None
    if isinstance(cached, dict):
        return cached
    templates: dict[int, str] = {}

    def walk(routes: Iterable[Any]) -> None:
        for route in routes:
            contexts = getattr(route, "effective_route_contexts", None)
            if callable(contexts):
                for ctx in contexts():
                    original = getattr(ctx, "original_route", None)
                    if original is not None and getattr(ctx, "path_format", None):
                        templates[id(original)] = str(ctx.path_format)
            elif hasattr(route, "path_format"):
                templates[id(route)] = str(route.path_format)

    walk(getattr(app, "routes", ()))
    if state is not None:
        state.route_templates = templates
    return templates


def route_of(scope: Scope) -> str:
    """The matched route's full path template ("/api/v1/motor/claims/{claim_id}"), or a
    fixed label for paths no route matched (404s must not create one series per path)."""
    route = scope.get("route")
    if route is None:
        return UNMATCHED_ROUTE
    template = _templates(scope.get("app")).get(id(route))
    if template is None:
        template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else UNMATCHED_ROUTE


def observe_request(scope: Scope, status: int, seconds: float) -> None:
    """Record one finished HTTP request (called by the request middleware)."""
    REQUEST_SECONDS.labels(scope.get("method", "GET"), route_of(scope), str(status)).observe(
        seconds
    )


# --- figures read from the database --------------------------------------------------------

_CLAIMS_BY_STATUS = text(
    "SELECT status, count(*) FROM claims.claim GROUP BY status ORDER BY status"
)
_PREMIUMS_WRITTEN = text(
    "SELECT count(*), COALESCE(sum(total_premium), 0) FROM motor.policies"
    " WHERE status IN ('ACTIVE', 'SUSPENDED', 'EXPIRED', 'CANCELLED') AND deleted_at IS NULL"
)
_JOBS_TABLE = text(
    "SELECT n.nspname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
    " WHERE c.relname = 'procrastinate_jobs' AND c.relkind IN ('r', 'p') LIMIT 1"
)


@dataclass
class DatabaseFigures:
    """What the last scrape read from the database, and when."""

    claims_by_status: dict[str, int] = field(default_factory=dict)
    policies_written: int = 0
    premiums_written: Decimal = Decimal("0.00")
    jobs_by_queue_status: dict[tuple[str, str], int] = field(default_factory=dict)
    read_at: float = 0.0
    error: str | None = None


async def read_figures(
    sessionmaker: async_sessionmaker[AsyncSession], settings: Settings
) -> DatabaseFigures:
    """Query the database for the business and queue figures (read-only, time-boxed)."""
    figures = DatabaseFigures(read_at=time.monotonic())
    try:
        async with sessionmaker() as session:
            await session.execute(
                text(f"SET LOCAL statement_timeout = {int(settings.health_timeout_ms)}")
            )
            figures.claims_by_status = {
                str(status): int(n)
                for status, n in (await session.execute(_CLAIMS_BY_STATUS)).all()
            }
            count, total = (await session.execute(_PREMIUMS_WRITTEN)).one()
            figures.policies_written, figures.premiums_written = int(count), Decimal(total)
            schema = (await session.execute(_JOBS_TABLE)).scalar()
            if schema is not None:
                rows = await session.execute(
                    text(
                        f'SELECT queue_name, status::text, count(*) FROM "{schema}"'
                        ".procrastinate_jobs GROUP BY queue_name, status"
                    )
                )
                figures.jobs_by_queue_status = {(str(q), str(s)): int(n) for q, s, n in rows}
            await session.rollback()
    except Exception as exc:  # a scrape reports the failure, it does not fail
        figures.error = exc.__class__.__name__
    return figures


class PolisCollector(Collector):
    """Yields the pool gauges and the cached database figures at each scrape."""

    def __init__(self) -> None:
        self.figures = DatabaseFigures()
        self.engines: dict[str, AsyncEngine] = {}

    def collect(self) -> Iterator[Metric]:
        pool = GaugeMetricFamily(
            "polis_db_pool_connections",
            "Connections of each engine pool by state",
            labels=("pool", "state"),
        )
        for name, engine in self.engines.items():
            p = engine.pool
            for state, method in (
                ("checked_out", "checkedout"),
                ("idle", "checkedin"),
                ("overflow", "overflow"),
                ("size", "size"),
            ):
                fn = getattr(p, method, None)
                if callable(fn):
                    pool.add_metric((name, state), float(max(int(fn()), 0)))
        yield pool

        f = self.figures
        by_status = GaugeMetricFamily(
            "polis_health_claims",
            "Health claims by current status, read from the database",
            labels=("status",),
        )
        for status, n in f.claims_by_status.items():
            by_status.add_metric((status,), n)
        yield by_status
        yield CounterMetricFamily(
            "polis_health_claims_adjudicated",
            "Health claims adjudicated (every claim past `submitted`; claims are never deleted)",
            value=sum(n for status, n in f.claims_by_status.items() if status != "submitted"),
        )
        yield CounterMetricFamily(
            "polis_motor_policies_written",
            "Motor policies issued (active, suspended, expired or cancelled)",
            value=f.policies_written,
        )
        yield CounterMetricFamily(
            "polis_motor_premiums_written_thb",
            "Total premium of the motor policies issued, THB",
            value=float(f.premiums_written),
        )
        jobs = GaugeMetricFamily(
            "polis_jobs", "Jobs in the queue by queue and status", labels=("queue", "status")
        )
        for (queue, status), n in f.jobs_by_queue_status.items():
            jobs.add_metric((queue, status), n)
        yield jobs
        yield GaugeMetricFamily(
            "polis_metrics_database_up",
            "1 when the last read of the database figures succeeded",
            value=0 if f.error else 1,
        )


COLLECTOR = PolisCollector()
REGISTRY.register(COLLECTOR)


def _allowed(request: Request, settings: Settings) -> bool:
    if settings.metrics_token:
        given = request.headers.get("authorization", "")
        expected = f"Bearer {settings.metrics_token}"
        return hmac.compare_digest(given.encode(), expected.encode())
    host = request.client.host if request.client else ""
    return host in {"127.0.0.1", "::1", "localhost"}


async def metrics_response(
    request: Request,
    settings: Settings,
    engines: Iterable[tuple[str, AsyncEngine]],
    sessionmaker: async_sessionmaker[AsyncSession],
) -> Response:
    """The /metrics answer: 403 unless allowed; figures refreshed when older than the cache."""
    if not _allowed(request, settings):
        return Response("metrics: forbidden\n", status_code=403, media_type="text/plain")
    pools = dict(engines)
    COLLECTOR.engines = pools
    age = time.monotonic() - COLLECTOR.figures.read_at
    if COLLECTOR.figures.read_at == 0.0 or age >= settings.metrics_cache_seconds:
        COLLECTOR.figures = await read_figures(sessionmaker, settings)
    return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)


class MetricsMiddleware:
    """Pure ASGI middleware timing every HTTP request into REQUEST_SECONDS (outermost, so the
    time includes the other middleware; the status is the one sent, 500 when none was)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500
        t0 = time.perf_counter()

        async def send_wrapper(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            observe_request(scope, status, time.perf_counter() - t0)
