"""Motor claim workflow (issue 5 item 2): every one of the 8x8 status pairs through
claims.transition (allowed ones set their date column, refused ones are 409
invalid-transition and change nothing), the same through the routes this module owns
(investigation, rejection, closure, assignment), assignment of ADJUSTER/SURVEYOR users only,
an audit row with the user for each move, the history, optimistic locking, corrections, and
the list's filters and paging."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_rules, claims
from polis.motor.models import MotorClaim
from polis.platform.errors import Conflict
from tests.iam.factories import create_user
from tests.motor.claim_factory import (
    CLAIMS,
    active_policy,
    backdate_policy,
    class1_quote,
    days_ago,
    insert_claim,
    staff_user,
    today,
)
from tests.motor.test_claims_api import claim_rows, fnol, problem

STATUSES = claim_rules.STATUSES
# The table, written out here independently of claim_rules.
ALLOWED = {
    ("REPORTED", "ASSIGNED"),
    ("REPORTED", "INVESTIGATING"),
    ("REPORTED", "REJECTED"),
    ("ASSIGNED", "INVESTIGATING"),
    ("ASSIGNED", "ASSESSED"),
    ("ASSIGNED", "REJECTED"),
    ("INVESTIGATING", "ASSESSED"),
    ("INVESTIGATING", "REJECTED"),
    ("ASSESSED", "APPROVED"),
    ("ASSESSED", "REJECTED"),
    ("ASSESSED", "INVESTIGATING"),
    ("APPROVED", "SETTLED"),
    ("SETTLED", "CLOSED"),
    ("REJECTED", "CLOSED"),
}
DATE_COLUMNS = {
    "ASSESSED": "assessment_date",
    "APPROVED": "approval_date",
    "SETTLED": "settlement_date",
    "CLOSED": "closure_date",
}


async def admin_policy(
    client: AsyncClient, session: AsyncSession, **q: Any
) -> tuple[Any, dict[str, str], dict[str, Any]]:
    user, headers = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, headers, **(q or class1_quote()))
    await backdate_policy(session, policy["id"], 10)
    return user, headers, policy


async def audit_moves(session: AsyncSession, claim_id: Any) -> list[tuple[Any, ...]]:
    rows = await session.execute(
        text(
            "select old_values->>'status', new_values->>'status', user_id, business_context"
            " from audit.audit_log where table_name = 'motor.claims' and record_id = :id"
            " and operation = 'UPDATE' and 'status' = any(changed_fields)"
            " order by timestamp, id"
        ),
        {"id": claim_id},
    )
    return [tuple(r) for r in rows]


class TestTransitionTable:
    async def test_every_pair_at_service_level(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user, _, policy = await admin_policy(client, session)
        assert {
            (a, b) for a in STATUSES for b in STATUSES if claim_rules.can_transition(a, b)
        } == ALLOWED
        for current in STATUSES:
            for target in STATUSES:
                claim = await insert_claim(
                    session, policy["id"], status=current, incident_date=days_ago(3)
                )
                version = claim.version or 0
                if (current, target) in ALLOWED:
                    claims.transition(
                        claim, target, actor_id=user.id, today=today(), sub_status="X_" + target
                    )
                    await session.flush()
                    await session.refresh(claim)
                    assert claim.status == target
                    assert claim.sub_status == "X_" + target
                    assert claim.version == version + 1
                    assert claim.updated_by == user.id
                    column = DATE_COLUMNS.get(target)
                    for name in DATE_COLUMNS.values():
                        expected = today() if name == column else None
                        assert getattr(claim, name) == expected, (current, target, name)
                else:
                    with pytest.raises(Conflict) as refused:
                        claims.transition(claim, target, actor_id=user.id, today=today())
                    assert refused.value.type_ == "invalid-transition"
                    assert refused.value.extra["current"] == current
                    assert claim.status == current and claim.version == version
                    await session.flush()
                    await session.refresh(claim)
                    assert claim.status == current

    @pytest.mark.parametrize(
        ("route", "target", "body"),
        [
            ("investigation", "INVESTIGATING", {"reason": "ลายมือชื่อไม่ตรงกัน"}),
            ("rejection", "REJECTED", {"reason": "ไม่อยู่ในความคุ้มครอง"}),
            ("closure", "CLOSED", {"notes": "ปิดเรื่อง"}),
        ],
    )
    async def test_every_start_through_the_routes(
        self,
        client: AsyncClient,
        session: AsyncSession,
        route: str,
        target: str,
        body: dict[str, str],
    ) -> None:
        user, headers, policy = await admin_policy(client, session)
        for current in STATUSES:
            claim = await insert_claim(session, policy["id"], status=current)
            url = f"{CLAIMS}/{claim.id}/{route}"
            response = await client.post(url, json=body, headers=headers)
            await session.refresh(claim)
            if (current, target) in ALLOWED:
                assert response.status_code == 200, (current, response.text)
                got = response.json()
                assert got["status"] == target and got["version"] == 1
                assert claim.status == target
                if target == "CLOSED":
                    assert got["closure_date"] == today().isoformat()
                moves = await audit_moves(session, claim.id)
                reason = body.get("reason") or body["notes"]
                assert moves == [(current, target, user.id, reason)]
            else:
                refused = problem(response, 409, "invalid-transition")
                assert (refused["current"], refused["target"]) == (current, target)
                assert claim.status == current and (claim.version or 0) == 0
                assert await audit_moves(session, claim.id) == []

    async def test_assignment_from_every_status(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers, policy = await admin_policy(client, session)
        adjuster = await create_user(session, role="ADJUSTER")
        surveyor = await create_user(session, role="SURVEYOR")
        body = {"adjuster_id": str(adjuster.id), "surveyor_id": str(surveyor.id)}
        for current in STATUSES:
            claim = await insert_claim(session, policy["id"], status=current)
            response = await client.post(
                f"{CLAIMS}/{claim.id}/assignment", json=body, headers=headers
            )
            await session.refresh(claim)
            if current in claim_rules.OPEN_STATUSES:
                assert response.status_code == 200, (current, response.text)
                expected = "ASSIGNED" if current == "REPORTED" else current
                assert response.json()["status"] == expected
                assert (claim.adjuster_id, claim.surveyor_id) == (adjuster.id, surveyor.id)
                assert claim.version == 1
            else:
                problem(response, 409, "claim-not-open")
                assert claim.adjuster_id is None and claim.status == current


class TestAssignment:
    async def test_only_active_adjusters_and_surveyors(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers, policy = await admin_policy(client, session)
        claim = await insert_claim(session, policy["id"])
        adjuster = await create_user(session, role="ADJUSTER")
        surveyor = await create_user(session, role="SURVEYOR")
        locked = await create_user(session, role="ADJUSTER", account_status="LOCKED")
        url = f"{CLAIMS}/{claim.id}/assignment"
        cases = [
            ({"adjuster_id": str(surveyor.id)}, "body.adjuster_id", "wrong_role"),
            (
                {"adjuster_id": str(adjuster.id), "surveyor_id": str(adjuster.id)},
                "body.surveyor_id",
                "wrong_role",
            ),
            ({"adjuster_id": str(locked.id)}, "body.adjuster_id", "user_not_active"),
            ({"adjuster_id": str(uuid.uuid4())}, "body.adjuster_id", "unknown_reference"),
            ({"surveyor_id": str(surveyor.id)}, "body.adjuster_id", "missing"),
        ]
        for body, field, kind in cases:
            response = await client.post(url, json=body, headers=headers)
            error = problem(response, 422, "validation-error")["errors"][0]
            assert (error["field"], error["type"]) == (field, kind), body
        problem(await client.post(url, json={}, headers=headers), 422, "validation-error")
        await session.refresh(claim)
        assert (claim.status, claim.adjuster_id, claim.version) == ("REPORTED", None, 0)

        response = await client.post(url, json={"adjuster_id": str(adjuster.id)}, headers=headers)
        assert response.status_code == 200, response.text
        assert response.json()["status"] == "ASSIGNED"
        # Re-assignment of the surveyor alone keeps the adjuster and the status.
        other = await create_user(session, role="SURVEYOR")
        response = await client.post(url, json={"surveyor_id": str(other.id)}, headers=headers)
        got = response.json()
        assert (got["status"], got["adjuster_id"], got["surveyor_id"]) == (
            "ASSIGNED",
            str(adjuster.id),
            str(other.id),
        )
        assert got["version"] == 2

    async def test_surveyor_may_not_assign(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, _, policy = await admin_policy(client, session)
        claim = await insert_claim(session, policy["id"])
        _, surveyor = await staff_user(client, session, "SURVEYOR")
        adjuster = await create_user(session, role="ADJUSTER")
        response = await client.post(
            f"{CLAIMS}/{claim.id}/assignment",
            json={"adjuster_id": str(adjuster.id)},
            headers=surveyor,
        )
        problem(response, 403, "forbidden")


class TestAuditAndHistory:
    async def test_each_move_is_audited_with_its_user(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, _, policy = await admin_policy(client, session)
        adjuster_user, adjuster = await staff_user(client, session, "ADJUSTER")
        surveyor = await create_user(session, role="SURVEYOR")
        response = await client.post(CLAIMS, json=fnol(policy), headers=adjuster)
        assert response.status_code == 201, response.text
        claim_id = response.json()["id"]
        steps: list[tuple[str, dict[str, Any]]] = [
            ("assignment", {"adjuster_id": str(adjuster_user.id), "surveyor_id": str(surveyor.id)}),
            ("investigation", {"reason": "พยานให้การขัดกัน", "sub_status": "SITE_VISIT"}),
            ("rejection", {"reason": "แจ้งเหตุเท็จ"}),
            ("closure", {"notes": "ปิดแฟ้ม"}),
        ]
        for route, body in steps:
            response = await client.post(
                f"{CLAIMS}/{claim_id}/{route}", json=body, headers=adjuster
            )
            assert response.status_code == 200, response.text
        moves = await audit_moves(session, claim_id)
        assert [(m[0], m[1], m[2]) for m in moves] == [
            ("REPORTED", "ASSIGNED", adjuster_user.id),
            ("ASSIGNED", "INVESTIGATING", adjuster_user.id),
            ("INVESTIGATING", "REJECTED", adjuster_user.id),
            ("REJECTED", "CLOSED", adjuster_user.id),
        ]
        response = await client.get(f"{CLAIMS}/{claim_id}/history", headers=adjuster)
        assert response.status_code == 200, response.text
        history = response.json()
        assert history["status"] == "CLOSED"
        changes = [
            (
                c["from_status"],
                c["to_status"],
                c["sub_status"],
                c["username"],
                c["business_context"],
            )
            for c in history["changes"]
        ]
        name = adjuster_user.username
        assert changes == [
            (None, "REPORTED", None, name, None),
            ("REPORTED", "ASSIGNED", None, name, None),
            ("ASSIGNED", "INVESTIGATING", "SITE_VISIT", name, "พยานให้การขัดกัน"),
            ("INVESTIGATING", "REJECTED", None, name, "แจ้งเหตุเท็จ"),
            ("REJECTED", "CLOSED", None, name, "ปิดแฟ้ม"),
        ]
        assert all(c["user_role"] == "ADJUSTER" for c in history["changes"])
        problem(
            await client.get(f"{CLAIMS}/{uuid.uuid4()}/history", headers=adjuster),
            404,
            "not-found",
        )


class TestLocking:
    async def test_stale_if_match_is_409_and_changes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers, policy = await admin_policy(client, session)
        claim = await insert_claim(session, policy["id"], status="ASSIGNED", version=3)
        url = f"{CLAIMS}/{claim.id}"
        body = {"reason": "ตรวจสอบเพิ่ม"}
        stale = await client.post(
            f"{url}/investigation", json=body, headers={**headers, "If-Match": '"2"'}
        )
        assert problem(stale, 409, "stale-version")["current_version"] == 3
        problem(
            await client.post(
                f"{url}/investigation", json=body, headers={**headers, "If-Match": "nope"}
            ),
            400,
            "invalid-if-match",
        )
        await session.refresh(claim)
        assert (claim.status, claim.version) == ("ASSIGNED", 3)
        response = await client.post(
            f"{url}/investigation", json=body, headers={**headers, "If-Match": '"3"'}
        )
        assert response.status_code == 200, response.text
        assert response.headers["ETag"] == '"4"'

    async def test_patch_needs_if_match_and_keeps_cover(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers, policy = await admin_policy(client, session, policy_type="CMI")
        response = await client.post(
            CLAIMS,
            json=fnol(policy, damage_description=None, injury_description="ขาหัก"),
            headers=headers,
        )
        assert response.status_code == 201, response.text
        claim = response.json()
        url = f"{CLAIMS}/{claim['id']}"
        change = {"injury_description": "ขาหักและซี่โครงร้าว", "estimated_amount": "80000"}
        problem(await client.patch(url, json=change, headers=headers), 428, "precondition-required")
        problem(
            await client.patch(url, json=change, headers={**headers, "If-Match": '"7"'}),
            409,
            "stale-version",
        )
        response = await client.patch(url, json=change, headers={**headers, "If-Match": '"0"'})
        assert response.status_code == 200, response.text
        got = response.json()
        assert (got["injury_description"], got["estimated_amount"], got["version"]) == (
            "ขาหักและซี่โครงร้าว",
            "80000.00",
            1,
        )
        # Clearing the injury of a CMI claim leaves nothing covered: refused, unchanged.
        refused = await client.patch(
            url,
            json={"injury_description": None, "damage_description": "ประตูบุบ"},
            headers={**headers, "If-Match": '"1"'},
        )
        problem(refused, 422, "claim-not-covered")
        row = await session.get(MotorClaim, uuid.UUID(claim["id"]))
        assert row is not None
        await session.refresh(row)
        assert (row.injury_description, row.version) == ("ขาหักและซี่โครงร้าว", 1)


class TestList:
    async def test_filters_and_paging(self, client: AsyncClient, session: AsyncSession) -> None:
        _, headers, policy = await admin_policy(client, session)
        adjuster = await create_user(session, role="ADJUSTER")
        before = await claim_rows(session)
        made = []
        for n, status in enumerate(("REPORTED", "ASSIGNED", "REJECTED")):
            made.append(
                await insert_claim(
                    session,
                    policy["id"],
                    status=status,
                    claim_type="FIRE" if n == 2 else "ACCIDENT",
                    adjuster_id=adjuster.id if status == "ASSIGNED" else None,
                    reported_date=datetime(2026, 1, 10 + n, 3, tzinfo=UTC),
                    incident_date=datetime(2026, 1, 1, 3, tzinfo=UTC),
                )
            )
        assert await claim_rows(session) == before + 3
        base = {"policy_number": policy["policy_number"]}

        async def numbers(**params: Any) -> list[str]:
            response = await client.get(CLAIMS, params={**base, **params}, headers=headers)
            assert response.status_code == 200, response.text
            return [c["claim_number"] for c in response.json()["items"]]

        newest_first = [c.claim_number for c in reversed(made)]
        assert await numbers() == newest_first
        assert await numbers(customer_id=policy["customer_id"]) == newest_first
        assert await numbers(status="ASSIGNED") == [made[1].claim_number]
        assert await numbers(adjuster_id=str(adjuster.id)) == [made[1].claim_number]
        assert await numbers(claim_type="FIRE") == [made[2].claim_number]
        assert await numbers(reported_from="2026-01-11", reported_to="2026-01-11") == [
            made[1].claim_number
        ]
        assert await numbers(customer_id=str(uuid.uuid4())) == []
        # Paging one at a time walks them all, newest first.
        seen, cursor = [], None
        while True:
            params: dict[str, Any] = {**base, "limit": 1}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get(CLAIMS, params=params, headers=headers)).json()
            seen += [c["claim_number"] for c in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert seen == newest_first
        bad = await client.get(CLAIMS, params={"status": "LOST"}, headers=headers)
        problem(bad, 422, "validation-error")
        problem(await client.get(f"{CLAIMS}/{uuid.uuid4()}", headers=headers), 404, "not-found")
