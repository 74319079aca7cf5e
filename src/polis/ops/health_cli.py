"""`polis health` (alone: the database health check) and `polis db stats` (issue 7)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import typer

STATS_SQL: dict[str, str] = {
    "database": """
        SELECT current_database() AS database,
               pg_size_pretty(pg_database_size(current_database())) AS size,
               pg_database_size(current_database()) AS size_bytes,
               (SELECT count(*) FROM pg_stat_activity) AS connections,
               (SELECT count(*) FROM pg_stat_activity WHERE state = 'active') AS active,
               (SELECT round(100.0 * sum(blks_hit) / nullif(sum(blks_hit) + sum(blks_read), 0),
                             2)
                  FROM pg_stat_database WHERE datname = current_database()) AS cache_hit_percent,
               pg_is_in_recovery() AS in_recovery
    """,
    "tables": """
        SELECT n.nspname || '.' || c.relname AS table_name,
               pg_size_pretty(pg_total_relation_size(c.oid)) AS total_size,
               pg_size_pretty(pg_indexes_size(c.oid)) AS index_size,
               pg_total_relation_size(c.oid) AS total_bytes,
               COALESCE(s.n_live_tup, 0) AS live_rows,
               COALESCE(s.n_dead_tup, 0) AS dead_rows,
               COALESCE(s.seq_scan, 0) AS seq_scans,
               COALESCE(s.idx_scan, 0) AS index_scans,
               GREATEST(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
               GREATEST(s.last_analyze, s.last_autoanalyze) AS last_analyze
        FROM pg_class c
        JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
        WHERE c.relkind IN ('r', 'p')
          AND n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast')
        ORDER BY pg_total_relation_size(c.oid) DESC
        LIMIT :limit
    """,
    "connections": "SELECT * FROM v_active_connections",
}
SLOW_SQL = (
    "SELECT query, calls, round(mean_time::numeric, 2) AS mean_ms FROM v_slow_queries LIMIT 5"
)


async def _check(url: str) -> Any:
    from polis.config import get_settings
    from polis.db.session import one_off_engine
    from polis.ops import health

    async with one_off_engine(url) as engine:
        return await health.check(engine, get_settings())


def run_health_check(replica: bool, as_json: bool) -> None:
    """Print check_database_health for the primary (or the replica) and exit 0 OK,
    1 WARNING, 2 CRITICAL (the Nagios convention; polis.ops.health)."""
    from polis.cli import database
    from polis.config import get_settings
    from polis.db.urls import replica_url
    from polis.ops import health

    if replica:
        url = replica_url(get_settings())
        if url is None:
            typer.echo("polis: error: READ_DATABASE_URL is not set: no replica to check", err=True)
            raise typer.Exit(1)
        report = asyncio.run(_check(url))
    else:
        try:
            with database() as url:
                report = asyncio.run(_check(url))
        except Exception as exc:  # the embedded cluster would not start: CRITICAL too
            report = health.HealthReport(
                status=health.CRITICAL, error=f"database unreachable: {exc}".splitlines()[0]
            )
    if as_json:
        typer.echo(json.dumps(report.detailed(), indent=2))
    else:
        typer.echo(health.render(report))
    raise typer.Exit(report.exit_code)


def stats(url: str, limit: int) -> dict[str, Any]:
    """The figures of `polis db stats`, read with psycopg (one short read-only transaction)."""
    import psycopg
    from psycopg.rows import dict_row

    out: dict[str, Any] = {}
    with psycopg.connect(url, autocommit=False, row_factory=dict_row) as conn:
        conn.execute("SET TRANSACTION READ ONLY")
        out["database"] = conn.execute(STATS_SQL["database"]).fetchone()
        out["tables"] = conn.execute(
            STATS_SQL["tables"].replace(":limit", "%(limit)s"), {"limit": limit}
        ).fetchall()
        out["connections"] = conn.execute(STATS_SQL["connections"]).fetchall()
        found = conn.execute(
            "SELECT to_regclass('public.v_slow_queries') IS NOT NULL AS present"
        ).fetchone()
        out["slow_queries"] = None
        if found and found["present"]:
            try:
                with conn.transaction():  # a savepoint: the view fails unless preloaded
                    out["slow_queries"] = conn.execute(SLOW_SQL).fetchall()
            except psycopg.Error:  # pg_stat_statements not in shared_preload_libraries
                out["slow_queries"] = None
    return out


def _render_stats(data: dict[str, Any]) -> str:
    db = data["database"]
    lines = [
        f"database {db['database']}: {db['size']}, {db['connections']} connections"
        f" ({db['active']} active), cache hit {db['cache_hit_percent']}%"
        + (", replica (in recovery)" if db["in_recovery"] else ", primary"),
        "",
        f"{'table':<42} {'total':>10} {'indexes':>10} {'live rows':>12} {'dead':>8}"
        f" {'seq scans':>10} {'idx scans':>10}",
    ]
    for t in data["tables"]:
        lines.append(
            f"{t['table_name']:<42} {t['total_size']:>10} {t['index_size']:>10}"
            f" {t['live_rows']:>12} {t['dead_rows']:>8} {t['seq_scans']:>10}"
            f" {t['index_scans']:>10}"
        )
    lines.append("")
    lines.append(f"non-idle connections: {len(data['connections'])}")
    if data["slow_queries"] is None:
        lines.append(
            "slow queries: pg_stat_statements is not loaded"
            " (shared_preload_libraries; v_slow_queries needs it)"
        )
    else:
        lines.append(f"slow queries (mean > 100 ms): {len(data['slow_queries'])}")
        for q in data["slow_queries"]:
            lines.append(f"  {q['mean_ms']:>10} ms x{q['calls']}: {q['query'][:80]}")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    """Add `polis db stats` (the `polis health` check is the health group's callback)."""
    from polis.cli import db_app, friendly

    @db_app.command("stats")
    @friendly
    def db_stats(
        limit: int = typer.Option(15, min=1, help="How many of the largest tables"),
        as_json: bool = typer.Option(False, "--json", help="Machine-readable output"),
    ) -> None:
        """Database size, connections, cache hit ratio, the largest tables with their row
        counts, scans and vacuum times, and slow queries (when pg_stat_statements is there)."""
        from polis.cli import database

        with database() as url:
            data = stats(url, limit)
        if as_json:
            typer.echo(json.dumps(data, indent=2, default=str))
        else:
            typer.echo(_render_stats(data))
