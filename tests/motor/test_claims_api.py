"""Motor claims API, first notice of loss (issue 5 items 1, 7, 8): a claim against an ACTIVE
policy covering the incident date and the claim type, its number, amounts to the satang,
idempotency, every refusal answering problem+json with no claim row written, fraud scoring
at first notice (INVESTIGATING above the configured threshold) and on request, and the
seed's customer dashboard."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_rules, claims
from polis.motor.models import MotorPolicy
from polis.motor.quotes import today_bangkok
from tests.motor.claim_factory import (
    CLAIMS,
    MOTOR,
    active_policy,
    backdate_policy,
    class1_quote,
    days_ago,
    insert_claim,
    staff_user,
)
from tests.motor.test_customers_api import thai_pin

NUMBER = re.compile(r"^MCL-(\d{8})-[0-9A-HJKMNP-TV-Z]{8}$")


def location(**address: Any) -> dict[str, Any]:
    """An incident location on Ratchadamnoen Nai road (Phra Nakhon, Bangkok), by DOPA codes."""
    addr: dict[str, Any] = {
        "text": "ถนนราชดำเนินใน หน้าสนามหลวง",
        "road": "ราชดำเนินใน",
        "tambon": "พระบรมมหาราชวัง",
        "amphoe": "1001",
        "province": "10",
        "postal_code": "10200",
    }
    addr.update(address)
    return {"lat": 13.7563, "lng": 100.4918, "address": addr}


def fnol(policy: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A first notice of an accident two days ago with damage to the insured car."""
    body: dict[str, Any] = {
        "policy_number": policy["policy_number"],
        "claim_type": "ACCIDENT",
        "incident_date": days_ago(2).isoformat(),
        "incident_description": "ชนท้ายที่สี่แยกไฟแดง",
        "damage_description": "กันชนหลังบุบ ไฟท้ายแตก",
        "estimated_amount": "45000.5",
    }
    body.update(over)
    return body


async def claim_rows(session: AsyncSession) -> int:
    return int(await session.scalar(text("select count(*) from motor.claims")) or 0)


async def policy_of(
    client: AsyncClient, session: AsyncSession, headers: dict[str, str], days: int = 10, **q: Any
) -> dict[str, Any]:
    """An ACTIVE policy whose period started `days` ago."""
    policy = await active_policy(client, headers, **q)
    await backdate_policy(session, policy["id"], days)
    return policy


