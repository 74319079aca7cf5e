"""Pre-authorisations (guarantee letters): request, read, list, decide, expire, and their use
by claims (caps to the rupiah, shared across claims, restored by a void); bad input writes
nothing (decision 0024)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from httpx import AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from typer.testing import CliRunner

from polis.db import migrate
from polis.health.adjudication import void_claim
from polis.health.authorizations import (
    effective_status,
    expire_authorizations,
    new_authorization_number,
    today_jakarta,
)
from polis.health.models import Authorization, PlanBenefit
from tests.health.test_adjudication_service import ClaimWorld, build_world
from tests.health.test_schema import add_member
from tests.iam.factories import signed_in

AUTHS = "/api/v1/health/authorizations"
CLAIMS = "/api/v1/health/claims"
D = Decimal
TODAY = today_jakarta()


def day(n: int) -> str:
    return (TODAY + timedelta(days=n)).isoformat()


def gl_body(w: ClaimWorld, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member_number": w.member.member_number,
        "provider_code": w.provider.provider_code,
        "service_type": "inpatient",
        "procedure_code": "47.01",
        "diagnosis_code": "k358",
        "valid_from": day(0),
        "valid_to": day(5),
        "requested_amount": "3500000.00",
        "requested_days": 3,
    }
    body.update(overrides)
    return body


def room(days: int, charged: str) -> dict[str, Any]:
    return {
        "benefit_code": "IP-ROOM",
        "diagnosis_code": "K35.8",
        "quantity": days,
        "charged_amount": charged,
    }


def claim_body(w: ClaimWorld, *items: dict[str, Any], **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "member_number": w.member.member_number,
        "provider_code": w.provider.provider_code,
        "claim_type": "cashless",
        "service_type": "inpatient",
        "service_date": day(1),
        "items": list(items) or [room(3, "4000000.00")],
    }
    body.update(overrides)
    return body


async def _world(session: AsyncSession) -> ClaimWorld:
    """build_world without a deductible (amounts independent of the year), IP-ROOM (1,000,000
    a day, 30 days, 10% contract discount) requiring an authorisation; committed."""
    w = await build_world(session, deductible=D("0"))
    await session.execute(
        update(PlanBenefit)
        .where(PlanBenefit.plan_id == w.plan.id, PlanBenefit.benefit_code == "IP-ROOM")
        .values(requires_authorization=True)
    )
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w


async def _headers(client: AsyncClient, session: AsyncSession, role: str) -> dict[str, str]:
    _, headers = await signed_in(client, session, role=role)
    return headers


async def _count(session: AsyncSession, w: ClaimWorld) -> int:
    return int(
        await session.scalar(
            select(func.count())
            .select_from(Authorization)
            .where(Authorization.member_id == w.member.id)
        )
        or 0
    )


async def _request(
    client: AsyncClient, headers: dict[str, str], w: ClaimWorld, **overrides: Any
) -> dict[str, Any]:
    response = await client.post(AUTHS, json=gl_body(w, **overrides), headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def _approved(
    client: AsyncClient,
    provider: dict[str, str],
    reviewer: dict[str, str],
    w: ClaimWorld,
    amount: str = "3000000.00",
    days: int = 3,
    **overrides: Any,
) -> str:
    number = str((await _request(client, provider, w, **overrides))["authorization_number"])
    response = await client.post(
        f"{AUTHS}/{number}/decision",
        json={"decision": "approved", "approved_amount": amount, "approved_days": days},
        headers=reviewer,
    )
    assert response.status_code == 200, response.text
    return number


def _fields(response: Any) -> list[str]:
    return [e["field"] for e in response.json().get("errors", [])]


# --- request, read, list ------------------------------------------------------------------


class TestRequest:
    async def test_request_read_and_list(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        gl = await _request(client, provider, w)
        assert gl["authorization_number"].startswith(f"GL-{TODAY.year}-")
        assert len(gl["authorization_number"]) == len("GL-2026-") + 12
        assert {k: gl[k] for k in gl if k not in ("id", "authorization_number", "created_at")} == {
            "claim_id": None,
            "member_number": w.member.member_number,
            "provider_code": w.provider.provider_code,
            "service_type": "inpatient",
            "procedure_code": "47.01",
            "diagnosis_code": "K35.8",  # normal form
            "valid_from": day(0),
            "valid_to": day(5),
            "status": "pending",
            "requested_amount": "3500000.00",
            "requested_days": 3,
            "approved_amount": None,
            "approved_days": None,
            "used_amount": "0.00",
            "used_days": 0,
            "decision_date": None,
            "decision_by": None,
            "decision_notes": None,
        }
        row = await session.scalar(
            select(Authorization)
            .where(Authorization.authorization_number == gl["authorization_number"])
            .execution_options(populate_existing=True)
        )
        assert row is not None
        assert (row.status, row.requested_amount, row.requested_days, row.member_id) == (
            "pending",
            D("3500000.00"),
            3,
            w.member.id,
        )

        got = await client.get(f"{AUTHS}/{gl['authorization_number']}", headers=provider)
        assert got.status_code == 200, got.text
        assert got.json() == gl

        outpatient = await _request(
            client,
            provider,
            w,
            service_type="outpatient",
            requested_days=None,
            requested_amount=750000,
        )
        assert (outpatient["requested_amount"], outpatient["requested_days"]) == ("750000.00", None)

        mine = {"member_number": w.member.member_number}
        listed = await client.get(AUTHS, params=mine, headers=provider)
        assert listed.status_code == 200, listed.text
        numbers = [a["authorization_number"] for a in listed.json()["items"]]
        assert sorted(numbers) == sorted(
            [gl["authorization_number"], outpatient["authorization_number"]]
        )
        assert listed.json()["next_cursor"] is None
        page1 = await client.get(AUTHS, params={**mine, "limit": 1}, headers=provider)
        cursor = page1.json()["next_cursor"]
        assert cursor is not None
        page2 = await client.get(
            AUTHS, params={**mine, "limit": 1, "cursor": cursor}, headers=provider
        )
        seen = [a["authorization_number"] for a in page1.json()["items"] + page2.json()["items"]]
        assert sorted(seen) == sorted(numbers)
        assert page2.json()["next_cursor"] is None
        by_provider = await client.get(
            AUTHS,
            params={"provider_code": w.provider.provider_code, "status": "pending"},
            headers=provider,
        )
        assert len(by_provider.json()["items"]) == 2
        none = await client.get(AUTHS, params={**mine, "status": "approved"}, headers=provider)
        assert none.json()["items"] == []
        assert (
            await client.get(AUTHS, params={"status": "nope"}, headers=provider)
        ).status_code == 422

    async def test_unknown_number_is_404(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await _headers(client, session, "PROVIDER")
        response = await client.get(f"{AUTHS}/GL-2026-NOPE", headers=headers)
        assert response.status_code == 404
        assert response.json()["type"].endswith("authorization-not-found")

    async def test_idempotent_retry_makes_one_letter(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        keyed = {
            **await _headers(client, session, "PROVIDER"),
            "Idempotency-Key": str(uuid.uuid4()),
        }
        first = await client.post(AUTHS, json=gl_body(w), headers=keyed)
        again = await client.post(AUTHS, json=gl_body(w), headers=keyed)
        assert first.status_code == again.status_code == 201, again.text
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert await _count(session, w) == 1
        other = await client.post(AUTHS, json=gl_body(w, requested_days=2), headers=keyed)
        assert other.status_code == 422
        assert await _count(session, w) == 1

    @pytest.mark.parametrize(
        ("change", "status", "fields"),
        [
            ({"member_number": "MBR-NOPE"}, 404, None),
            ({"provider_code": "PRV-NOPE"}, 404, None),
            ({"valid_from": day(3), "valid_to": day(2)}, 422, ["body.valid_to"]),
            ({"valid_from": day(-10), "valid_to": day(-1)}, 422, ["body.valid_to"]),
            ({"valid_from": "2019-06-01"}, 422, ["body.valid_from"]),
            ({"requested_amount": "-1.00"}, 422, ["body.requested_amount"]),
            ({"requested_amount": "0"}, 422, ["body.requested_amount"]),
            ({"requested_amount": "abc"}, 422, ["body.requested_amount"]),
            ({"requested_amount": "10.001"}, 422, ["body.requested_amount"]),
            ({"requested_days": 0}, 422, ["body.requested_days"]),
            ({"requested_days": None}, 422, ["body.requested_days"]),
            ({"diagnosis_code": "NOT-ICD"}, 422, ["body.diagnosis_code"]),
            ({"service_type": "vision"}, 422, ["body.service_type"]),
            (
                {"requested_amount": -5, "diagnosis_code": "XYZ"},
                422,
                ["body.diagnosis_code", "body.requested_amount"],
            ),
        ],
    )
    async def test_bad_input_writes_nothing(
        self,
        client: AsyncClient,
        session: AsyncSession,
        change: dict[str, Any],
        status: int,
        fields: list[str] | None,
    ) -> None:
        w = await _world(session)
        headers = {
            **await _headers(client, session, "PROVIDER"),
            "Idempotency-Key": str(uuid.uuid4()),
        }
        response = await client.post(AUTHS, json=gl_body(w, **change), headers=headers)
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        if fields is None:
            assert response.json()["type"].endswith("-not-found")
        else:
            assert sorted(_fields(response)) == fields, response.json()
        assert await _count(session, w) == 0
        retry = await client.post(AUTHS, json=gl_body(w), headers=headers)
        assert retry.status_code == 201, retry.text

    async def test_member_without_active_coverage(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        w.member = await add_member(session)  # no coverage at all
        await session.commit()
        headers = await _headers(client, session, "PROVIDER")
        response = await client.post(AUTHS, json=gl_body(w), headers=headers)
        assert response.status_code == 422
        assert _fields(response) == ["body.valid_from"]
        assert response.json()["errors"][0]["type"] == "no_coverage"
        assert await _count(session, w) == 0

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        assert (await client.post(AUTHS, json={})).status_code == 401
        assert (await client.get(AUTHS)).status_code == 401
        w = await _world(session)
        member = await _headers(client, session, "MEMBER")
        response = await client.post(AUTHS, json=gl_body(w), headers=member)
        assert response.status_code == 403
        assert "health.preauth:submit" in response.json()["detail"]
        response = await client.get(AUTHS, headers=member)
        assert "health.preauth:read" in response.json()["detail"]
        provider = await _headers(client, session, "PROVIDER")
        number = (await _request(client, provider, w))["authorization_number"]
        response = await client.post(
            f"{AUTHS}/{number}/decision", json={"decision": "denied"}, headers=provider
        )
        assert response.status_code == 403
        assert "health.preauth:decide" in response.json()["detail"]
        finance = await _headers(client, session, "FINANCE")
        assert (await client.get(f"{AUTHS}/{number}", headers=finance)).status_code == 403
        assert await _count(session, w) == 1


# --- decision -----------------------------------------------------------------------------


class TestDecision:
    async def test_approve_records_who_and_when_and_only_once(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        user, reviewer = await signed_in(client, session, role="MEDICAL_REVIEWER")
        number = (await _request(client, provider, w))["authorization_number"]
        response = await client.post(
            f"{AUTHS}/{number}/decision",
            json={
                "decision": "approved",
                "approved_amount": 3000000,
                "approved_days": 3,
                "decision_notes": "Appendectomy, 3 days in class 1",
            },
            headers=reviewer,
        )
        assert response.status_code == 200, response.text
        gl = response.json()
        assert (
            gl["status"],
            gl["approved_amount"],
            gl["approved_days"],
            gl["decision_by"],
            gl["decision_notes"],
        ) == ("approved", "3000000.00", 3, str(user.id), "Appendectomy, 3 days in class 1")
        assert gl["decision_date"] is not None
        again = await client.post(
            f"{AUTHS}/{number}/decision",
            json={"decision": "denied", "decision_notes": "changed my mind"},
            headers=reviewer,
        )
        assert again.status_code == 409
        assert again.json()["type"].endswith("authorization-not-pending")
        got = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        assert (got["status"], got["approved_amount"]) == ("approved", "3000000.00")

    @pytest.mark.parametrize(
        ("decision", "fields"),
        [
            ({"decision": "approved", "approved_days": 3}, ["body.approved_amount"]),
            ({"decision": "approved", "approved_amount": "3000000.00"}, ["body.approved_days"]),
            (
                {"decision": "approved", "approved_amount": "3500000.01", "approved_days": 4},
                ["body.approved_amount", "body.approved_days"],
            ),
            ({"decision": "approved", "approved_amount": 0, "approved_days": 3}, None),
            ({"decision": "approved", "approved_amount": "-1", "approved_days": 3}, None),
            ({"decision": "denied"}, ["body.decision_notes"]),
            (
                {"decision": "denied", "approved_amount": 100, "decision_notes": "no"},
                ["body.approved_amount"],
            ),
            ({"decision": "maybe"}, None),
        ],
    )
    async def test_bad_decisions_change_nothing(
        self,
        client: AsyncClient,
        session: AsyncSession,
        decision: dict[str, Any],
        fields: list[str] | None,
    ) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        reviewer = await _headers(client, session, "CLAIMS_PROCESSOR")
        number = (await _request(client, provider, w))["authorization_number"]
        response = await client.post(f"{AUTHS}/{number}/decision", json=decision, headers=reviewer)
        assert response.status_code == 422, response.text
        if fields is not None:
            assert sorted(_fields(response)) == fields, response.json()
        row = await session.scalar(
            select(Authorization)
            .where(Authorization.authorization_number == number)
            .execution_options(populate_existing=True)
        )
        assert row is not None
        assert (row.status, row.approved_amount, row.decision_by, row.decision_date) == (
            "pending",
            None,
            None,
            None,
        )

    async def test_deny_and_unknown(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        reviewer = await _headers(client, session, "CLAIMS_PROCESSOR")
        number = (await _request(client, provider, w, service_type="outpatient"))[
            "authorization_number"
        ]
        response = await client.post(
            f"{AUTHS}/{number}/decision",
            json={"decision": "denied", "decision_notes": "Not medically necessary"},
            headers=reviewer,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json()["approved_amount"]) == ("denied", None)
        missing = await client.post(
            f"{AUTHS}/GL-2026-NOPE/decision",
            json={"decision": "denied", "decision_notes": "x"},
            headers=reviewer,
        )
        assert missing.status_code == 404

    async def test_outpatient_approval_needs_no_days(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        reviewer = await _headers(client, session, "CLAIMS_PROCESSOR")
        number = (
            await _request(client, provider, w, service_type="outpatient", requested_days=None)
        )["authorization_number"]
        response = await client.post(
            f"{AUTHS}/{number}/decision",
            json={"decision": "approved", "approved_amount": "3500000.00"},
            headers=reviewer,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["approved_amount"], response.json()["approved_days"]) == (
            "3500000.00",
            None,
        )


# --- expiry -------------------------------------------------------------------------------


async def _age(session: AsyncSession, number: str, valid_from: date, valid_to: date) -> None:
    """Move a letter's validity (as if time had passed)."""
    await session.execute(
        update(Authorization)
        .where(Authorization.authorization_number == number)
        .values(valid_from=valid_from, valid_to=valid_to)
    )
    await session.commit()


