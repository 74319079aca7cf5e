"""A plan's benefits and exclusions one at a time (decision 0069): add, change, remove through
/health/plans/{code}/benefits and /exclusions. Amounts to the rupiah, the next claim uses a
changed limit while adjudicated claims keep theirs, a benefit in use is not removed, refusals
are 422 field by field and write nothing, every change is audited."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.schemas import BenefitCreate, BenefitUpdate, merged
from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.health.test_balances_api import MEMBERS
from tests.health.test_claims_api import CLAIMS, claim_body
from tests.health.test_config_api import PLANS, plan_body
from tests.iam.factories import signed_in


async def _admin(client: AsyncClient, session: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
    user, headers = await signed_in(client, session, role="ADMIN")
    return user.id, headers


async def _plan(client: AsyncClient, headers: dict[str, str]) -> str:
    body = plan_body()
    response = await client.post(PLANS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return str(body["plan_code"])


async def _world(session: AsyncSession) -> ClaimWorld:
    w = await build_world(session)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _benefit_row(session: AsyncSession, plan_code: str, code: str) -> dict[str, Any] | None:
    row = (
        await session.execute(
            text(
                "select b.id, b.limit_amount::text, b.limit_type, b.copay_amount::text,"
                " b.coinsurance_percentage::text, b.limit_visits, b.waiting_period_days,"
                " b.coverage_type, b.benefit_name"
                " from benefit.plan_benefit b join benefit.plan p on p.id = b.plan_id"
                " where p.plan_code = :p and b.benefit_code = :c"
            ),
            {"p": plan_code, "c": code},
        )
    ).one_or_none()
    return None if row is None else dict(row._mapping)


async def _lines(session: AsyncSession, plan_code: str) -> tuple[int, int]:
    row = (
        await session.execute(
            text(
                "select (select count(*) from benefit.plan_benefit b where b.plan_id = p.id),"
                " (select count(*) from benefit.exclusion e where e.plan_id = p.id)"
                " from benefit.plan p where p.plan_code = :p"
            ),
            {"p": plan_code},
        )
    ).one()
    return int(row[0]), int(row[1])


async def _audit(session: AsyncSession, table: str, record_id: Any) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        text(
            "select operation, user_id, changed_fields from audit.audit_log"
            " where table_name = :t and record_id = :r order by id"
        ),
        {"t": table, "r": str(record_id)},
    )
    return [tuple(r) for r in rows]


async def _audit_count(session: AsyncSession, table: str) -> int:
    return int(
        await session.scalar(
            text("select count(*) from audit.audit_log where table_name = :t"), {"t": table}
        )
        or 0
    )


def _fields(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["type"] == "urn:polis:problem:validation-error"
    return sorted(e["field"] for e in problem["errors"])


class TestBenefits:
    async def test_add_change_and_remove_to_the_rupiah_audited(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        admin_id, headers = await _admin(client, session)
        code = await _plan(client, headers)
        url = f"{PLANS}/{code}/benefits"
        added = await client.post(
            url,
            json={
                "benefit_code": "MAT-NORMAL",
                "benefit_name": "Normal delivery",
                "benefit_category": "maternity",
                "limit_type": "per_incident",
                "limit_amount": 7500000.5,
                "coinsurance_percentage": "12.5",
                "copay_amount": "150000",
                "waiting_period_days": 270,
            },
            headers=headers,
        )
        assert added.status_code == 201, added.text
        benefit = added.json()
        assert benefit["benefit_code"] == "MAT-NORMAL"
        assert (benefit["limit_amount"], benefit["coinsurance_percentage"]) == (
            "7500000.50",
            "12.50",
        )
        assert (benefit["copay_amount"], benefit["coverage_type"]) == ("150000.00", "covered")
        assert benefit["in_network_covered"] is True and benefit["out_network_covered"] is False
        plan = (await client.get(f"{PLANS}/{code}", headers=headers)).json()
        assert [b["benefit_code"] for b in plan["benefits"]] == [
            "DEN-BASIC",
            "IP-ROOM",
            "MAT-NORMAL",
            "OP-GP",
        ]

        changed = await client.patch(
            f"{url}/MAT-NORMAL",
            json={"limit_amount": "8000000.25", "limit_visits": 2, "copay_amount": 0},
            headers=headers,
        )
        assert changed.status_code == 200, changed.text
        after = changed.json()
        assert (after["limit_amount"], after["limit_visits"], after["copay_amount"]) == (
            "8000000.25",
            2,
            "0.00",
        )
        # Fields not sent are kept.
        assert after["coinsurance_percentage"] == "12.50"
        assert after["waiting_period_days"] == 270
        assert after["benefit_name"] == "Normal delivery"
        row = await _benefit_row(session, code, "MAT-NORMAL")
        assert row is not None and row["limit_amount"] == "8000000.25"
        # Clearing an optional limit empties it.
        cleared = await client.patch(
            f"{url}/MAT-NORMAL", json={"limit_visits": None}, headers=headers
        )
        assert cleared.status_code == 200 and cleared.json()["limit_visits"] is None

        removed = await client.delete(f"{url}/MAT-NORMAL", headers=headers)
        assert removed.status_code == 204 and removed.content == b""
        assert await _benefit_row(session, code, "MAT-NORMAL") is None
        assert await _lines(session, code) == (3, 1)
        again = await client.delete(f"{url}/MAT-NORMAL", headers=headers)
        assert again.status_code == 404

        audit = await _audit(session, "benefit.plan_benefit", benefit["id"])
        assert [a[0] for a in audit] == ["INSERT", "UPDATE", "UPDATE", "DELETE"]
        assert all(a[1] == admin_id for a in audit)
        assert audit[1][2] == ["copay_amount", "limit_amount", "limit_visits"]
        assert audit[2][2] == ["limit_visits"]

    async def test_a_changed_limit_is_used_by_the_next_claim_only(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        admin_id, headers = await _admin(client, session)
        first = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert first.status_code == 201, first.text
        # 1,000,000 less 10% = 900,000; deductible 500,000, copay 50,000, coinsurance 35,000.
        assert (first.json()["total_approved_amount"], first.json()["total_paid_amount"]) == (
            "900000.00",
            "315000.00",
        )
        url = f"{PLANS}/{w.plan.plan_code}/benefits/OP-GP"
        changed = await client.patch(
            url, json={"limit_amount": "400000", "copay_amount": "25000.00"}, headers=headers
        )
        assert changed.status_code == 200, changed.text
        # This year's accumulator shows the new limit; what claims used is kept.
        acc = await self._accumulator(session, w)
        assert acc == ("400000.00", "315000.00", "85000.00")
        acc_id = await session.scalar(
            text(
                "select id from member.accumulator where member_id = :m"
                " and benefit_code = 'OP-GP' and year = 2025"
            ),
            {"m": w.member.id},
        )
        audit = await _audit(session, "member.accumulator", acc_id)
        assert audit[-1][0] == "UPDATE" and audit[-1][1] == admin_id
        assert {"limit_amount", "remaining_amount"} <= set(audit[-1][2])

        second = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert second.status_code == 201, second.text
        line = second.json()["items"][0]
        # No deductible left; copay 25,000 (new), coinsurance 10% of 875,000 = 87,500; the
        # plan's share 787,500 is capped by what the new limit leaves: 400,000 - 315,000.
        assert (line["copay_amount"], line["coinsurance_amount"], line["paid_amount"]) == (
            "25000.00",
            "87500.00",
            "85000.00",
        )
        assert line["approved_amount"] == "197500.00"
        assert second.json()["status"] == "partially_approved"
        assert await self._accumulator(session, w) == ("400000.00", "400000.00", "0.00")
        # The claim adjudicated before the change is as it was.
        before = (await client.get(f"{CLAIMS}/{first.json()['id']}", headers=staff)).json()
        assert (before["total_approved_amount"], before["total_paid_amount"]) == (
            "900000.00",
            "315000.00",
        )
        assert before["items"][0]["copay_amount"] == "50000.00"

    @staticmethod
    async def _accumulator(session: AsyncSession, w: ClaimWorld) -> tuple[str, str, str]:
        row = (
            await session.execute(
                text(
                    "select limit_amount::text, used_amount::text, remaining_amount::text"
                    " from member.accumulator where member_id = :m and benefit_code = 'OP-GP'"
                    " and year = 2025"
                ),
                {"m": w.member.id},
            )
        ).one()
        return row[0], row[1], row[2]

    async def test_a_benefit_in_use_is_deactivated_not_removed(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, headers = await _admin(client, session)
        assert (await client.post(CLAIMS, json=claim_body(w), headers=staff)).status_code == 201
        url = f"{PLANS}/{w.plan.plan_code}/benefits"
        audited = await _audit_count(session, "benefit.plan_benefit")
        refused = await client.delete(f"{url}/OP-GP", headers=headers)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"] == "application/problem+json"
        problem = refused.json()
        assert problem["type"] == "urn:polis:problem:benefit-in-use"
        assert "deactivate" in problem["detail"]
        assert await _benefit_row(session, w.plan.plan_code, "OP-GP") is not None
        assert await _audit_count(session, "benefit.plan_benefit") == audited
        # An accumulator row alone is use too.
        await session.execute(
            text(
                "insert into member.accumulator (member_id, plan_id, benefit_code, year)"
                " values (:m, :p, 'IP-ROOM', 2024)"
            ),
            {"m": w.member.id, "p": w.plan.id},
        )
        await session.commit()
        assert (await client.delete(f"{url}/IP-ROOM", headers=headers)).status_code == 409
        # A benefit nobody claimed goes.
        assert (await client.delete(f"{url}/DENT", headers=headers)).status_code == 204
        assert await _benefit_row(session, w.plan.plan_code, "DENT") is None
        # Deactivated: the next claim on it is denied as not covered.
        off = await client.patch(
            f"{url}/OP-GP", json={"coverage_type": "not_covered"}, headers=headers
        )
        assert off.status_code == 200 and off.json()["coverage_type"] == "not_covered"
        denied = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert denied.status_code == 201, denied.text
        item = denied.json()["items"][0]
        assert (item["status"], item["denial_reason"], item["paid_amount"]) == (
            "denied",
            "not_covered",
            "0.00",
        )

    async def test_refusals_are_422_field_by_field_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await _admin(client, session)
        code = await _plan(client, headers)
        url = f"{PLANS}/{code}/benefits"
        audited = await _audit_count(session, "benefit.plan_benefit")
        new = {"benefit_code": "PHYSIO", "benefit_name": "Physiotherapy", "benefit_category": "op"}
        bad = {**new, "limit_amount": "-1.00", "limit_type": "per_century"}
        response = await client.post(url, json=bad, headers=headers)
        assert _fields(response) == ["body.limit_amount", "body.limit_type"]
        assert "-1.00" not in response.text
        taken = await client.post(url, json={**new, "benefit_code": "OP-GP"}, headers=headers)
        assert _fields(taken) == ["body.benefit_code"]
        assert "benefit_code must be unique within a plan: OP-GP" in taken.text
        for change, fields in (
            ({"limit_amount": "-5"}, ["body.limit_amount"]),
            (
                {"limit_type": "per_century", "limit_days": -1},
                ["body.limit_days", "body.limit_type"],
            ),
            ({"coinsurance_percentage": 101}, ["body.coinsurance_percentage"]),
            ({"copay_amount": "1.001"}, ["body.copay_amount"]),
            ({"coinsurance_percentage": None}, ["body.coinsurance_percentage"]),
            ({"benefit_name": None}, ["body.benefit_name"]),
            ({"benefit_code": "RENAMED"}, ["body.benefit_code"]),
        ):
            response = await client.patch(f"{url}/OP-GP", json=change, headers=headers)
            assert _fields(response) == fields, change
        nulled = await client.patch(f"{url}/OP-GP", json={"benefit_name": None}, headers=headers)
        assert nulled.json()["errors"][0]["message"] == "benefit_name cannot be null"
        row = await _benefit_row(session, code, "OP-GP")
        assert row is not None
        assert (row["limit_amount"], row["copay_amount"], row["benefit_name"]) == (
            "300000.10",
            "25000.00",
            "GP consultation",
        )
        assert await _lines(session, code) == (3, 1)
        assert await _audit_count(session, "benefit.plan_benefit") == audited

    async def test_unknown_plan_or_benefit_is_404(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await _admin(client, session)
        code = await _plan(client, headers)
        new = {"benefit_code": "X", "benefit_name": "X", "benefit_category": "x"}
        for method, url, body in (
            ("POST", f"{PLANS}/NO-SUCH/benefits", new),
            ("PATCH", f"{PLANS}/NO-SUCH/benefits/OP-GP", {"copay_amount": 1}),
            ("PATCH", f"{PLANS}/{code}/benefits/NO-SUCH", {"copay_amount": 1}),
            ("DELETE", f"{PLANS}/{code}/benefits/NO-SUCH", None),
            (
                "POST",
                f"{PLANS}/NO-SUCH/exclusions",
                {"exclusion_code": "E", "exclusion_description": "d"},
            ),
            ("PATCH", f"{PLANS}/{code}/exclusions/{uuid.uuid4()}", {"icd_code": "Z41"}),
            ("DELETE", f"{PLANS}/{code}/exclusions/{uuid.uuid4()}", None),
        ):
            response = await client.request(method, url, json=body, headers=headers)
            assert response.status_code == 404, (method, url, response.text)
            assert response.json()["type"] == "urn:polis:problem:not-found"

    async def test_only_health_config_write_may_change_benefits(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await _admin(client, session)
        code = await _plan(client, headers)
        plan = (await client.get(f"{PLANS}/{code}", headers=headers)).json()
        exclusion = plan["exclusions"][0]["id"]
        for role in ("MEMBER", "CLAIMS_PROCESSOR"):
            _, other = await signed_in(client, session, role=role)
            new = {"benefit_code": "X", "benefit_name": "X", "benefit_category": "x"}
            for method, url, body in (
                ("POST", f"{PLANS}/{code}/benefits", new),
                ("PATCH", f"{PLANS}/{code}/benefits/OP-GP", {"copay_amount": 1}),
                ("DELETE", f"{PLANS}/{code}/benefits/OP-GP", None),
                (
                    "POST",
                    f"{PLANS}/{code}/exclusions",
                    {"exclusion_code": "E", "exclusion_description": "d"},
                ),
                ("PATCH", f"{PLANS}/{code}/exclusions/{exclusion}", {"icd_code": "Z42"}),
                ("DELETE", f"{PLANS}/{code}/exclusions/{exclusion}", None),
            ):
                response = await client.request(method, url, json=body, headers=other)
                assert response.status_code == 403, (role, method, url)
                assert "health.config:write" in response.json()["detail"]
        assert await _lines(session, code) == (3, 1)
        row = await _benefit_row(session, code, "OP-GP")
        assert row is not None and row["copay_amount"] == "25000.00"


class TestExclusions:
    async def test_add_change_remove_and_the_next_claim(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        admin_id, headers = await _admin(client, session)
        first = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert first.status_code == 201 and first.json()["total_paid_amount"] == "315000.00"
        url = f"{PLANS}/{w.plan.plan_code}/exclusions"
        body = {
            "exclusion_code": "EX-URI",
            "exclusion_description": "Upper respiratory infections",
            "exclusion_type": "diagnosis",
            "icd_code": "J06",
            "effective_date": "2025-01-01",
        }
        key = {"Idempotency-Key": str(uuid.uuid4())}
        added = await client.post(url, json=body, headers={**headers, **key})
        assert added.status_code == 201, added.text
        replay = await client.post(url, json=body, headers={**headers, **key})
        assert replay.status_code == 201 and replay.json() == added.json()
        exclusion = added.json()
        assert exclusion["exclusion_code"] == "EX-URI" and exclusion["termination_date"] is None
        assert await _lines(session, w.plan.plan_code) == (3, 1)
        # The next claim with J06.9 is excluded; the one adjudicated before is not revisited.
        excluded = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert excluded.status_code == 201, excluded.text
        item = excluded.json()["items"][0]
        assert (item["status"], item["paid_amount"]) == ("denied", "0.00")
        assert item["denial_reason"] == "excluded"
        before = (await client.get(f"{CLAIMS}/{first.json()['id']}", headers=staff)).json()
        assert before["total_paid_amount"] == "315000.00"

        one = f"{url}/{exclusion['id']}"
        refused = await client.patch(one, json={"termination_date": "2024-12-31"}, headers=headers)
        assert _fields(refused) == ["body"]  # ends before the stored effective date
        assert _fields(
            await client.patch(one, json={"exclusion_type": "mood"}, headers=headers)
        ) == ["body.exclusion_type"]
        assert _fields(await client.patch(one, json={"exclusion_code": None}, headers=headers)) == [
            "body.exclusion_code"
        ]
        changed = await client.patch(
            one,
            json={"exclusion_code": "EX-J06", "termination_date": "2025-06-30"},
            headers=headers,
        )
        assert changed.status_code == 200, changed.text
        assert (changed.json()["exclusion_code"], changed.json()["termination_date"]) == (
            "EX-J06",
            "2025-06-30",
        )
        assert changed.json()["icd_code"] == "J06"
        removed = await client.delete(one, headers=headers)
        assert removed.status_code == 204
        assert await _lines(session, w.plan.plan_code) == (3, 0)
        again = await client.post(CLAIMS, json=claim_body(w), headers=staff)
        assert again.json()["items"][0]["status"] == "approved"
        audit = await _audit(session, "benefit.exclusion", exclusion["id"])
        assert [a[0] for a in audit] == ["INSERT", "UPDATE", "DELETE"]
        assert all(a[1] == admin_id for a in audit)
        assert audit[1][2] == ["exclusion_code", "termination_date"]

    async def test_another_plans_exclusion_is_404(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await _admin(client, session)
        mine, theirs = await _plan(client, headers), await _plan(client, headers)
        other = (await client.get(f"{PLANS}/{theirs}", headers=headers)).json()["exclusions"][0]
        url = f"{PLANS}/{mine}/exclusions/{other['id']}"
        assert (
            await client.patch(url, json={"icd_code": "Z42"}, headers=headers)
        ).status_code == 404
        assert (await client.delete(url, headers=headers)).status_code == 404
        assert await _lines(session, theirs) == (3, 1)


# --- the plan's own limits: plan-level accumulator rows follow (0069, addendum) -----------

_PLAN_ROWS = text(
    "select year, limit_amount::text, used_amount::text, remaining_amount::text,"
    " deductible_limit::text, deductible_met::text from member.accumulator"
    " where member_id = :m and plan_id = :p and benefit_code is null order by year"
)


async def _plan_rows(session: AsyncSession, w: ClaimWorld) -> list[tuple[Any, ...]]:
    """The member's plan-level rows: (year, limit, used, remaining, deductible limit, met)."""
    rows = await session.execute(_PLAN_ROWS, {"m": w.member.id, "p": w.plan.id})
    return [tuple(r) for r in rows]


