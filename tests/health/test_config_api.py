"""Health configuration API: plans with benefits and exclusions, providers with contracts."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.service import plan as plan_service
from polis.platform.crypto import get_keyring
from tests.iam.factories import signed_in

PLANS = "/api/v1/health/plans"
PROVIDERS = "/api/v1/health/providers"


def _code(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10].upper()}"


def plan_body(plan_code: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "plan_code": plan_code or _code("PLN"),
        "plan_name": "Corporate Standard",
        "plan_type": "standard",
        "annual_limit": "500000000.00",
        "lifetime_limit": 2000000000,
        "individual_deductible": "250000.5",
        "individual_oop_max": 10000000.25,
        "effective_date": "2026-01-01",
        "termination_date": "2026-12-31",
        "benefits": [
            {
                "benefit_code": "IP-ROOM",
                "benefit_name": "Room and board",
                "benefit_category": "inpatient",
                "limit_type": "per_day",
                "limit_amount": "1500000.00",
                "limit_days": 60,
                "coinsurance_percentage": "10",
            },
            {
                "benefit_code": "OP-GP",
                "benefit_name": "GP consultation",
                "benefit_category": "outpatient",
                "limit_type": "per_incident",
                "limit_amount": 300000.1,
                "copay_amount": "25000",
                "limit_visits": 12,
            },
            {
                "benefit_code": "DEN-BASIC",
                "benefit_name": "Basic dental",
                "benefit_category": "dental",
                "coverage_type": "limited",
                "limit_type": "per_year",
                "limit_amount": "2500000.99",
                "requires_authorization": True,
                "waiting_period_days": 90,
            },
        ],
        "exclusions": [
            {
                "exclusion_code": "EX-COSMETIC",
                "exclusion_description": "Cosmetic surgery",
                "exclusion_type": "procedure",
                "icd_code": "Z41",
            }
        ],
    }
    body.update(overrides)
    return body


def provider_body(provider_code: str | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "provider_code": provider_code or _code("PRV"),
        "provider_name": "RS Harapan Sehat",
        "provider_type": "hospital",
        "provider_class": "A",
        "city": "Jakarta",
        "bank_name": "BCA",
        "bank_account": "1234567890",
        "contract_start_date": "2026-01-01",
        "contract_end_date": "2027-12-31",
        "contracts": [
            {
                "contract_number": _code("CTR"),
                "effective_date": "2026-01-01",
                "expiry_date": "2026-12-31",
                "discount_percentage": "12.5",
            }
        ],
    }
    body.update(overrides)
    return body


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def _plan_rows(session: AsyncSession, plan_code: str) -> tuple[int, int, int]:
    plans = await _count(
        session, "select count(*) from benefit.plan where plan_code = :c", c=plan_code
    )
    benefits = await _count(
        session,
        "select count(*) from benefit.plan_benefit b join benefit.plan p on p.id = b.plan_id"
        " where p.plan_code = :c",
        c=plan_code,
    )
    exclusions = await _count(
        session,
        "select count(*) from benefit.exclusion e join benefit.plan p on p.id = e.plan_id"
        " where p.plan_code = :c",
        c=plan_code,
    )
    return plans, benefits, exclusions


class TestPlans:
    async def test_create_and_read_back_exact_amounts(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session, role="ADMIN")
        body = plan_body()
        response = await client.post(PLANS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        response = await client.get(f"{PLANS}/{body['plan_code']}", headers=headers)
        assert response.status_code == 200, response.text
        plan = response.json()
        assert plan == created
        assert plan["plan_code"] == body["plan_code"]
        assert plan["annual_limit"] == "500000000.00"
        assert plan["lifetime_limit"] == "2000000000.00"
        assert plan["individual_deductible"] == "250000.50"
        assert plan["family_deductible"] == "0.00"
        assert plan["individual_oop_max"] == "10000000.25"
        assert plan["family_oop_max"] is None
        benefits = {b["benefit_code"]: b for b in plan["benefits"]}
        assert sorted(benefits) == ["DEN-BASIC", "IP-ROOM", "OP-GP"]
        assert benefits["IP-ROOM"]["limit_amount"] == "1500000.00"
        assert benefits["IP-ROOM"]["coinsurance_percentage"] == "10.00"
        assert benefits["IP-ROOM"]["limit_days"] == 60
        assert benefits["OP-GP"]["limit_amount"] == "300000.10"
        assert benefits["OP-GP"]["copay_amount"] == "25000.00"
        assert benefits["DEN-BASIC"]["limit_amount"] == "2500000.99"
        assert benefits["DEN-BASIC"]["coverage_type"] == "limited"
        assert benefits["DEN-BASIC"]["requires_authorization"] is True
        assert benefits["DEN-BASIC"]["waiting_period_days"] == 90
        assert [e["exclusion_code"] for e in plan["exclusions"]] == ["EX-COSMETIC"]
        assert plan["exclusions"][0]["icd_code"] == "Z41"
        assert await _plan_rows(session, body["plan_code"]) == (1, 3, 1)
        stored = await session.scalar(
            text("select limit_amount::text from benefit.plan_benefit where benefit_code = 'OP-GP'")
        )
        assert stored == "300000.10"

    async def test_duplicate_plan_code_is_409_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        body = plan_body()
        assert (await client.post(PLANS, json=body, headers=headers)).status_code == 201
        again = plan_body(body["plan_code"], plan_name="Another")
        response = await client.post(PLANS, json=again, headers=headers)
        assert response.status_code == 409, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["type"] == "urn:polis:problem:plan-exists"
        assert await _plan_rows(session, body["plan_code"]) == (1, 3, 1)
        name = await session.scalar(
            text("select plan_name from benefit.plan where plan_code = :c"),
            {"c": body["plan_code"]},
        )
        assert name == "Corporate Standard"

    async def test_invalid_benefits_are_422_field_by_field_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        body = plan_body()
        body["benefits"][0]["limit_amount"] = "-1.00"
        body["benefits"][1]["limit_type"] = "per_century"
        response = await client.post(PLANS, json=body, headers=headers)
        assert response.status_code == 422, response.text
        problem = response.json()
        assert problem["type"] == "urn:polis:problem:validation-error"
        fields = sorted(e["field"] for e in problem["errors"])
        assert fields == ["body.benefits.0.limit_amount", "body.benefits.1.limit_type"]
        assert "-1.00" not in response.text
        assert await _plan_rows(session, body["plan_code"]) == (0, 0, 0)

    async def test_a_benefit_code_twice_in_one_plan_is_422_naming_it(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        body = plan_body()
        body["benefits"][2]["benefit_code"] = body["benefits"][0]["benefit_code"]
        response = await client.post(PLANS, json=body, headers=headers)
        assert response.status_code == 422, response.text
        message = (
            f"benefit_code must be unique within a plan: {body['benefits'][0]['benefit_code']}"
        )
        assert message in response.text
        assert await _plan_rows(session, body["plan_code"]) == (0, 0, 0)

    async def test_other_invalid_input_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await signed_in(client, session)
        for overrides, field in (
            ({"annual_limit": "1.001"}, "body.annual_limit"),
            ({"plan_type": "gold"}, "body.plan_type"),
            ({"termination_date": "2025-01-01"}, "body"),
            ({"surprise": 1}, "body.surprise"),
        ):
            body = plan_body(**overrides)
            response = await client.post(PLANS, json=body, headers=headers)
            assert response.status_code == 422, (overrides, response.text)
            assert [e["field"] for e in response.json()["errors"]] == [field], overrides
            assert await _plan_rows(session, body["plan_code"]) == (0, 0, 0)
        body = plan_body()
        body["benefits"][2]["benefit_code"] = "IP-ROOM"
        response = await client.post(PLANS, json=body, headers=headers)
        assert response.status_code == 422
        assert await _plan_rows(session, body["plan_code"]) == (0, 0, 0)

    async def test_unknown_plan_is_404(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await signed_in(client, session, role="MEMBER")
        response = await client.get(f"{PLANS}/NO-SUCH-PLAN", headers=headers)
        assert response.status_code == 404
        assert response.json()["type"] == "urn:polis:problem:not-found"
        response = await client.patch(
            f"{PLANS}/NO-SUCH-PLAN", json={"plan_name": "x"}, headers=await _admin(client, session)
        )
        assert response.status_code == 404

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        body = plan_body()
        assert (await client.post(PLANS, json=body)).status_code == 401
        assert (await client.get(PLANS)).status_code == 401
        _, agent = await signed_in(client, session, role="AGENT")
        response = await client.get(PLANS, headers=agent)
        assert response.status_code == 403
        assert response.json()["detail"] == "This action needs the permission health.plans:read."
        # A member may read plans but not change them.
        _, member = await signed_in(client, session, role="MEMBER")
        assert (await client.get(PLANS, headers=member)).status_code == 200
        response = await client.post(PLANS, json=body, headers=member)
        assert response.status_code == 403
        assert "health.config:write" in response.json()["detail"]
        response = await client.patch(f"{PLANS}/X", json={"plan_name": "x"}, headers=member)
        assert response.status_code == 403
        assert await _plan_rows(session, body["plan_code"]) == (0, 0, 0)

    async def test_patch_changes_only_the_fields_sent(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        body = plan_body()
        await client.post(PLANS, json=body, headers=headers)
        url = f"{PLANS}/{body['plan_code']}"
        response = await client.patch(
            url, json={"annual_limit": 750000000, "plan_name": "Renamed"}, headers=headers
        )
        assert response.status_code == 200, response.text
        plan = response.json()
        assert plan["annual_limit"] == "750000000.00"
        assert plan["plan_name"] == "Renamed"
        assert plan["individual_deductible"] == "250000.50"
        assert len(plan["benefits"]) == 3
        for change in ({"annual_limit": "-5"}, {"plan_name": None}, {"plan_code": "NEW"}):
            response = await client.patch(url, json=change, headers=headers)
            assert response.status_code == 422, change
        # A period that ends before it starts, once merged with the stored dates.
        response = await client.patch(url, json={"effective_date": "2027-06-01"}, headers=headers)
        assert response.status_code == 422
        got = (await client.get(url, headers=headers)).json()
        assert got["effective_date"] == "2026-01-01"
        assert got["annual_limit"] == "750000000.00"

    async def test_paging_across_plans(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await _admin(client, session)
        prefix = f"PG{uuid.uuid4().hex[:6].upper()}"
        codes = [f"{prefix}-{i}" for i in range(5)]
        for code in reversed(codes):
            body = plan_body(code, benefits=[], exclusions=[])
            assert (await client.post(PLANS, json=body, headers=headers)).status_code == 201
        seen: list[str] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"limit": 2}
            if cursor:
                params["cursor"] = cursor
            response = await client.get(PLANS, params=params, headers=headers)
            assert response.status_code == 200, response.text
            page = response.json()
            assert len(page["items"]) <= 2
            assert all("benefits" not in p for p in page["items"])
            seen.extend(p["plan_code"] for p in page["items"])
            pages += 1
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert [c for c in seen if c.startswith(prefix)] == codes
        assert seen == sorted(seen)
        assert len(seen) == len(set(seen))
        assert pages >= 3
        response = await client.get(PLANS, params={"cursor": "garbage"}, headers=headers)
        assert response.status_code == 400


async def _admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="ADMIN")
    return headers


class TestProviders:
    async def test_create_with_contract_masks_and_encrypts_the_bank_account(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        body = provider_body()
        response = await client.post(PROVIDERS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        created = response.json()
        assert created["bank_account"] == "******7890"
        assert "1234567890" not in response.text
        assert "bank_account_encrypted" not in created
        [contract] = created["contracts"]
        assert contract["contract_number"] == body["contracts"][0]["contract_number"]
        assert contract["discount_percentage"] == "12.50"
        assert contract["payment_method"] == "fee_for_service"

        response = await client.get(f"{PROVIDERS}/{body['provider_code']}", headers=headers)
        assert response.status_code == 200
        assert response.json() == created
        assert "1234567890" not in response.text
        listed = await client.get(PROVIDERS, params={"limit": 200}, headers=headers)
        assert "1234567890" not in listed.text

        row = (
            await session.execute(
                text(
                    "select bank_account, bank_account_encrypted, encryption_key_id"
                    " from provider.provider where provider_code = :c"
                ),
                {"c": body["provider_code"]},
            )
        ).one()
        assert row.bank_account == "******7890"
        assert b"1234567890" not in bytes(row.bank_account_encrypted)
        ring = get_keyring()
        assert ring.decrypt(row.bank_account_encrypted) == "1234567890"
        assert row.encryption_key_id == ring.current
        contracts = await _count(
            session,
            "select count(*) from provider.provider_contract c join provider.provider p"
            " on p.id = c.provider_id where p.provider_code = :c",
            c=body["provider_code"],
        )
        assert contracts == 1

    async def test_duplicates_are_409_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        body = provider_body()
        assert (await client.post(PROVIDERS, json=body, headers=headers)).status_code == 201
        response = await client.post(
            PROVIDERS, json=provider_body(body["provider_code"]), headers=headers
        )
        assert response.status_code == 409
        # A new provider reusing an existing contract number is refused as a whole.
        other = provider_body(contracts=body["contracts"])
        response = await client.post(PROVIDERS, json=other, headers=headers)
        assert response.status_code == 409
        assert response.json()["type"] == "urn:polis:problem:contract-exists"
        for code, expected in ((body["provider_code"], 1), (other["provider_code"], 0)):
            n = await _count(
                session, "select count(*) from provider.provider where provider_code = :c", c=code
            )
            assert n == expected

    async def test_validation_404_and_permissions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        body = provider_body(provider_type="spa")
        body["contracts"][0]["discount_percentage"] = "101"
        response = await client.post(PROVIDERS, json=body, headers=headers)
        assert response.status_code == 422
        fields = sorted(e["field"] for e in response.json()["errors"])
        assert fields == ["body.contracts.0.discount_percentage", "body.provider_type"]
        n = await _count(
            session,
            "select count(*) from provider.provider where provider_code = :c",
            c=body["provider_code"],
        )
        assert n == 0
        assert (await client.get(f"{PROVIDERS}/NOPE", headers=headers)).status_code == 404
        assert (await client.get(PROVIDERS)).status_code == 401
        _, agent = await signed_in(client, session, role="AGENT")
        assert (await client.get(PROVIDERS, headers=agent)).status_code == 403
        _, member = await signed_in(client, session, role="MEMBER")
        assert (await client.get(PROVIDERS, headers=member)).status_code == 200
        response = await client.post(PROVIDERS, json=provider_body(), headers=member)
        assert response.status_code == 403
        assert "health.providers:write" in response.json()["detail"]

    async def test_patch_reencrypts_a_new_bank_account(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await _admin(client, session)
        body = provider_body()
        await client.post(PROVIDERS, json=body, headers=headers)
        url = f"{PROVIDERS}/{body['provider_code']}"
        response = await client.patch(
            url, json={"bank_account": "9876-5432-10", "city": "Bandung"}, headers=headers
        )
        assert response.status_code == 200, response.text
        provider = response.json()
        assert provider["bank_account"] == "******3210"
        assert provider["city"] == "Bandung"
        assert provider["provider_name"] == body["provider_name"]
        assert len(provider["contracts"]) == 1
        blob = await session.scalar(
            text("select bank_account_encrypted from provider.provider where provider_code = :c"),
            {"c": body["provider_code"]},
        )
        assert get_keyring().decrypt(blob) == "9876543210"


async def test_a_concurrent_duplicate_caught_by_the_database_is_409(
    client: AsyncClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another request inserted the same code between the check and the insert.
    headers = await _admin(client, session)
    body = plan_body()
    assert (await client.post(PLANS, json=body, headers=headers)).status_code == 201

    async def nobody_has_it(*args: Any) -> bool:
        return False

    monkeypatch.setattr(plan_service, "exists", nobody_has_it)
    response = await client.post(PLANS, json=plan_body(body["plan_code"]), headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"] == "urn:polis:problem:plan-exists"
    assert await _plan_rows(session, body["plan_code"]) == (1, 3, 1)