class TestExpiry:
    async def test_reads_expired_after_valid_to_before_the_job(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        provider = await _headers(client, session, "PROVIDER")
        reviewer = await _headers(client, session, "CLAIMS_PROCESSOR")
        number = (await _request(client, provider, w))["authorization_number"]
        await _age(session, number, TODAY - timedelta(days=10), TODAY - timedelta(days=1))
        got = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        assert got["status"] == "expired"
        stored = await session.scalar(
            select(Authorization.status).where(Authorization.authorization_number == number)
        )
        assert stored == "pending"  # the job has not run
        mine = {"member_number": w.member.member_number}
        expired = await client.get(AUTHS, params={**mine, "status": "expired"}, headers=provider)
        assert [a["authorization_number"] for a in expired.json()["items"]] == [number]
        pending = await client.get(AUTHS, params={**mine, "status": "pending"}, headers=provider)
        assert pending.json()["items"] == []
        response = await client.post(
            f"{AUTHS}/{number}/decision",
            json={"decision": "approved", "approved_amount": 1, "approved_days": 1},
            headers=reviewer,
        )
        assert response.status_code == 409
        assert "expired" in response.json()["detail"]

    async def test_expire_moves_pending_and_approved_once(self, session: AsyncSession) -> None:
        w = await build_world(session)
        today = date(2031, 6, 15)

        def letter(status: str, valid_to: date, **more: Any) -> Authorization:
            return Authorization(
                authorization_number=new_authorization_number(valid_to),
                member_id=w.member.id,
                provider_id=w.provider.id,
                service_type="inpatient",
                valid_from=date(2031, 1, 1),
                valid_to=valid_to,
                status=status,
                **more,
            )

        before = date(2031, 6, 14)
        rows = {
            "pending_past": letter("pending", before),
            "approved_past": letter("approved", before, approved_amount=D("1.00")),
            "pending_today": letter("pending", today),
            "approved_later": letter("approved", date(2031, 7, 1)),
            "denied_past": letter("denied", before),
            "cancelled_past": letter("cancelled", before),
        }
        session.add_all(rows.values())
        await session.flush()
        assert effective_status(rows["pending_past"], today) == "expired"
        assert effective_status(rows["pending_today"], today) == "pending"
        # Other tests' letters may be past 2031-06-14 too; count only ours.
        ours = [r.id for r in rows.values()]
        changed = await expire_authorizations(session, today)
        assert changed >= 2
        statuses = dict(
            (
                await session.execute(
                    select(Authorization.id, Authorization.status)
                    .where(Authorization.id.in_(ours))
                    .execution_options(populate_existing=True)
                )
            ).all()
        )
        assert {k: statuses[r.id] for k, r in rows.items()} == {
            "pending_past": "expired",
            "approved_past": "expired",
            "pending_today": "pending",
            "approved_later": "approved",
            "denied_past": "denied",
            "cancelled_past": "cancelled",
        }
        assert await expire_authorizations(session, today) == 0


@pytest.fixture(scope="module")
def cli_db(create_database: Callable[[], str]) -> str:
    """A database of its own: the command commits."""
    url = create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture
def run_cli(cli_db: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Any]]:
    from polis.cli import app
    from polis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", cli_db)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(app, ["health", "expire-authorizations", *args])
    get_settings.cache_clear()


