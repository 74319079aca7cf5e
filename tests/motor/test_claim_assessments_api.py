"""Motor claim assessments, QA review, send-back and approval (issue 5 items 3 and 4;
decision 0051): which statuses accept which assessment type (every type x every status), the
move to ASSESSED, QA by another user, authority limits at their boundaries, nobody approves
what they assessed; refused requests write nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import product
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_settlement_rules as rules
from polis.motor.models import ClaimAssessment
from polis.motor.quotes import today_bangkok
from tests.motor.claim_factory import (
    CLAIMS,
    active_policy,
    class1_quote,
    insert_claim,
    staff_user,
)

D = Decimal
STATUSES = (
    "REPORTED",
    "ASSIGNED",
    "INVESTIGATING",
    "ASSESSED",
    "APPROVED",
    "REJECTED",
    "SETTLED",
    "CLOSED",
)
TYPES = ("INITIAL", "DETAILED", "RE_ASSESSMENT", "FINAL")


def body(assessment_type: str = "INITIAL", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "assessment_type": assessment_type,
        "damage_assessment": {"rear_bumper": "cracked", "tailgate": "dented"},
        "repair_estimates": {
            "repair_shop": "อู่ช่างเอก",
            "line_items": [
                {"description": "Rear bumper, replace", "amount": "18000.00"},
                {"description": "Labour and paint", "amount": "12000.00"},
            ],
        },
        "liability_percentage": "0",
        "recommended_amount": "30000.00",
        "recommended_action": "APPROVE",
    }
    data.update(over)
    return data


async def add_assessment(
    session: AsyncSession,
    claim_id: uuid.UUID,
    assessor_id: uuid.UUID,
    assessment_type: str = "INITIAL",
    **values: Any,
) -> ClaimAssessment:
    """An assessment row written directly (for claims set up in a later status)."""
    row = ClaimAssessment(
        claim_id=claim_id,
        assessor_id=assessor_id,
        assessor_type=values.pop("assessor_type", "SURVEYOR"),
        assessment_date=values.pop("assessment_date", datetime.now(UTC) - timedelta(hours=1)),
        assessment_type=assessment_type,
        damage_assessment={"bumper": "cracked"},
        recommended_amount=values.pop("recommended_amount", D("30000.00")),
        recommended_action=values.pop("recommended_action", "APPROVE"),
        **values,
    )
    session.add(row)
    await session.flush()
    return row


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def claim_row(session: AsyncSession, claim_id: Any) -> dict[str, Any]:
    row = (
        (
            await session.execute(
                text("select * from motor.claims where id = :i"), {"i": str(claim_id)}
            )
        )
        .mappings()
        .one()
    )
    return dict(row)


@pytest.fixture
async def world(client: AsyncClient, session: AsyncSession) -> dict[str, Any]:
    """An ACTIVE CLASS_1 policy and staff of each role that takes part."""
    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin, **class1_quote())
    people: dict[str, Any] = {"admin": admin, "policy": policy}
    for name, role in (
        ("surveyor", "SURVEYOR"),
        ("surveyor2", "SURVEYOR"),
        ("adjuster", "ADJUSTER"),
        ("adjuster2", "ADJUSTER"),
        ("underwriter", "UNDERWRITER"),
    ):
        user, headers = await staff_user(client, session, role)
        people[name] = headers
        people[f"{name}_id"] = user.id
    return people


# --- the pure admission rule, exhaustively ---------------------------------------------------


def expected_admission(status: str, kind: str, earlier: tuple[str, ...]) -> bool:
    table = {
        "INITIAL": {"ASSIGNED", "INVESTIGATING"},
        "DETAILED": {"ASSIGNED", "INVESTIGATING", "ASSESSED"},
        "FINAL": {"ASSIGNED", "INVESTIGATING", "ASSESSED"},
        "RE_ASSESSMENT": {"INVESTIGATING", "ASSESSED"},
    }
    if status not in table[kind]:
        return False
    if kind == "INITIAL":
        return not earlier
    if kind == "RE_ASSESSMENT":
        return bool(earlier)
    return "FINAL" not in earlier


@pytest.mark.parametrize(
    ("status", "kind", "earlier", "action"),
    list(
        product(
            STATUSES,
            TYPES,
            [(), ("INITIAL",), ("INITIAL", "FINAL"), ("DETAILED",)],
            [None, "APPROVE", "REJECT", "INVESTIGATE", "REQUEST_MORE_INFO"],
        )
    ),
)
def test_admission_rule_for_every_status_type_history_and_action(
    status: str, kind: str, earlier: tuple[str, ...], action: str | None
) -> None:
    admission = rules.admit_assessment(status, kind, earlier, action)
    assert admission.allowed is expected_admission(status, kind, earlier)
    moves = (
        admission.allowed
        and status in ("ASSIGNED", "INVESTIGATING")
        and action not in ("INVESTIGATE", "REQUEST_MORE_INFO")
    )
    assert admission.moves_to_assessed is moves


def test_assessor_types_by_role() -> None:
    assert rules.assessor_type_for("SURVEYOR") == "SURVEYOR"
    assert rules.assessor_type_for("ADJUSTER") == "ADJUSTER"
    assert rules.assessor_type_for("ADMIN") == "SPECIALIST"
    assert rules.assessor_type_for("SUPER_ADMIN") == "SPECIALIST"
    for role in ("UNDERWRITER", "AGENT", "CUSTOMER", "FINANCE"):
        assert rules.assessor_type_for(role) is None


# --- every type x every status through the API -----------------------------------------------


class TestAdmissionThroughTheApi:
    @pytest.mark.parametrize("kind", TYPES)
    async def test_each_type_in_each_status(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any], kind: str
    ) -> None:
        for status in STATUSES:
            claim = await insert_claim(session, world["policy"]["id"], status=status)
            earlier = kind == "RE_ASSESSMENT"
            if earlier:  # a re-assessment revises an earlier one
                await add_assessment(session, claim.id, world["surveyor2_id"], "INITIAL")
            before = await count(
                session,
                "select count(*) from motor.claim_assessments where claim_id = :c",
                c=claim.id,
            )
            version = (await claim_row(session, claim.id))["version"]
            response = await client.post(
                f"{CLAIMS}/{claim.id}/assessments", json=body(kind), headers=world["surveyor"]
            )
            allowed = expected_admission(status, kind, ("INITIAL",) if earlier else ())
            after = await count(
                session,
                "select count(*) from motor.claim_assessments where claim_id = :c",
                c=claim.id,
            )
            row = await claim_row(session, claim.id)
            if allowed:
                assert response.status_code == 201, (status, kind, response.text)
                assert after == before + 1
                assert row["status"] == "ASSESSED"
                assert row["assessed_amount"] == D("30000.00")
                got = response.json()
                assert got["claim"]["status"] == "ASSESSED"
                assert got["assessment"]["assessor_type"] == "SURVEYOR"
                assert got["assessment"]["repair_estimates"]["total"] == "30000.00"
                assert got["assessment"]["repair_estimates"]["repair_shop"] == "อู่ช่างเอก"
                if status != "ASSESSED":
                    assert row["assessment_date"] == today_bangkok()
            else:
                assert response.status_code == 409, (status, kind, response.text)
                problem = response.json()
                assert problem["type"].endswith("assessment-not-accepted")
                assert problem["claim_status"] == status
                assert after == before
                assert row["status"] == status and row["version"] == version

    async def test_initial_only_first_and_nothing_but_re_assessment_after_final(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSESSED")
        await add_assessment(session, claim.id, world["surveyor2_id"], "INITIAL")
        url = f"{CLAIMS}/{claim.id}/assessments"
        r = await client.post(url, json=body("INITIAL"), headers=world["surveyor"])
        assert r.status_code == 409
        r = await client.post(url, json=body("FINAL"), headers=world["surveyor"])
        assert r.status_code == 201, r.text
        for kind in ("DETAILED", "FINAL", "INITIAL"):
            r = await client.post(url, json=body(kind), headers=world["surveyor"])
            assert r.status_code == 409, (kind, r.text)
        r = await client.post(url, json=body("RE_ASSESSMENT"), headers=world["surveyor"])
        assert r.status_code == 201, r.text

    async def test_not_ready_recommendation_is_recorded_without_a_move(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSIGNED")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json=body("INITIAL", recommended_action="REQUEST_MORE_INFO"),
            headers=world["adjuster"],
        )
        assert r.status_code == 201, r.text
        row = await claim_row(session, claim.id)
        assert row["status"] == "ASSIGNED"
        assert row["assessment_date"] is None
        assert row["assessed_amount"] == D("30000.00")
        assert r.json()["assessment"]["assessor_type"] == "ADJUSTER"
        # then the DETAILED one that is ready moves it
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json=body("DETAILED", recommended_amount="27500.50"),
            headers=world["surveyor"],
        )
        assert r.status_code == 201, r.text
        row = await claim_row(session, claim.id)
        assert (row["status"], row["assessed_amount"]) == ("ASSESSED", D("27500.50"))

    async def test_assessment_while_assessed_updates_amount_without_a_move(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(
            session,
            world["policy"]["id"],
            status="ASSESSED",
            assessment_date=today_bangkok() - timedelta(days=0),
            assessed_amount=D("30000.00"),
        )
        await add_assessment(session, claim.id, world["surveyor2_id"], "INITIAL")
        version = (await claim_row(session, claim.id))["version"]
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json=body("DETAILED", recommended_amount="28000.00"),
            headers=world["admin"],
        )
        assert r.status_code == 201, r.text
        assert r.json()["assessment"]["assessor_type"] == "SPECIALIST"
        row = await claim_row(session, claim.id)
        assert row["status"] == "ASSESSED"
        assert row["assessed_amount"] == D("28000.00")
        assert row["version"] == version + 1
        listed = await client.get(f"{CLAIMS}/{claim.id}/assessments", headers=world["adjuster"])
        assert listed.status_code == 200
        assert [a["assessment_type"] for a in listed.json()] == ["INITIAL", "DETAILED"]

    async def test_roles_without_survey_permission_are_refused(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSIGNED")
        _, agent = await staff_user(client, session, "AGENT")
        for headers in (world["underwriter"], agent):
            r = await client.post(f"{CLAIMS}/{claim.id}/assessments", json=body(), headers=headers)
            assert r.status_code == 403
        assert (await claim_row(session, claim.id))["status"] == "ASSIGNED"
        r = await client.post(
            f"{CLAIMS}/{uuid.uuid4()}/assessments", json=body(), headers=world["surveyor"]
        )
        assert r.status_code == 404

    @pytest.mark.parametrize(
        ("over", "field"),
        [
            ({"damage_assessment": {}}, "damage_assessment"),
            ({"liability_percentage": "100.01"}, "liability_percentage"),
            ({"liability_percentage": "-1"}, "liability_percentage"),
            ({"assessment_type": "QUICK"}, "assessment_type"),
            ({"recommended_action": "PAY"}, "recommended_action"),
            ({"recommended_amount": "-5"}, "recommended_amount"),
            ({"recommended_amount": "10.001"}, "recommended_amount"),
            ({"recommended_amount": None}, "body"),  # APPROVE needs an amount
            ({"salvage_value": "5000"}, "body"),  # salvage without total loss
            ({"recommended_amount": "30000.01"}, "body"),  # above the estimate total
            (
                {
                    "repair_estimates": {
                        "line_items": [{"description": "Door", "amount": "100.00"}],
                        "total": "100.01",
                    }
                },
                "repair_estimates",
            ),
            ({"repair_estimates": {"line_items": []}}, "repair_estimates"),
            ({"surprise": True}, "surprise"),
            ({"recommended_amount": "5000000.01", "repair_estimates": None}, "recommended_amount"),
        ],
    )
    async def test_bad_input_is_422_and_writes_nothing(
        self,
        client: AsyncClient,
        session: AsyncSession,
        world: dict[str, Any],
        over: dict[str, Any],
        field: str,
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSIGNED")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments", json=body(**over), headers=world["surveyor"]
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        assert any(field in e["field"] for e in r.json()["errors"]), r.json()
        assert (
            await count(
                session,
                "select count(*) from motor.claim_assessments where claim_id = :c",
                c=claim.id,
            )
            == 0
        )
        row = await claim_row(session, claim.id)
        assert (row["status"], row["assessed_amount"]) == ("ASSIGNED", None)

    async def test_total_loss_with_salvage_and_liability(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="INVESTIGATING")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json=body(
                "FINAL",
                total_loss_assessment=True,
                salvage_value="80000.00",
                recommended_amount="570000.00",
                liability_percentage="35.5",
                contributing_factors={"road": "wet", "speed": "excessive"},
                assessment_notes="Frame bent beyond repair",
            ),
            headers=world["surveyor"],
        )
        assert r.status_code == 201, r.text
        got = r.json()["assessment"]
        assert got["total_loss_assessment"] is True
        assert (got["salvage_value"], got["liability_percentage"]) == ("80000.00", "35.50")
        assert got["recommended_amount"] == "570000.00"
        assert got["qa_reviewed"] is False
        assert (await claim_row(session, claim.id))["assessed_amount"] == D("570000.00")


# --- QA review and send-back -------------------------------------------------------------------


class TestQaAndSendBack:
    async def test_qa_by_the_assessor_is_refused_by_another_recorded_once(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSIGNED")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments", json=body(), headers=world["surveyor"]
        )
        aid = r.json()["assessment"]["id"]
        url = f"{CLAIMS}/{claim.id}/assessments/{aid}/qa-review"
        r = await client.post(url, json={"qa_notes": "fine by me"}, headers=world["surveyor"])
        assert r.status_code == 403
        assert r.json()["type"].endswith("qa-by-assessor")
        row = await session.get(ClaimAssessment, uuid.UUID(aid), populate_existing=True)
        assert row is not None and not row.qa_reviewed and row.qa_reviewer_id is None
        r = await client.post(url, json={"qa_notes": "Estimate checked"}, headers=world["adjuster"])
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["qa_reviewed"] is True
        assert got["qa_reviewer_id"] == str(world["adjuster_id"])
        assert (got["qa_notes"], got["version"]) == ("Estimate checked", 2)
        r = await client.post(url, json={"qa_notes": "again"}, headers=world["surveyor2"])
        assert r.status_code == 409
        r = await client.post(url, json={"qa_notes": ""}, headers=world["surveyor2"])
        assert r.status_code == 422
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments/{uuid.uuid4()}/qa-review",
            json={"qa_notes": "x"},
            headers=world["adjuster"],
        )
        assert r.status_code == 404

    async def test_send_back_then_re_assessment(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await insert_claim(session, world["policy"]["id"], status="ASSIGNED")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments", json=body(), headers=world["surveyor"]
        )
        aid = r.json()["assessment"]["id"]
        url = f"{CLAIMS}/{claim.id}/assessments/{aid}/send-back"
        r = await client.post(url, json={"reason": "photos missing"}, headers=world["surveyor"])
        assert r.status_code == 403
        assert (await claim_row(session, claim.id))["status"] == "ASSESSED"
        r = await client.post(url, json={"reason": "photos missing"}, headers=world["adjuster"])
        assert r.status_code == 200, r.text
        assert r.json()["claim"]["status"] == "INVESTIGATING"
        assert r.json()["claim"]["sub_status"] == "RE_ASSESSMENT_REQUESTED"
        assert r.json()["assessment"]["qa_notes"] == "Sent back: photos missing"
        # sending back again: not ASSESSED any more
        r = await client.post(url, json={"reason": "again"}, headers=world["adjuster"])
        assert r.status_code == 409
        assert r.json()["type"].endswith("invalid-transition")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json=body("RE_ASSESSMENT", recommended_amount="26000.00"),
            headers=world["surveyor"],
        )
        assert r.status_code == 201, r.text
        row = await claim_row(session, claim.id)
        assert (row["status"], row["assessed_amount"]) == ("ASSESSED", D("26000.00"))
        assert row["sub_status"] is None


# --- approval authority ----------------------------------------------------------------------


async def assessed_claim(
    session: AsyncSession, world: dict[str, Any], assessor: str = "surveyor_id"
) -> Any:
    claim = await insert_claim(
        session,
        world["policy"]["id"],
        status="ASSESSED",
        assessment_date=today_bangkok(),
        assessed_amount=D("30000.00"),
    )
    await add_assessment(session, claim.id, world[assessor], "INITIAL")
    return claim


async def approve(
    client: AsyncClient, headers: dict[str, str], claim_id: Any, amount: str, **over: Any
) -> Any:
    return await client.post(
        f"{CLAIMS}/{claim_id}/approval",
        json={"approved_amount": amount, **over},
        headers=headers,
    )


class TestApproval:
    async def test_adjuster_within_and_at_the_limit(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        for amount in ("30000.00", "50000.00"):
            claim = await assessed_claim(session, world)
            r = await approve(client, world["adjuster"], claim.id, amount, notes="ok")
            assert r.status_code == 200, r.text
            got = r.json()
            assert got["claim"]["status"] == "APPROVED"
            assert got["claim"]["approved_amount"] == amount
            assert (got["approver_role"], got["authority_limit"]) == ("ADJUSTER", "50000.00")
            row = await claim_row(session, claim.id)
            assert row["status"] == "APPROVED"
            assert row["approved_amount"] == D(amount)
            assert row["approval_date"] == today_bangkok()
            assert row["updated_by"] == world["adjuster_id"]

    async def test_adjuster_above_the_limit_needs_a_higher_role(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await assessed_claim(session, world)
        before = await claim_row(session, claim.id)
        r = await approve(client, world["adjuster"], claim.id, "50000.01")
        assert r.status_code == 403
        problem = r.json()
        assert problem["type"].endswith("approval-authority")
        assert problem["needs_role"][0] == "UNDERWRITER"
        assert "UNDERWRITER" in problem["detail"]
        assert r.headers["content-type"].startswith("application/problem+json")
        after = await claim_row(session, claim.id)
        assert after == before
        r = await approve(client, world["underwriter"], claim.id, "50000.01")
        assert r.status_code == 200, r.text

    async def test_underwriter_up_to_200000_then_admin(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await assessed_claim(session, world)
        r = await approve(client, world["underwriter"], claim.id, "200000.01")
        assert r.status_code == 403
        assert r.json()["needs_role"] == ["ADMIN", "SUPER_ADMIN"]
        assert (await claim_row(session, claim.id))["status"] == "ASSESSED"
        r = await approve(client, world["underwriter"], claim.id, "200000.00")
        assert r.status_code == 200, r.text
        assert r.json()["authority_limit"] == "200000.00"

    async def test_an_assessor_cannot_approve(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await assessed_claim(session, world, assessor="adjuster_id")
        # a later assessment by someone else does not clear the first assessor
        await add_assessment(session, claim.id, world["surveyor_id"], "DETAILED")
        before = await claim_row(session, claim.id)
        r = await approve(client, world["adjuster"], claim.id, "1000.00")
        assert r.status_code == 403
        assert "assessed" in r.json()["detail"]
        assert await claim_row(session, claim.id) == before
        r = await approve(client, world["adjuster2"], claim.id, "1000.00")
        assert r.status_code == 200, r.text

    async def test_refusals_write_nothing(
        self, client: AsyncClient, session: AsyncSession, world: dict[str, Any]
    ) -> None:
        claim = await assessed_claim(session, world)
        before = await claim_row(session, claim.id)
        for amount, code in (("0", 422), ("-1", 422), ("1.001", 422), ("5000000.01", 422)):
            r = await approve(client, world["admin"], claim.id, amount)
            assert r.status_code == code, (amount, r.text)
        r = await approve(client, world["surveyor2"], claim.id, "100.00")  # no permission
        assert r.status_code == 403
        assert await claim_row(session, claim.id) == before
        for status in ("ASSIGNED", "INVESTIGATING", "APPROVED", "REJECTED", "SETTLED"):
            other = await insert_claim(session, world["policy"]["id"], status=status)
            r = await approve(client, world["admin"], other.id, "100.00")
            assert r.status_code == 409, (status, r.text)
            assert r.json()["type"].endswith("invalid-transition")
            assert (await claim_row(session, other.id))["status"] == status
