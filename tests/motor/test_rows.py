"""polis.db.rows: the hot path's raw rows stand in for the ORM's loads (decision 0073).
An adopted row is a persistent object whose changes flush as the ORM's would; an object the
session holds follows the rows read or written by raw statements; pending changes reach the
database before a raw statement."""

from __future__ import annotations

from httpx import AsyncClient
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from polis.db import raw
from polis.db.raw import Statement
from polis.db.recording import recorded
from polis.db.rows import adopt, columns, flush_pending, sync
from polis.motor import policies
from polis.motor.models import MotorPayment, MotorPolicy
from polis.motor.policy_schemas import PolicyBind
from polis.motor.rating_models import Quote
from tests.motor.test_policies_api import bound_policy, quote, staff, vehicle

_POLICY = Statement(f"SELECT {columns(MotorPolicy)} FROM motor.policies WHERE id = :id")
_PAYMENTS = Statement(f"SELECT {columns(MotorPayment)} FROM motor.payments WHERE policy_id = :id")
_RENEWALS = Statement("UPDATE motor.policies SET renewal_count = 7 WHERE id = :id")
_AUTO = Statement("SELECT auto_renewal FROM motor.policies WHERE id = :id")


async def test_an_adopted_row_is_a_persistent_object_that_flushes_its_changes(
    client: AsyncClient, session: AsyncSession, connection: AsyncConnection
) -> None:
    headers = await staff(client, session)
    bound = await bound_policy(client, headers)
    row = await raw.fetchrow(session, _POLICY, {"id": bound["id"]})
    assert row is not None
    policy = adopt(session, MotorPolicy, row)
    state = inspect(policy)
    assert state.persistent and not state.modified and not state.expired_attributes
    assert (policy.policy_number, policy.status, policy.coverage_details) == (
        bound["policy_number"],
        "DRAFT",
        row.coverage_details,
    )
    assert adopt(session, MotorPolicy, row) is policy  # the session's object, not a second
    assert await session.get(MotorPolicy, policy.id) is policy  # no statement needed

    policy.auto_renewal = not policy.auto_renewal
    async with recorded(connection) as seen:
        await session.flush()
    updates = [sql for sql in seen if sql.startswith("UPDATE motor.policies")]
    assert len(updates) == 1 and "auto_renewal" in updates[0] and "status" not in updates[0]

    # a payment's key is (id, created_at): the partition key is part of its identity
    payment_row = (await raw.fetch(session, _PAYMENTS, {"id": bound["id"]}))[0]
    payment = adopt(session, MotorPayment, payment_row)
    assert adopt(session, MotorPayment, payment_row) is payment
    assert payment.id == payment_row.id and not inspect(payment).modified


async def test_a_held_object_follows_raw_rows_and_pending_changes_go_first(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await staff(client, session)
    bound = await bound_policy(client, headers)
    held = (
        await session.execute(select(MotorPolicy).where(MotorPolicy.id == bound["id"]))
    ).scalar_one()
    await raw.execute(session, _RENEWALS, {"id": held.id})
    assert held.renewal_count == 0  # the ORM never saw the raw UPDATE
    row = await raw.fetchrow(session, _POLICY, {"id": held.id})
    assert row is not None
    assert sync(session, MotorPolicy, row) is held
    assert held.renewal_count == 7 and not inspect(held).modified

    held.auto_renewal = not held.auto_renewal
    await flush_pending(session)
    assert await raw.fetchval(session, _AUTO, {"id": held.id}) is held.auto_renewal


async def test_bind_keeps_a_held_quote_in_step(client: AsyncClient, session: AsyncSession) -> None:
    headers = await staff(client, session)
    _, vehicle_id = await vehicle(client, headers)
    number = (await quote(client, headers, vehicle_id))["quote_number"]
    held = (await session.execute(select(Quote).where(Quote.quote_number == number))).scalar_one()
    version = held.version or 0
    policy, payments = await policies.bind_quote(
        session, PolicyBind(quote_number=number, payment_plan="INSTALLMENT_6")
    )
    assert (held.status, held.policy_id, held.version) == ("BOUND", policy.id, version + 1)
    assert not inspect(held).modified
    assert [p.installment_number for p in payments] == [1, 2, 3, 4, 5, 6]
    assert all(inspect(p).persistent for p in [policy, *payments])
    stored = await raw.fetchrow(
        session,
        Statement("SELECT status, policy_id, version FROM motor.quotes WHERE id = :id"),
        {"id": held.id},
    )
    assert stored is not None and tuple(stored) == (held.status, held.policy_id, held.version)
