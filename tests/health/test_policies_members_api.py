"""Health policies (with ASO fund transactions) and members (with coverages) API."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from polis.health import schemas
from polis.health.service import member as member_service
from polis.health.service import policy as policy_service
from polis.platform.crypto import get_keyring
from tests.health.test_config_api import plan_body
from tests.iam.factories import signed_in

PLANS = "/api/v1/health/plans"
POLICIES = "/api/v1/health/policies"
MEMBERS = "/api/v1/health/members"


def _code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def _nik() -> str:
    return f"3175{uuid.uuid4().int % 10**12:012d}"


def policy_body(
    plan_code: str, policy_number: str | None = None, **overrides: Any
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy_number": policy_number or _code("GRP"),
        "policy_type": "group",
        "plan_code": plan_code,
        "company_name": "PT Maju Bersama",
        "company_id": "NPWP00000001",
        "effective_date": "2026-01-01",
        "renewal_date": "2027-01-01",
        "total_premium": "1250000000.5",
        "funding_type": "aso",
        "aso_fund_balance": "1000000.10",
        "buffer_fund_balance": 250000,
    }
    body.update(overrides)
    return body


def coverage(policy_number: str, plan_code: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy_number": policy_number,
        "plan_code": plan_code,
        "relationship": "employee",
        "coverage_start_date": "2026-01-01",
    }
    body.update(overrides)
    return body


def member_body(coverages: list[dict[str, Any]], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member_number": _code("MBR"),
        "first_name": "Budi",
        "last_name": "Santoso",
        "birth_date": "1985-04-12",
        "gender": "male",
        "national_id": _nik(),
        "email": "budi@mail.example",
        "city": "Jakarta",
        "enrollment_date": "2026-01-01",
        "coverages": coverages,
    }
    body.update(overrides)
    return body


async def _admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="ADMIN")
    return headers


async def _plan(client: AsyncClient, headers: dict[str, str]) -> str:
    body = plan_body(benefits=[], exclusions=[])
    response = await client.post(PLANS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(body["plan_code"])


async def _policy(client: AsyncClient, headers: dict[str, str], **overrides: Any) -> str:
    body = policy_body(await _plan(client, headers), **overrides)
    response = await client.post(POLICIES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(body["policy_number"])


async def _scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return await session.scalar(text(sql), params)


async def _balances(session: AsyncSession, policy_number: str) -> tuple[str, str]:
    row = (
        await session.execute(
            text(
                "select aso_fund_balance::text a, buffer_fund_balance::text b"
                " from policy.policy where policy_number = :n"
            ),
            {"n": policy_number},
        )
    ).one()
    return row.a, row.b


async def _fund_audit(session: AsyncSession, policy_number: str) -> list[tuple[str, str, str]]:
    rows = await session.execute(
        text(
            "select a.business_context, a.old_values ->> 'aso_fund_balance',"
            " a.new_values ->> 'aso_fund_balance' from audit.audit_log a"
            " join policy.policy p on p.id = a.record_id"
            " where a.table_name = 'policy.policy' and p.policy_number = :n"
            " and a.operation = 'UPDATE' order by a.id"
        ),
        {"n": policy_number},
    )
    return [(r[0], r[1], r[2]) for r in rows]


class TestPolicies:
    async def test_create_and_read_back_exact_amounts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        body = policy_body(plan_code)
        response = await client.post(POLICIES, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        response = await client.get(f"{POLICIES}/{body['policy_number']}", headers=headers)
        assert response.status_code == 200
        policy = response.json()
        assert policy == created
        assert policy["plan_code"] == plan_code
        assert policy["policy_type"] == "group"
        assert policy["funding_type"] == "aso"
        assert policy["total_premium"] == "1250000000.50"
        assert policy["aso_fund_balance"] == "1000000.10"
        assert policy["buffer_fund_balance"] == "250000.00"
        assert policy["status"] == "active"
        assert policy["total_members"] == 0
        assert await _balances(session, body["policy_number"]) == ("1000000.10", "250000.00")

        individual = policy_body(
            plan_code,
            policy_type="individual",
            company_name=None,
            company_id=None,
            funding_type="full_insured",
            aso_fund_balance="0",
            buffer_fund_balance="0",
        )
        response = await client.post(POLICIES, json=individual, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["aso_fund_balance"] == "0.00"

    async def test_invalid_unknown_and_duplicate(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        for overrides, field in (
            ({"funding_type": "self"}, "body.funding_type"),
            ({"aso_fund_balance": "-1"}, "body.aso_fund_balance"),
            ({"total_premium": "1.234"}, "body.total_premium"),
            ({"renewal_date": "2025-01-01"}, "body"),
            ({"company_name": None}, "body"),
            ({"funding_type": "full_insured"}, "body"),  # balances on a non-ASO policy
        ):
            body = policy_body(plan_code, **overrides)
            response = await client.post(POLICIES, json=body, headers=headers)
            assert response.status_code == 422, (overrides, response.text)
            assert [e["field"] for e in response.json()["errors"]] == [field], overrides
        body = policy_body("NO-SUCH-PLAN")
        response = await client.post(POLICIES, json=body, headers=headers)
        assert response.status_code == 404
        assert "plan_code" in response.json()["detail"]
        n = await _scalar(
            session,
            "select count(*) from policy.policy where policy_number = :n",
            n=body["policy_number"],
        )
        assert n == 0
        number = await _policy(client, headers)
        again = policy_body(plan_code, number, company_name="Other")
        response = await client.post(POLICIES, json=again, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:policy-exists"
        name = await _scalar(
            session, "select company_name from policy.policy where policy_number = :n", n=number
        )
        assert name == "PT Maju Bersama"
        assert (await client.get(f"{POLICIES}/NOPE", headers=headers)).status_code == 404

    async def test_patch_and_paging(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await _admin(client, session)
        number = await _policy(client, headers)
        url = f"{POLICIES}/{number}"
        other_plan = await _plan(client, headers)
        response = await client.patch(
            url, json={"total_premium": 99.5, "plan_code": other_plan}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["total_premium"] == "99.50"
        assert response.json()["plan_code"] == other_plan
        assert response.json()["aso_fund_balance"] == "1000000.10"
        for change in (
            {"aso_fund_balance": "5"},
            {"status": "gone"},
            {"renewal_date": None},
        ):
            assert (await client.patch(url, json=change, headers=headers)).status_code == 422
        response = await client.patch(url, json={"renewal_date": "2025-06-01"}, headers=headers)
        assert response.status_code == 422
        response = await client.patch(url, json={"plan_code": "NOPE"}, headers=headers)
        assert response.status_code == 404
        assert (await client.get(url, headers=headers)).json()["plan_code"] == other_plan

        prefix = f"PP{uuid.uuid4().hex[:6].upper()}"
        plan_code = await _plan(client, headers)
        numbers = [f"{prefix}-{i}" for i in range(5)]
        for n in reversed(numbers):
            body = policy_body(plan_code, n)
            assert (await client.post(POLICIES, json=body, headers=headers)).status_code == 201
        seen: list[str] = []
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get(POLICIES, params=params, headers=headers)).json()
            assert len(page["items"]) <= 2
            seen.extend(p["policy_number"] for p in page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [s for s in seen if s.startswith(prefix)] == numbers
        assert seen == sorted(seen)

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.get(POLICIES)).status_code == 401
        assert (await client.post(f"{POLICIES}/X/fund-transactions", json={})).status_code == 401
        headers = await _admin(client, session)
        number = await _policy(client, headers)
        _, member = await signed_in(client, session, role="MEMBER")
        response = await client.get(POLICIES, headers=member)
        assert response.status_code == 403
        assert "health.policies:read" in response.json()["detail"]
        _, underwriter = await signed_in(client, session, role="UNDERWRITER")
        assert (await client.get(f"{POLICIES}/{number}", headers=underwriter)).status_code == 200
        # Underwriters issue policies but do not move money.
        response = await client.post(
            f"{POLICIES}/{number}/fund-transactions",
            json={"transaction_type": "top_up", "amount": "1"},
            headers=underwriter,
        )
        assert response.status_code == 403
        assert "health.billing:write" in response.json()["detail"]
        _, finance = await signed_in(client, session, role="FINANCE")
        response = await client.post(
            POLICIES, json=policy_body(await _plan(client, headers)), headers=finance
        )
        assert response.status_code == 403
        response = await client.post(
            f"{POLICIES}/{number}/fund-transactions",
            json={"transaction_type": "top_up", "amount": "1"},
            headers=finance,
        )
        assert response.status_code == 200, response.text
        assert await _balances(session, number) == ("1000001.10", "250000.00")


class TestFundTransactions:
    async def test_top_up_then_withdrawal_exact_and_audited(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        number = await _policy(client, headers)
        url = f"{POLICIES}/{number}/fund-transactions"
        response = await client.post(
            url,
            json={"transaction_type": "top_up", "amount": "500000.45", "reference": "TU-1"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json() == {
            "policy_number": number,
            "transaction_type": "top_up",
            "fund": "aso",
            "amount": "500000.45",
            "reference": "TU-1",
            "aso_fund_balance": "1500000.55",
            "buffer_fund_balance": "250000.00",
        }
        response = await client.post(
            url,
            json={"transaction_type": "withdrawal", "amount": 1500000.5, "reference": "WD-1"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["aso_fund_balance"] == "0.05"
        response = await client.post(
            url,
            json={"transaction_type": "withdrawal", "amount": "250000", "fund": "buffer"},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert response.json()["buffer_fund_balance"] == "0.00"
        assert await _balances(session, number) == ("0.05", "0.00")
        assert (await client.get(f"{POLICIES}/{number}", headers=headers)).json()[
            "aso_fund_balance"
        ] == "0.05"
        # No fund transaction table exists: each movement is an audited UPDATE of the policy.
        audit = await _fund_audit(session, number)
        assert audit == [
            ("FUND_TOP_UP:aso:TU-1", "1000000.10", "1500000.55"),
            ("FUND_WITHDRAWAL:aso:WD-1", "1500000.55", "0.05"),
            ("FUND_WITHDRAWAL:buffer:-", "0.05", "0.05"),
        ]

    async def test_a_retried_movement_with_its_idempotency_key_is_applied_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        number = await _policy(client, headers)
        url = f"{POLICIES}/{number}/fund-transactions"
        keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        body = {"transaction_type": "top_up", "amount": "100.00"}
        first = await client.post(url, json=body, headers=keyed)
        again = await client.post(url, json=body, headers=keyed)
        assert first.status_code == again.status_code == 200, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert await _balances(session, number) == ("1000100.10", "250000.00")

    async def test_overdraw_and_non_aso_are_refused_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        number = await _policy(client, headers)
        url = f"{POLICIES}/{number}/fund-transactions"
        response = await client.post(
            url, json={"transaction_type": "withdrawal", "amount": "1000000.11"}, headers=headers
        )
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:polis:problem:insufficient-funds"
        assert await _balances(session, number) == ("1000000.10", "250000.00")
        assert await _fund_audit(session, number) == []

        insured = await _policy(
            client,
            headers,
            funding_type="full_insured",
            aso_fund_balance="0",
            buffer_fund_balance="0",
        )
        response = await client.post(
            f"{POLICIES}/{insured}/fund-transactions",
            json={"transaction_type": "top_up", "amount": "10"},
            headers=headers,
        )
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:policy-not-aso"
        assert await _balances(session, insured) == ("0.00", "0.00")

        for body, field in (
            ({"transaction_type": "top_up", "amount": "0"}, "body.amount"),
            ({"transaction_type": "top_up", "amount": "-5"}, "body.amount"),
            ({"transaction_type": "top_up", "amount": "1.001"}, "body.amount"),
            ({"transaction_type": "refund", "amount": "1"}, "body.transaction_type"),
            ({"transaction_type": "top_up", "amount": "1", "fund": "x"}, "body.fund"),
        ):
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == 422, body
            assert [e["field"] for e in response.json()["errors"]] == [field]
        response = await client.post(
            f"{POLICIES}/NOPE/fund-transactions",
            json={"transaction_type": "top_up", "amount": "1"},
            headers=headers,
        )
        assert response.status_code == 404
        assert await _balances(session, number) == ("1000000.10", "250000.00")


async def test_concurrent_top_ups_both_count(engine: AsyncEngine) -> None:
    # Separate connections committing separately: the second UPDATE waits for the first
    # one's row lock, then adds to the committed balance (no lost update).
    maker = async_sessionmaker(engine, expire_on_commit=False)
    plan_code, number = _code("CPL"), _code("CPO")
    async with maker() as s:
        await s.execute(
            text(
                "insert into benefit.plan (plan_code, plan_name, plan_type, effective_date)"
                " values (:c, 'Concurrency', 'basic', '2026-01-01')"
            ),
            {"c": plan_code},
        )
        await s.execute(
            text(
                "insert into policy.policy (policy_number, policy_type, plan_id, effective_date,"
                " renewal_date, funding_type, aso_fund_balance) select :n, 'group', id,"
                " '2026-01-01', '2027-01-01', 'aso', 100.00 from benefit.plan where plan_code = :c"
            ),
            {"n": number, "c": plan_code},
        )
        await s.commit()
    try:

        def top_up(amount: str) -> schemas.FundTransactionCreate:
            return schemas.FundTransactionCreate(transaction_type="top_up", amount=Decimal(amount))

        async with maker() as first, maker() as second:
            moved = await policy_service.move_fund(first, number, top_up("10.01"))
            assert moved.aso_fund_balance == Decimal("110.01")
            waiting = asyncio.create_task(policy_service.move_fund(second, number, top_up("0.99")))
            await asyncio.sleep(0.2)
            assert not waiting.done()  # blocked on the first transaction's row lock
            await first.commit()
            assert (await waiting).aso_fund_balance == Decimal("111.00")
            await second.commit()

        async def one(amount: str) -> None:
            async with maker() as s:
                await policy_service.move_fund(s, number, top_up(amount))
                await s.commit()

        await asyncio.gather(*(one("1.00") for _ in range(5)))
        async with maker() as s:
            balance = await s.scalar(
                text("select aso_fund_balance from policy.policy where policy_number = :n"),
                {"n": number},
            )
        assert balance == Decimal("116.00")
    finally:
        async with maker() as s:
            await s.execute(
                text("delete from policy.policy where policy_number = :n"), {"n": number}
            )
            await s.execute(text("delete from benefit.plan where plan_code = :c"), {"c": plan_code})
            await s.commit()


class TestMembers:
    async def test_enrol_with_two_coverages_and_read_back(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        first = await _policy(client, headers)
        second = await _policy(
            client,
            headers,
            funding_type="full_insured",
            aso_fund_balance="0",
            buffer_fund_balance="0",
        )
        body = member_body(
            [
                coverage(first, plan_code, annual_cap_applicable=True),
                coverage(
                    second,
                    plan_code,
                    coverage_start_date="2026-02-01",
                    coverage_end_date="2026-12-31",
                    inner_limit_applicable=False,
                ),
            ]
        )
        nik = body["national_id"]
        response = await client.post(MEMBERS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        assert nik not in response.text
        assert created["national_id"] == "*" * 12 + nik[-4:]
        assert "national_id_encrypted" not in created
        assert "national_id_hash" not in created
        assert created["status"] == "active"
        got = await client.get(f"{MEMBERS}/{body['member_number']}", headers=headers)
        assert got.status_code == 200
        assert got.json() == created
        assert nik not in got.text
        covs = created["coverages"]
        assert [(c["policy_number"], c["plan_code"], c["relationship"]) for c in covs] == [
            (first, plan_code, "employee"),
            (second, plan_code, "employee"),
        ]
        assert covs[0]["annual_cap_applicable"] is True
        assert covs[0]["inner_limit_applicable"] is True
        assert covs[0]["coverage_end_date"] is None
        assert covs[1]["inner_limit_applicable"] is False
        assert covs[1]["coverage_start_date"] == "2026-02-01"
        assert covs[1]["coverage_end_date"] == "2026-12-31"
        listed = await client.get(MEMBERS, params={"limit": 200}, headers=headers)
        assert listed.status_code == 200
        assert nik not in listed.text

        row = (
            await session.execute(
                text(
                    "select national_id, national_id_encrypted, national_id_hash,"
                    " encryption_key_id from member.member where member_number = :n"
                ),
                {"n": body["member_number"]},
            )
        ).one()
        ring = get_keyring()
        assert row.national_id == "*" * 12 + nik[-4:]
        assert nik.encode() not in bytes(row.national_id_encrypted)
        assert ring.decrypt(row.national_id_encrypted) == nik
        assert row.national_id_hash == ring.blind_index(nik)
        assert row.encryption_key_id == ring.current

        # A dependant on the same policy, next to the employee (as the seed links them).
        spouse = member_body(
            [coverage(first, plan_code, relationship="spouse")], first_name="Sari", gender="female"
        )
        response = await client.post(MEMBERS, json=spouse, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["coverages"][0]["relationship"] == "spouse"

    async def test_duplicate_nik_and_number_are_409_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        number = await _policy(client, headers)
        body = member_body([coverage(number, plan_code)])
        assert (await client.post(MEMBERS, json=body, headers=headers)).status_code == 201
        again = member_body([coverage(number, plan_code)], national_id=body["national_id"])
        response = await client.post(MEMBERS, json=again, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:nik-exists"
        assert body["national_id"] not in response.text
        same_number = member_body(
            [coverage(number, plan_code)], member_number=body["member_number"]
        )
        response = await client.post(MEMBERS, json=same_number, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:member-exists"
        for n in (again["member_number"],):
            count = await _scalar(
                session, "select count(*) from member.member where member_number = :n", n=n
            )
            assert count == 0
        covs = await _scalar(
            session,
            "select count(*) from member.member_coverage c join policy.policy p"
            " on p.id = c.policy_id where p.policy_number = :n",
            n=number,
        )
        assert covs == 1
        # PATCH to another member's NIK is refused too.
        other = member_body([coverage(number, plan_code)])
        assert (await client.post(MEMBERS, json=other, headers=headers)).status_code == 201
        response = await client.patch(
            f"{MEMBERS}/{other['member_number']}",
            json={"national_id": body["national_id"]},
            headers=headers,
        )
        assert response.status_code == 409

    async def test_validation_and_unknown_references(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        number = await _policy(client, headers)
        for overrides, field in (
            ({"national_id": "12345"}, "body.national_id"),
            ({"national_id": "31750101850001AB"}, "body.national_id"),
            ({"gender": "x"}, "body.gender"),
            ({"coverages": []}, "body.coverages"),
            ({"birth_date": "2027-01-01"}, "body"),
        ):
            covs = overrides.pop("coverages", [coverage(number, plan_code)])
            body = member_body(covs, **overrides)
            response = await client.post(MEMBERS, json=body, headers=headers)
            assert response.status_code == 422, (overrides, response.text)
            assert [e["field"] for e in response.json()["errors"]] == [field], overrides
            assert "31750101850001AB" not in response.text
        body = member_body([coverage(number, plan_code, relationship="cousin")])
        response = await client.post(MEMBERS, json=body, headers=headers)
        assert [e["field"] for e in response.json()["errors"]] == ["body.coverages.0.relationship"]

        body = member_body(
            [
                coverage(number, plan_code),
                coverage("NO-POLICY", plan_code),
                coverage(number, "NO-PLAN"),
            ]
        )
        response = await client.post(MEMBERS, json=body, headers=headers)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == "urn:polis:problem:unknown-reference"
        assert [e["field"] for e in problem["errors"]] == [
            "body.coverages.1.policy_number",
            "body.coverages.2.plan_code",
        ]
        # A dependant needs an employee covered on the same policy.
        lonely = await _policy(client, headers)
        body2 = member_body([coverage(lonely, plan_code, relationship="child")])
        response = await client.post(MEMBERS, json=body2, headers=headers)
        assert response.status_code == 422
        assert [e["field"] for e in response.json()["errors"]] == ["body.coverages.0.relationship"]
        for b in (body, body2):
            count = await _scalar(
                session,
                "select count(*) from member.member where member_number = :n",
                n=b["member_number"],
            )
            assert count == 0
        assert (await client.get(f"{MEMBERS}/NOPE", headers=headers)).status_code == 404

    async def test_patch_and_termination_end_coverages(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        plan_code = await _plan(client, headers)
        number = await _policy(client, headers)
        body = member_body(
            [
                coverage(number, plan_code),
                coverage(number, plan_code, coverage_end_date="2026-03-31"),
                coverage(number, plan_code, coverage_start_date="2026-09-01"),
            ]
        )
        assert (await client.post(MEMBERS, json=body, headers=headers)).status_code == 201
        url = f"{MEMBERS}/{body['member_number']}"
        new_nik = _nik()
        response = await client.patch(
            url, json={"city": "Bandung", "national_id": new_nik}, headers=headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["city"] == "Bandung"
        assert response.json()["national_id"] == "*" * 12 + new_nik[-4:]
        assert new_nik not in response.text
        blob = await _scalar(
            session,
            "select national_id_encrypted from member.member where member_number = :n",
            n=body["member_number"],
        )
        assert get_keyring().decrypt(blob) == new_nik
        for change in ({"first_name": None}, {"status": "terminated"}, {"national_id": "1"}):
            assert (await client.patch(url, json=change, headers=headers)).status_code == 422

        response = await client.post(
            f"{url}/termination", json={"termination_date": "2025-06-30"}, headers=headers
        )
        assert response.status_code == 422
        response = await client.post(
            f"{url}/termination", json={"termination_date": "2026-06-30"}, headers=headers
        )
        assert response.status_code == 200, response.text
        member = response.json()
        assert member["status"] == "terminated"
        assert member["termination_date"] == "2026-06-30"
        ends = [(c["coverage_end_date"], c["status"]) for c in member["coverages"]]
        assert ends == [
            ("2026-03-31", "terminated"),
            ("2026-06-30", "terminated"),
            ("2026-09-01", "terminated"),
        ]
        stored = await _scalar(
            session,
            "select count(*) from member.member_coverage c join member.member m"
            " on m.id = c.member_id where m.member_number = :n and c.status = 'active'",
            n=body["member_number"],
        )
        assert stored == 0
        response = await client.post(
            f"{url}/termination", json={"termination_date": "2026-07-31"}, headers=headers
        )
        assert response.status_code == 409
        response = await client.post(
            f"{MEMBERS}/NOPE/termination", json={"termination_date": "2026-07-31"}, headers=headers
        )
        assert response.status_code == 404

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.get(MEMBERS)).status_code == 401
        assert (await client.post(MEMBERS, json={})).status_code == 401
        _, agent = await signed_in(client, session, role="AGENT")
        response = await client.get(MEMBERS, headers=agent)
        assert response.status_code == 403
        assert "health.members:read" in response.json()["detail"]
        _, provider = await signed_in(client, session, role="PROVIDER")
        assert (await client.get(MEMBERS, headers=provider)).status_code == 200
        response = await client.post(MEMBERS, json=member_body([]), headers=provider)
        assert response.status_code == 403
        assert "health.members:write" in response.json()["detail"]
        response = await client.post(
            f"{MEMBERS}/X/termination", json={"termination_date": "2026-01-01"}, headers=provider
        )
        assert response.status_code == 403


async def test_a_concurrent_duplicate_nik_caught_by_the_database_is_409(
    client: AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another request enrolled the same NIK between the check and the insert.
    headers = await _admin(client, session)
    plan_code = await _plan(client, headers)
    number = await _policy(client, headers)
    body = member_body([coverage(number, plan_code)])
    assert (await client.post(MEMBERS, json=body, headers=headers)).status_code == 201

    async def nobody_has_it(*args: Any) -> None:
        return None

    monkeypatch.setattr(member_service, "_check_nik_free", nobody_has_it)
    again = member_body([coverage(number, plan_code)], national_id=body["national_id"])
    response = await client.post(MEMBERS, json=again, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:polis:problem:member-exists"
    count = await _scalar(
        session,
        "select count(*) from member.member where member_number = :n",
        n=again["member_number"],
    )
    assert count == 0
