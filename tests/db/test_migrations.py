"""Migrations: up, down to base, up again; models agree with the migrated schema."""

from __future__ import annotations

from collections.abc import Callable

import psycopg

from polis.db import migrate


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "select schemaname || '.' || tablename from pg_tables "
            "where schemaname not in ('pg_catalog', 'information_schema')"
        ).fetchall()
    return {r[0] for r in rows}


def test_models_match_migrations(db_url: str) -> None:
    assert migrate.diff(db_url) == []


def test_upgrade_downgrade_upgrade_on_empty_database(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate.upgrade(url)
    assert migrate.current(url) is not None
    assert "audit.audit_log" in _tables(url)
    migrate.downgrade(url, "base")
    assert migrate.current(url) is None
    assert _tables(url) <= {"public.alembic_version"}
    migrate.upgrade(url)
    assert "audit.audit_log" in _tables(url)