async def _capped_world(session: AsyncSession) -> ClaimWorld:
    """build_world (annual limit 100,000,000, deductible 500,000) with the annual cap on."""
    w = await build_world(session)
    await session.execute(
        text("update member.member_coverage set annual_cap_applicable = true where member_id = :m"),
        {"m": w.member.id},
    )
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _plan_balance(
    client: AsyncClient, headers: dict[str, str], w: ClaimWorld, year: int
) -> dict[str, Any]:
    response = await client.get(
        f"{MEMBERS}/{w.member.member_number}/benefits", params={"year": year}, headers=headers
    )
    assert response.status_code == 200, response.text
    (plan,) = response.json()["plans"]
    assert plan["plan_code"] == w.plan.plan_code
    return dict(plan)


async def _claim(client: AsyncClient, headers: dict[str, str], w: ClaimWorld, day: str) -> Any:
    response = await client.post(CLAIMS, json=claim_body(w, service_date=day), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


class TestPlanLimits:
    async def test_annual_limit_up_and_down_restates_every_years_plan_level_rows(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _capped_world(session)
        other = await _capped_world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        admin_id, headers = await _admin(client, session)
        # Each claim: 1,000,000 less 10% = 900,000; deductible 500,000, copay 50,000,
        # coinsurance 35,000; the plan pays 315,000 (the plan-level row's used amount).
        for world, day in ((w, "2024-06-01"), (w, "2025-03-10"), (other, "2025-03-10")):
            assert (await _claim(client, staff, world, day))["total_paid_amount"] == "315000.00"
        assert await _plan_rows(session, w) == [
            (2024, "100000000.00", "315000.00", "99685000.00", "500000.00", "500000.00"),
            (2025, "100000000.00", "315000.00", "99685000.00", "500000.00", "500000.00"),
        ]
        op_gp = await TestBenefits._accumulator(session, w)
        url = f"{PLANS}/{w.plan.plan_code}"

        raised = await client.patch(url, json={"annual_limit": "150000000.50"}, headers=headers)
        assert raised.status_code == 200, raised.text
        assert raised.json()["annual_limit"] == "150000000.50"
        # Every year's row takes the new limit; used and deductible met do not move.
        assert await _plan_rows(session, w) == [
            (2024, "150000000.50", "315000.00", "149685000.50", "500000.00", "500000.00"),
            (2025, "150000000.50", "315000.00", "149685000.50", "500000.00", "500000.00"),
        ]
        for year in (2024, 2025):
            balance = await _plan_balance(client, staff, w, year)
            assert (
                balance["annual_limit"],
                balance["annual_used"],
                balance["annual_remaining"],
            ) == ("150000000.50", "315000.00", "149685000.50")
        # Another plan's rows and the plan's benefit rows are not touched.
        assert await _plan_rows(session, other) == [
            (2025, "100000000.00", "315000.00", "99685000.00", "500000.00", "500000.00"),
        ]
        assert await TestBenefits._accumulator(session, w) == op_gp
        acc_id = await session.scalar(
            text(
                "select id from member.accumulator where member_id = :m and plan_id = :p"
                " and benefit_code is null and year = 2025"
            ),
            {"m": w.member.id, "p": w.plan.id},
        )
        audit = await _audit(session, "member.accumulator", acc_id)
        assert audit[-1][0] == "UPDATE" and audit[-1][1] == admin_id
        assert {"limit_amount", "remaining_amount"} <= set(audit[-1][2])
        assert not {"used_amount", "deductible_met", "deductible_limit"} & set(audit[-1][2])

        lowered = await client.patch(url, json={"annual_limit": "400000"}, headers=headers)
        assert lowered.status_code == 200, lowered.text
        assert await _plan_rows(session, w) == [
            (2024, "400000.00", "315000.00", "85000.00", "500000.00", "500000.00"),
            (2025, "400000.00", "315000.00", "85000.00", "500000.00", "500000.00"),
        ]
        balance = await _plan_balance(client, staff, w, 2025)
        assert (balance["annual_limit"], balance["annual_remaining"]) == ("400000.00", "85000.00")
        # The next claim is cut at the new limit: no deductible left, copay 50,000,
        # coinsurance 10% of 850,000 = 85,000; the plan's 765,000 is capped by what the
        # annual limit leaves: 400,000 - 315,000 = 85,000.
        cut = await _claim(client, staff, w, "2025-04-01")
        line = cut["items"][0]
        assert (line["deductible_amount"], line["copay_amount"], line["coinsurance_amount"]) == (
            "0.00",
            "50000.00",
            "85000.00",
        )
        assert (line["paid_amount"], line["approved_amount"]) == ("85000.00", "220000.00")
        assert cut["status"] == "partially_approved"
        assert (await _plan_rows(session, w))[1] == (
            2025,
            "400000.00",
            "400000.00",
            "0.00",
            "500000.00",
            "500000.00",
        )

        # Below what was used: the remaining is negative, and the next claim is denied.
        below = await client.patch(url, json={"annual_limit": "300000.00"}, headers=headers)
        assert below.status_code == 200, below.text
        assert await _plan_rows(session, w) == [
            (2024, "300000.00", "315000.00", "-15000.00", "500000.00", "500000.00"),
            (2025, "300000.00", "400000.00", "-100000.00", "500000.00", "500000.00"),
        ]
        balance = await _plan_balance(client, staff, w, 2025)
        assert (balance["annual_used"], balance["annual_remaining"]) == ("400000.00", "-100000.00")
        denied = (await _claim(client, staff, w, "2024-07-01"))["items"][0]
        assert (denied["status"], denied["denial_reason"], denied["paid_amount"]) == (
            "denied",
            "annual_limit",
            "0.00",
        )
        assert (await _plan_rows(session, w))[0][2:4] == ("315000.00", "-15000.00")

    async def test_individual_deductible_change_restates_the_deductible_limit(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _capped_world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, headers = await _admin(client, session)
        await _claim(client, staff, w, "2025-03-10")
        url = f"{PLANS}/{w.plan.plan_code}"
        raised = await client.patch(
            url, json={"individual_deductible": "750000.25"}, headers=headers
        )
        assert raised.status_code == 200, raised.text
        # The deductible limit follows; met, used and the annual limit do not move.
        assert await _plan_rows(session, w) == [
            (2025, "100000000.00", "315000.00", "99685000.00", "750000.25", "500000.00"),
        ]
        balance = await _plan_balance(client, staff, w, 2025)
        assert (
            balance["individual_deductible"],
            balance["deductible_met"],
            balance["deductible_remaining"],
        ) == ("750000.25", "500000.00", "250000.25")
        # The next claim takes the rest of the new deductible: 900,000 allowed, deductible
        # 250,000.25, copay 50,000, coinsurance 10% of 599,999.75 = 59,999.98 (to the
        # sen), the plan pays 539,999.77.
        line = (await _claim(client, staff, w, "2025-04-01"))["items"][0]
        assert (line["deductible_amount"], line["copay_amount"]) == ("250000.25", "50000.00")
        assert (line["coinsurance_amount"], line["paid_amount"]) == ("59999.98", "539999.77")
        assert await _plan_rows(session, w) == [
            (2025, "100000000.00", "854999.77", "99145000.23", "750000.25", "750000.25"),
        ]

        # Lowered below what was met: the limit follows, met stays, nothing left to meet.
        lowered = await client.patch(url, json={"individual_deductible": 0}, headers=headers)
        assert lowered.status_code == 200, lowered.text
        assert (await _plan_rows(session, w))[0][4:] == ("0.00", "750000.25")
        balance = await _plan_balance(client, staff, w, 2025)
        assert (balance["individual_deductible"], balance["deductible_remaining"]) == (
            "0.00",
            "0.00",
        )

    async def test_a_patch_changing_neither_writes_no_accumulator_row(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _capped_world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, headers = await _admin(client, session)
        await _claim(client, staff, w, "2025-03-10")
        before = await _plan_rows(session, w)
        url = f"{PLANS}/{w.plan.plan_code}"
        for change in (
            {"plan_name": "Gold Plus", "family_deductible": "1000000", "lifetime_limit": 9},
            # Sent but equal to what the rows hold (another scale): nothing to restate.
            {"annual_limit": "100000000", "individual_deductible": "500000.0"},
        ):
            request_id = str(uuid.uuid4())
            response = await client.patch(
                url, json=change, headers={**headers, "X-Request-ID": request_id}
            )
            assert response.status_code == 200, response.text
            written = await session.execute(
                text(
                    "select table_name, count(*) from audit.audit_log where request_id = :r"
                    " group by table_name"
                ),
                {"r": request_id},
            )
            tables = dict(written.all())
            assert "member.accumulator" not in tables, change
            if "plan_name" in change:  # the request's own writes are found by its id
                assert tables == {"benefit.plan": 1}
        assert await _plan_rows(session, w) == before


# --- PATCH validates as create does -------------------------------------------------------

_STORED = BenefitCreate(
    benefit_code="OP-GP",
    benefit_name="GP visit",
    benefit_category="outpatient",
    limit_type="per_year",
    limit_amount=Decimal("2000000.00"),
    coinsurance_percentage=Decimal("10"),
)
_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "benefit_name": st.sampled_from(["", "Dental", "x" * 256, None]),
    "coverage_type": st.sampled_from(["covered", "not_covered", "limited", "gold", None]),
    "limit_type": st.sampled_from(["per_incident", "per_day", "per_year", "per_century", None]),
    "limit_amount": st.one_of(
        st.none(),
        st.decimals(min_value=-10, max_value=10**9, places=3, allow_nan=False),
        st.sampled_from(["abc", "1,000"]),
    ),
    "limit_days": st.one_of(st.none(), st.integers(-3, 400)),
    "coinsurance_percentage": st.one_of(st.none(), st.integers(-5, 105)),
    "copay_amount": st.one_of(st.none(), st.decimals(-1, 10**6, places=2, allow_nan=False)),
    "requires_authorization": st.one_of(st.none(), st.booleans()),
    "waiting_period_days": st.one_of(st.none(), st.integers(-2, 400)),
}


def _accepted(make: Any) -> Any:
    try:
        return make()
    except ValidationError:
        return None


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional=_VALUES))
def test_a_patch_is_accepted_exactly_when_create_accepts_the_benefit_it_leaves(
    changes: dict[str, Any],
) -> None:
    def patched() -> BenefitCreate:
        update = BenefitUpdate.model_validate(changes)
        return merged(BenefitCreate, _STORED, update.model_dump(exclude_unset=True))

    created = _accepted(lambda: BenefitCreate.model_validate({**_STORED.model_dump(), **changes}))
    via_patch = _accepted(patched)
    assert (via_patch is None) == (created is None), changes
    if created is not None:
        assert via_patch == created
