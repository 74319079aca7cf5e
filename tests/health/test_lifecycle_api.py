"""Claim lifecycle over HTTP: decision on a pended claim, void, appeal and its decision,
close and the status history. Refused moves are 409 problem+json that write nothing."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient, Response
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.models import ClaimDocument, PlanBenefit
from polis.reference.models import SystemConfiguration
from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.health.test_claims_api import CLAIMS, claim_body
from tests.iam.factories import signed_in


async def _world(session: AsyncSession, **kwargs: Any) -> ClaimWorld:
    w = await build_world(session, **kwargs)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _set_review_amount(session: AsyncSession, amount: str) -> None:
    await session.execute(
        update(SystemConfiguration)
        .where(SystemConfiguration.config_key == "HEALTH_CLAIM_REVIEW_AMOUNT")
        .values(config_value=amount)
    )
    await session.commit()


async def _submit(client: AsyncClient, headers: dict[str, str], body: dict[str, Any]) -> Any:
    response = await client.post(CLAIMS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()


async def _state(session: AsyncSession, w: ClaimWorld, claim_id: str) -> dict[str, Any]:
    """What a refused move must not change: the claim, its lines, the member's accumulators,
    the policy's funds and the audit rows of the claim and its lines."""
    one = {"c": claim_id, "m": w.member.id, "p": w.policy.id}
    claim = (
        await session.execute(
            text("select status, updated_at, updated_by from claims.claim where id = :c"), one
        )
    ).one()
    lines = (
        await session.execute(
            text(
                "select status, denial_reason, adjudication_trace::text from claims.claim_item"
                " where claim_id = :c order by id"
            ),
            one,
        )
    ).all()
    accumulators = (
        await session.execute(
            text(
                "select benefit_code, used_amount::text, visit_count, deductible_met::text"
                " from member.accumulator where member_id = :m order by benefit_code nulls first"
            ),
            one,
        )
    ).all()
    funds = (
        await session.execute(
            text(
                "select aso_fund_balance::text, buffer_fund_balance::text from policy.policy"
                " where id = :p"
            ),
            one,
        )
    ).one()
    audit = await session.scalar(
        text(
            "select count(*) from audit.audit_log where record_id = :c or record_id in"
            " (select id from claims.claim_item where claim_id = :c)"
        ),
        one,
    )
    claims = await session.scalar(
        text("select count(*) from claims.claim where member_id = :m"), one
    )
    return {
        "claim": tuple(claim),
        "lines": [tuple(r) for r in lines],
        "accumulators": [tuple(r) for r in accumulators],
        "funds": tuple(funds),
        "audit": audit,
        "claims": claims,
    }


async def _accumulators(session: AsyncSession, w: ClaimWorld) -> dict[str | None, Any]:
    rows = await session.execute(
        text(
            "select benefit_code, used_amount::text, remaining_amount::text, visit_count,"
            " remaining_visits, deductible_met::text from member.accumulator"
            " where member_id = :m and year = 2025"
        ),
        {"m": w.member.id},
    )
    return {r[0]: tuple(r[1:]) for r in rows}