def problem(response: Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:polis:problem:{type_}", body
    return body


def fields(body: dict[str, Any]) -> list[str]:
    return [e["field"] for e in body.get("errors", [])]


class TestFirstNotice:
    async def test_accident_is_reported_with_number_amounts_and_location(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        before = await claim_rows(session)
        pin = thai_pin(7)
        body = fnol(
            policy,
            incident_location=location(),
            other_party_info={
                "name": "นายสมศักดิ์ ขับเร็ว",
                "national_id": pin,
                "registration_number": "2ขค 5678",
                "registration_province": "กรุงเทพมหานคร",
                "insurer": "ABC Insurance",
                "at_fault": True,
            },
            police_report_number="BKK-PN-2026-0042",
            repair_shop_id=str(uuid.uuid4()),
        )
        response = await client.post(CLAIMS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        claim = response.json()
        assert await claim_rows(session) == before + 1

        match = NUMBER.match(claim["claim_number"])
        assert match is not None, claim["claim_number"]
        assert match.group(1) == today_bangkok().strftime("%Y%m%d")
        assert claim["policy_number"] == policy["policy_number"]
        assert claim["policy_id"] == policy["id"]
        assert claim["status"] == "REPORTED" and claim["sub_status"] is None
        assert claim["estimated_amount"] == "45000.50"
        for name in ("assessed_amount", "approved_amount", "settled_amount"):
            assert claim[name] is None
        reported = datetime.fromisoformat(claim["reported_date"])
        assert abs(reported - datetime.now(UTC)) < timedelta(minutes=1)
        assert datetime.fromisoformat(claim["incident_date"]) == days_ago(2)
        assert claim["created_by"] == str(user.id)
        assert claim["version"] == 0
        assert response.headers["ETag"] == '"0"'
        # The address checked against ref geography and stored with names and codes.
        address = claim["incident_location"]["address"]
        assert address["province_code"] == "10" and address["amphoe_code"] == "1001"
        assert address["province"] == "กรุงเทพมหานคร" and address["tambon_code"].startswith("1001")
        assert address["text"] == "ถนนราชดำเนินใน หน้าสนามหลวง"
        assert claim["incident_location"]["lat"] == 13.7563
        # The other party's national id is never stored in clear.
        other = claim["other_party_info"]
        assert "national_id" not in other
        assert other["national_id_masked"].endswith(pin[-4:])
        assert len(other["national_id_hash"]) == 64
        stored = await session.scalar(
            text("select other_party_info::text from motor.claims where id = :id"),
            {"id": claim["id"]},
        )
        assert pin not in str(stored)
        # Heads of loss: own damage and the third party's property, both CLASS_1 cover.
        heads = {h["head"]: h["covered"] for h in claim["heads_of_loss"]}
        assert heads == {"THIRD_PARTY_PROPERTY": True, "OWN_DAMAGE": True}
        # Incident 8 days after the policy started: EARLY_INCIDENT (25) only, under 50.
        assert claim["fraud_score"] == "25.00"
        assert [f["code"] for f in claim["fraud_flags"]] == ["EARLY_INCIDENT"]
        assert claim["requires_investigation"] is False

        got = await client.get(f"{CLAIMS}/{claim['id']}", headers=headers)
        assert got.status_code == 200 and got.json() == claim

    async def test_policy_id_instead_of_number_and_zero_amount(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers)  # CMI
        body = fnol(
            policy,
            policy_number=None,
            policy_id=policy["id"],
            damage_description=None,
            injury_description="ผู้ขับขี่บาดเจ็บที่ศีรษะ",
            estimated_amount="0",
        )
        response = await client.post(CLAIMS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        claim = response.json()
        assert claim["estimated_amount"] == "0.00"
        assert claim["heads_of_loss"] == [
            {
                "head": "BODILY_INJURY",
                "covered": True,
                "reason": "CMI bodily injury (statutory limits per person)",
                "limit": None,
            }
        ]

    async def test_same_idempotency_key_gives_one_claim(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        before = await claim_rows(session)
        keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
        first = await client.post(CLAIMS, json=fnol(policy), headers=keyed)
        again = await client.post(CLAIMS, json=fnol(policy), headers=keyed)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert await claim_rows(session) == before + 1
        # The same key with another body is refused and writes nothing.
        other = await client.post(CLAIMS, json=fnol(policy, estimated_amount="1.00"), headers=keyed)
        problem(other, 422, "idempotency-key-mismatch")
        assert await claim_rows(session) == before + 1


class TestRefusals:
    async def test_policy_not_active(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        before = await claim_rows(session)
        for status in ("SUSPENDED", "EXPIRED", "CANCELLED"):
            await session.execute(
                text("update motor.policies set status = :s where id = :id"),
                {"s": status, "id": policy["id"]},
            )
            response = await client.post(CLAIMS, json=fnol(policy), headers=headers)
            body = problem(response, 409, "policy-not-active")
            assert body["policy_status"] == status
        assert await claim_rows(session) == before

    async def test_incident_outside_period_or_in_future(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        before = await claim_rows(session)
        cases = {
            "incident_outside_period": days_ago(11),  # the period started 10 days ago
            "incident_in_future": datetime.now(UTC) + timedelta(hours=1),
        }
        for kind, when in cases.items():
            response = await client.post(
                CLAIMS, json=fnol(policy, incident_date=when.isoformat()), headers=headers
            )
            body = problem(response, 422, "validation-error")
            assert body["errors"][0]["field"] == "body.incident_date"
            assert body["errors"][0]["type"] == kind
        # A period that ended before the incident (end exclusive).
        await session.execute(
            text("update motor.policies set end_date = :d where id = :id"),
            {"d": days_ago(2).date(), "id": policy["id"]},
        )
        response = await client.post(CLAIMS, json=fnol(policy), headers=headers)
        assert problem(response, 422, "validation-error")["errors"][0]["type"] == (
            "incident_outside_period"
        )
        # A date without an offset is refused by the schema.
        response = await client.post(
            CLAIMS, json=fnol(policy, incident_date="2026-01-01T10:00:00"), headers=headers
        )
        assert "body.incident_date" in fields(problem(response, 422, "validation-error"))
        assert await claim_rows(session) == before

    async def test_class_3_does_not_cover_own_theft(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, policy_type="CLASS_3", options={})
        before = await claim_rows(session)
        response = await client.post(
            CLAIMS,
            json=fnol(policy, claim_type="THEFT", police_report_number="P-1"),
            headers=headers,
        )
        body = problem(response, 422, "claim-not-covered")
        assert body["errors"][0]["field"] == "body.claim_type"
        assert body["heads_of_loss"] == [
            {
                "head": "OWN_DAMAGE",
                "covered": False,
                "reason": "CLASS_3 covers third parties only, no own damage",
                "limit": None,
            }
        ]
        # A CLASS_3 accident with a third party is covered (third-party property).
        response = await client.post(
            CLAIMS,
            json=fnol(policy, other_party_info={"registration_number": "3กก 1111"}),
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert {h["head"]: h["covered"] for h in response.json()["heads_of_loss"]} == {
            "THIRD_PARTY_PROPERTY": True,
            "OWN_DAMAGE": False,
        }
        assert await claim_rows(session) == before + 1

    async def test_cmi_needs_an_injury(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers)  # CMI
        before = await claim_rows(session)
        for body in (
            fnol(policy),  # own damage only
            fnol(policy, other_party_info={"registration_number": "1กก 2222"}),
            fnol(policy, claim_type="FIRE"),
            fnol(policy, claim_type="THEFT", injury_description="ถูกทำร้าย"),
        ):
            problem(await client.post(CLAIMS, json=body, headers=headers), 422, "claim-not-covered")
        # Nothing claimed at all: no damage and no injury.
        response = await client.post(
            CLAIMS, json=fnol(policy, damage_description=None), headers=headers
        )
        body = problem(response, 422, "validation-error")
        assert body["errors"][0]["type"] == "nothing_claimed"
        assert await claim_rows(session) == before

    @pytest.mark.parametrize(
        ("over", "field"),
        [
            ({"estimated_amount": "-0.01"}, "body.estimated_amount"),
            ({"estimated_amount": "abc"}, "body.estimated_amount"),
            ({"estimated_amount": "12.345"}, "body.estimated_amount"),
            ({"estimated_amount": "5000000.01"}, "body.estimated_amount"),
            ({"incident_location": {"lat": 91, "lng": 100}}, "body.incident_location.lat"),
            ({"incident_location": {"lat": 13.7, "lng": 180.5}}, "body.incident_location.lng"),
            ({"incident_location": {"lat": 13.7}}, "body.incident_location"),
            (
                {"incident_location": location(province="Atlantis")},
                "body.incident_location.address.province",
            ),
            (
                {"incident_location": location(postal_code="10110")},
                "body.incident_location.address.postal_code",
            ),
            ({"claim_type": "METEOR"}, "body.claim_type"),
            ({"policy_id": str(uuid.uuid4())}, "body"),
            ({"policy_number": "MTR-0000-NOPE"}, "body.policy_number"),
            ({"other_party_info": {"national_id": "1234567890123"}}, "body.other_party_info"),
            ({"incident_description": ""}, "body.incident_description"),
            ({"fraud_score": 0}, "body.fraud_score"),
        ],
    )
    async def test_bad_input_is_422_field_by_field(
        self, client: AsyncClient, session: AsyncSession, over: dict[str, Any], field: str
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        before = await claim_rows(session)
        response = await client.post(CLAIMS, json=fnol(policy, **over), headers=headers)
        body = problem(response, 422, "validation-error")
        assert any(f.startswith(field) for f in fields(body)), body
        assert await claim_rows(session) == before

    async def test_max_claim_amount_comes_from_configuration(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        await session.execute(
            text(
                "update ref.system_configurations set config_value = '1000.00'"
                " where config_key = 'MAX_CLAIM_AMOUNT'"
            )
        )
        before = await claim_rows(session)
        response = await client.post(
            CLAIMS, json=fnol(policy, estimated_amount="1000.01"), headers=headers
        )
        body = problem(response, 422, "validation-error")
        assert body["errors"][0]["type"] == "above_max_claim_amount"
        assert await claim_rows(session) == before
        response = await client.post(
            CLAIMS, json=fnol(policy, estimated_amount="1000.00"), headers=headers
        )
        assert response.status_code == 201, response.text

    async def test_permission(self, client: AsyncClient, session: AsyncSession) -> None:
        _, admin = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, admin, **class1_quote())
        _, surveyor = await staff_user(client, session, "SURVEYOR")  # motor.claims:read only
        before = await claim_rows(session)
        problem(await client.post(CLAIMS, json=fnol(policy), headers=surveyor), 403, "forbidden")
        assert (await client.post(CLAIMS, json=fnol(policy))).status_code == 401
        assert await claim_rows(session) == before


async def set_threshold(session: AsyncSession, value: int) -> None:
    await session.execute(
        text(
            "update ref.system_configurations set config_value = :v"
            " where config_key = 'MOTOR_FRAUD_INVESTIGATION_THRESHOLD'"
        ),
        {"v": str(value)},
    )


class TestFraud:
    async def test_late_theft_without_police_report_goes_to_investigation(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, days=100, **class1_quote())
        assert await claims.fraud_threshold(session) == 50  # migration 0015's default
        await set_threshold(session, 40)
        body = fnol(
            policy,
            claim_type="THEFT",
            incident_date=days_ago(40).isoformat(),
            damage_description=None,
            incident_description="รถหายจากลานจอด",
            estimated_amount="300000",
        )
        response = await client.post(CLAIMS, json=body, headers=headers)
        assert response.status_code == 201, response.text
        claim = response.json()
        assert claim["fraud_score"] == "45.00"
        assert {f["code"]: f["weight"] for f in claim["fraud_flags"]} == {
            "LATE_REPORTING": 15,
            "THEFT_NO_POLICE_REPORT": 30,
        }
        assert claim["requires_investigation"] is True
        assert claim["status"] == "INVESTIGATING"
        assert claim["sub_status"] == "FRAUD_REVIEW"
        assert claim["version"] == 1
        history = (await client.get(f"{CLAIMS}/{claim['id']}/history", headers=headers)).json()
        moves = [(c["from_status"], c["to_status"], c["sub_status"]) for c in history["changes"]]
        assert moves == [(None, "REPORTED", None), ("REPORTED", "INVESTIGATING", "FRAUD_REVIEW")]

    async def test_default_threshold(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, days=100, **class1_quote())
        theft = fnol(
            policy,
            claim_type="THEFT",
            incident_date=days_ago(40).isoformat(),
            damage_description=None,
        )
        # Late (15) + no police report (30) = 45: below the default 50.
        response = await client.post(CLAIMS, json=theft, headers=headers)
        assert response.json()["status"] == "REPORTED", response.text
        assert response.json()["fraud_score"] == "45.00"
        # ... and 600,000 of a 650,000 sum insured (>= 90%) adds 20: 65.
        response = await client.post(
            CLAIMS, json={**theft, "estimated_amount": "600000"}, headers=headers
        )
        claim = response.json()
        assert claim["fraud_score"] == "65.00", claim
        assert "AMOUNT_NEAR_SUM_INSURED" in [f["code"] for f in claim["fraud_flags"]]
        assert (claim["status"], claim["requires_investigation"]) == ("INVESTIGATING", True)
        # ... and with a police report, on time: only FREQUENT_CLAIMS (the customer's
        # third claim within 365 days), 20, below the threshold.
        clean = {
            **theft,
            "incident_date": days_ago(1).isoformat(),
            "police_report_number": "P-77",
        }
        claim = (await client.post(CLAIMS, json=clean, headers=headers)).json()
        assert (claim["fraud_score"], claim["status"]) == ("20.00", "REPORTED")
        assert [f["code"] for f in claim["fraud_flags"]] == ["FREQUENT_CLAIMS"]

    async def test_rescore_after_repair_shop_and_same_other_party(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, days=200, **class1_quote())
        shop = uuid.uuid4()
        for n in (60, 90):
            await insert_claim(
                session,
                policy["id"],
                status="CLOSED",
                incident_date=days_ago(n),
                repair_shop_id=shop,
                other_party_info={"registration_number": "9ฆฆ 9999"},
            )
        response = await client.post(CLAIMS, json=fnol(policy), headers=headers)
        claim = response.json()
        # Already the customer's third claim in 365 days: FREQUENT_CLAIMS (20).
        assert claim["fraud_score"] == "20.00", claim
        assert claim["status"] == "REPORTED"
        # Name the repair shop and the (same) other party, then score again.
        response = await client.patch(
            f"{CLAIMS}/{claim['id']}",
            json={
                "repair_shop_id": str(shop),
                "other_party_info": {"registration_number": "9ฆฆ-9999"},
            },
            headers={**headers, "If-Match": response.headers["ETag"]},
        )
        assert response.status_code == 200, response.text
        response = await client.post(f"{CLAIMS}/{claim['id']}/fraud-score", headers=headers)
        assert response.status_code == 200, response.text
        claim = response.json()
        assert {f["code"] for f in claim["fraud_flags"]} == {
            "FREQUENT_CLAIMS",  # 3 claims within 365 days, this one included
            "REPEAT_OTHER_PARTY",
            "REPEAT_REPAIR_SHOP",
        }
        assert claim["fraud_score"] == "60.00"
        assert (claim["status"], claim["sub_status"]) == ("INVESTIGATING", "FRAUD_REVIEW")
        # A closed claim is not scored again.
        closed = await insert_claim(session, policy["id"], status="CLOSED")
        response = await client.post(f"{CLAIMS}/{closed.id}/fraud-score", headers=headers)
        problem(response, 409, "claim-not-open")


class TestDashboard:
    async def test_claim_count_and_settled_total_per_policy(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers, **class1_quote())
        other = await policy_of(client, session, headers, **class1_quote())
        for status, settled in (
            ("SETTLED", Decimal("12345.67")),
            ("CLOSED", Decimal("1000.01")),
            ("CLOSED", None),  # rejected, then closed
            ("REPORTED", None),
        ):
            await insert_claim(session, policy["id"], status=status, settled_amount=settled)
        gone = await insert_claim(
            session, policy["id"], status="SETTLED", settled_amount=Decimal(5)
        )
        await session.execute(
            text("update motor.claims set deleted_at = now() where id = :id"), {"id": gone.id}
        )
        await insert_claim(session, other["id"], status="SETTLED", settled_amount=Decimal(99))

        response = await client.get(
            f"{MOTOR}/customers/{policy['customer_id']}/dashboard", headers=headers
        )
        assert response.status_code == 200, response.text
        board = response.json()
        assert board["customer_id"] == policy["customer_id"]
        [row] = board["policies"]
        assert row["policy_number"] == policy["policy_number"]
        assert (row["claim_count"], row["total_claims_settled"]) == (4, "13345.68")
        assert row["total_premium"] == policy["total_premium"]
        assert row["make"] == "TOYOTA" and row["registration_number"]

        response = await client.get(
            f"{MOTOR}/customers/{other['customer_id']}/dashboard", headers=headers
        )
        [row] = response.json()["policies"]
        assert (row["claim_count"], row["total_claims_settled"]) == (1, "99.00")

    async def test_no_claims_unknown_customer_and_permission(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff_user(client, session, "ADMIN")
        policy = await policy_of(client, session, headers)
        url = f"{MOTOR}/customers/{policy['customer_id']}/dashboard"
        [row] = (await client.get(url, headers=headers)).json()["policies"]
        assert (row["claim_count"], row["total_claims_settled"]) == (0, "0.00")
        response = await client.get(f"{MOTOR}/customers/{uuid.uuid4()}/dashboard", headers=headers)
        problem(response, 404, "not-found")
        _, health = await staff_user(client, session, "CLAIMS_PROCESSOR")  # no motor.customers:read
        problem(await client.get(url, headers=health), 403, "forbidden")

    async def test_the_seed_index_serves_the_query(self, session: AsyncSession) -> None:
        await session.execute(text("set local enable_seqscan = off"))
        plan = await session.execute(
            text("EXPLAIN " + str(claims.DASHBOARD_SQL.text)), {"customer_id": uuid.uuid4()}
        )
        lines = "\n".join(str(r[0]) for r in plan)
        assert "Index Scan using idx_policies_customer_start_date" in lines, lines


class TestHeadsOfLoss:
    """The pure mapping from first-notice facts to heads of loss and their cover."""

    @given(
        claim_type=st.sampled_from(claim_rules.CLAIM_TYPES),
        policy_type=st.sampled_from(claim_rules.POLICY_TYPES),
        plus=st.booleans(),
        damage=st.one_of(st.none(), st.just("บุบ")),
        injury=st.one_of(st.none(), st.just("บาดเจ็บ")),
        other=st.one_of(
            st.none(),
            st.fixed_dictionaries(
                {"registration_number": st.just("1กก 1")}, optional={"injured": st.booleans()}
            ),
        ),
    )
    def test_heads_follow_the_facts_and_coverage(
        self,
        claim_type: str,
        policy_type: str,
        plus: bool,
        damage: str | None,
        injury: str | None,
        other: dict[str, Any] | None,
    ) -> None:
        option = "PLUS" if plus and policy_type in ("CLASS_2", "CLASS_3") else "STANDARD"
        policy = MotorPolicy(policy_type=policy_type, coverage_details={"coverage_option": option})
        heads = claims.heads_of_loss(
            policy,
            claim_type,
            damage_description=damage,
            injury_description=injury,
            other_party_info=other,
        )
        names = [h["head"] for h in heads]
        assert len(set(names)) == len(names) and set(names) <= set(claim_rules.HEADS)
        injured = bool(injury) or (other or {}).get("injured") is True
        assert (claim_rules.BODILY_INJURY in names) == injured
        assert (claim_rules.THIRD_PARTY_PROPERTY in names) == (
            claim_type == "ACCIDENT" and bool(other)
        )
        assert (claim_rules.OWN_DAMAGE in names) == (bool(damage) or claim_type != "ACCIDENT")
        for h in heads:
            expected = claim_rules.coverage(
                policy_type,
                claim_type,
                h["head"],
                coverage_option=option,
                collision_with_land_vehicle=claim_type == "ACCIDENT" and bool(other),
            )
            assert (h["covered"], h["reason"], h["limit"]) == (
                expected.covered,
                expected.reason,
                expected.limit,
            )
        if policy_type == "CMI":  # CMI: an accident with an injury, nothing else
            assert any(h["covered"] for h in heads) == (claim_type == "ACCIDENT" and injured)
        if policy_type == "CLASS_3" and claim_type == "THEFT":
            assert not any(h["covered"] for h in heads)

    @given(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    def test_claim_number_scheme(self, day: date) -> None:
        number = claims.new_claim_number(day)
        match = NUMBER.match(number)
        assert match is not None and match.group(1) == day.strftime("%Y%m%d")
        assert len(number) == 21