def test_cli_expires_once(cli_db: str, run_cli: Callable[..., Any]) -> None:
    from sqlalchemy import pool
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    from polis.db.urls import with_driver

    async def seed() -> None:
        engine = create_async_engine(with_driver(cli_db, "asyncpg"), poolclass=pool.NullPool)
        try:
            async with async_sessionmaker(engine)() as s:
                w = await build_world(s)
                for status, valid_to in (
                    ("pending", date(2025, 3, 9)),
                    ("approved", date(2025, 3, 9)),
                    ("approved", date(2025, 3, 10)),
                ):
                    s.add(
                        Authorization(
                            authorization_number=new_authorization_number(valid_to),
                            member_id=w.member.id,
                            provider_id=w.provider.id,
                            service_type="inpatient",
                            valid_from=date(2025, 3, 1),
                            valid_to=valid_to,
                            status=status,
                        )
                    )
                await s.commit()
        finally:
            await engine.dispose()

    asyncio.run(seed())
    result = run_cli("--date", "2025-03-10")
    assert result.exit_code == 0, result.output
    assert "expired 2 authorization(s) with valid_to before 2025-03-10" in result.output
    again = run_cli("--date", "2025-03-10")
    assert "expired 0 authorization(s)" in again.output
    with psycopg.connect(cli_db) as conn:
        rows = conn.execute(
            "select status, count(*) from claims.authorization group by status order by 1"
        ).fetchall()
    assert rows == [("approved", 1), ("expired", 2)]
    bad = run_cli("--date", "10/03/2025")
    assert bad.exit_code != 0
    assert "YYYY-MM-DD" in bad.output


