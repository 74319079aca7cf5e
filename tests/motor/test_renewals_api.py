"""Motor renewals API and jobs (decision 0047): the NCD ladder across renewals with and
without claims, the renewal priced as a fresh quote to the satang, premium_change and
discount_change, early renewal, activation on the start date (never two ACTIVE policies per
vehicle), automatic renewal and notices idempotent, refused renewals writing nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import policies, renewals
from polis.motor.models import ClaimAssessment, MotorClaim
from polis.motor.quotes import today_bangkok
from polis.motor.rating import add_months
from tests.iam.factories import signed_in
from tests.motor.test_policies_api import (
    POLICIES,
    bind,
    confirm,
    policy_status,
    quote,
    scalar,
    vehicle,
)

TODAY = today_bangkok()


def class1(ncd: int = 0) -> dict[str, Any]:
    return {
        "policy_type": "CLASS_1",
        "sum_insured": "650000",
        "options": {"ncd_percent": ncd, "dash_cam": True, "voluntary_deductible": "2000"},
    }


async def staff(client: AsyncClient, session: AsyncSession) -> tuple[uuid.UUID, dict[str, str]]:
    user, headers = await signed_in(client, session, role="ADMIN")
    return user.id, headers


async def shift(session: AsyncSession, number: str, end: date) -> None:
    """Move a policy's 12-month period so that it ends on `end` (time travel for tests)."""
    await session.execute(
        text("update motor.policies set start_date = :s, end_date = :e where policy_number = :n"),
        {"s": add_months(end, -12), "e": end, "n": number},
    )


async def active_policy(
    client: AsyncClient,
    session: AsyncSession,
    headers: dict[str, str],
    *,
    end: date,
    auto_renewal: bool = False,
    **quote_over: Any,
) -> dict[str, Any]:
    """A paid ACTIVE policy of a new vehicle, its period moved to end on `end`."""
    _, vehicle_id = await vehicle(client, headers)
    q = await quote(client, headers, vehicle_id, **quote_over)
    response = await bind(client, headers, q["quote_number"], auto_renewal=auto_renewal)
    assert response.status_code == 201, response.text
    policy = dict(response.json())
    assert (await confirm(client, headers, policy["payments"][0], f"B-{uuid.uuid4()}")).is_success
    await shift(session, policy["policy_number"], end)
    assert await policy_status(session, policy["policy_number"]) == "ACTIVE"
    return policy


async def renew(client: AsyncClient, headers: dict[str, str], number: str, **body: Any) -> Any:
    return await client.post(f"{POLICIES}/{number}/renewals", json=body, headers=headers)


async def counts(session: AsyncSession) -> tuple[int, ...]:
    found = []
    for table in ("motor.policies", "motor.policy_renewals", "motor.quotes", "motor.payments"):
        found.append(int(await scalar(session, f"select count(*) from {table}") or 0))
    return tuple(found)


async def active_count(session: AsyncSession, vehicle_id: str) -> int:
    return int(
        await scalar(
            session,
            "select count(*) from motor.policies where vehicle_id = :v and status = 'ACTIVE'",
            v=vehicle_id,
        )
        or 0
    )


async def add_claim(
    session: AsyncSession,
    policy_id: str,
    *,
    settled: str | None = None,
    status: str = "SETTLED",
    other_party: dict[str, Any] | None = None,
) -> MotorClaim:
    """A motor.claims row (claims are issue 5: inserted directly, within the seed's CHECKs)."""
    incident = datetime.now(UTC) - timedelta(days=20)
    claim = MotorClaim(
        claim_number=f"CLM-T-{uuid.uuid4().hex[:12]}",
        policy_id=uuid.UUID(policy_id),
        incident_date=incident,
        claim_type="ACCIDENT",
        status=status,
        incident_description="rear-end collision",
        settled_amount=None if settled is None else Decimal(settled),
        settlement_date=None if settled is None else incident.date() + timedelta(days=10),
        other_party_info=other_party,
    )
    session.add(claim)
    await session.flush()
    return claim


RECOVERABLE = {
    "insured_at_fault": False,
    "registration_number": "2กค 5678",
    "insurer": "Other Insurance PCL",
}


