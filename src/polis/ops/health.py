"""Database health (issue 7, item 2): the seed's `check_database_health` run with our
thresholds, summed up as OK / WARNING / CRITICAL, for `polis health`, `GET /readyz` and
`GET /api/v1/ops/health`.

Levels and exit codes follow the Nagios plugin convention that monitoring systems already
understand: 0 OK, 1 WARNING (a check crossed its threshold: disk, connections, replication
lag), 2 CRITICAL (the database does not answer). INFO rows (the largest tables) never change
the level.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from polis.config import Settings

OK = "OK"
WARNING = "WARNING"
CRITICAL = "CRITICAL"
EXIT_CODES = {OK: 0, WARNING: 1, CRITICAL: 2}
_RANK = {OK: 0, "INFO": 0, WARNING: 1, CRITICAL: 2}


@dataclass(frozen=True)
class Check:
    """One row of check_database_health."""

    check_name: str
    status: str
    details: str


@dataclass(frozen=True)
class HealthReport:
    """The checks and their worst level; `error` when the database did not answer."""

    status: str
    checks: tuple[Check, ...] = ()
    error: str | None = None
    duration_ms: float = 0.0
    role: str | None = None  # "primary" or "replica" (pg_is_in_recovery)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.status]

    def public(self) -> dict[str, Any]:
        """What an anonymous probe may see: levels, no sizes, names or error text."""
        return {
            "status": self.status,
            "checks": {c.check_name: c.status for c in self.checks},
        }

    def detailed(self) -> dict[str, Any]:
        """Everything, for `ops:read` users and the CLI."""
        return {
            "status": self.status,
            "role": self.role,
            "duration_ms": self.duration_ms,
            "error": self.error,
            "checks": [
                {"check_name": c.check_name, "status": c.status, "details": c.details}
                for c in self.checks
            ],
        }


def worst(statuses: list[str]) -> str:
    """The most severe of `statuses` (INFO counts as OK)."""
    level = OK
    for status in statuses:
        if _RANK.get(status, 1) > _RANK[level]:
            level = status if status in EXIT_CODES else WARNING
    return level


async def check(engine: AsyncEngine, settings: Settings) -> HealthReport:
    """Run check_database_health on `engine` with the thresholds of `settings`; a database
    that does not answer within the probe timeout is CRITICAL (never an exception)."""
    t0 = time.perf_counter()
    try:
        async with engine.connect() as conn:
            await conn.execute(
                text(f"SET LOCAL statement_timeout = {int(settings.health_timeout_ms)}")
            )
            rows = (
                await conn.execute(
                    text(
                        "SELECT check_name, status, details FROM"
                        " check_database_health(:disk, :conns, :lag)"
                    ),
                    {
                        "disk": settings.health_disk_warning_gb,
                        "conns": settings.health_connection_warning,
                        "lag": settings.health_lag_warning_seconds,
                    },
                )
            ).all()
            in_recovery = (await conn.execute(text("SELECT pg_is_in_recovery()"))).scalar()
            await conn.rollback()
    except Exception as exc:  # any failure to answer is the finding itself
        return HealthReport(
            status=CRITICAL,
            error=f"database unreachable: {exc.__class__.__name__}",
            duration_ms=round((time.perf_counter() - t0) * 1000, 2),
        )
    checks = tuple(Check(r.check_name, r.status, r.details) for r in rows)
    # A primary has no replay timestamp: its lag row says N/A and is OK by definition.
    return HealthReport(
        status=worst([c.status for c in checks]),
        checks=checks,
        duration_ms=round((time.perf_counter() - t0) * 1000, 2),
        role="replica" if in_recovery else "primary",
    )


def render(report: HealthReport) -> str:
    """The report as lines for a terminal: `STATUS  check  details`."""
    lines = [f"{report.status}  database ({report.role or 'unreachable'})"]
    if report.error:
        lines.append(f"CRITICAL  {report.error}")
    for c in report.checks:
        lines.append(f"{c.status:<8}  {c.check_name:<16} {c.details}")
    return "\n".join(lines)
