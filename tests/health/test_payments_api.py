"""Health payments API: a run over approved claims (idempotent), reading payments back with
filters and paging, sent -> paid / failed / cancel, refused moves and permissions that write
nothing; amounts as decimal strings and only the masked account number."""

from __future__ import annotations

import re
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import payments
from polis.health.models import Claim
from tests.health.test_adjudication_service import ClaimWorld
from tests.health.test_payments_service import add_claim, payable_world
from tests.iam.factories import signed_in

PAYMENTS = "/api/v1/health/payments"
RUNS = f"{PAYMENTS}/runs"


async def _world(session: AsyncSession) -> tuple[ClaimWorld, dict[str, Claim]]:
    """A provider with a bank account, an approved cashless claim, a partially approved
    reimbursement, and claims a run must never pay (denied, pended, paying zero)."""
    w = await payable_world(session)
    claims = {
        "cashless": await add_claim(session, w, paid="315000.00"),
        "reimbursement": await add_claim(
            session,
            w,
            claim_type="reimbursement",
            status="partially_approved",
            paid="1234567.89",
            charged="2000000.00",
            item_statuses=("approved", "denied"),
        ),
        "denied": await add_claim(session, w, status="denied", paid="0.00"),
        "pended": await add_claim(session, w, status="pended", paid="70000.00"),
        "zero": await add_claim(session, w, paid="0.00"),
    }
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w, claims


async def _finance(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="FINANCE")
    return headers


async def _state(session: AsyncSession, w: ClaimWorld) -> list[tuple[Any, ...]]:
    """Claim statuses and their payments (number, status, reference, date) of the world."""
    rows = await session.execute(
        text(
            "select c.claim_number, c.status, p.payment_number, p.payment_status,"
            " p.reference_number, p.payment_date, p.payment_amount::text"
            " from claims.claim c left join billing.payment p on p.claim_id = c.id"
            " where c.policy_id = :p order by c.claim_number, p.payment_number"
        ),
        {"p": w.policy.id},
    )
    return [tuple(r) for r in rows]


async def _status(session: AsyncSession, claim: Claim) -> str:
    return str(
        await session.scalar(
            select(Claim.status)
            .where(Claim.id == claim.id)
            .execution_options(populate_existing=True)
        )
    )