class TestLadder:
    async def test_four_claim_free_renewals_priced_as_fresh_quotes(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        end = TODAY + timedelta(days=10)
        current = await active_policy(client, session, headers, end=end, **class1(0))
        vehicle_id = current["vehicle_id"]
        first = current["policy_number"]
        assert Decimal(current["no_claim_discount"]) == 0
        for count, expected in enumerate([20, 30, 40, 50, 50], start=1):
            response = await renew(client, headers, current["policy_number"])
            assert response.status_code == 201, response.text
            made = response.json()
            new = made["policy"]
            assert new["status"] == "DRAFT"
            assert new["no_claim_discount"] == f"{expected}.00"
            assert made["ncd"]["no_claim_discount"] == f"{expected}.00"
            assert new["previous_policy_id"] == current["id"]
            assert new["renewal_count"] == count
            assert new["start_date"] == end.isoformat()
            assert new["end_date"] == add_months(end, 12).isoformat()
            assert made["renewal_type"] == "MANUAL" and made["initiated_by"] == "AGENT"

            # the renewal is priced exactly as a fresh quote with that NCD on that date
            fresh = await quote(
                client,
                headers,
                vehicle_id,
                start=end,
                **{**class1(expected), "customer_id": current["customer_id"]},
            )
            assert new["base_premium"] == fresh["base_premium"]
            assert new["total_premium"] == fresh["total_premium"]
            for field in ("discounts", "fees"):
                assert Decimal(new[field]) == sum(Decimal(i["amount"]) for i in fresh[field])
            assert [i["code"] for i in fresh["discounts"] if i["code"] == "NCD"] == (
                ["NCD"] if expected else []
            )
            change = Decimal(new["total_premium"]) - Decimal(current["total_premium"])
            assert made["premium_change"] == str(change)
            ncd_change = Decimal(new["no_claim_discount"]) - Decimal(current["no_claim_discount"])
            assert made["discount_change"] == str(ncd_change.quantize(Decimal("0.01")))
            assert (
                await scalar(
                    session,
                    "select premium_change from motor.policy_renewals where id = :i",
                    i=made["id"],
                )
                == change
            )
            if ncd_change:
                assert made["coverage_changes"]["no_claim_discount"] == {
                    "from": current["no_claim_discount"],
                    "to": new["no_claim_discount"],
                }
            # the payment schedule is there and sums to the premium
            assert sum(Decimal(p["amount"]) for p in new["payments"]) == Decimal(
                new["total_premium"]
            )

            # paid before its start: waits as DRAFT; on its start date it takes over
            assert (await confirm(client, headers, new["payments"][0], f"R-{count}")).is_success
            assert await policy_status(session, new["policy_number"]) == "DRAFT"
            assert await active_count(session, vehicle_id) == 1
            assert await renewals.activate_due_renewals(session, end - timedelta(days=1)) == []
            assert await renewals.activate_due_renewals(session, end) == [new["policy_number"]]
            assert await renewals.activate_due_renewals(session, end) == []
            assert await policy_status(session, new["policy_number"]) == "ACTIVE"
            assert await policy_status(session, current["policy_number"]) == "EXPIRED"
            assert await active_count(session, vehicle_id) == 1

            await shift(session, new["policy_number"], end)
            current = (
                await client.get(f"{POLICIES}/{new['policy_number']}", headers=headers)
            ).json()

        history = await client.get(f"{POLICIES}/{first}/renewals", headers=headers)
        assert history.status_code == 200, history.text
        rows = history.json()
        assert len(rows) == 5
        assert rows[0]["original_policy_number"] == first
        assert [r["discount_change"] for r in rows] == ["20.00", "10.00", "10.00", "10.00", "0.00"]
        # the same chain from its last policy
        last = await client.get(f"{POLICIES}/{current['policy_number']}/renewals", headers=headers)
        assert [r["id"] for r in last.json()] == [r["id"] for r in rows]

    @pytest.mark.parametrize(
        ("ncd", "claims", "expected"),
        [
            (40, [{"settled": "5000.00"}], 30),  # fault unknown: at fault, one step
            (40, [{"settled": "5000.00", "other_party": {"insured_at_fault": True}}], 30),
            (40, [{"settled": "90000.00"}], 20),  # paid > 200% of the premium: two steps
            (40, [{"settled": "90000.00", "other_party": RECOVERABLE}], 40),  # kept
            (40, [{"other_party": {"insured_at_fault": False}}], 30),  # other party unknown
            (40, [{"settled": "9999.00", "status": "REJECTED"}], 50),  # rejected: ignored
            (20, [{}, {}], 0),  # one step per period, floor 0
        ],
    )
    async def test_claims(
        self,
        client: AsyncClient,
        session: AsyncSession,
        ncd: int,
        claims: list[dict[str, Any]],
        expected: int,
    ) -> None:
        _, headers = await staff(client, session)
        policy = await active_policy(
            client, session, headers, end=TODAY + timedelta(days=20), **class1(ncd)
        )
        assert Decimal(policy["total_premium"]) * 2 < Decimal("90000.00")
        assert Decimal(policy["total_premium"]) * 2 > Decimal("5000.00")
        for claim in claims:
            await add_claim(session, policy["id"], **claim)
        response = await renew(client, headers, policy["policy_number"])
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["policy"]["no_claim_discount"] == f"{expected}.00"
        assert made["discount_change"] == f"{expected - ncd:.2f}"

    async def test_assessed_liability_overrides_the_other_party_info(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        user_id, headers = await staff(client, session)
        policy = await active_policy(
            client, session, headers, end=TODAY + timedelta(days=20), **class1(30)
        )
        claim = await add_claim(session, policy["id"], settled="1000.00", other_party=RECOVERABLE)
        session.add(
            ClaimAssessment(
                claim_id=claim.id,
                assessor_id=user_id,
                assessor_type="SURVEYOR",
                assessment_date=datetime.now(UTC),
                assessment_type="FINAL",
                damage_assessment={},
                liability_percentage=Decimal("60.00"),
            )
        )
        await session.flush()
        made = (await renew(client, headers, policy["policy_number"])).json()
        assert made["policy"]["no_claim_discount"] == "20.00"
        assert made["ncd"]["counted_claims"] == 1

    async def test_cmi_renews_at_the_tariff(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        policy = await active_policy(client, session, headers, end=TODAY + timedelta(days=5))
        await add_claim(session, policy["id"], settled="1000.00")
        response = await renew(client, headers, policy["policy_number"])
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["policy"]["total_premium"] == "645.21"
        assert made["policy"]["no_claim_discount"] == "0.00"
        assert (made["premium_change"], made["discount_change"]) == ("0.00", "0.00")
        assert made["coverage_changes"] == {}


class TestWindows:
    async def test_early_renewal_starts_at_the_old_end(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        end = TODAY + timedelta(days=80)
        policy = await active_policy(client, session, headers, end=end, **class1(20))
        number = policy["policy_number"]
        before = await counts(session)
        response = await renew(client, headers, number)  # MANUAL opens 60 days before
        assert response.status_code == 409
        problem = response.json()
        assert problem["type"].endswith("renewal-refused")
        assert problem["opens_on"] == (end - timedelta(days=60)).isoformat()
        wrong = (end + timedelta(days=1)).isoformat()
        response = await renew(client, headers, number, renewal_type="EARLY", start_date=wrong)
        assert response.status_code == 422
        assert response.json()["errors"][0]["field"] == "body.start_date"
        assert await counts(session) == before

        response = await renew(client, headers, number, renewal_type="EARLY")
        assert response.status_code == 201, response.text
        made = response.json()
        assert made["renewal_type"] == "EARLY"
        assert made["policy"]["start_date"] == end.isoformat()
        assert made["policy"]["no_claim_discount"] == "30.00"
        assert (
            await scalar(
                session,
                "select renewal_type from motor.policy_renewals where id = :i",
                i=made["id"],
            )
            == "EARLY"
        )

    async def test_refused_renewals_are_409_and_write_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        policy = await active_policy(
            client, session, headers, end=TODAY + timedelta(days=30), **class1(0)
        )
        number = policy["policy_number"]
        first = await renew(client, headers, number)
        assert first.status_code == 201, first.text
        renewal = first.json()["policy"]
        before = await counts(session)

        again = await renew(client, headers, number)  # a second renewal of the same policy
        assert again.status_code == 409
        assert again.json()["type"].endswith("policy-already-renewed")
        assert again.json()["renewed_policy_number"] == renewal["policy_number"]
        # a DRAFT (the renewal itself) is not renewable
        response = await renew(client, headers, renewal["policy_number"])
        assert response.status_code == 409
        assert response.json()["policy_status"] == "DRAFT"
        assert (await renew(client, headers, "MTR-1999-00000000")).status_code == 404
        bad = await renew(client, headers, number, renewal_type="AUTOMATIC")
        assert bad.status_code == 422
        assert await counts(session) == before

        # a cancelled renewal does not block a new one
        response = await client.post(
            f"{POLICIES}/{renewal['policy_number']}/cancel",
            json={"reason": "customer changed plan", "effective_date": renewal["start_date"]},
            headers=headers,
        )
        assert response.status_code == 200, response.text
        assert (await renew(client, headers, number)).status_code == 201

    async def test_expired_within_grace_renews_from_today(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        lapsed = await active_policy(
            client, session, headers, end=TODAY - timedelta(days=10), **class1(20)
        )
        assert lapsed["policy_number"] in await policies.expire_policies(session, TODAY)
        response = await renew(client, headers, lapsed["policy_number"])
        assert response.status_code == 201, response.text
        new = response.json()["policy"]
        assert new["start_date"] == TODAY.isoformat()
        assert new["no_claim_discount"] == "30.00"
        # paid: ACTIVE at once (the old one is EXPIRED)
        assert (await confirm(client, headers, new["payments"][0], "LAPSE-1")).is_success
        assert await policy_status(session, new["policy_number"]) == "ACTIVE"

        gone = await active_policy(
            client, session, headers, end=TODAY - timedelta(days=31), **class1(20)
        )
        await policies.expire_policies(session, TODAY)
        before = await counts(session)
        response = await renew(client, headers, gone["policy_number"])
        assert response.status_code == 409
        assert response.json()["type"].endswith("renewal-refused")
        assert await counts(session) == before


class TestActivation:
    async def test_paid_after_the_start_activates_at_confirmation(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        policy = await active_policy(client, session, headers, end=TODAY)  # ends today
        made = (await renew(client, headers, policy["policy_number"])).json()
        new = made["policy"]
        assert new["start_date"] == TODAY.isoformat()
        assert await policy_status(session, policy["policy_number"]) == "ACTIVE"
        assert (await confirm(client, headers, new["payments"][0], "LATE-1")).is_success
        assert await policy_status(session, new["policy_number"]) == "ACTIVE"
        assert await policy_status(session, policy["policy_number"]) == "EXPIRED"
        assert await active_count(session, policy["vehicle_id"]) == 1

    async def test_the_expire_job_hands_over_to_the_paid_renewal(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        end = TODAY + timedelta(days=3)
        policy = await active_policy(client, session, headers, end=end)
        new = (await renew(client, headers, policy["policy_number"])).json()["policy"]
        unpaid_end = TODAY + timedelta(days=4)
        other = await active_policy(client, session, headers, end=unpaid_end)
        unpaid = (await renew(client, headers, other["policy_number"])).json()["policy"]
        assert (await confirm(client, headers, new["payments"][0], "EXP-1")).is_success
        assert await policy_status(session, new["policy_number"]) == "DRAFT"

        assert policy["policy_number"] in await policies.expire_policies(session, end)
        assert await policy_status(session, new["policy_number"]) == "ACTIVE"
        assert await active_count(session, policy["vehicle_id"]) == 1
        # an unpaid renewal stays DRAFT when its predecessor expires
        await policies.expire_policies(session, unpaid_end)
        assert await policy_status(session, unpaid["policy_number"]) == "DRAFT"
        assert await policy_status(session, other["policy_number"]) == "EXPIRED"
        assert await active_count(session, other["vehicle_id"]) == 0


class TestJobs:
    async def test_auto_renew_is_idempotent(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        due = await active_policy(
            client,
            session,
            headers,
            end=TODAY + timedelta(days=45),
            auto_renewal=True,
            **class1(40),
        )
        later = await active_policy(
            client, session, headers, end=TODAY + timedelta(days=46), auto_renewal=True
        )
        manual = await active_policy(client, session, headers, end=TODAY + timedelta(days=10))

        done = await renewals.auto_renew(session, TODAY)
        mine = [
            d
            for d in done
            if d.split(" -> ")[0]
            in {due["policy_number"], later["policy_number"], manual["policy_number"]}
        ]
        assert len(mine) == 1 and mine[0].startswith(due["policy_number"])
        new_number = mine[0].split(" -> ")[1]
        row = (
            await session.execute(
                text(
                    "select r.renewal_type, r.initiated_by, p.status, p.auto_renewal,"
                    " p.no_claim_discount, p.previous_policy_id"
                    " from motor.policy_renewals r join motor.policies p"
                    " on p.id = r.renewed_policy_id where p.policy_number = :n"
                ),
                {"n": new_number},
            )
        ).one()
        assert row[0:4] == ("AUTOMATIC", "SYSTEM", "DRAFT", True)
        assert row[4] == Decimal("50.00") and str(row[5]) == due["id"]
        before = await counts(session)
        assert await renewals.auto_renew(session, TODAY) == []
        assert await counts(session) == before
        # the next day the 46-day one is due
        nxt = await renewals.auto_renew(session, TODAY + timedelta(days=1))
        assert [d.split(" -> ")[0] for d in nxt] == [later["policy_number"]]

    async def test_renewal_notices_once_per_stage(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        _, headers = await staff(client, session)
        end = TODAY + timedelta(days=30)
        policy = await active_policy(client, session, headers, end=end)
        number = policy["policy_number"]
        assert f"{number}: 30 days" in await renewals.renewal_notices(session, TODAY)
        assert not [n for n in await renewals.renewal_notices(session, TODAY) if number in n]
        assert not [
            n
            for n in await renewals.renewal_notices(session, TODAY + timedelta(days=14))
            if number in n
        ]
        assert f"{number}: 15 days" in await renewals.renewal_notices(
            session, TODAY + timedelta(days=15)
        )
        notices = (await client.get(f"{POLICIES}/{number}", headers=headers)).json()[
            "coverage_details"
        ]["renewal_notices"]
        assert [(n["stage"], n["days_before_expiry"]) for n in notices] == [(30, 30), (15, 15)]
        # renewed and paid: no more notices
        new = (await renew(client, headers, number)).json()["policy"]
        assert (await confirm(client, headers, new["payments"][0], "N-1")).is_success
        assert not [
            n
            for n in await renewals.renewal_notices(session, TODAY + timedelta(days=23))
            if number in n
        ]


def test_cli_commands(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """`polis motor auto-renew | renewal-notices | activate-renewals` run in their own
    transaction (the shared test database holds no committed policies: they find none)."""
    from typer.testing import CliRunner

    from polis.cli import app
    from polis.config import get_settings

    monkeypatch.setenv("DATABASE_URL", db_url)
    get_settings.cache_clear()
    try:
        runner = CliRunner()
        for command, verb in (
            ("auto-renew", "renewed"),
            ("renewal-notices", "notified"),
            ("activate-renewals", "activated"),
        ):
            result = runner.invoke(app, ["motor", command, "--date", "2030-01-01"])
            assert result.exit_code == 0, result.output
            assert f"{verb} 0 policy(ies) on 2030-01-01" in result.output
    finally:
        get_settings.cache_clear()


async def test_permissions(client: AsyncClient, session: AsyncSession) -> None:
    """Renewing needs motor.policies:write, the history motor.policies:read."""
    _, headers = await staff(client, session)
    policy = await active_policy(client, session, headers, end=TODAY + timedelta(days=20))
    number = policy["policy_number"]
    _, surveyor = await signed_in(client, session, role="SURVEYOR")
    _, customer = await signed_in(client, session, role="CUSTOMER")
    before = await counts(session)
    assert (await renew(client, surveyor, number)).status_code == 403
    assert await counts(session) == before
    assert (await client.get(f"{POLICIES}/{number}/renewals", headers=surveyor)).json() == []
    response = await client.get(f"{POLICIES}/{number}/renewals", headers=customer)
    assert response.status_code == 403
