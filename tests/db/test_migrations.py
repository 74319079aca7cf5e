"""Migrations: up, down to base, up again; models agree with the migrated schema."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

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


def test_upgrade_downgrade_upgrade_on_populated_database(
    create_database: Callable[[], str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from polis.config import get_settings
    from polis.demo import Volumes, load_demo
    from polis.platform.crypto import get_keyring

    monkeypatch.setenv("VAR_DIR", str(tmp_path))
    get_settings.cache_clear()
    get_keyring.cache_clear()
    url = create_database()
    migrate.upgrade(url)
    counts = load_demo(url, Volumes(members=30, customers=5, providers=5, companies=2))
    assert counts["member.member"] == 30
    migrate.downgrade(url, "base")
    assert _tables(url) <= {"public.alembic_version"}
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        assert conn.execute("select count(*) from member.member").fetchone() == (0,)
        n_provinces = conn.execute("select count(*) from ref.provinces").fetchone()
    assert n_provinces == (77,)
    get_settings.cache_clear()
    get_keyring.cache_clear()


# Tables deliberately without the audit trigger: the log itself, Alembic's bookkeeping,
# bulk reference geography (reloaded from files), and internal routing/replay tables.
NOT_AUDITED = {
    "alembic_version",
    "audit.audit_log",
    "iam.idempotency_keys",
    "ref.provinces",
    "ref.amphoes",
    "ref.tambons",
    "claims.claim_registry",
    "motor.payment_registry",
    # Per-address login counters (decision 0058): a login must not write audit rows for them.
    "iam.login_rate_limits",
    # Refresh-token rotation bookkeeping (decision 0062): hashes only; each rotation and each
    # revoked family shows as an audited update of iam.user_sessions.
    "iam.refresh_tokens",
    # Half-done sign-ins and the last TOTP step spent (decision 0063): per-login bookkeeping
    # (hashes only); enrolment, recovery codes and lockouts show on audited tables.
    "iam.login_challenges",
    "iam.totp_steps",
}


def test_every_business_table_has_the_audit_trigger(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        missing = {
            r[0]
            for r in conn.execute(
                "select c.oid::regclass::text from pg_class c"
                " join pg_namespace n on n.oid = c.relnamespace"
                " where c.relkind in ('r', 'p') and not c.relispartition"
                " and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast')"
                # The job queue's bookkeeping (procrastinate, decision 0056) is not business
                # data: a job's own events table is its history.
                " and n.nspname <> 'jobs'"
                " and not exists (select 1 from pg_trigger t"
                "   where t.tgrelid = c.oid and t.tgname = 'audit_change')"
            )
        }
    assert missing == NOT_AUDITED
