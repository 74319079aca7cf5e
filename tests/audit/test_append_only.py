"""audit.audit_log is append-only (migration 0020, decision 0059): UPDATE, DELETE and
TRUNCATE through the application's connection fail and leave the rows; the documented
maintenance settings let exactly their own change through; partition DETACH / DROP
(archiving) and create_range_partition's move out of DEFAULT keep working; a role given
audit.grant_append_only can read and insert but not change."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection

from polis.platform.errors import pg_error


async def _row(conn: AsyncConnection, **over: Any) -> tuple[int, datetime]:
    """An audit row as the trigger writes it (a customer's INSERT image)."""
    values: dict[str, Any] = {
        "t": "motor.customers",
        "r": uuid.uuid4(),
        "new": '{"email": "somchai@example.test", "first_name": "Somchai"}',
        "ts": datetime.now(UTC),
    }
    values.update(over)
    row = (
        await conn.execute(
            text(
                "insert into audit.audit_log (table_name, record_id, operation, new_values,"
                " user_agent, timestamp) values (:t, :r, 'INSERT', cast(:new as jsonb),"
                " 'pytest', :ts) returning id, timestamp"
            ),
            values,
        )
    ).one()
    return int(row[0]), row[1]


async def _refused(conn: AsyncConnection, sql: str, **params: Any) -> str:
    """Run `sql` in a savepoint; it must fail. Returns the SQLSTATE."""
    savepoint = await conn.begin_nested()
    with pytest.raises(DBAPIError) as caught:
        await conn.execute(text(sql), params)
    await savepoint.rollback()
    sqlstate, _, _ = pg_error(caught.value)
    return str(sqlstate)


async def _image(conn: AsyncConnection, row_id: int) -> tuple[Any, ...] | None:
    row = (
        await conn.execute(
            text("select user_agent, new_values from audit.audit_log where id = :i"),
            {"i": row_id},
        )
    ).one_or_none()
    return tuple(row) if row else None


async def test_update_delete_truncate_are_refused_and_change_nothing(
    connection: AsyncConnection,
) -> None:
    row_id, _ = await _row(connection)
    before = await _image(connection, row_id)
    assert before is not None

    assert (
        await _refused(
            connection, "update audit.audit_log set user_agent = 'forged' where id = :i", i=row_id
        )
        == "42501"
    )
    assert (
        await _refused(
            connection,
            "update audit.audit_log set new_values = new_values - 'email' where id = :i",
            i=row_id,
        )
        == "42501"
    )
    assert await _refused(connection, "delete from audit.audit_log where id = :i", i=row_id) == (
        "42501"
    )
    assert await _refused(connection, "truncate audit.audit_log") == "42501"
    assert await _image(connection, row_id) == before


async def test_a_business_change_is_audited_but_its_audit_row_cannot_be_edited(
    connection: AsyncConnection,
) -> None:
    """The trigger's own rows (written as the owner, SECURITY DEFINER) are protected too."""
    code = f"PLN-{uuid.uuid4().hex[:8]}"
    await connection.execute(
        text(
            "insert into benefit.plan (plan_code, plan_name, plan_type, annual_limit,"
            " effective_date) values (:c, 'Gold', 'premium', 1000, '2020-01-01')"
        ),
        {"c": code},
    )
    plan_id = await connection.scalar(
        text("select id from benefit.plan where plan_code = :c"), {"c": code}
    )
    audit_id = await connection.scalar(
        text("select id from audit.audit_log where table_name = 'benefit.plan' and record_id = :r"),
        {"r": plan_id},
    )
    assert audit_id is not None
    assert await _refused(connection, "delete from audit.audit_log where id = :i", i=audit_id) == (
        "42501"
    )
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log where id = :i"), {"i": audit_id}
        )
        == 1
    )


async def test_maintenance_setting_lets_an_operator_delete(connection: AsyncConnection) -> None:
    row_id, _ = await _row(connection)
    savepoint = await connection.begin_nested()
    await connection.execute(text("select set_config('polis.audit_maintenance', 'on', true)"))
    await connection.execute(text("delete from audit.audit_log where id = :i"), {"i": row_id})
    assert await _image(connection, row_id) is None
    await savepoint.rollback()  # the setting and the delete go with the savepoint
    assert await _image(connection, row_id) is not None
    assert await _refused(connection, "delete from audit.audit_log where id = :i", i=row_id) == (
        "42501"
    )


