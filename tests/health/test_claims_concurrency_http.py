"""50 concurrent POST /api/v1/health/claims over real HTTP (uvicorn on 127.0.0.1, a real
engine whose connections commit) against one family's per-year benefit limits and family
deductible: no limit is ever overspent, the accumulators equal the claims' paid amounts to the
rupiah, no 5xx, and the claims past a limit are denied with the limit's reason."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from polis.app import create_app
from polis.config import Settings
from polis.db import migrate
from polis.db.urls import with_driver
from polis.health.models import Accumulator, Claim, Member, MemberCoverage
from tests.health.test_adjudication_service import build_world
from tests.health.test_claims_api import CLAIMS, claim_body, gp
from tests.health.test_schema import add_member
from tests.iam.factories import PASSWORD, create_user
from tests.integrations.sandbox import serve

D = Decimal
LIMIT = D("1000000.00")  # OP-GP per year, per member
INDIVIDUAL_DEDUCTIBLE = D("100000.00")
FAMILY_DEDUCTIBLE = D("150000.00")
CHARGE = D("150000.00")  # per claim; ~17 claims a member: 2,550,000 > LIMIT
CLAIM_COUNT = 50


@dataclass
class Family:
    world: Any
    members: list[Member]  # employee, spouse, child
    username: str


@dataclass
class Running:
    url: str
    base_url: str


async def _family(url: str) -> Family:
    engine = create_async_engine(with_driver(url, "asyncpg"))
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as s, s.begin():
            w = await build_world(
                s,
                deductible=INDIVIDUAL_DEDUCTIBLE,
                family_deductible=FAMILY_DEDUCTIBLE,
                op_limit=LIMIT,
                op_copay=D("0"),
                op_coinsurance=D("0"),
                discount=D("0"),
            )
            members = [w.member]
            for relationship, first_name in (("spouse", "Budi"), ("child", "Ayu")):
                m = await add_member(s, first_name=first_name)
                s.add(
                    MemberCoverage(
                        member_id=m.id,
                        policy_id=w.policy.id,
                        plan_id=w.plan.id,
                        relationship=relationship,
                        coverage_start_date=w.member.enrollment_date,
                    )
                )
                members.append(m)
            user = await create_user(s, role="CLAIMS_PROCESSOR")
            return Family(world=w, members=members, username=user.username)
    finally:
        await engine.dispose()


@pytest.fixture
async def running(create_database: Callable[[], str]) -> AsyncIterator[Running]:
    """A dedicated migrated database (dropped with the test server) and the app served by
    uvicorn on a free 127.0.0.1 port; the server is stopped afterwards."""
    url = create_database()
    await asyncio.to_thread(migrate.upgrade, url)
    app = create_app(Settings(database_url=url))
    async with serve(app, lifespan="on", start_timeout=10.0) as base_url:
        yield Running(url=url, base_url=base_url)


async def test_fifty_concurrent_claims_never_overspend_a_family(running: Running) -> None:
    family = await _family(running.url)
    w = family.world
    limits = httpx.Limits(max_connections=CLAIM_COUNT, max_keepalive_connections=CLAIM_COUNT)
    async with httpx.AsyncClient(base_url=running.base_url, limits=limits, timeout=60) as http:
        login = await http.post(
            "/api/v1/auth/login", json={"username": family.username, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}

        async def post(n: int) -> httpx.Response:
            member = family.members[n % 3]
            body = claim_body(w, gp(str(CHARGE)), member_number=member.member_number)
            headers = {**auth, "Idempotency-Key": str(uuid.uuid4())}
            return await http.post(CLAIMS, json=body, headers=headers)

        responses = await asyncio.gather(*(post(n) for n in range(CLAIM_COUNT)))

    assert [r.status_code for r in responses if r.status_code != 201] == []  # no 5xx, no 409
    claims = [r.json() for r in responses]
    paid_by_member: dict[str, Decimal] = defaultdict(lambda: D("0"))
    for c in claims:
        (item,) = c["items"]
        paid = D(c["total_paid_amount"])
        assert D(c["total_charged_amount"]) == CHARGE
        assert paid + D(c["member_responsibility"]) == CHARGE  # to the rupiah
        assert D(item["paid_amount"]) == paid
        if c["status"] == "approved":
            assert (item["status"], item["denial_reason"]) == ("approved", None)
            assert paid + D(item["deductible_amount"]) == CHARGE
        elif c["status"] == "partially_approved":  # the claim that reached the limit
            assert (item["status"], item["denial_reason"]) == (
                "partially_approved",
                "per_year_limit",
            )
            assert D("0") < paid < CHARGE
        else:  # the limit was used up before this claim
            assert c["status"] == "denied"
            assert (item["status"], item["denial_reason"]) == ("denied", "per_year_limit")
            assert paid == D("0")
        paid_by_member[c["member_number"]] += paid

    numbers = [m.member_number for m in family.members]
    # Each member charged ~2.5 million against a 1 million limit: each limit is spent exactly.
    assert {n: paid_by_member[n] for n in numbers} == dict.fromkeys(numbers, LIMIT)
    for n in numbers:
        statuses = [c["status"] for c in claims if c["member_number"] == n]
        assert statuses.count("partially_approved") <= 1
        assert statuses.count("denied") >= len(statuses) - 8  # 7 x 150,000 > 1,000,000 + ded.

    engine = create_async_engine(with_driver(running.url, "asyncpg"))
    try:
        async with async_sessionmaker(engine)() as s:
            for m in family.members:
                db_paid = await s.scalar(
                    select(func.sum(Claim.total_paid_amount)).where(Claim.member_id == m.id)
                )
                claim_rows = await s.scalar(
                    select(func.count()).select_from(Claim).where(Claim.member_id == m.id)
                )
                rows = {
                    r.benefit_code: r
                    for r in (
                        await s.scalars(select(Accumulator).where(Accumulator.member_id == m.id))
                    ).all()
                }
                assert claim_rows == len(
                    [c for c in claims if c["member_number"] == m.member_number]
                )
                assert db_paid == rows["OP-GP"].used_amount == LIMIT
                assert rows["OP-GP"].remaining_amount == D("0.00")
                assert rows[None].used_amount == LIMIT  # the plan-level row moved in step
                assert rows[None].deductible_met <= INDIVIDUAL_DEDUCTIBLE
            family_met = await s.scalar(
                select(func.sum(Accumulator.deductible_met)).where(
                    Accumulator.member_id.in_([m.id for m in family.members]),
                    Accumulator.benefit_code.is_(None),
                )
            )
            total_claims = await s.scalar(
                select(func.count()).select_from(Claim).where(Claim.policy_id == w.policy.id)
            )
    finally:
        await engine.dispose()
    assert family_met == FAMILY_DEDUCTIBLE  # spent once across the family, never more
    assert total_claims == CLAIM_COUNT