class TestRun:
    async def test_run_pays_the_right_payees_to_the_rupiah(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, claims = await _world(session)
        headers = await _finance(client, session)
        response = await client.post(RUNS, json={}, headers=headers)
        assert response.status_code == 201, response.text
        body = response.json()
        assert re.fullmatch(r"PRUN-\d{8}-[0-9A-Z]{8}", body["run_number"])
        assert body["run_date"] == payments.jakarta_today().isoformat()
        assert body["payment_count"] == 2
        assert body["total_amount"] == "1549567.89"
        by_claim = {p["claim_number"]: p for p in body["payments"]}
        cashless = by_claim[claims["cashless"].claim_number]
        token = body["run_number"].removeprefix("PRUN-")
        assert re.fullmatch(rf"PAY-{token}-0000[12]", cashless["payment_number"])
        assert cashless | {"id": None, "payment_number": None, "created_at": None} == {
            "id": None,
            "payment_number": None,
            "created_at": None,
            "run_number": body["run_number"],
            "claim_id": str(claims["cashless"].id),
            "claim_number": claims["cashless"].claim_number,
            "payment_type": "claim",
            "payment_method": "bank_transfer",
            "payment_amount": "315000.00",
            "payee_type": "provider",
            "payee_id": str(w.provider.id),
            "payee_code": w.provider.provider_code,
            "bank_name": "Bank Mandiri",
            "account_number": "******7890",
            "reference_number": body["run_number"],
            "payment_status": "pending",
            "payment_date": None,
        }
        member = by_claim[claims["reimbursement"].claim_number]
        assert member["payment_type"] == "reimbursement"
        assert member["payment_method"] == "check"
        assert member["payee_type"] == "member"
        assert member["payee_id"] == str(w.member.id)
        assert member["payee_code"] == w.member.member_number
        assert member["payment_amount"] == "1234567.89"
        assert member["account_number"] is None
        assert "1234567890" not in response.text
        assert "encrypted" not in response.text

        assert await _status(session, claims["cashless"]) == "payment_pending"
        assert await _status(session, claims["reimbursement"]) == "payment_pending"
        for name, status in (("denied", "denied"), ("pended", "pended"), ("zero", "approved")):
            assert await _status(session, claims[name]) == status

        # A second run finds nothing to pay: 200, zero, no run number.
        again = await client.post(RUNS, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == {
            "run_number": None,
            "run_date": payments.jakarta_today().isoformat(),
            "payment_count": 0,
            "total_amount": "0.00",
            "payments": [],
        }
        assert len([r for r in await _state(session, w) if r[2] is not None]) == 2

    async def test_an_idempotent_retry_makes_one_run(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, _ = await _world(session)
        headers = await _finance(client, session) | {"Idempotency-Key": str(uuid.uuid4())}
        body = {"provider_code": w.provider.provider_code}
        first = await client.post(RUNS, json=body, headers=headers)
        second = await client.post(RUNS, json=body, headers=headers)
        assert first.status_code == second.status_code == 201
        assert second.headers.get("Idempotent-Replayed") == "true"
        assert first.json() == second.json()
        assert len([r for r in await _state(session, w) if r[2] is not None]) == 2

    async def test_filters_and_bad_input(self, client: AsyncClient, session: AsyncSession) -> None:
        w, claims = await _world(session)
        headers = await _finance(client, session)
        members = await client.post(
            RUNS,
            json={"payee_type": "member", "provider_code": w.provider.provider_code},
            headers=headers,
        )
        assert members.status_code == 201
        assert [p["claim_number"] for p in members.json()["payments"]] == [
            claims["reimbursement"].claim_number
        ]
        before = await _state(session, w)
        for bad in (
            {"limit": 0},
            {"limit": "many"},
            {"payee_type": "broker"},
            {"run_date": "2026-02-30"},
            {"provider_code": ""},
            {"surprise": 1},
        ):
            response = await client.post(RUNS, json=bad, headers=headers)
            assert response.status_code == 422, bad
            assert response.headers["content-type"] == "application/problem+json"
        future = await client.post(RUNS, json={"run_date": "2999-01-01"}, headers=headers)
        assert future.status_code == 422
        assert future.json()["type"] == "urn:polis:problem:invalid-payment-run"
        unknown = await client.post(RUNS, json={"provider_code": "NOPE-1"}, headers=headers)
        assert unknown.status_code == 404
        assert unknown.json()["type"] == "urn:polis:problem:provider-not-found"
        assert await _state(session, w) == before


class TestPaymentLife:
    async def _run(self, client: AsyncClient, headers: dict[str, str], w: ClaimWorld) -> Any:
        response = await client.post(
            RUNS, json={"provider_code": w.provider.provider_code}, headers=headers
        )
        assert response.status_code == 201, response.text
        return response.json()

    async def test_sent_then_paid_makes_the_claim_paid(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, claims = await _world(session)
        headers = await _finance(client, session)
        run = await self._run(client, headers, w)
        number = next(
            p["payment_number"]
            for p in run["payments"]
            if p["claim_number"] == claims["cashless"].claim_number
        )
        sent = await client.post(
            f"{PAYMENTS}/{number}/sent",
            json={"reference_number": "TRF-20261123-01"},
            headers=headers,
        )
        assert sent.status_code == 200, sent.text
        assert sent.json()["payment_status"] == "sent"
        assert sent.json()["reference_number"] == "TRF-20261123-01"
        assert sent.json()["run_number"] == run["run_number"]
        today = payments.jakarta_today().isoformat()
        paid = await client.post(
            f"{PAYMENTS}/{number}/paid", json={"payment_date": today}, headers=headers
        )
        assert paid.status_code == 200, paid.text
        assert paid.json()["payment_status"] == "paid"
        assert paid.json()["payment_date"] == today
        assert paid.json()["payment_amount"] == "315000.00"
        assert await _status(session, claims["cashless"]) == "paid"
        totals = (
            await session.execute(
                text(
                    "select total_paid_amount::text, member_responsibility::text"
                    " from claims.claim where id = :c"
                ),
                {"c": claims["cashless"].id},
            )
        ).one()
        assert tuple(totals) == ("315000.00", "685000.00")

        got = await client.get(f"{PAYMENTS}/{number}", headers=headers)
        assert got.status_code == 200
        assert got.json() == paid.json()

    async def test_failed_returns_the_claim_and_a_new_run_pays_it_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, claims = await _world(session)
        headers = await _finance(client, session)
        run = await self._run(client, headers, w)
        number = next(
            p["payment_number"]
            for p in run["payments"]
            if p["claim_number"] == claims["reimbursement"].claim_number
        )
        await client.post(
            f"{PAYMENTS}/{number}/sent", json={"reference_number": "CHK-000123"}, headers=headers
        )
        failed = await client.post(
            f"{PAYMENTS}/{number}/failed", json={"reason": "cheque returned"}, headers=headers
        )
        assert failed.status_code == 200, failed.text
        assert failed.json()["payment_status"] == "failed"
        assert await _status(session, claims["reimbursement"]) == "partially_approved"

        rerun = await self._run(client, headers, w)
        assert rerun["payment_count"] == 1
        assert rerun["total_amount"] == "1234567.89"
        assert rerun["payments"][0]["claim_number"] == claims["reimbursement"].claim_number
        assert (await client.post(RUNS, headers=headers)).json()["payment_count"] == 0

        listed = await client.get(
            PAYMENTS, params={"claim_id": str(claims["reimbursement"].id)}, headers=headers
        )
        assert listed.status_code == 200
        assert sorted(
            (p["payment_status"], p["payment_amount"]) for p in listed.json()["items"]
        ) == [
            ("failed", "1234567.89"),
            ("pending", "1234567.89"),
        ]

    async def test_cancel_and_refused_moves_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, claims = await _world(session)
        headers = await _finance(client, session)
        run = await self._run(client, headers, w)
        number = next(
            p["payment_number"]
            for p in run["payments"]
            if p["claim_number"] == claims["cashless"].claim_number
        )
        before = await _state(session, w)
        for action, body in (
            ("paid", {"payment_date": payments.jakarta_today().isoformat()}),
            ("failed", {"reason": "x"}),
        ):
            refused = await client.post(f"{PAYMENTS}/{number}/{action}", json=body, headers=headers)
            assert refused.status_code == 409, refused.text
            assert refused.headers["content-type"] == "application/problem+json"
            assert refused.json()["type"] == "urn:polis:problem:invalid-transition"
        bad = await client.post(f"{PAYMENTS}/{number}/sent", json={}, headers=headers)
        assert bad.status_code == 422
        missing = await client.post(
            f"{PAYMENTS}/PAY-NOPE/sent", json={"reference_number": "x"}, headers=headers
        )
        assert missing.status_code == 404
        assert missing.json()["type"] == "urn:polis:problem:payment-not-found"
        assert await _state(session, w) == before

        cancelled = await client.post(
            f"{PAYMENTS}/{number}/cancel", json={"reason": "duplicate invoice"}, headers=headers
        )
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["payment_status"] == "cancelled"
        assert await _status(session, claims["cashless"]) == "approved"
        after_cancel = await _state(session, w)
        again = await client.post(
            f"{PAYMENTS}/{number}/sent", json={"reference_number": "TRF-1"}, headers=headers
        )
        assert again.status_code == 409
        assert await _state(session, w) == after_cancel


class TestRead:
    async def test_list_filters_and_paging(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w, claims = await _world(session)
        extra = [await add_claim(session, w, paid=f"{n}000.00") for n in range(1, 4)]
        await session.commit()
        headers = await _finance(client, session)
        run = (
            await client.post(
                RUNS, json={"provider_code": w.provider.provider_code}, headers=headers
            )
        ).json()
        assert run["payment_count"] == 5
        numbers = sorted(p["payment_number"] for p in run["payments"])

        seen: list[str] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"run_number": run["run_number"], "limit": 2}
            if cursor:
                params["cursor"] = cursor
            page = await client.get(PAYMENTS, params=params, headers=headers)
            assert page.status_code == 200, page.text
            seen += [p["payment_number"] for p in page.json()["items"]]
            cursor = page.json()["next_cursor"]
            if cursor is None:
                break
        assert sorted(seen) == numbers

        members = await client.get(
            PAYMENTS,
            params={"run_number": run["run_number"], "payee_type": "member"},
            headers=headers,
        )
        assert [p["claim_number"] for p in members.json()["items"]] == [
            claims["reimbursement"].claim_number
        ]
        pending = await client.get(
            PAYMENTS,
            params={"run_number": run["run_number"], "payment_status": "pending"},
            headers=headers,
        )
        assert len(pending.json()["items"]) == 5
        assert {p["claim_id"] for p in pending.json()["items"]} >= {str(c.id) for c in extra}
        other_run = await client.get(
            PAYMENTS, params={"run_number": "PRUN-20000101-AAAAAAAA"}, headers=headers
        )
        assert other_run.json() == {"items": [], "next_cursor": None}
        for bad in ({"payment_status": "nope"}, {"run_number": "RUN-1"}, {"claim_id": "x"}):
            assert (await client.get(PAYMENTS, params=bad, headers=headers)).status_code == 422
        assert (await client.get(f"{PAYMENTS}/PAY-NOPE", headers=headers)).status_code == 404

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.post(RUNS)).status_code == 401
        assert (await client.get(PAYMENTS)).status_code == 401
        w, _ = await _world(session)
        before = await _state(session, w)
        _, processor = await signed_in(client, session, role="CLAIMS_PROCESSOR")
        refused = await client.post(RUNS, json={}, headers=processor)
        assert refused.status_code == 403
        assert "health.claims:pay" in refused.json()["detail"]
        # A claims processor reads billing (all health reads) but may not move payments.
        assert (await client.get(PAYMENTS, headers=processor)).status_code == 200
        moved = await client.post(
            f"{PAYMENTS}/PAY-X/sent", json={"reference_number": "x"}, headers=processor
        )
        assert moved.status_code == 403
        assert "health.billing:write" in moved.json()["detail"]
        _, member = await signed_in(client, session, role="MEMBER")
        listed = await client.get(PAYMENTS, headers=member)
        assert listed.status_code == 403
        assert "health.billing:read" in listed.json()["detail"]
        assert await _state(session, w) == before
