"""Receipt numbers under concurrent confirmations (decisions 0049, 0072), with transactions
that really commit: on a dedicated migrated database, many payments confirmed at once through
the app get consecutive numbers from 1 with no gap and no duplicate, a payment confirmed twice
at once gets one receipt, and a reader polling meanwhile never sees a number before every
smaller one is committed (numbers follow commit order: what is visible is always a prefix).
A rolled-back confirmation gives its number back (the single-transaction test below)."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

import pytest
from asgi_lifespan import LifespanManager
from httpx import ASGITransport, AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.motor import payments
from polis.motor.payment_schemas import PaymentConfirm
from polis.motor.quotes import today_bangkok
from tests.iam.factories import create_user, login
from tests.motor.test_policies_api import bound_policy, confirm, staff

PAYMENTS_AT_ONCE = 16
NUMBER = re.compile(r"^RC-(\d{4})-(\d{7})$")


@dataclass
class Committing:
    client: AsyncClient
    engine: AsyncEngine
    headers: dict[str, str]


@pytest.fixture
async def committing(create_database: Callable[[], str]) -> AsyncIterator[Committing]:
    """The app on its own migrated database, each request a transaction that commits."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    engine = create_async_engine(with_driver(url, "asyncpg"))
    async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
        user = await create_user(s, role="ADMIN", totp=True)
    app = create_app(Settings(database_url=url))
    try:
        async with (
            LifespanManager(app),
            AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as client,
        ):
            token = await login(client, user.username)
            yield Committing(client, engine, {"Authorization": f"Bearer {token}"})
    finally:
        await engine.dispose()


async def visible_serials(engine: AsyncEngine, year: int) -> list[int]:
    async with engine.connect() as conn:
        rows = await conn.execute(
            text(
                "select receipt_number from motor.payment_receipts"
                " where receipt_number like :prefix order by receipt_number"
            ),
            {"prefix": f"RC-{year:04d}-%"},
        )
        return [int(r[0][-7:]) for r in rows]


async def test_concurrent_confirmations_number_gap_free_in_commit_order(
    committing: Committing,
) -> None:
    client, headers = committing.client, committing.headers
    bound = [await bound_policy(client, headers) for _ in range(PAYMENTS_AT_ONCE)]
    year = today_bangkok().year
    assert await visible_serials(committing.engine, year) == []

    seen: list[list[int]] = []
    done = asyncio.Event()

    async def watch() -> None:
        while not done.is_set():
            seen.append(await visible_serials(committing.engine, year))
            await asyncio.sleep(0)

    async def pay(policy: dict[str, object]) -> int:
        payment = policy["payments"][0]  # type: ignore[index]
        response = await confirm(client, headers, payment, f"CONC-{policy['policy_number']}")
        return int(response.status_code)

    watcher = asyncio.create_task(watch())
    # The first payment is confirmed twice at once with the same reference: one receipt.
    statuses = await asyncio.gather(pay(bound[0]), *(pay(p) for p in bound))
    done.set()
    await watcher

    assert statuses == [200] * (PAYMENTS_AT_ONCE + 1)
    final = await visible_serials(committing.engine, year)
    assert final == list(range(1, PAYMENTS_AT_ONCE + 1))  # consecutive, no gap, no duplicate
    assert len(seen) > 1
    for snapshot in seen:  # every committed state is a prefix 1..k: commit order
        assert snapshot == list(range(1, len(snapshot) + 1)), snapshot
    async with committing.engine.connect() as conn:
        per_payment = (
            await conn.execute(
                text(
                    "select count(*), count(distinct payment_id) from motor.payment_receipts"
                    " where receipt_type = 'TAX_INVOICE'"
                )
            )
        ).one()
        last = await conn.scalar(
            text("select last_number from motor.receipt_number_counters where year = :y"),
            {"y": year},
        )
    assert tuple(per_payment) == (PAYMENTS_AT_ONCE, PAYMENTS_AT_ONCE)
    assert last == PAYMENTS_AT_ONCE
    for policy in bound:  # each payment's receipt is readable and well formed
        payment_id = policy["payments"][0]["id"]  # type: ignore[index]
        body = (
            await client.get(f"/api/v1/motor/payments/{payment_id}/receipt", headers=headers)
        ).json()
        assert NUMBER.match(body["receipt_number"]), body
        assert body["tax_invoice_number"] == body["receipt_number"]


async def test_a_rolled_back_confirmation_gives_its_number_back(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await staff(client, session)
    first, second = [await bound_policy(client, headers) for _ in range(2)]

    async def pay(policy: dict[str, object]) -> str:
        payment = policy["payments"][0]  # type: ignore[index]
        await payments.confirm_payment(
            session,
            uuid.UUID(payment["id"]),
            PaymentConfirm.model_validate(
                {
                    "method": "PROMPTPAY",
                    "reference": f"RB-{uuid.uuid4().hex[:8]}",
                    "paid_at": "2026-01-01T00:00:00+00:00",
                    "amount": payment["total_amount"],
                }
            ),
        )
        return str(
            await session.scalar(
                text("select receipt_number from motor.payment_receipts where payment_id = :p"),
                {"p": payment["id"]},
            )
        )

    savepoint = await session.begin_nested()
    taken = await pay(first)
    await savepoint.rollback()
    assert await pay(second) == taken  # the rolled-back number is handed out again
    assert NUMBER.match(taken)