# --- use by claims ------------------------------------------------------------------------


def _line(claim: dict[str, Any]) -> dict[str, Any]:
    (item,) = claim["items"]
    return dict(item)


async def _claim(
    client: AsyncClient, headers: dict[str, str], body: dict[str, Any]
) -> dict[str, Any]:
    response = await client.post(CLAIMS, json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


class TestClaims:
    async def test_no_letter_or_a_pending_one_denies(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        claim = await _claim(client, staff, claim_body(w))
        assert (claim["status"], _line(claim)["denial_reason"], claim["total_paid_amount"]) == (
            "denied",
            "authorization_missing",
            "0.00",
        )
        number = (await _request(client, provider, w))["authorization_number"]
        for body in (claim_body(w, authorization_number=number), claim_body(w)):
            claim = await _claim(client, staff, body)
            assert (claim["status"], _line(claim)["denial_reason"]) == (
                "denied",
                "authorization_not_approved",
            )
        gl = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        # The claim that named it is linked; nothing was used.
        assert gl["claim_id"] is not None
        assert (gl["used_amount"], gl["used_days"]) == ("0.00", 0)

    async def test_approved_letter_caps_to_the_rupiah_and_is_linked(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        number = await _approved(client, provider, staff, w, "3000000.00", 3)
        claim = await _claim(client, staff, claim_body(w, authorization_number=number))
        # 4,000,000 - 10% = 3,600,000, capped by the letter to 3,000,000; 3 days x 1,000,000
        # = 3,000,000 per-day cap; no deductible, copay or coinsurance: the plan pays it all.
        line = _line(claim)
        assert (
            claim["status"],
            claim["total_charged_amount"],
            claim["total_approved_amount"],
            claim["total_paid_amount"],
            claim["member_responsibility"],
            line["status"],
            line["denial_reason"],
        ) == (
            "partially_approved",
            "4000000.00",
            "3000000.00",
            "3000000.00",
            "1000000.00",
            "partially_approved",
            "authorization_cap",
        )
        cap = next(s for s in line["trace"] if s["code"] == "authorization_cap")
        assert (cap["amount_before"], cap["amount_after"]) == ("3600000.00", "3000000.00")
        gl = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        assert (gl["claim_id"], gl["used_amount"], gl["used_days"]) == (
            claim["id"],
            "3000000.00",
            3,
        )
        # Used up: a further claim on it is denied.
        claim = await _claim(
            client, staff, claim_body(w, room(1, "500000.00"), authorization_number=number)
        )
        assert (claim["status"], _line(claim)["denial_reason"]) == (
            "denied",
            "authorization_exhausted",
        )

    async def test_an_upheld_appeal_readjudicates_against_the_letter_the_claim_named(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        # Two letters apply to the same stay; the older one would be chosen unnamed.
        older = await _approved(client, provider, staff, w, "3000000.00", 3)
        named = await _approved(client, provider, staff, w, "2000000.00", 3)
        claim = await _claim(client, staff, claim_body(w, authorization_number=named))
        assert (claim["total_approved_amount"], _line(claim)["denial_reason"]) == (
            "2000000.00",
            "authorization_cap",
        )
        url = f"{CLAIMS}/{claim['id']}"
        appealed = await client.post(f"{url}/appeal", json={"reason": "review"}, headers=staff)
        assert appealed.status_code == 200, appealed.text
        upheld = await client.post(
            f"{url}/appeal/decision", json={"decision": "upheld"}, headers=staff
        )
        assert upheld.status_code == 200, upheld.text
        replacement = upheld.json()["replacement"]
        # Still capped by the named letter (2,000,000), not the older one (3,000,000).
        assert replacement["total_approved_amount"] == "2000000.00"
        used = {
            number: (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
            for number in (older, named)
        }
        assert (used[named]["claim_id"], used[named]["used_amount"]) == (
            replacement["id"],
            "2000000.00",
        )
        assert (used[older]["claim_id"], used[older]["used_amount"]) == (None, "0.00")

    async def test_amount_and_days_are_shared_across_claims_and_a_void_gives_them_back(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        w = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        number = await _approved(client, provider, staff, w, "3000000.00", 3)
        first = await _claim(
            client, staff, claim_body(w, room(2, "2000000.00"), authorization_number=number)
        )
        # 2,000,000 - 10% = 1,800,000: under the letter and under 2 x 1,000,000.
        assert (first["status"], first["total_paid_amount"]) == ("approved", "1800000.00")
        # Without naming it: the member's approved letter for this provider applies.
        second = await _claim(
            client, staff, claim_body(w, room(2, "2000000.00"), service_date=day(2))
        )
        # 1,800,000 allowed, capped to the 1,200,000 left; 1 day left: 1 x 1,000,000 paid.
        line = _line(second)
        assert (
            second["status"],
            second["total_approved_amount"],
            second["total_paid_amount"],
            second["member_responsibility"],
            line["denial_reason"],
        ) == ("partially_approved", "1000000.00", "1000000.00", "1000000.00", "authorization_cap")
        steps = {s["code"]: s for s in line["trace"]}
        assert steps["authorization_cap"]["amount_after"] == "1200000.00"
        assert steps["per_day_limit"]["amount_after"] == "1000000.00"
        gl = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        assert (gl["claim_id"], gl["used_amount"], gl["used_days"]) == (
            second["id"],
            "3000000.00",
            3,
        )

        await void_claim(session, uuid.UUID(second["id"]), reason="duplicate", user_id="tester")
        await session.commit()
        gl = (await client.get(f"{AUTHS}/{number}", headers=provider)).json()
        assert (gl["used_amount"], gl["used_days"]) == ("1800000.00", 2)
        third = await _claim(
            client, staff, claim_body(w, room(1, "1000000.00"), authorization_number=number)
        )
        assert (third["status"], third["total_paid_amount"]) == ("approved", "900000.00")

    async def test_expired_letters(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        number = await _approved(client, provider, staff, w, "3000000.00", 3)
        # A service after valid_to: denied.
        late = await _claim(
            client, staff, claim_body(w, authorization_number=number, service_date=day(10))
        )
        assert (late["status"], _line(late)["denial_reason"], late["total_paid_amount"]) == (
            "denied",
            "authorization_expired",
            "0.00",
        )
        # The job stores `expired`; a service inside the validity is still covered by it.
        assert await expire_authorizations(session, TODAY + timedelta(days=6)) >= 1
        await session.commit()
        stored = await session.scalar(
            select(Authorization.status).where(Authorization.authorization_number == number)
        )
        assert stored == "expired"
        inside = await _claim(client, staff, claim_body(w, authorization_number=number))
        assert (inside["status"], inside["total_paid_amount"]) == (
            "partially_approved",
            "3000000.00",
        )
        # A letter that lapsed while pending was never approved.
        lapsed = (await _request(client, provider, w))["authorization_number"]
        await _age(session, lapsed, TODAY - timedelta(days=10), TODAY - timedelta(days=1))
        assert await expire_authorizations(session, TODAY) >= 1
        await session.commit()
        claim = await _claim(
            client,
            staff,
            claim_body(w, authorization_number=lapsed, service_date=day(-5)),
        )
        assert (claim["status"], _line(claim)["denial_reason"]) == (
            "denied",
            "authorization_not_approved",
        )

    async def test_other_provider(self, client: AsyncClient, session: AsyncSession) -> None:
        w = await _world(session)
        other = await build_world(session)
        await session.commit()
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        number = await _approved(
            client, provider, staff, w, provider_code=other.provider.provider_code
        )
        claim = await _claim(client, staff, claim_body(w, authorization_number=number))
        assert _line(claim)["denial_reason"] == "authorization_other_provider"

    @pytest.mark.parametrize("case", ["other_member", "unknown", "service_type"])
    async def test_a_letter_the_claim_cannot_use_is_422_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession, case: str
    ) -> None:
        w = await _world(session)
        other = await _world(session)
        staff = await _headers(client, session, "CLAIMS_PROCESSOR")
        provider = await _headers(client, session, "PROVIDER")
        number = {
            "other_member": lambda: _approved(client, provider, staff, other),
            "unknown": None,
            "service_type": lambda: _approved(
                client, provider, staff, w, service_type="outpatient"
            ),
        }[case]
        gl = await number() if number is not None else "GL-2026-NOPE"
        claims_before = await session.scalar(
            text("select count(*) from claims.claim where member_id = :m"), {"m": w.member.id}
        )
        headers = {**staff, "Idempotency-Key": str(uuid.uuid4())}
        response = await client.post(
            CLAIMS, json=claim_body(w, authorization_number=gl), headers=headers
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert _fields(response) == ["body.authorization_number"]
        after = await session.scalar(
            text("select count(*) from claims.claim where member_id = :m"), {"m": w.member.id}
        )
        assert after == claims_before == 0
        linked = await session.scalar(
            text(
                "select count(*) from claims.authorization"
                " where claim_id is not null and member_id in (:a, :b)"
            ),
            {"a": w.member.id, "b": other.member.id},
        )
        assert linked == 0


# --- the cap across claims, as a property (pure: the engine and use_steps, no database) ---

_ROOM_RATE = D("1000000.00")


@given(
    approved=st.integers(min_value=1, max_value=20_000_000).map(lambda n: D(n)),
    approved_days=st.integers(min_value=1, max_value=10),
    claims=st.lists(
        st.tuples(
            st.integers(min_value=1, max_value=6),
            st.integers(min_value=0, max_value=9_000_000_00).map(lambda n: D(n) / 100),
        ),
        min_size=1,
        max_size=6,
    ),
)
@settings(max_examples=200, deadline=None)
def test_claims_never_use_more_of_a_letter_than_approved(
    approved: Decimal, approved_days: int, claims: list[tuple[int, Decimal]]
) -> None:
    from polis.health import rules
    from polis.health.authorizations import EngineInputs, use_steps

    member, provider = uuid.uuid4(), uuid.uuid4()
    letter = Authorization(
        authorization_number="GL-2025-TEST",
        member_id=member,
        provider_id=provider,
        service_type="inpatient",
        valid_from=date(2025, 1, 1),
        valid_to=date(2025, 12, 31),
        status="approved",
        approved_amount=approved,
        approved_days=approved_days,
    )
    benefit = rules.BenefitFacts(
        "IP-ROOM",
        limit_type="per_day",
        limit_amount=_ROOM_RATE,
        limit_days=30,
        requires_authorization=True,
    )
    room_row = PlanBenefit(
        benefit_code="IP-ROOM", limit_type="per_day", limit_amount=_ROOM_RATE, limit_days=30
    )
    used_amount, used_days, paid_total = D("0.00"), 0, D("0.00")
    for quantity, charged in claims:
        facts = rules.AuthorizationFacts(
            authorization_number=letter.authorization_number,
            member_id=member,
            provider_id=provider,
            service_type="inpatient",
            valid_from=letter.valid_from,
            valid_to=letter.valid_to,
            approved_amount=max(approved - used_amount, D("0.00")),
            approved_days=max(approved_days - used_days, 0),
        )
        result = rules.adjudicate(
            claim=rules.ClaimFacts(
                claim_type="cashless",
                service_type="inpatient",
                service_date=date(2025, 6, 1),
                member_id=member,
                provider_id=provider,
            ),
            lines=[rules.ClaimLine("IP-ROOM", charged, quantity)],
            coverage=rules.CoverageFacts(coverage_start_date=date(2020, 1, 1)),
            plan=rules.PlanFacts(),
            benefits=[benefit],
            authorizations=[facts],
        )
        inputs = EngineInputs([facts], letter, facts.approved_days)
        (steps,) = use_steps(result, inputs, {"IP-ROOM": room_row}, inner_limit_applicable=True)
        (line,) = result.lines
        if steps:
            (step,) = steps
            days = int(step["days"])
            # The replayed days are the engine's: it paid the allowed amount up to rate x days.
            assert days >= 1
            assert line.paid_amount == min(line.allowed, _ROOM_RATE * days)
            used_amount += D(step["amount_after"])
            used_days += days
        else:
            assert line.paid_amount == 0
        paid_total += line.paid_amount
    assert used_amount <= approved
    assert used_days <= approved_days
    assert paid_total <= approved
