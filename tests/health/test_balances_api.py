"""A member's eligibility and benefit balances (decision 0019): the eligibility answer agrees
with what adjudication does on the same date, provider and claim type; the balances read the
accumulators adjudication writes, to the rupiah, and agree with
benefit.calculate_remaining_benefit."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from httpx import AsyncClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import rules
from polis.health.adjudication import ClaimLineRequest, submit_claim
from polis.health.models import (
    Member,
    MemberCoverage,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)
from polis.platform.errors import BusinessRuleError
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request
from tests.health.test_schema import add_member, cover
from tests.iam.factories import signed_in

D = Decimal
MEMBERS = "/api/v1/health/members"
DAY = date(2025, 3, 10)


def _jakarta_today() -> date:
    return datetime.now(ZoneInfo("Asia/Jakarta")).date()


async def _world(session: AsyncSession, **kw: Any) -> ClaimWorld:
    w = await build_world(session, **kw)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _staff(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    return headers


async def _eligibility(
    client: AsyncClient, headers: dict[str, str], member_number: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"{MEMBERS}/{member_number}/eligibility", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _benefits(
    client: AsyncClient, headers: dict[str, str], member_number: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(
        f"{MEMBERS}/{member_number}/benefits", params=params, headers=headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _remaining(session: AsyncSession, member_id: uuid.UUID, code: str, year: int) -> str:
    """The seed's SQL function's answer, as a 2-place string."""
    value = await session.scalar(
        text("select benefit.calculate_remaining_benefit(:m, :b, :y)::numeric(15, 2)::text"),
        {"m": member_id, "b": code, "y": year},
    )
    return str(value)


# --- eligibility --------------------------------------------------------------------------


class TestEligibility:
    async def test_eligible_member_with_provider(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        body = await _eligibility(
            client,
            headers,
            w.member.member_number,
            date="2025-03-10",
            provider_code=w.provider.provider_code,
        )
        assert body == {
            "member_number": w.member.member_number,
            "date": "2025-03-10",
            "claim_type": "cashless",
            "eligible": True,
            "reasons": [],
            "status": "active",
            "coverages": [
                {
                    "policy_number": w.policy.policy_number,
                    "plan_code": w.plan.plan_code,
                    "relationship": "employee",
                    "coverage_start_date": "2020-01-01",
                    "coverage_end_date": None,
                    "inner_limit_applicable": True,
                    "annual_cap_applicable": False,
                    "status": "active",
                    "policy_status": "active",
                    "funding_type": "full_insured",
                }
            ],
            "provider": {
                "provider_code": w.provider.provider_code,
                "provider_name": "RS Medika Jakarta",
                "is_network": True,
                "status": "active",
                "contract_number": body["provider"]["contract_number"],
                "contract_active": True,
                "claim_types": ["cashless", "reimbursement"],
            },
        }
        assert body["provider"]["contract_number"].startswith("CTR-")

    async def test_without_provider_and_date_defaults_to_today(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        body = await _eligibility(client, headers, w.member.member_number)
        assert body["date"] in {
            _jakarta_today().isoformat(),
            (_jakarta_today() + timedelta(days=1)).isoformat(),  # midnight between calls
        }
        assert (body["eligible"], body["reasons"], body["provider"], body["claim_type"]) == (
            True,
            [],
            None,
            None,
        )

    async def test_a_day_outside_every_coverage(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        body = await _eligibility(client, headers, w.member.member_number, date="2019-12-31")
        assert body["eligible"] is False
        assert body["coverages"] == []
        assert body["reasons"] == [
            {"code": "coverage_inactive", "message": "no coverage on 2019-12-31"}
        ]
        # Adjudication refuses such a claim outright (422 no-coverage, decision 0016).
        with pytest.raises(BusinessRuleError) as refused:
            await submit_claim(session, request(w, service_date=date(2019, 12, 31)))
        assert refused.value.type_ == "no-coverage"

    async def test_a_member_without_any_coverage(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        member = await add_member(session, status="suspended")
        await session.commit()
        headers = await _staff(client, session)
        body = await _eligibility(client, headers, member.member_number, date="2025-03-10")
        assert (body["eligible"], body["status"], body["coverages"]) == (False, "suspended", [])
        assert [r["code"] for r in body["reasons"]] == ["member_inactive", "coverage_inactive"]

    @pytest.mark.parametrize(
        ("case", "claim_type", "expected"),
        [
            ("as_is", "cashless", []),
            ("member_suspended", "cashless", ["member_inactive"]),
            ("coverage_suspended", "cashless", ["coverage_inactive"]),
            ("policy_lapsed", "cashless", ["policy_inactive"]),
            ("member_and_policy", "cashless", ["member_inactive", "policy_inactive"]),
            ("contract_ended", "cashless", ["no_provider_contract"]),
            ("contract_ended", "reimbursement", []),
            ("contract_suspended", "reimbursement", ["contract_inactive"]),
            ("no_contract", "cashless", ["no_provider_contract"]),
            ("no_contract", "reimbursement", []),
            ("no_cashless", "cashless", ["claim_type_not_allowed"]),
            ("no_cashless", "reimbursement", []),
        ],
    )
    async def test_agrees_with_adjudication(
        self,
        client: AsyncClient,
        session: AsyncSession,
        case: str,
        claim_type: str,
        expected: list[str],
    ) -> None:
        w = await _world(session)
        contracts = update(ProviderContract).where(ProviderContract.provider_id == w.provider.id)
        changes: dict[str, list[Any]] = {
            "as_is": [],
            "member_suspended": [
                update(Member).where(Member.id == w.member.id).values(status="suspended")
            ],
            "coverage_suspended": [
                update(MemberCoverage)
                .where(MemberCoverage.member_id == w.member.id)
                .values(status="suspended")
            ],
            "policy_lapsed": [
                update(Policy).where(Policy.id == w.policy.id).values(status="lapsed")
            ],
            "member_and_policy": [
                update(Member).where(Member.id == w.member.id).values(status="suspended"),
                update(Policy).where(Policy.id == w.policy.id).values(status="lapsed"),
            ],
            "contract_ended": [contracts.values(expiry_date=date(2025, 3, 9))],
            "contract_suspended": [contracts.values(status="suspended")],
            "no_contract": [
                text("delete from provider.provider_contract where provider_id = :p").bindparams(
                    p=w.provider.id
                )
            ],
            "no_cashless": [contracts.values(cashless_enabled=False)],
        }
        for change in changes[case]:
            await session.execute(change)
        await session.commit()
        headers = await _staff(client, session)
        body = await _eligibility(
            client,
            headers,
            w.member.member_number,
            date=DAY.isoformat(),
            provider_code=w.provider.provider_code,
            claim_type=claim_type,
        )
        assert [r["code"] for r in body["reasons"]] == expected
        assert body["eligible"] is (not expected)
        assert body["claim_type"] == claim_type

        # The same claim, adjudicated: denied with the first reason, or past eligibility.
        outcome = await submit_claim(session, request(w, claim_type=claim_type))
        (line,) = outcome.result.lines
        if expected:
            assert (line.status, line.denial_reason) == ("denied", expected[0])
            assert line.trace[-1].message == body["reasons"][0]["message"]
        else:
            assert line.trace[0].code == "eligibility"

    async def test_contract_block_when_the_contract_is_not_active(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await session.execute(
            update(ProviderContract)
            .where(ProviderContract.provider_id == w.provider.id)
            .values(reimbursement_enabled=False)
        )
        other = Provider(
            provider_code=f"PRV-{uuid.uuid4().hex[:10]}",
            provider_name="Klinik Sehat",
            provider_type="clinic",
            is_network=False,
        )
        session.add(other)
        await session.commit()
        headers = await _staff(client, session)
        body = await _eligibility(
            client,
            headers,
            w.member.member_number,
            date="2025-03-10",
            provider_code=w.provider.provider_code,
        )
        assert (body["provider"]["contract_active"], body["provider"]["claim_types"]) == (
            True,
            ["cashless"],
        )
        body = await _eligibility(
            client,
            headers,
            w.member.member_number,
            date="2031-01-01",
            provider_code=w.provider.provider_code,
        )
        # The only contract ended 2030-12-31: adjudication finds none for that day.
        assert body["provider"]["contract_number"] is None
        assert (body["provider"]["contract_active"], body["provider"]["claim_types"]) == (
            False,
            [],
        )
        assert [r["code"] for r in body["reasons"]] == ["no_provider_contract"]
        body = await _eligibility(
            client,
            headers,
            w.member.member_number,
            date="2025-03-10",
            provider_code=other.provider_code,
            claim_type="reimbursement",
        )
        assert body["eligible"] is True
        assert body["provider"]["is_network"] is False
        assert body["provider"]["contract_number"] is None

    async def test_unknown_member_or_provider_and_bad_input(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        response = await client.get(f"{MEMBERS}/MBR-NOPE/eligibility", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("member-not-found")
        response = await client.get(
            f"{MEMBERS}/{w.member.member_number}/eligibility",
            params={"provider_code": "PRV-NOPE"},
            headers=headers,
        )
        assert response.status_code == 404
        assert response.json()["type"].endswith("provider-not-found")
        for params in ({"date": "2025-02-30"}, {"date": "soon"}, {"claim_type": "walk_in"}):
            response = await client.get(
                f"{MEMBERS}/{w.member.member_number}/eligibility", params=params, headers=headers
            )
            assert response.status_code == 422, params
            assert response.headers["content-type"].startswith("application/problem+json")

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        url = f"{MEMBERS}/{w.member.member_number}/eligibility"
        assert (await client.get(url)).status_code == 401
        _, member = await signed_in(client, session, role="MEMBER")
        response = await client.get(url, headers=member)
        assert response.status_code == 403
        assert "health.members:read" in response.json()["detail"]
        _, provider = await signed_in(client, session, role="PROVIDER")
        assert (await client.get(url, headers=provider)).status_code == 200


class TestEligibilityRule:
    """polis.health.rules.eligibility_reasons is the engine's own step: its first reason is
    the denial of any line, and no reason means the line gets past eligibility."""

    @given(
        member_status=st.sampled_from(["active", "suspended", "terminated"]),
        coverage_status=st.sampled_from(["active", "suspended"]),
        policy_status=st.sampled_from(["active", "lapsed"]),
        start=st.dates(date(2024, 1, 1), date(2025, 12, 31)),
        length=st.none() | st.integers(0, 800),
        day=st.dates(date(2024, 1, 1), date(2026, 12, 31)),
        claim_type=st.sampled_from(["cashless", "reimbursement"]),
        contract=st.none()
        | st.builds(
            rules.ProviderContractFacts,
            effective_date=st.dates(date(2024, 1, 1), date(2025, 12, 31)),
            expiry_date=st.dates(date(2025, 1, 1), date(2026, 12, 31)),
            status=st.sampled_from(["active", "expired"]),
            cashless_enabled=st.booleans(),
            reimbursement_enabled=st.booleans(),
        ),
    )
    def test_first_reason_is_the_engines_denial(
        self,
        member_status: str,
        coverage_status: str,
        policy_status: str,
        start: date,
        length: int | None,
        day: date,
        claim_type: rules.ClaimType,
        contract: rules.ProviderContractFacts | None,
    ) -> None:
        coverage = rules.CoverageFacts(
            coverage_start_date=start,
            coverage_end_date=None if length is None else start + timedelta(days=length),
            member_status=member_status,
            coverage_status=coverage_status,
            policy_status=policy_status,
        )
        reasons = rules.eligibility_reasons(day, coverage, claim_type=claim_type, contract=contract)
        result = rules.adjudicate(
            claim=rules.ClaimFacts(
                claim_type=claim_type, service_type="outpatient", service_date=day
            ),
            lines=[rules.ClaimLine(benefit_code="OP", charged_amount=D("100.00"))],
            coverage=coverage,
            plan=rules.PlanFacts(),
            benefits=[rules.BenefitFacts(benefit_code="OP")],
            contract=contract,
        )
        (line,) = result.lines
        if reasons:
            assert (line.status, line.denial_reason) == ("denied", reasons[0][0])
            assert line.trace[-1].message == reasons[0][1]
        else:
            assert line.trace[0].code == "eligibility"
        member_only = rules.eligibility_reasons(day, coverage)
        assert member_only == [
            r
            for r in reasons
            if r[0] in ("member_inactive", "coverage_inactive", "policy_inactive")
        ]


# --- benefits -----------------------------------------------------------------------------


def _by_code(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["benefit_code"]: b for b in plan["benefits"]}


class TestBenefits:
    async def test_a_member_without_claims_has_every_limit_whole(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        body = await _benefits(client, headers, w.member.member_number, year=2025)
        assert (body["member_number"], body["year"]) == (w.member.member_number, 2025)
        (plan,) = body["plans"]
        benefits = _by_code(plan)
        assert benefits["OP-GP"] == {
            "benefit_code": "OP-GP",
            "benefit_name": "GP visit",
            "benefit_category": "outpatient",
            "coverage_type": "covered",
            "limit_type": "per_year",
            "limit_amount": "2000000.00",
            "limit_days": None,
            "used_amount": "0.00",
            "remaining_amount": "2000000.00",
            "visit_limit": None,
            "visit_count": 0,
            "remaining_visits": None,
        }
        room = benefits["IP-ROOM"]
        assert (room["limit_type"], room["limit_amount"], room["limit_days"]) == (
            "per_day",
            "1000000.00",
            30,
        )
        assert (room["used_amount"], room["remaining_amount"]) == ("0.00", None)
        assert benefits["DENT"]["coverage_type"] == "not_covered"
        assert {k: v for k, v in plan.items() if k != "benefits"} == {
            "policy_number": w.policy.policy_number,
            "plan_code": w.plan.plan_code,
            "plan_name": "Gold",
            "relationship": "employee",
            "inner_limit_applicable": True,
            "annual_cap_applicable": False,
            "annual_limit": "100000000.00",
            "annual_used": "0.00",
            "annual_remaining": "100000000.00",
            "individual_deductible": "500000.00",
            "deductible_met": "0.00",
            "deductible_remaining": "500000.00",
            "family_deductible": "0.00",
            "family_deductible_met": "0.00",
            "family_deductible_remaining": None,
            "lifetime_limit": None,
            "lifetime_used": "0.00",
            "lifetime_remaining": None,
            "individual_oop_max": None,
            "oop_used": "0.00",
            "oop_remaining": None,
            "family_oop_max": None,
            "family_oop_used": "0.00",
            "family_oop_remaining": None,
        }
        # No accumulator row yet: the seed's function answers 0 (COALESCE), the endpoint
        # the full limit (decision 0019).
        assert await _remaining(session, w.member.id, "OP-GP", 2025) == "0.00"

    async def test_after_claims_to_the_rupiah_and_as_the_sql_function_answers(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        # OP-GP 1,000,000: 10% discount -> 900,000; deductible 500,000; copay 50,000;
        # coinsurance 10% of 350,000 = 35,000; the plan pays 315,000.
        first = await submit_claim(session, request(w, gp("1000000.00")))
        assert first.result.totals.paid == D("315000.00")
        await session.commit()
        body = await _benefits(client, headers, w.member.member_number, year=2025)
        (plan,) = body["plans"]
        op = _by_code(plan)["OP-GP"]
        assert (op["used_amount"], op["remaining_amount"], op["visit_count"]) == (
            "315000.00",
            "1685000.00",
            1,
        )
        assert op["remaining_amount"] == await _remaining(session, w.member.id, "OP-GP", 2025)
        assert (plan["deductible_met"], plan["deductible_remaining"]) == ("500000.00", "0.00")
        assert (plan["annual_used"], plan["annual_remaining"]) == ("315000.00", "99685000.00")
        assert plan["oop_used"] == "585000.00"  # 500,000 + 50,000 + 35,000

        # OP-GP 3,000,000: 2,700,000 allowed; copay 50,000; coinsurance 265,000; the plan's
        # share 2,385,000 is cut to the 1,685,000 the per-year limit has left.
        second = await submit_claim(session, request(w, gp("3000000.00")))
        assert second.result.totals.paid == D("1685000.00")
        # IP-ROOM, 3 days of 1,200,000: per day, not per year; 10% discount -> 3,240,000;
        # no copay or coinsurance, 3 x 1,000,000 cap -> 3,000,000.
        room = await submit_claim(
            session,
            request(
                w,
                ClaimLineRequest(
                    benefit_code="IP-ROOM", charged_amount=D("3600000.00"), quantity=3
                ),
                service_type="inpatient",
                service_date=date(2025, 5, 2),
            ),
        )
        assert room.result.totals.paid == D("3000000.00")
        await session.commit()
        body = await _benefits(client, headers, w.member.member_number, year=2025)
        (plan,) = body["plans"]
        benefits = _by_code(plan)
        op = benefits["OP-GP"]
        assert (op["used_amount"], op["remaining_amount"], op["visit_count"]) == (
            "2000000.00",
            "0.00",
            2,
        )
        assert op["remaining_amount"] == await _remaining(session, w.member.id, "OP-GP", 2025)
        ip = benefits["IP-ROOM"]
        assert (ip["used_amount"], ip["remaining_amount"], ip["visit_count"]) == (
            "3000000.00",
            None,
            1,
        )
        assert (plan["annual_used"], plan["annual_remaining"]) == ("5000000.00", "95000000.00")
        assert plan["lifetime_used"] == "5000000.00"
        # 585,000 + (50,000 + 265,000) + 0
        assert plan["oop_used"] == plan["family_oop_used"] == "900000.00"
        # The plan-level figures are the accumulator rows adjudication wrote.
        row = (
            await session.execute(
                text(
                    "select used_amount::text, deductible_met::text from member.accumulator"
                    " where member_id = :m and year = 2025 and benefit_code is null"
                ),
                {"m": w.member.id},
            )
        ).one()
        assert (plan["annual_used"], plan["deductible_met"]) == (row[0], row[1])
        # Another year is untouched; lifetime counts every year.
        other = await _benefits(client, headers, w.member.member_number, year=2026)
        (plan_2026,) = other["plans"]
        assert (plan_2026["annual_used"], plan_2026["lifetime_used"]) == ("0.00", "5000000.00")
        assert _by_code(plan_2026)["OP-GP"]["remaining_amount"] == "2000000.00"

    async def test_visits_and_family_deductible_across_the_policy(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await build_world(session, family_deductible=D("750000.00"))
        await session.execute(
            update(PlanBenefit)
            .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == "OP-GP")
            .values(limit_visits=5)
        )
        spouse = await add_member(session, first_name="Budi")
        await cover(session, spouse, w.policy, w.plan)
        await session.commit()
        headers = await _staff(client, session)
        # The spouse meets 500,000 (their individual deductible) of the family's 750,000.
        spouse_claim = request(w, gp("1000000.00"), member_number=spouse.member_number)
        assert (await submit_claim(session, spouse_claim)).result.totals.deductible == D(
            "500000.00"
        )
        # The employee then meets only the 250,000 the family has left.
        assert (
            await submit_claim(session, request(w, gp("1000000.00")))
        ).result.totals.deductible == D("250000.00")
        await session.commit()
        (plan,) = (await _benefits(client, headers, w.member.member_number, year=2025))["plans"]
        assert (plan["deductible_met"], plan["deductible_remaining"]) == ("250000.00", "250000.00")
        assert (
            plan["family_deductible"],
            plan["family_deductible_met"],
            plan["family_deductible_remaining"],
        ) == ("750000.00", "750000.00", "0.00")
        op = _by_code(plan)["OP-GP"]
        assert (op["visit_limit"], op["visit_count"], op["remaining_visits"]) == (5, 1, 4)
        # 1,000,000 - 10% = 900,000; 250,000 deductible; 50,000 copay; 10% of 600,000.
        assert op["used_amount"] == "540000.00"
        assert op["remaining_amount"] == await _remaining(session, w.member.id, "OP-GP", 2025)
        assert op["remaining_amount"] == "1460000.00"
        assert plan["oop_used"] == "360000.00"  # 250,000 + 50,000 + 60,000
        assert plan["family_oop_used"] == "945000.00"  # + 500,000 + 50,000 + 35,000

    async def test_year_defaults_and_years_without_cover(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        body = await _benefits(client, headers, w.member.member_number)
        assert body["year"] in {_jakarta_today().year, (_jakarta_today() + timedelta(1)).year}
        assert len(body["plans"]) == 1
        assert (await _benefits(client, headers, w.member.member_number, year=2019))["plans"] == []

    async def test_unknown_member_bad_year_and_permissions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        response = await client.get(f"{MEMBERS}/MBR-NOPE/benefits", headers=headers)
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["type"].endswith("member-not-found")
        url = f"{MEMBERS}/{w.member.member_number}/benefits"
        for year in ("1800", "20x5"):
            response = await client.get(url, params={"year": year}, headers=headers)
            assert response.status_code == 422
            assert response.json()["errors"][0]["field"] == "query.year"
        assert (await client.get(url)).status_code == 401
        _, provider = await signed_in(client, session, role="PROVIDER")
        response = await client.get(url, headers=provider)
        assert response.status_code == 403
        assert "health.accumulators:read" in response.json()["detail"]
        _, auditor = await signed_in(client, session, role="AUDITOR")
        assert (await client.get(url, headers=auditor)).status_code == 200