async def test_scrub_setting_only_nulls_values(connection: AsyncConnection) -> None:
    row_id, _ = await _row(connection)
    await connection.execute(text("select set_config('polis.audit_scrub', 'on', true)"))
    # Replacing a value by null is a scrub ...
    await connection.execute(
        text(
            "update audit.audit_log set new_values = motor.scrub_keys(new_values,"
            " array['email']) where id = :i"
        ),
        {"i": row_id},
    )
    assert await _image(connection, row_id) == (
        "pytest",
        {"email": None, "first_name": "Somchai"},
    )
    # ... forging a value, dropping a key or touching another column is not.
    for sql in (
        "update audit.audit_log set new_values = jsonb_set(new_values, '{first_name}',"
        " '\"Forged\"') where id = :i",
        "update audit.audit_log set new_values = new_values - 'first_name' where id = :i",
        "update audit.audit_log set user_agent = 'forged' where id = :i",
        "delete from audit.audit_log where id = :i",
    ):
        assert await _refused(connection, sql, i=row_id) == "42501", sql
    await connection.execute(text("select set_config('polis.audit_scrub', 'off', true)"))


async def test_partitions_detach_and_drop_for_archiving(connection: AsyncConnection) -> None:
    await connection.execute(
        text("select public.create_monthly_partition('audit.audit_log', date '2099-01-01')")
    )
    row_id, _ = await _row(connection, ts=datetime(2099, 1, 15, tzinfo=UTC))
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log_y2099m01 where id = :i"), {"i": row_id}
        )
        == 1
    )
    await connection.execute(
        text("alter table audit.audit_log detach partition audit.audit_log_y2099m01")
    )
    assert await _image(connection, row_id) is None  # no longer in the trail ...
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log_y2099m01 where id = :i"), {"i": row_id}
        )
        == 1
    )  # ... but kept in the detached table for the archive
    await connection.execute(text("drop table audit.audit_log_y2099m01"))
    assert await connection.scalar(text("select to_regclass('audit.audit_log_y2099m01')")) is None


async def test_a_new_partition_still_takes_over_rows_from_default(
    connection: AsyncConnection,
) -> None:
    """create_range_partition DELETEs strays from DEFAULT (app.partition_move) and
    re-inserts them: the append-only trigger lets that move through and nothing is lost."""
    row_id, _ = await _row(connection, ts=datetime(2098, 5, 3, tzinfo=UTC))
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log_default where id = :i"), {"i": row_id}
        )
        == 1
    )
    await connection.execute(
        text("select public.create_monthly_partition('audit.audit_log', date '2098-05-01')")
    )
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log_y2098m05 where id = :i"), {"i": row_id}
        )
        == 1
    )
    assert (
        await connection.scalar(
            text("select count(*) from audit.audit_log_default where id = :i"), {"i": row_id}
        )
        == 0
    )
    # The move does not leave the bypass on.
    assert await _refused(connection, "delete from audit.audit_log where id = :i", i=row_id) == (
        "42501"
    )


async def test_an_application_role_can_read_and_append_only(connection: AsyncConnection) -> None:
    role = f"polis_test_app_{uuid.uuid4().hex[:8]}"
    await connection.execute(text(f"create role {role} nologin"))
    await connection.execute(text(f"grant update, delete on audit.audit_log to {role}"))
    await connection.execute(
        text("select audit.grant_append_only(cast(:r as regrole))"), {"r": role}
    )
    row_id, _ = await _row(connection)
    await connection.execute(text(f"set local role {role}"))
    try:
        assert (
            await connection.scalar(
                text("select count(*) from audit.audit_log where id = :i"), {"i": row_id}
            )
            == 1
        )
        await _row(connection)  # INSERT is allowed
        assert (
            await _refused(
                connection, "update audit.audit_log set user_agent = 'x' where id = :i", i=row_id
            )
            == "42501"
        )
        assert await _refused(
            connection, "delete from audit.audit_log where id = :i", i=row_id
        ) == ("42501")
    finally:
        await connection.execute(text("reset role"))
    privileges = await connection.scalar(
        text(
            "select string_agg(privilege_type, ',' order by privilege_type)"
            " from information_schema.role_table_grants"
            " where grantee = :r and table_schema = 'audit' and table_name = 'audit_log'"
        ),
        {"r": role},
    )
    assert privileges == "INSERT,SELECT"
