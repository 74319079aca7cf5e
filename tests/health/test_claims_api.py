"""Health claims API: submit (adjudicated synchronously, idempotent), read back with the
trace, list with filters; bad input is a 422/404 that writes nothing."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.iam.factories import signed_in

CLAIMS = "/api/v1/health/claims"


def claim_body(w: ClaimWorld, *items: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member_number": w.member.member_number,
        "provider_code": w.provider.provider_code,
        "claim_type": "cashless",
        "service_type": "outpatient",
        "service_date": "2025-03-10",
        "items": list(items) or [gp()],
    }
    body.update(overrides)
    return body


def gp(amount: Any = "1000000.00", **overrides: Any) -> dict[str, Any]:
    item: dict[str, Any] = {
        "benefit_code": "OP-GP",
        "service_code": "CONSULT-GP",
        "diagnosis_code": "J06.9",
        "quantity": 1,
        "unit_price": amount,
        "charged_amount": amount,
    }
    item.update(overrides)
    return item


async def _world(session: AsyncSession) -> ClaimWorld:
    w = await build_world(session)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _staff(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    return headers


async def _counts(session: AsyncSession, w: ClaimWorld) -> tuple[int, int, int, str]:
    """Claims and lines of the member, accumulator rows and their summed used amounts."""
    row = (
        await session.execute(
            text(
                "select (select count(*) from claims.claim where member_id = :m) c,"
                " (select count(*) from claims.claim_item i join claims.claim c"
                "  on c.id = i.claim_id where c.member_id = :m) i,"
                " (select count(*) from member.accumulator where member_id = :m) a,"
                " (select coalesce(sum(used_amount), 0)::text from member.accumulator"
                "  where member_id = :m) u"
            ),
            {"m": w.member.id},
        )
    ).one()
    return row.c, row.i, row.a, row.u


async def _accumulators(session: AsyncSession, w: ClaimWorld) -> dict[str | None, tuple[Any, ...]]:
    rows = await session.execute(
        text(
            "select benefit_code, used_amount::text, visit_count, deductible_met::text"
            " from member.accumulator where member_id = :m and year = 2025"
        ),
        {"m": w.member.id},
    )
    return {r[0]: tuple(r[1:]) for r in rows}


class TestSubmit:
    async def test_adjudicated_to_the_rupiah_with_trace(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        dental = {"benefit_code": "DENT", "charged_amount": 200000}
        response = await client.post(CLAIMS, json=claim_body(w, gp(), dental), headers=headers)
        assert response.status_code == 201, response.text
        claim = response.json()
        # OP-GP: 1,000,000 - 10% discount = 900,000; deductible 500,000; copay 50,000;
        # coinsurance 10% of 350,000 = 35,000; the plan pays 315,000. DENT is not covered.
        assert claim["claim_number"].startswith("CLM-2025-")
        assert (
            claim["status"],
            claim["total_charged_amount"],
            claim["total_approved_amount"],
            claim["total_paid_amount"],
            claim["member_responsibility"],
        ) == ("partially_approved", "1200000.00", "900000.00", "315000.00", "885000.00")
        assert claim["member_number"] == w.member.member_number
        assert claim["provider_code"] == w.provider.provider_code
        items = {i["benefit_code"]: i for i in claim["items"]}
        op = items["OP-GP"]
        assert (
            op["status"],
            op["charged_amount"],
            op["approved_amount"],
            op["paid_amount"],
            op["deductible_amount"],
            op["copay_amount"],
            op["coinsurance_amount"],
            op["denial_reason"],
            op["service_code"],
            op["unit_price"],
        ) == (
            "approved",
            "1000000.00",
            "900000.00",
            "315000.00",
            "500000.00",
            "50000.00",
            "35000.00",
            None,
            "CONSULT-GP",
            "1000000.00",
        )
        assert op["trace"][0]["amount_before"] == "1000000.00"
        assert op["trace"][-1]["amount_after"] == "315000.00"
        codes = [step["code"] for step in op["trace"]]
        assert codes.index("deductible") < codes.index("copay") < codes.index("coinsurance")
        assert all(step["message"] for step in op["trace"])
        dent = items["DENT"]
        assert (dent["status"], dent["approved_amount"], dent["denial_reason"]) == (
            "denied",
            "0.00",
            "not_covered",
        )
        assert dent["trace"][-1]["code"] == "not_covered"
        assert dent["trace"][-1]["amount_after"] == "0.00"

        acc = await _accumulators(session, w)
        assert acc["OP-GP"] == ("315000.00", 1, "0.00")
        assert acc[None] == ("315000.00", 0, "500000.00")
        created_by = await session.scalar(
            text("select created_by from claims.claim where id = :id"), {"id": claim["id"]}
        )
        assert created_by is not None

        # GET returns the same claim, lines and traces.
        again = await client.get(f"{CLAIMS}/{claim['id']}", headers=headers)
        assert again.status_code == 200, again.text
        got = again.json()
        assert {k: v for k, v in got.items() if k != "items"} == {
            k: v for k, v in claim.items() if k != "items"
        }
        assert sorted(got["items"], key=lambda i: i["id"]) == sorted(
            claim["items"], key=lambda i: i["id"]
        )

    async def test_an_idempotent_retry_makes_one_claim_and_moves_accumulators_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        keyed = {**await _staff(client, session), "Idempotency-Key": str(uuid.uuid4())}
        body = claim_body(w)
        first = await client.post(CLAIMS, json=body, headers=keyed)
        again = await client.post(CLAIMS, json=body, headers=keyed)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        claims, lines, _, used = await _counts(session, w)
        assert (claims, lines) == (1, 1)
        acc = await _accumulators(session, w)
        assert acc["OP-GP"] == ("315000.00", 1, "0.00")
        assert acc[None] == ("315000.00", 0, "500000.00")

        other = await client.post(CLAIMS, json=claim_body(w, gp("5000.00")), headers=keyed)
        assert other.status_code == 422
        assert other.json()["type"].endswith("idempotency-key-mismatch")
        assert (await _counts(session, w))[:2] == (1, 1)
        assert (await _counts(session, w))[3] == used

    @pytest.mark.parametrize(
        ("change", "status", "field"),
        [
            ({"items": [gp("-1.00")]}, 422, "body.items.0.charged_amount"),
            ({"items": [gp("abc")]}, 422, "body.items.0.charged_amount"),
            ({"items": [gp("10.001")]}, 422, "body.items.0.charged_amount"),
            ({"items": [gp(diagnosis_code="NOT-ICD")]}, 422, "body.items.0.diagnosis_code"),
            ({"items": [gp(quantity=0)]}, 422, "body.items.0.quantity"),
            ({"items": []}, 422, "body.items"),
            ({"claim_type": "walk_in"}, 422, "body.claim_type"),
            ({"service_type": "vision"}, 422, "body.service_type"),
            (
                {
                    "service_type": "inpatient",
                    "admission_date": "2025-03-10",
                    "discharge_date": "2025-03-09",
                },
                422,
                "body",
            ),
            ({"member_number": "MBR-NOPE"}, 404, None),
            ({"provider_code": "PRV-NOPE"}, 404, None),
            ({"items": [gp(benefit_code="NO-SUCH-BENEFIT")]}, 404, None),
        ],
    )
    async def test_bad_input_writes_nothing(
        self,
        client: AsyncClient,
        session: AsyncSession,
        change: dict[str, Any],
        status: int,
        field: str | None,
    ) -> None:
        w = await _world(session)
        headers = {**await _staff(client, session), "Idempotency-Key": str(uuid.uuid4())}
        before = await _counts(session, w)
        response = await client.post(CLAIMS, json=claim_body(w, **change), headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        problem = response.json()
        if field is not None:
            assert field in [e["field"] for e in problem["errors"]], problem
        else:
            assert problem["type"].endswith("-not-found"), problem
        assert await _counts(session, w) == before
        # The failed request released its key: a corrected retry with it goes through.
        retry = await client.post(CLAIMS, json=claim_body(w), headers=headers)
        assert retry.status_code == 201, retry.text


class TestRead:
    async def test_get_unknown_is_404(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await _staff(client, session)
        response = await client.get(f"{CLAIMS}/{uuid.uuid4()}", headers=headers)
        assert response.status_code == 404
        assert response.json()["type"].endswith("claim-not-found")
        assert (await client.get(f"{CLAIMS}/not-a-uuid", headers=headers)).status_code == 422

    async def test_list_with_filters_and_paging(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        headers = await _staff(client, session)
        ids = []
        for day, amount in (("2025-03-10", "1000000.00"), ("2025-04-10", "100000.00")):
            response = await client.post(
                CLAIMS, json=claim_body(w, gp(amount), service_date=day), headers=headers
            )
            assert response.status_code == 201, response.text
            ids.append(response.json()["id"])
        mine = {"member_number": w.member.member_number}

        response = await client.get(CLAIMS, params=mine, headers=headers)
        assert response.status_code == 200, response.text
        page = response.json()
        assert sorted(c["id"] for c in page["items"]) == sorted(ids)
        assert page["next_cursor"] is None
        assert "items" not in page["items"][0]

        response = await client.get(
            CLAIMS, params={**mine, "service_date_from": "2025-04-01"}, headers=headers
        )
        assert [c["id"] for c in response.json()["items"]] == [ids[1]]
        response = await client.get(
            CLAIMS,
            params={
                "provider_code": w.provider.provider_code,
                "service_date_to": "2025-03-31",
                "status": "approved",
            },
            headers=headers,
        )
        assert [c["id"] for c in response.json()["items"]] == [ids[0]]
        response = await client.get(CLAIMS, params={**mine, "status": "denied"}, headers=headers)
        assert response.json()["items"] == []

        first = await client.get(CLAIMS, params={**mine, "limit": 1}, headers=headers)
        cursor = first.json()["next_cursor"]
        assert cursor is not None
        second = await client.get(
            CLAIMS, params={**mine, "limit": 1, "cursor": cursor}, headers=headers
        )
        assert second.json()["next_cursor"] is None
        seen = [c["id"] for c in first.json()["items"] + second.json()["items"]]
        assert sorted(seen) == sorted(ids)

        bad = await client.get(CLAIMS, params={"status": "nope"}, headers=headers)
        assert bad.status_code == 422

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.get(CLAIMS)).status_code == 401
        assert (await client.post(CLAIMS, json={})).status_code == 401
        assert (await client.get(f"{CLAIMS}/{uuid.uuid4()}")).status_code == 401
        w = await _world(session)
        _, member = await signed_in(client, session, role="MEMBER")
        response = await client.post(CLAIMS, json=claim_body(w), headers=member)
        assert response.status_code == 403
        assert "health.claims:write" in response.json()["detail"]
        response = await client.get(CLAIMS, headers=member)
        assert response.status_code == 403
        assert "health.claims:read" in response.json()["detail"]
        _, finance = await signed_in(client, session, role="FINANCE")
        assert (await client.get(CLAIMS, headers=finance)).status_code == 200
        response = await client.post(CLAIMS, json=claim_body(w), headers=finance)
        assert response.status_code == 403
        assert (await _counts(session, w))[:2] == (0, 0)
