"""Health checks and metrics (issue 7, item 2): /readyz, /api/v1/ops/health, /metrics,
`polis health` and `polis db stats`."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import AsyncIterator
from decimal import Decimal

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from typer.testing import CliRunner

from polis.app import create_app
from polis.config import Settings, get_settings
from polis.db.session import Database
from polis.ops import health
from tests.iam.factories import signed_in
from tests.motor.claim_factory import active_policy


def _dead_url() -> str:
    """A libpq URL on a 127.0.0.1 port where nothing listens."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"postgresql://nobody:nothing@127.0.0.1:{port}/polis?connect_timeout=2"


async def _client(app: object, host: str = "127.0.0.1") -> AsyncClient:
    transport = ASGITransport(app=app, client=(host, 50000))  # type: ignore[arg-type]
    return AsyncClient(transport=transport, base_url="http://test")


@pytest.fixture
async def ops_client(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> AsyncIterator[AsyncClient]:
    """The app over the test transaction, database figures of /metrics never cached."""
    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(Settings(database_url=db_url, metrics_cache_seconds=0), database=database)
    async with LifespanManager(app), await _client(app) as c:
        yield c


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text, or None when absent."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][\w:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', m.group(3) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(m.group(4))
    return None


def test_worst_level() -> None:
    assert health.worst([]) == "OK"
    assert health.worst(["OK", "INFO"]) == "OK"
    assert health.worst(["OK", "WARNING", "INFO"]) == "WARNING"
    assert health.worst(["WARNING", "CRITICAL"]) == "CRITICAL"
    assert health.worst(["SOMETHING_NEW"]) == "WARNING"  # unknown levels are not ignored
    assert health.EXIT_CODES == {"OK": 0, "WARNING": 1, "CRITICAL": 2}


async def test_readyz_reports_levels_without_details(ops_client: AsyncClient) -> None:
    response = await ops_client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body == {
        "status": "OK",
        "checks": {
            "Disk Space": "OK",
            "Connections": "OK",
            "Replication Lag": "OK",
            "Large Tables": "INFO",
        },
    }


async def test_readyz_is_503_when_the_database_does_not_answer(db_url: str) -> None:
    settings = Settings(database_url=_dead_url())
    app = create_app(settings)
    async with LifespanManager(app), await _client(app) as c:
        response = await c.get("/readyz")
        assert response.status_code == 503
        assert response.json()["status"] == "CRITICAL"
        assert await c.get("/healthz") is not None  # liveness still answers
        assert (await c.get("/healthz")).status_code == 200


async def test_ops_health_details_need_ops_read(
    ops_client: AsyncClient, session: AsyncSession
) -> None:
    assert (await ops_client.get("/api/v1/ops/health")).status_code == 401
    _, agent = await signed_in(ops_client, session, role="AGENT")
    assert (await ops_client.get("/api/v1/ops/health", headers=agent)).status_code == 403
    _, admin = await signed_in(ops_client, session, role="ADMIN")
    response = await ops_client.get("/api/v1/ops/health", headers=admin)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "OK"
    assert body["primary"]["role"] == "primary"
    disk = next(c for c in body["primary"]["checks"] if c["check_name"] == "Disk Space")
    assert disk["details"].startswith("Database size: ")
    assert "replica" not in body


async def test_thresholds_come_from_settings(ops_client: AsyncClient, db_url: str) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    from polis.db.urls import with_driver

    engine = create_async_engine(with_driver(db_url, "asyncpg"))
    try:
        report = await health.check(engine, Settings(health_disk_warning_gb=0.000001))
    finally:
        await engine.dispose()
    assert report.status == "WARNING"
    assert report.exit_code == 1
    assert [c.status for c in report.checks if c.check_name == "Disk Space"] == ["WARNING"]


async def test_metrics_latency_per_route_template_and_business_figures(
    ops_client: AsyncClient, session: AsyncSession
) -> None:
    _, headers = await signed_in(ops_client, session, role="ADMIN")
    before = (await ops_client.get("/metrics")).text
    written = metric(before, "polis_motor_premiums_written_thb_total") or 0.0
    policies = metric(before, "polis_motor_policies_written_total") or 0.0

    await active_policy(ops_client, headers)  # a CMI policy paid: 645.21 THB
    missing = await ops_client.get("/api/v1/motor/policies/NOPE-1", headers=headers)
    assert missing.status_code == 404

    response = await ops_client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    # Latency by the route's template, never the raw path.
    assert (
        metric(
            text,
            "polis_http_request_duration_seconds_count",
            method="GET",
            route="/api/v1/motor/policies/{policy_number}",
            status="404",
        )
        or 0
    ) >= 1
    assert "NOPE-1" not in text
    assert Decimal(str(metric(text, "polis_motor_premiums_written_thb_total"))) - Decimal(
        str(written)
    ) == Decimal("645.21")
    assert metric(text, "polis_motor_policies_written_total") == policies + 1
    assert metric(text, "polis_metrics_database_up") == 1
    assert metric(text, "polis_db_pool_connections", pool="primary", state="size") is not None
    assert "process_cpu_seconds_total" in text


async def test_metrics_access(
    connection: AsyncConnection, sessionmaker: async_sessionmaker[AsyncSession], db_url: str
) -> None:
    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    open_app = create_app(Settings(database_url=db_url), database=database)
    async with LifespanManager(open_app):
        async with await _client(open_app, host="10.1.2.3") as remote:
            assert (await remote.get("/metrics")).status_code == 403
        async with await _client(open_app) as local:
            assert (await local.get("/metrics")).status_code == 200

    locked = create_app(Settings(database_url=db_url, metrics_token="s3cret"), database=database)
    async with LifespanManager(locked), await _client(locked) as c:
        assert (await c.get("/metrics")).status_code == 403
        wrong = await c.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 403
        right = await c.get("/metrics", headers={"Authorization": "Bearer s3cret"})
        assert right.status_code == 200


def test_polis_health_exit_codes(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polis.cli import app

    runner = CliRunner()
    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        ok = runner.invoke(app, ["health"])
        assert ok.exit_code == 0, ok.output
        assert ok.output.splitlines()[0] == "OK  database (primary)"
        assert "Replication Lag" in ok.output

        monkeypatch.setenv("HEALTH_DISK_WARNING_GB", "0.000001")
        get_settings.cache_clear()
        warn = runner.invoke(app, ["health", "--json"])
        assert warn.exit_code == 1, warn.output
        assert json.loads(warn.output)["status"] == "WARNING"

        monkeypatch.setenv("DATABASE_URL", _dead_url())
        get_settings.cache_clear()
        down = runner.invoke(app, ["health"])
        assert down.exit_code == 2, down.output
        assert down.output.startswith("CRITICAL")

        no_replica = runner.invoke(app, ["health", "--replica"])
        assert no_replica.exit_code == 1
        assert "READ_DATABASE_URL is not set" in no_replica.stderr

        # The health line's own commands are still there.
        listed = runner.invoke(app, ["health", "--help"])
        assert "adjudicate" in listed.output
    finally:
        get_settings.cache_clear()


def test_polis_db_stats(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from polis.cli import app

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["db", "stats", "--json", "--limit", "3"])
        assert result.exit_code == 0, result.output
        data = json.loads(result.output)
        assert data["database"]["in_recovery"] is False
        assert len(data["tables"]) == 3
        sizes = [t["total_bytes"] for t in data["tables"]]
        assert sizes == sorted(sizes, reverse=True)
        text = CliRunner().invoke(app, ["db", "stats"]).output
        assert text.startswith("database ")
        assert "slow queries" in text
    finally:
        get_settings.cache_clear()
