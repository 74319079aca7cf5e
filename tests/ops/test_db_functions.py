"""Seed 001's operations functions and views, and partition upkeep of the audit log."""

from __future__ import annotations

import uuid
from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection


async def test_check_database_health_reports_each_check(connection: AsyncConnection) -> None:
    rows = (await connection.execute(text("select * from check_database_health()"))).all()
    assert [r.check_name for r in rows] == [
        "Disk Space",
        "Connections",
        "Replication Lag",
        "Large Tables",
    ]
    assert {r.status for r in rows} <= {"OK", "WARNING", "INFO"}
    assert rows[2].details == "Lag: N/A"  # a primary has no replay timestamp
    assert "audit.audit_log" in rows[3].details or "ref." in rows[3].details


async def test_disk_threshold_turns_warning(connection: AsyncConnection) -> None:
    row = (
        await connection.execute(text("select status from check_database_health(0) limit 1"))
    ).one()
    assert row.status == "WARNING"


async def test_perform_maintenance_analyzes_tables(connection: AsyncConnection) -> None:
    out = (await connection.execute(text("select perform_maintenance()"))).scalar_one()
    assert out.startswith("Maintenance started at")
    assert out.count("Analyzed ") >= 2
    assert out.rstrip().splitlines()[-1].startswith("Maintenance completed at")


async def test_monitoring_views_answer(connection: AsyncConnection) -> None:
    active = (await connection.execute(text("select * from v_active_connections"))).all()
    assert any("v_active_connections" in (r.query_preview or "") for r in active)
    await connection.execute(text("select * from v_database_performance limit 1"))


@pytest.mark.parametrize(
    ("ts", "partition"),
    [
        ("2024-12-15 10:00+00", "audit_log_y2024m12"),
        ("2027-03-01 00:00+00", None),
        ("2031-06-30 23:59+00", "audit_log_default"),
    ],
)
async def test_audit_rows_of_any_date_insert(
    connection: AsyncConnection, ts: str, partition: str | None
) -> None:
    rid = uuid.uuid4()
    await connection.execute(
        text(
            "insert into audit.audit_log (table_name, record_id, operation, timestamp) "
            "values ('t', :rid, 'INSERT', :ts)"
        ),
        {"rid": rid, "ts": datetime.fromisoformat(ts)},
    )
    where = (
        await connection.execute(
            text("select tableoid::regclass::text from audit.audit_log where record_id = :rid"),
            {"rid": rid},
        )
    ).scalar_one()
    if partition:
        assert where == f"audit.{partition}"
    else:
        assert where in ("audit.audit_log_y2027m03", "audit.audit_log_default")


async def test_new_partition_adopts_strays_from_default(connection: AsyncConnection) -> None:
    rid = uuid.uuid4()
    await connection.execute(
        text(
            "insert into audit.audit_log (table_name, record_id, operation, timestamp) "
            "values ('t', :rid, 'UPDATE', '2032-02-10 12:00+00')"
        ),
        {"rid": rid},
    )
    await connection.execute(
        text("select create_monthly_partition('audit.audit_log', '2032-02-01')")
    )
    await connection.execute(
        text("select create_monthly_partition('audit.audit_log', '2032-02-01')")
    )
    rows = (
        await connection.execute(
            text(
                "select tableoid::regclass::text, operation from audit.audit_log"
                " where record_id = :rid"
            ),
            {"rid": rid},
        )
    ).all()
    assert rows == [("audit.audit_log_y2032m02", "UPDATE")]
    moved = (
        await connection.execute(
            text(
                "select count(*) from audit.audit_log where table_name = 't' and record_id = :rid"
            ),
            {"rid": rid},
        )
    ).scalar_one()
    assert moved == 1
