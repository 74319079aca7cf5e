"""Motor policies API: bind a quote to a DRAFT policy with its schedule, ACTIVE when paid,
one live policy per vehicle and period, cancellation with the short-rate refund, suspension
past the grace period and reactivation, expiry; refused moves write nothing."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import policies
from polis.motor.quotes import today_bangkok
from tests.iam.factories import signed_in
from tests.motor.test_customers_api import CUSTOMERS, customer_body
from tests.motor.test_vehicles_api import vehicle_body

MOTOR = "/api/v1/motor"
POLICIES = f"{MOTOR}/policies"
PAYMENTS = f"{MOTOR}/payments"
CMI_TOTAL = Decimal("645.21")  # 1.10 private car: 600.00 + stamp 3.00 + VAT 42.21


async def staff(client: AsyncClient, session: AsyncSession, role: str = "ADMIN") -> dict[str, str]:
    _, headers = await signed_in(client, session, role=role)
    return headers


async def vehicle(client: AsyncClient, headers: dict[str, str]) -> tuple[str, str]:
    """A new customer and vehicle: (customer_id, vehicle_id)."""
    response = await client.post(CUSTOMERS, json=customer_body(), headers=headers)
    assert response.status_code == 201, response.text
    customer_id = response.json()["id"]
    response = await client.post(
        f"{CUSTOMERS}/{customer_id}/vehicles", json=vehicle_body(), headers=headers
    )
    assert response.status_code == 201, response.text
    return customer_id, response.json()["id"]


async def quote(
    client: AsyncClient,
    headers: dict[str, str],
    vehicle_id: str,
    *,
    start: date | None = None,
    **over: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy_type": "CMI",
        "vehicle_id": vehicle_id,
        "start_date": (start or today_bangkok() + timedelta(days=7)).isoformat(),
        "policy_period_months": 12,
    }
    body.update(over)
    response = await client.post(f"{MOTOR}/quotes", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def bind(client: AsyncClient, headers: dict[str, str], quote_number: str, **over: Any) -> Any:
    body: dict[str, Any] = {"quote_number": quote_number, "payment_plan": "FULL"}
    body.update(over)
    return await client.post(POLICIES, json=body, headers=headers)


async def bound_policy(
    client: AsyncClient, headers: dict[str, str], plan: str = "FULL", **quote_over: Any
) -> dict[str, Any]:
    _, vehicle_id = await vehicle(client, headers)
    q = await quote(client, headers, vehicle_id, **quote_over)
    response = await bind(client, headers, q["quote_number"], payment_plan=plan)
    assert response.status_code == 201, response.text
    return dict(response.json())


async def confirm(
    client: AsyncClient,
    headers: dict[str, str],
    payment: dict[str, Any],
    reference: str = "BANK-0001",
    **over: Any,
) -> Any:
    body: dict[str, Any] = {
        "method": "PROMPTPAY",
        "reference": reference,
        "paid_at": datetime.now(UTC).isoformat(),
        "amount": payment["total_amount"],
    }
    body.update(over)
    return await client.post(f"{PAYMENTS}/{payment['id']}/confirm", json=body, headers=headers)


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return await session.scalar(text(sql), params)


async def policy_status(session: AsyncSession, number: str) -> str:
    return str(
        await scalar(
            session, "select status from motor.policies where policy_number = :n", n=number
        )
    )


async def payment_count(session: AsyncSession, policy_id: str) -> int:
    return int(
        await scalar(
            session, "select count(*) from motor.payments where policy_id = :p", p=policy_id
        )
        or 0
    )


class TestBind:
    async def test_quote_bind_pay_active_to_the_satang(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        customer_id, vehicle_id = await vehicle(client, headers)
        q = await quote(client, headers, vehicle_id)
        response = await bind(client, headers, q["quote_number"], auto_renewal=True)
        assert response.status_code == 201, response.text
        policy = response.json()
        assert policy["status"] == "DRAFT"
        assert policy["policy_number"].startswith(f"MTR-{today_bangkok().year}-")
        assert len(policy["policy_number"]) == len("MTR-2026-00000001")
        assert (policy["customer_id"], policy["vehicle_id"]) == (customer_id, vehicle_id)
        assert policy["base_premium"] == "600.00"
        assert policy["discounts"] == "0.00"
        assert policy["fees"] == "45.21"
        assert policy["total_premium"] == "645.21"
        assert (policy["start_date"], policy["end_date"]) == (q["start_date"], q["end_date"])
        assert policy["policy_period_months"] == 12
        assert policy["auto_renewal"] is True
        assert policy["payment_plan"] == "FULL" and policy["payment_frequency"] == "ANNUAL"
        assert policy["coverage_details"]["quote_number"] == q["quote_number"]
        fees = policy["coverage_details"]["premium_breakdown"]["fees"]
        assert [f["amount"] for f in fees] == ["3.00", "42.21"]
        (payment,) = policy["payments"]
        assert payment["payment_type"] == "PREMIUM"
        assert payment["payment_status"] == "PENDING"
        assert payment["amount"] == payment["total_amount"] == "645.21"
        assert payment["due_date"] == q["start_date"]
        assert payment["installment_number"] is None
        assert payment["reference"] == policy["policy_number"].replace("-", "") + "01"

        # the quote is BOUND to the policy
        row = (
            await session.execute(
                text("select status, policy_id from motor.quotes where quote_number = :q"),
                {"q": q["quote_number"]},
            )
        ).one()
        assert (row.status, str(row.policy_id)) == ("BOUND", policy["id"])

        response = await confirm(client, headers, payment)
        assert response.status_code == 200, response.text
        assert response.json()["payment_status"] == "SUCCESS"
        read = (await client.get(f"{POLICIES}/{policy['policy_number']}", headers=headers)).json()
        assert read["status"] == "ACTIVE"
        assert read["version"] == 1
        assert read["payments"][0]["transaction_reference"] == "BANK-0001"

    async def test_instalment_schedules(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        start = today_bangkok() + timedelta(days=7)
        for plan, n in (("INSTALLMENT_6", 6), ("INSTALLMENT_12", 12)):
            policy = await bound_policy(client, headers, plan, start=start)
            rows = policy["payments"]
            assert len(rows) == n
            assert sum(Decimal(p["amount"]) for p in rows) == CMI_TOTAL
            first, rest = Decimal(rows[0]["amount"]), {p["amount"] for p in rows[1:]}
            each = (CMI_TOTAL * 100 // n) / 100
            assert rest == {f"{each:.2f}"}
            assert first == CMI_TOTAL - each * (n - 1)
            assert [p["installment_number"] for p in rows] == list(range(1, n + 1))
            assert {p["total_installments"] for p in rows} == {n}
            assert {p["payment_type"] for p in rows} == {"INSTALLMENT"}
            assert rows[0]["due_date"] == start.isoformat()
            assert policy["payment_frequency"] == "MONTHLY"
            assert await payment_count(session, policy["id"]) == n

        # the second instalment does not activate; the first does
        policy = await bound_policy(client, headers, "INSTALLMENT_6")
        assert (await confirm(client, headers, policy["payments"][1], "B-2")).status_code == 200
        assert await policy_status(session, policy["policy_number"]) == "DRAFT"
        assert (await confirm(client, headers, policy["payments"][0], "B-1")).status_code == 200
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"

    async def test_expired_quote_is_409_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        _, vehicle_id = await vehicle(client, headers)
        q = await quote(client, headers, vehicle_id)
        await session.execute(
            text(
                "update motor.quotes set expires_at = now() - interval '1 minute'"
                " where quote_number = :q"
            ),
            {"q": q["quote_number"]},
        )
        response = await bind(client, headers, q["quote_number"])
        assert response.status_code == 409, response.text
        assert response.json()["type"].endswith("quote-not-bindable")
        assert (
            await scalar(
                session, "select count(*) from motor.policies where vehicle_id = :v", v=vehicle_id
            )
            == 0
        )
        assert (
            await scalar(
                session,
                "select status from motor.quotes where quote_number = :q",
                q=q["quote_number"],
            )
            == "QUOTED"
        )

    async def test_bound_quote_cannot_be_bound_again(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        _, vehicle_id = await vehicle(client, headers)
        q = await quote(client, headers, vehicle_id)
        assert (await bind(client, headers, q["quote_number"])).status_code == 201
        response = await bind(client, headers, q["quote_number"])
        assert response.status_code == 409
        assert response.json()["quote_status"] == "BOUND"

    async def test_second_live_policy_for_the_vehicle_is_409(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        _, vehicle_id = await vehicle(client, headers)
        first = await quote(client, headers, vehicle_id)
        policy = (await bind(client, headers, first["quote_number"])).json()
        await confirm(client, headers, policy["payments"][0])
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"
        second = await quote(
            client, headers, vehicle_id, start=today_bangkok() + timedelta(days=30)
        )
        response = await bind(client, headers, second["quote_number"])
        assert response.status_code == 409, response.text
        assert response.json()["policy_number"] == policy["policy_number"]
        assert (
            await scalar(
                session, "select count(*) from motor.policies where vehicle_id = :v", v=vehicle_id
            )
            == 1
        )
        # a DRAFT holds the period too
        _, other = await vehicle(client, headers)
        a = await quote(client, headers, other)
        b = await quote(client, headers, other)
        assert (await bind(client, headers, a["quote_number"])).status_code == 201
        assert (await bind(client, headers, b["quote_number"])).status_code == 409

    async def test_bad_input_is_422(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        _, vehicle_id = await vehicle(client, headers)
        q = await quote(client, headers, vehicle_id)
        response = await bind(client, headers, q["quote_number"], payment_plan="WEEKLY")
        assert response.status_code == 422
        response = await bind(client, headers, "QT-2026-NOSUCHQUOTE0")
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.quote_number"
        # a quote without a registered vehicle cannot become a policy
        loose = await client.post(
            f"{MOTOR}/quotes",
            json={
                "policy_type": "CMI",
                "vehicle": {"vehicle_kind": "CAR", "seats": 5},
                "start_date": (today_bangkok() + timedelta(days=7)).isoformat(),
                "policy_period_months": 12,
            },
            headers=headers,
        )
        response = await bind(client, headers, loose.json()["quote_number"])
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "quote_without_vehicle"

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        surveyor = await staff(client, session, role="SURVEYOR")
        assert (await bind(client, surveyor, "QT-X")).status_code == 403
        agent = await staff(client, session, role="AGENT")
        response = await client.post(
            f"{POLICIES}/{policy['policy_number']}/cancel",
            json={"reason": "x", "effective_date": policy["start_date"]},
            headers=agent,
        )
        assert response.status_code == 403


class TestReadAndList:
    async def test_get_and_list(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        customer_id, vehicle_id = await vehicle(client, headers)
        numbers = []
        for days in (7, 400):
            q = await quote(client, headers, vehicle_id, start=today_bangkok() + timedelta(days))
            numbers.append((await bind(client, headers, q["quote_number"])).json()["policy_number"])
        response = await client.get(
            POLICIES, params={"customer_id": customer_id, "limit": 1}, headers=headers
        )
        assert response.status_code == 200
        page = response.json()
        assert len(page["items"]) == 1
        seen = [page["items"][0]["policy_number"]]
        response = await client.get(
            POLICIES,
            params={"customer_id": customer_id, "limit": 1, "cursor": page["next_cursor"]},
            headers=headers,
        )
        seen += [p["policy_number"] for p in response.json()["items"]]
        # one test transaction: both rows share created_at, so the order is by id
        assert sorted(seen) == sorted(numbers)
        assert response.json()["next_cursor"] is None
        response = await client.get(
            POLICIES, params={"vehicle_id": vehicle_id, "status": "ACTIVE"}, headers=headers
        )
        assert response.json()["items"] == []
        assert (
            await client.get(f"{POLICIES}/MTR-1900-00000000", headers=headers)
        ).status_code == 404
        assert (
            await client.get(POLICIES, params={"status": "ALIVE"}, headers=headers)
        ).status_code == 422


class TestCancel:
    async def test_refund_by_the_short_rate_table(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        await confirm(client, headers, policy["payments"][0])
        effective = date.fromisoformat(policy["start_date"]) + timedelta(days=100)
        response = await client.post(
            f"{POLICIES}/{policy['policy_number']}/cancel",
            json={"reason": "vehicle sold", "effective_date": effective.isoformat()},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "CANCELLED"
        # 100 days in force: 48% refunded; 645.21 x 0.48 = 309.7008 -> 309.70
        assert body["refund"] == {
            "days_in_force": 100,
            "refund_percent": "48.00",
            "unearned_premium": "309.70",
            "earned_premium": "335.51",
            "paid": "645.21",
            "amount": "309.70",
            "refund_payment_id": body["refund"]["refund_payment_id"],
        }
        refund = body["payments"][-1]
        assert refund["id"] == body["refund"]["refund_payment_id"]
        assert (refund["payment_type"], refund["payment_direction"]) == ("REFUND", "OUTGOING")
        assert refund["payment_status"] == "PENDING"
        assert refund["amount"] == refund["total_amount"] == "309.70"
        assert refund["payment_method"] == "PROMPTPAY"
        cancellation = body["coverage_details"]["cancellation"]
        assert cancellation["reason"] == "vehicle sold"
        assert cancellation["effective_date"] == effective.isoformat()

    async def test_instalments_cancel_unpaid_and_refund_nothing_when_earned(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers, "INSTALLMENT_6")
        await confirm(client, headers, policy["payments"][0])  # 107.56 paid
        effective = date.fromisoformat(policy["start_date"]) + timedelta(days=40)
        response = await client.post(
            f"{POLICIES}/{policy['policy_number']}/cancel",
            json={"reason": "customer request", "effective_date": effective.isoformat()},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        # 40 days: 61% unearned = 393.58; earned 251.63 > paid 107.56 -> no refund
        assert body["refund"]["unearned_premium"] == "393.58"
        assert body["refund"]["amount"] == "0.00"
        assert body["refund"]["refund_payment_id"] is None
        statuses = [p["payment_status"] for p in body["payments"]]
        assert statuses == ["SUCCESS"] + ["CANCELLED"] * 5
        assert await payment_count(session, policy["id"]) == 6

    async def test_refused_transition_is_409_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        url = f"{POLICIES}/{policy['policy_number']}/cancel"
        body = {"reason": "duplicate", "effective_date": policy["start_date"]}
        assert (await client.post(url, json=body, headers=headers)).status_code == 200
        before = await client.get(f"{POLICIES}/{policy['policy_number']}", headers=headers)
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"].endswith("policy-transition-refused")
        assert problem["allowed"] == []
        after = await client.get(f"{POLICIES}/{policy['policy_number']}", headers=headers)
        assert after.json() == before.json()

        # a cancelled policy's payment cannot be paid either
        response = await confirm(client, headers, policy["payments"][0])
        assert response.status_code == 409
        assert (
            await scalar(
                session,
                "select count(*) from motor.payment_transactions where payment_id = :p",
                p=policy["payments"][0]["id"],
            )
            == 0
        )

    async def test_effective_date_after_the_end_is_422(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        response = await client.post(
            f"{POLICIES}/{policy['policy_number']}/cancel",
            json={"reason": "x", "effective_date": policy["end_date"]},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.effective_date"
        assert await policy_status(session, policy["policy_number"]) == "DRAFT"


class TestJobs:
    async def test_suspension_past_grace_and_reactivation(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers, "INSTALLMENT_6")
        number = policy["policy_number"]
        await confirm(client, headers, policy["payments"][0], "B-1")
        assert await policy_status(session, number) == "ACTIVE"
        second_due = date.fromisoformat(policy["payments"][1]["due_date"])

        # 30 days' grace (POLICY_GRACE_PERIOD_DAYS): the last day of grace changes nothing
        assert number not in await policies.suspend_overdue(session, second_due + timedelta(30))
        assert await policy_status(session, number) == "ACTIVE"
        assert number in await policies.suspend_overdue(session, second_due + timedelta(31))
        assert await policy_status(session, number) == "SUSPENDED"
        assert number not in await policies.suspend_overdue(session, second_due + timedelta(31))

        # paying the overdue instalment reactivates
        response = await confirm(client, headers, policy["payments"][1], "B-2")
        assert response.status_code == 200, response.text
        assert await policy_status(session, number) == "ACTIVE"

    async def test_expiry(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        number = policy["policy_number"]
        await confirm(client, headers, policy["payments"][0])
        end = date.fromisoformat(policy["end_date"])
        assert number not in await policies.expire_policies(session, end - timedelta(days=1))
        assert number in await policies.expire_policies(session, end)
        assert await policy_status(session, number) == "EXPIRED"
        assert number not in await policies.expire_policies(session, end)
        # a DRAFT is never expired by the job (it can only be paid or cancelled)
        draft = await bound_policy(client, headers)
        late = date.fromisoformat(draft["end_date"]) + timedelta(days=1)
        assert draft["policy_number"] not in await policies.expire_policies(session, late)
        # an expired policy cannot be cancelled
        response = await client.post(
            f"{POLICIES}/{number}/cancel",
            json={"reason": "x", "effective_date": policy["start_date"]},
            headers=headers,
        )
        assert response.status_code == 409


def test_cli_commands(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`polis motor suspend-overdue` and `expire-policies` run in their own transaction (the
    shared test database holds no committed policies, so they find none)."""
    from typer.testing import CliRunner

    from polis.cli import app
    from polis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        result = runner.invoke(app, ["motor", "expire-policies", "--date", "2030-01-01"])
        assert result.exit_code == 0, result.output
        assert "expired 0 policy(ies) on 2030-01-01" in result.output
        result = runner.invoke(app, ["motor", "suspend-overdue", "--date", "2030-01-01"])
        assert result.exit_code == 0, result.output
        assert "suspended 0 policy(ies) on 2030-01-01" in result.output
        result = runner.invoke(app, ["motor", "expire-policies", "--date", "soon"])
        assert result.exit_code != 0
    finally:
        get_settings.cache_clear()


async def test_paid_renewal_waits_as_draft_while_the_vehicle_has_an_active_policy(
    client: AsyncClient, session: AsyncSession
) -> None:
    """The seed's index allows one ACTIVE policy per vehicle whatever the period: a renewal
    starting on the current policy's end date binds, is paid, and stays DRAFT."""
    headers = await staff(client, session)
    _, vehicle_id = await vehicle(client, headers)
    current = (
        await bind(client, headers, (await quote(client, headers, vehicle_id))["quote_number"])
    ).json()
    await confirm(client, headers, current["payments"][0], "B-CUR")
    assert await policy_status(session, current["policy_number"]) == "ACTIVE"
    renewal_quote = await quote(
        client, headers, vehicle_id, start=date.fromisoformat(current["end_date"])
    )
    response = await bind(client, headers, renewal_quote["quote_number"])
    assert response.status_code == 201, response.text
    renewal = response.json()
    assert (await confirm(client, headers, renewal["payments"][0], "B-REN")).status_code == 200
    assert await policy_status(session, renewal["policy_number"]) == "DRAFT"
    assert (
        await scalar(
            session,
            "select payment_status from motor.payments where id = :p",
            p=renewal["payments"][0]["id"],
        )
        == "SUCCESS"
    )