def _problem(response: Response, status: int, type_: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body["type"] == f"urn:polis:problem:{type_}", body
    return body


class TestDecision:
    async def test_review_amount_pends_and_approval_readjudicates_with_a_link(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        await _set_review_amount(session, "999999.99")
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, reviewer = await signed_in(client, session, role="MEDICAL_REVIEWER")
        claim = await _submit(client, staff, claim_body(w))
        assert (claim["status"], claim["total_paid_amount"]) == ("pended", "315000.00")
        (item,) = claim["items"]
        assert (item["status"], item["denial_reason"]) == ("pended", "review_amount")
        assert item["trace"][-1]["code"] == "review_amount"
        assert item["trace"][-1]["amount_after"] == "315000.00"
        acc = await _accumulators(session, w)
        assert acc["OP-GP"][0] == "0.00" and acc[None][4] == "0.00"  # nothing moved

        response = await client.post(
            f"{CLAIMS}/{claim['id']}/decision",
            json={"decision": "approved", "notes": "Medically necessary"},
            headers=reviewer,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["previous_status"] == "pended"
        assert (body["claim"]["id"], body["claim"]["status"]) == (claim["id"], "voided")
        new = body["replacement"]
        assert new["id"] != claim["id"]
        assert new["claim_number"] != claim["claim_number"]
        assert (new["status"], new["total_paid_amount"]) == ("approved", "315000.00")
        assert new["items"][0]["trace"][-1]["message"] == (
            f"re-adjudication of {claim['claim_number']}"
        )
        assert body["claim"]["items"][0]["trace"][-1]["message"] == (
            f"re-adjudicated as {new['claim_number']}"
        )
        assert body["links"] == {
            "claim": f"{CLAIMS}/{claim['id']}",
            "history": f"{CLAIMS}/{claim['id']}/history",
            "replacement": f"{CLAIMS}/{new['id']}",
        }
        got = await client.get(body["links"]["replacement"], headers=staff)
        assert got.status_code == 200 and got.json()["status"] == "approved"
        acc = await _accumulators(session, w)
        assert acc["OP-GP"][:3] == ("315000.00", "1685000.00", 1)
        assert (acc[None][0], acc[None][4]) == ("315000.00", "500000.00")

    async def test_documents_required_until_they_arrive(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        claim = await _submit(client, staff, claim_body(w, claim_type="reimbursement"))
        assert claim["status"] == "pended"
        assert claim["items"][0]["denial_reason"] == "documents_required"
        before = await _state(session, w, claim["id"])

        url = f"{CLAIMS}/{claim['id']}/decision"
        response = await client.post(url, json={"decision": "approved"}, headers=staff)
        body = _problem(response, 422, "documents-missing")
        assert body["missing_documents"] == ["invoice", "receipt"]
        assert await _state(session, w, claim["id"]) == before

        for kind in ("invoice", "receipt"):
            session.add(
                ClaimDocument(
                    claim_id=uuid.UUID(claim["id"]),
                    document_type=kind,
                    file_name=f"{kind}.pdf",
                    file_path=f"var/documents/00/{kind}",
                )
            )
        await session.commit()
        response = await client.post(url, json={"decision": "approved"}, headers=staff)
        assert response.status_code == 200, response.text
        new = response.json()["replacement"]
        assert (new["status"], new["total_paid_amount"]) == ("approved", "315000.00")

    async def test_denied_moves_nothing(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        claim = await _submit(client, staff, claim_body(w, claim_type="reimbursement"))
        before = await _accumulators(session, w)
        response = await client.post(
            f"{CLAIMS}/{claim['id']}/decision",
            json={"decision": "denied", "notes": "No receipts after 30 days"},
            headers=staff,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["claim"]["status"], body["replacement"]) == ("denied", None)
        assert body["links"]["replacement"] is None
        item = body["claim"]["items"][0]
        assert (item["status"], item["denial_reason"], item["paid_amount"]) == (
            "denied",
            "manual_review",
            "0.00",
        )
        assert body["claim"]["member_responsibility"] == "1000000.00"
        assert await _accumulators(session, w) == before

    async def test_bad_decisions(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        claim = await _submit(client, staff, claim_body(w, claim_type="reimbursement"))
        url = f"{CLAIMS}/{claim['id']}/decision"
        for body in ({"decision": "maybe"}, {}, {"decision": "denied", "extra": 1}):
            response = await client.post(url, json=body, headers=staff)
            assert response.status_code == 422, response.text
        unknown = await client.post(
            f"{CLAIMS}/{uuid.uuid4()}/decision", json={"decision": "denied"}, headers=staff
        )
        _problem(unknown, 404, "claim-not-found")


class TestRefusedMoves:
    @pytest.mark.parametrize(
        ("setup", "path", "body", "role"),
        [
            ("paid", "void", {"reason": "late"}, "CLAIMS_PROCESSOR"),
            ("approved", "decision", {"decision": "approved"}, "MEDICAL_REVIEWER"),
            ("pended", "appeal", {"reason": "faster please"}, "CLAIMS_PROCESSOR"),
            ("approved", "close", None, "CLAIMS_PROCESSOR"),
            ("approved", "appeal/decision", {"decision": "upheld"}, "CLAIMS_PROCESSOR"),
            ("voided", "void", {"reason": "again"}, "CLAIMS_PROCESSOR"),
        ],
    )
    async def test_409_invalid_transition_writes_nothing(
        self,
        client: AsyncClient,
        session: AsyncSession,
        setup: str,
        path: str,
        body: dict[str, Any] | None,
        role: str,
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, actor = await signed_in(client, session, role=role)
        kind = "reimbursement" if setup == "pended" else "cashless"
        claim = await _submit(client, staff, claim_body(w, claim_type=kind))
        if setup == "paid":  # the payments flow's end state
            await session.execute(
                text("update claims.claim set status = 'paid' where id = :c"), {"c": claim["id"]}
            )
            await session.commit()
        if setup == "voided":
            voided = await client.post(
                f"{CLAIMS}/{claim['id']}/void", json={"reason": "error"}, headers=staff
            )
            assert voided.status_code == 200, voided.text
        before = await _state(session, w, claim["id"])
        assert before["claim"][0] == setup

        headers = {**actor, "Idempotency-Key": str(uuid.uuid4())}
        response = await client.post(f"{CLAIMS}/{claim['id']}/{path}", json=body, headers=headers)
        problem = _problem(response, 409, "invalid-transition")
        assert claim["claim_number"] in problem["detail"]
        assert await _state(session, w, claim["id"]) == before


class TestVoid:
    async def test_void_returns_funds_and_accumulators_and_a_retry_replays(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(
            session, funding="aso", aso=Decimal("200000.00"), buffer=Decimal("200000.00")
        )
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        claim = await _submit(client, staff, claim_body(w))
        funds = await session.execute(
            text(
                "select aso_fund_balance::text, buffer_fund_balance::text from policy.policy"
                " where id = :p"
            ),
            {"p": w.policy.id},
        )
        assert tuple(funds.one()) == ("0.00", "85000.00")
        keyed = {**staff, "Idempotency-Key": str(uuid.uuid4())}
        url = f"{CLAIMS}/{claim['id']}/void"
        response = await client.post(url, json={"reason": "duplicate"}, headers=keyed)
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["previous_status"], body["claim"]["status"]) == ("approved", "voided")
        item = body["claim"]["items"][0]
        assert (item["status"], item["denial_reason"]) == ("voided", "voided: duplicate")
        again = await client.post(url, json={"reason": "duplicate"}, headers=keyed)
        assert again.status_code == 200 and again.headers.get("Idempotent-Replayed") == "true"
        funds = await session.execute(
            text(
                "select aso_fund_balance::text, buffer_fund_balance::text from policy.policy"
                " where id = :p"
            ),
            {"p": w.policy.id},
        )
        assert tuple(funds.one()) == ("200000.00", "200000.00")
        acc = await _accumulators(session, w)
        assert acc["OP-GP"][:3] == ("0.00", "2000000.00", 0)
        assert (acc[None][0], acc[None][4]) == ("0.00", "0.00")
        bad = await client.post(url, json={"reason": ""}, headers=staff)
        assert bad.status_code == 422


class TestAppeal:
    async def test_upheld_equals_a_fresh_submission(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        appealed_world = await _world(session)
        fresh_world = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        _, reviewer = await signed_in(client, session, role="MEDICAL_REVIEWER")
        claim = await _submit(client, staff, claim_body(appealed_world))
        assert claim["total_paid_amount"] == "315000.00"

        # The plan drops its copay (a correction): both plans now read the same.
        for w in (appealed_world, fresh_world):
            await session.execute(
                update(PlanBenefit)
                .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == "OP-GP")
                .values(copay_amount=0)
            )
        await session.commit()

        url = f"{CLAIMS}/{claim['id']}"
        response = await client.post(
            f"{url}/appeal", json={"reason": "Copay was removed"}, headers=staff
        )
        assert response.status_code == 200, response.text
        assert response.json()["claim"]["status"] == "appealed"
        assert response.json()["previous_status"] == "approved"
        response = await client.post(
            f"{url}/appeal/decision", json={"decision": "upheld", "notes": "ok"}, headers=reviewer
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["previous_status"], body["claim"]["status"]) == ("appealed", "voided")
        assert (body["replacement"]["status"], body["replacement"]["total_paid_amount"]) == (
            "approved",
            "360000.00",
        )
        assert body["links"]["replacement"] == f"{CLAIMS}/{body['replacement']['id']}"

        await _submit(client, staff, claim_body(fresh_world))
        upheld = await _accumulators(session, appealed_world)
        fresh = await _accumulators(session, fresh_world)
        assert upheld == fresh
        assert upheld["OP-GP"][:3] == ("360000.00", "1640000.00", 1)
        assert (upheld[None][0], upheld[None][4]) == ("360000.00", "500000.00")

    async def test_rejected_returns_and_the_history_shows_who_when_from_to(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        clerk, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        doctor, reviewer = await signed_in(client, session, role="MEDICAL_REVIEWER")
        _, audit_headers = await signed_in(client, session, role="AUDITOR")
        dental = {"benefit_code": "DENT", "charged_amount": "200000.00"}
        claim = await _submit(client, staff, claim_body(w, dental))
        assert claim["status"] == "denied"
        url = f"{CLAIMS}/{claim['id']}"
        appeal = await client.post(f"{url}/appeal", json={"reason": "covered"}, headers=staff)
        assert appeal.status_code == 200, appeal.text
        response = await client.post(
            f"{url}/appeal/decision",
            json={"decision": "rejected", "notes": "Dental is excluded"},
            headers=reviewer,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["previous_status"], body["claim"]["status"]) == ("appealed", "denied")
        assert [s["code"] for s in body["claim"]["items"][0]["trace"][-2:]] == [
            "appeal",
            "appeal_decision",
        ]
        closed = await client.post(f"{url}/close", headers=staff)
        assert closed.status_code == 200, closed.text
        assert closed.json()["claim"]["status"] == "closed"

        response = await client.get(f"{url}/history", headers=audit_headers)
        assert response.status_code == 200, response.text
        history = response.json()
        assert (history["claim_id"], history["claim_number"], history["status"]) == (
            claim["id"],
            claim["claim_number"],
            "closed",
        )
        moves = [
            (c["operation"], c["from_status"], c["to_status"], c["username"], c["user_role"])
            for c in history["changes"]
        ]
        assert moves == [
            ("INSERT", None, "denied", clerk.username, "CLAIMS_PROCESSOR"),
            ("UPDATE", "denied", "appealed", clerk.username, "CLAIMS_PROCESSOR"),
            ("UPDATE", "appealed", "denied", doctor.username, "MEDICAL_REVIEWER"),
            ("UPDATE", "denied", "closed", clerk.username, "CLAIMS_PROCESSOR"),
        ]
        first = history["changes"][0]
        assert first["user_id"] == str(clerk.id)
        assert first["changed_at"] and first["request_id"]
        assert history["changes"][2]["updated_by"] == str(doctor.id)
        unknown = await client.get(f"{CLAIMS}/{uuid.uuid4()}/history", headers=audit_headers)
        _problem(unknown, 404, "claim-not-found")


class TestPermissions:
    async def test_each_route_declares_its_permission(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        claim = await _submit(client, staff, claim_body(w))
        url = f"{CLAIMS}/{claim['id']}"
        _, member = await signed_in(client, session, role="MEMBER")
        _, finance = await signed_in(client, session, role="FINANCE")
        _, reviewer = await signed_in(client, session, role="MEDICAL_REVIEWER")
        moves: list[tuple[str, dict[str, Any] | None, str]] = [
            ("decision", {"decision": "denied"}, "health.claims:decide"),
            ("void", {"reason": "x"}, "health.claims:write"),
            ("appeal", {"reason": "x"}, "health.claims:write"),
            ("appeal/decision", {"decision": "rejected"}, "health.claims:decide"),
            ("close", None, "health.claims:write"),
        ]
        before = await _state(session, w, claim["id"])
        for path, body, permission in moves:
            assert (await client.post(f"{url}/{path}", json=body)).status_code == 401
            for headers in (member, finance):
                response = await client.post(f"{url}/{path}", json=body, headers=headers)
                assert response.status_code == 403, (path, response.text)
                assert permission in response.json()["detail"]
        # A medical reviewer decides but does not register, void or appeal claims.
        for path in ("void", "appeal"):
            response = await client.post(f"{url}/{path}", json={"reason": "x"}, headers=reviewer)
            assert response.status_code == 403
        assert await _state(session, w, claim["id"]) == before
        assert (await client.get(f"{url}/history")).status_code == 401
        assert (await client.get(f"{url}/history", headers=member)).status_code == 403
        assert (await client.get(f"{url}/history", headers=finance)).status_code == 200
