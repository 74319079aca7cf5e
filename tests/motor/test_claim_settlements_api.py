"""Motor claim settlement (issue 5 item 5; decision 0051): approved amount less the deductible
to the satang (CLASS_1 voluntary deductible, the 3+ at-fault deductible, a deductible that
swallows the claim), OUTGOING CLAIM_SETTLEMENT payments, the sum of settlements never above
the approved amount, CMI per-person limits, payment recorded idempotently, cancellation,
SETTLED with the NCD effect; refused requests write nothing. Hypothesis for the new pure
rules (deductible allocation, settled-claim rule)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_settlement_rules as rules
from polis.motor.claim_rules import CmiPayment
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
CENTS = st.integers(min_value=0, max_value=10_000_000).map(lambda c: D(c).scaleb(-2))


# --- pure rules --------------------------------------------------------------------------------


@given(CENTS, CENTS, st.lists(CENTS.filter(lambda g: g > 0), max_size=8))
def test_deductible_is_taken_once_and_never_above_a_row(
    deductible: Decimal, applied: Decimal, grosses: list[Decimal]
) -> None:
    out = rules.allocate_deductible(deductible, applied, grosses)
    assert len(out) == len(grosses)
    assert all(D(0) <= d <= g for d, g in zip(out, grosses, strict=True))
    assert sum(out, D(0)) == min(max(D(0), deductible - applied), sum(grosses, D(0)))
    # rows are filled in order: a later row bears some only when the earlier are swallowed
    for i, d in enumerate(out):
        if d > 0:
            assert all(out[j] == grosses[j] for j in range(i))


ROWS = st.builds(
    rules.Row,
    st.sampled_from(["APPROVED", "PAID", "CANCELLED"]),
    CENTS,
    CENTS,
)


@given(st.lists(ROWS, max_size=8))
def test_claim_settles_when_every_row_is_done(rows: list[rules.Row]) -> None:
    live = [r for r in rows if r.status != "CANCELLED"]
    unpaid = [r for r in live if r.status == "APPROVED" and r.net_amount > 0]
    assert rules.claim_settles(rows) is (bool(live) and not unpaid)
    totals = rules.totals(rows)
    assert totals.settled_amount == sum((r.net_amount for r in rows if r.status == "PAID"), D(0))
    assert totals.deductible_amount == sum((r.deductible_amount for r in live), D(0))


@given(st.text(alphabet="นายสมชาย ใจดีABCabc", min_size=1, max_size=30))
def test_injured_person_key_ignores_case_and_spacing(name: str) -> None:
    messy = "  " + name.upper().replace(" ", "   ") + " "
    assert rules.person_key(messy) == rules.person_key(name)
    paid = rules.cmi_already_paid(
        [
            (name, CmiPayment(D("10.00"), D("0.00"), D("200.00"))),
            (messy, CmiPayment(D("5.00"), D("1.00"), D("0.00"))),
            (name + "x", CmiPayment(D("99.00"), D("99.00"), D("99.00"))),
        ],
        name,
    )
    assert (paid.medical, paid.death_or_disability, paid.inpatient_compensation) == (
        D("15.00"),
        D("1.00"),
        D("200.00"),
    )


def test_payment_methods_and_numbers() -> None:
    assert rules.payment_method_for("CHEQUE") == "BANK_TRANSFER"
    assert rules.payment_method_for("PROMPTPAY") == "PROMPTPAY"
    number = rules.new_settlement_number(today_bangkok())
    assert number.startswith(f"STL-{today_bangkok().year}-") and len(number) == 21
    assert rules.collided_with_land_vehicle({"registration_number": "1กข 1234"})
    assert not rules.collided_with_land_vehicle({"name": "Somchai"})
    assert not rules.collided_with_land_vehicle(
        {"registration_number": "1กข 1234", "collision_with_land_vehicle": False}
    )


# --- helpers ---------------------------------------------------------------------------------


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def one(session: AsyncSession, sql: str, **params: Any) -> dict[str, Any]:
    return dict((await session.execute(text(sql), params)).mappings().one())


async def claim_row(session: AsyncSession, claim_id: Any) -> dict[str, Any]:
    return await one(session, "select * from motor.claims where id = :i", i=str(claim_id))


async def written(session: AsyncSession, claim_id: Any) -> tuple[int, int, int]:
    """(settlement rows, payment rows, payment transactions) of a claim."""
    return (
        await count(
            session, "select count(*) from motor.claim_settlements where claim_id = :c", c=claim_id
        ),
        await count(session, "select count(*) from motor.payments where claim_id = :c", c=claim_id),
        await count(
            session,
            "select count(*) from motor.payment_transactions t join motor.payments p"
            " on p.id = t.payment_id where p.claim_id = :c",
            c=claim_id,
        ),
    )


async def approved_claim(
    session: AsyncSession,
    policy: dict[str, Any],
    amount: str,
    *,
    liability: str | None = None,
    assessor: uuid.UUID | None = None,
    **values: Any,
) -> Any:
    claim = await insert_claim(
        session,
        policy["id"],
        status="APPROVED",
        assessment_date=today_bangkok(),
        approval_date=today_bangkok(),
        assessed_amount=D(amount),
        approved_amount=D(amount),
        **values,
    )
    if liability is not None:
        assert assessor is not None
        session.add(
            ClaimAssessment(
                claim_id=claim.id,
                assessor_id=assessor,
                assessor_type="SURVEYOR",
                assessment_date=datetime.now(UTC) - timedelta(hours=2),
                assessment_type="INITIAL",
                damage_assessment={"front": "crushed"},
                liability_percentage=D(liability),
                recommended_amount=D(amount),
                recommended_action="APPROVE",
            )
        )
        await session.flush()
    return claim


def payee(gross: str | None = "30000.00", **over: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "payee_type": "REPAIR_SHOP",
        "payee_name": "อู่ช่างเอก",
        "payee_id": str(uuid.uuid4()),
        "settlement_method": "BANK_TRANSFER",
        "head_of_loss": "OWN_DAMAGE",
        "gross_amount": gross,
        "bank_code": "004",
        "bank_account_name": "Chang Ek Garage",
        "bank_account_number": "123-4-56789-0",
    }
    data.update(over)
    return {k: v for k, v in data.items() if v is not None}


async def settle(
    client: AsyncClient, headers: dict[str, str], claim_id: Any, *payees: dict[str, Any]
) -> Any:
    return await client.post(
        f"{CLAIMS}/{claim_id}/settlements", json={"payees": list(payees)}, headers=headers
    )


async def paid(
    client: AsyncClient, headers: dict[str, str], claim_id: Any, sid: str, ref: str
) -> Any:
    return await client.post(
        f"{CLAIMS}/{claim_id}/settlements/{sid}/paid",
        json={"transaction_reference": ref, "paid_at": datetime.now(UTC).isoformat()},
        headers=headers,
    )


@pytest.fixture
async def staff(client: AsyncClient, session: AsyncSession) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, role in (
        ("admin", "ADMIN"),
        ("adjuster", "ADJUSTER"),
        ("finance", "FINANCE"),
        ("surveyor", "SURVEYOR"),
    ):
        user, headers = await staff_user(client, session, role)
        out[name] = headers
        out[f"{name}_id"] = user.id
    return out


# --- CLASS_1 with a 2,000 THB voluntary deductible ----------------------------------------------


class TestClass1:
    async def test_approved_30000_pays_28000_then_settles_with_the_ncd_effect(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        assert policy["coverage_details"]["voluntary_deductible"] == "2000.00"
        await session.execute(
            text("update motor.policies set no_claim_discount = 30 where id = :p"),
            {"p": policy["id"]},
        )
        claim = await approved_claim(session, policy, "30000.00")
        r = await settle(client, staff["adjuster"], claim.id, payee())
        assert r.status_code == 201, r.text
        got = r.json()
        (row,) = got["settlements"]
        assert (row["gross_amount"], row["deductible_amount"], row["net_amount"]) == (
            "30000.00",
            "2000.00",
            "28000.00",
        )
        assert row["status"] == "APPROVED"
        assert row["approved_by"] == str(staff["adjuster_id"])
        assert row["head_of_loss"] == "OWN_DAMAGE"
        assert row["bank_account_number"] == "******7890"
        assert row["settlement_number"].startswith("STL-")
        assert got["deductible"] == {
            "policy_excess": "2000.00",
            "at_fault_deductible": "0.00",
            "insured_at_fault": True,
            "total": "2000.00",
            "applied": "2000.00",
        }
        assert got["claim"]["status"] == "APPROVED"
        assert got["claim"]["deductible_amount"] == "2000.00"
        assert got["ncd_effect"] is None
        payment = await one(session, "select * from motor.payments where claim_id = :c", c=claim.id)
        assert payment["id"] == uuid.UUID(row["payment_id"]) == uuid.UUID(row["payment"]["id"])
        assert (payment["payment_type"], payment["payment_direction"]) == (
            "CLAIM_SETTLEMENT",
            "OUTGOING",
        )
        assert (payment["amount"], payment["total_amount"], payment["fees"]) == (
            D("28000.00"),
            D("28000.00"),
            D("0.00"),
        )
        assert payment["payment_status"] == "PENDING"
        assert payment["policy_id"] == uuid.UUID(policy["id"])
        assert payment["customer_id"] == uuid.UUID(policy["customer_id"])
        assert payment["payment_method"] == "BANK_TRANSFER"
        assert payment["bank_account_number_encrypted"] is not None
        assert (
            await count(
                session,
                "select count(*) from motor.payment_registry where payment_id = :p",
                p=payment["id"],
            )
            == 1
        )

        # the bank confirms: payment SUCCESS, settlement PAID, claim SETTLED
        r = await paid(client, staff["finance"], claim.id, row["id"], "KBANK-OUT-0001")
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["settlements"][0]["status"] == "PAID"
        assert got["settlements"][0]["payment"]["payment_status"] == "SUCCESS"
        assert got["claim"]["status"] == "SETTLED"
        assert got["claim"]["settled_amount"] == "28000.00"
        assert got["claim"]["deductible_amount"] == "2000.00"
        assert got["claim"]["settlement_date"] == today_bangkok().isoformat()
        effect = got["ncd_effect"]
        # one step down, two when the claims paid exceed 200% of the premium (decision 0047)
        two = D("28000.00") > 2 * D(policy["total_premium"])
        want = (30, 0, -2) if two else (30, 20, -1)
        assert (effect["current_ncd"], effect["next_ncd"], effect["steps"]) == want
        assert effect["next_ncd_without_this_claim"] == 40
        assert effect["counts_against_ncd"] is True
        assert effect["claims_paid"] == "28000.00"
        assert effect["policy_number"] == policy["policy_number"]
        stored = await claim_row(session, claim.id)
        assert stored["status"] == "SETTLED"
        assert stored["settled_amount"] == D("28000.00")
        assert stored["ncd_effect"]["next_ncd"] == want[1]
        # money out equals approved less deductible
        assert await session.scalar(
            text(
                "select sum(amount) from motor.payments where claim_id = :c"
                " and payment_status = 'SUCCESS' and payment_direction = 'OUTGOING'"
            ),
            {"c": claim.id},
        ) == D("30000.00") - D("2000.00")

        # paid again with the same reference: nothing changes
        before = (await written(session, claim.id), await claim_row(session, claim.id))
        r = await paid(client, staff["finance"], claim.id, row["id"], "KBANK-OUT-0001")
        assert r.status_code == 200, r.text
        assert (await written(session, claim.id), await claim_row(session, claim.id)) == before
        # another reference on a paid settlement: 409
        r = await paid(client, staff["finance"], claim.id, row["id"], "KBANK-OUT-0002")
        assert r.status_code == 409
        # no more settlements on a SETTLED claim, no cancellation of a paid one
        r = await settle(client, staff["adjuster"], claim.id, payee("1.00"))
        assert r.status_code == 409
        r = await client.post(
            f"{CLAIMS}/{claim.id}/settlements/{row['id']}/cancel",
            json={"reason": "x"},
            headers=staff["adjuster"],
        )
        assert r.status_code == 409
        assert await written(session, claim.id) == before[0]
        listed = await client.get(f"{CLAIMS}/{claim.id}/settlements", headers=staff["finance"])
        assert listed.status_code == 200
        assert listed.json()["ncd_effect"]["next_ncd"] == want[1]

    async def test_several_payees_one_deductible_never_above_approved(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await approved_claim(
            session,
            policy,
            "40000.00",
            other_party_info={"name": "Somsak", "registration_number": "2ขค 99"},
        )
        r = await settle(
            client,
            staff["adjuster"],
            claim.id,
            payee(
                "1500.00",
                payee_type="CUSTOMER",
                payee_name="ผู้เอาประกัน",
                settlement_method="PROMPTPAY",
            ),
            payee("25000.00"),
            payee(
                "3000.50",
                head_of_loss="THIRD_PARTY_PROPERTY",
                payee_type="THIRD_PARTY",
                payee_name="Somsak",
                settlement_method="CHEQUE",
            ),
        )
        assert r.status_code == 201, r.text
        rows = r.json()["settlements"]
        assert [(x["gross_amount"], x["deductible_amount"], x["net_amount"]) for x in rows] == [
            ("1500.00", "1500.00", "0.00"),
            ("25000.00", "500.00", "24500.00"),
            ("3000.50", "0.00", "3000.50"),
        ]
        assert rows[0]["payment_id"] is None  # net 0: no payment
        methods = await session.execute(
            text(
                "select amount, payment_method from motor.payments where claim_id = :c"
                " order by amount"
            ),
            {"c": claim.id},
        )
        assert [tuple(m) for m in methods] == [
            (D("3000.50"), "BANK_TRANSFER"),  # a cheque goes out through the bank
            (D("24500.00"), "BANK_TRANSFER"),
        ]
        # 40,000.00 approved, 29,500.50 settled: 10,499.51 more is refused, nothing written
        before = await written(session, claim.id)
        r = await settle(client, staff["adjuster"], claim.id, payee("10499.51"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "above_approved"
        assert await written(session, claim.id) == before
        # exactly the rest is accepted, and bears no deductible (taken once per claim)
        r = await settle(client, staff["adjuster"], claim.id, payee("10499.50"))
        assert r.status_code == 201, r.text
        assert r.json()["settlements"][-1]["deductible_amount"] == "0.00"
        assert r.json()["settled_gross"] == "40000.00"
        assert r.json()["claim"]["deductible_amount"] == "2000.00"
        # paying all but one leaves the claim APPROVED; the last one settles it
        ids = [x["id"] for x in r.json()["settlements"] if x["payment_id"]]
        for n, sid in enumerate(ids):
            r = await paid(client, staff["finance"], claim.id, sid, f"REF-{claim.id}-{n}")
            assert r.status_code == 200, r.text
            want = "SETTLED" if n == len(ids) - 1 else "APPROVED"
            assert r.json()["claim"]["status"] == want
        assert r.json()["claim"]["settled_amount"] == "38000.00"  # 40,000 - 2,000
        assert (await claim_row(session, claim.id))["status"] == "SETTLED"

    async def test_deductible_above_the_approved_amount_settles_at_zero(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await approved_claim(session, policy, "1500.00")
        r = await settle(client, staff["adjuster"], claim.id, payee("1500.00"))
        assert r.status_code == 201, r.text
        got = r.json()
        (row,) = got["settlements"]
        assert (row["gross_amount"], row["deductible_amount"], row["net_amount"]) == (
            "1500.00",
            "1500.00",
            "0.00",
        )
        assert row["payment_id"] is None and row["status"] == "APPROVED"
        assert got["claim"]["status"] == "SETTLED"
        assert (got["claim"]["settled_amount"], got["claim"]["deductible_amount"]) == (
            "0.00",
            "1500.00",
        )
        assert got["ncd_effect"]["claims_paid"] == "0.00"
        assert await written(session, claim.id) == (1, 0, 0)
        r = await paid(client, staff["finance"], claim.id, row["id"], "REF-ZERO")
        assert r.status_code == 409

    async def test_cancel_an_unpaid_settlement(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await approved_claim(session, policy, "30000.00")
        r = await settle(client, staff["adjuster"], claim.id, payee("30000.00"))
        wrong = r.json()["settlements"][0]
        # the whole approved amount is taken: a replacement does not fit until cancelled
        r = await settle(client, staff["adjuster"], claim.id, payee("30000.00"))
        assert r.status_code == 422
        r = await client.post(
            f"{CLAIMS}/{claim.id}/settlements/{wrong['id']}/cancel",
            json={"reason": "wrong bank account"},
            headers=staff["adjuster"],
        )
        assert r.status_code == 200, r.text
        got = r.json()
        assert got["settlements"][0]["status"] == "CANCELLED"
        assert got["settlements"][0]["cancellation_reason"] == "wrong bank account"
        assert got["settlements"][0]["payment"]["payment_status"] == "CANCELLED"
        assert got["claim"]["status"] == "APPROVED"  # nothing live: not settled
        assert got["claim"]["deductible_amount"] == "0.00"
        r = await client.post(
            f"{CLAIMS}/{claim.id}/settlements/{wrong['id']}/cancel",
            json={"reason": "again"},
            headers=staff["adjuster"],
        )
        assert r.status_code == 409
        r = await paid(client, staff["finance"], claim.id, wrong["id"], "REF-CANCELLED")
        assert r.status_code == 409
        r = await settle(client, staff["adjuster"], claim.id, payee("30000.00"))
        assert r.status_code == 201, r.text
        new = r.json()["settlements"][-1]
        assert (new["deductible_amount"], new["net_amount"]) == ("2000.00", "28000.00")
        r = await paid(client, staff["finance"], claim.id, new["id"], "REF-GOOD")
        assert r.json()["claim"]["status"] == "SETTLED"
        assert r.json()["claim"]["settled_amount"] == "28000.00"


class TestIdempotency:
    async def test_a_retried_settlement_pays_once(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await approved_claim(session, policy, "30000.00")
        headers = {**staff["adjuster"], "Idempotency-Key": f"settle-{claim.id}"}
        body = {"payees": [payee("30000.00")]}
        first = await client.post(f"{CLAIMS}/{claim.id}/settlements", json=body, headers=headers)
        assert first.status_code == 201, first.text
        again = await client.post(f"{CLAIMS}/{claim.id}/settlements", json=body, headers=headers)
        assert again.status_code == 201
        assert again.headers.get("Idempotent-Replayed") == "true"
        assert again.json() == first.json()
        assert await written(session, claim.id) == (1, 1, 0)


class TestRefusals:
    async def test_bad_input_and_state_write_nothing(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await approved_claim(session, policy, "30000.00")
        theft = await approved_claim(session, policy, "30000.00", claim_type="THEFT")
        cases: list[tuple[Any, list[dict[str, Any]], int]] = [
            (claim.id, [payee(None)], 422),  # gross required
            (claim.id, [payee("0")], 422),
            (claim.id, [payee("-1")], 422),
            (claim.id, [payee("1.005")], 422),
            (claim.id, [payee(payee_type="GARAGE")], 422),
            (claim.id, [payee(settlement_method="CRYPTO")], 422),
            (claim.id, [payee(head_of_loss="PAIN")], 422),
            (claim.id, [payee(bank_account_number="12ab")], 422),
            (claim.id, [payee(surprise=1)], 422),
            (claim.id, [], 422),
            (claim.id, [payee("30000.01")], 422),  # above approved
            (claim.id, [payee("15000"), payee("15000.01")], 422),
            (
                claim.id,
                [
                    payee(
                        cmi={"stage": "INITIAL", "injured_person": "A", "medical": "100"},
                        head_of_loss="BODILY_INJURY",
                    )
                ],
                422,
            ),
            (theft.id, [payee(head_of_loss="THIRD_PARTY_PROPERTY")], 422),  # not covered
        ]
        for claim_id, payees, code in cases:
            r = await client.post(
                f"{CLAIMS}/{claim_id}/settlements",
                json={"payees": payees},
                headers=staff["adjuster"],
            )
            assert r.status_code == code, (payees, r.text)
            assert r.headers["content-type"].startswith("application/problem+json")
        for c in (claim, theft):
            assert await written(session, c.id) == (0, 0, 0)
            assert (await claim_row(session, c.id))["status"] == "APPROVED"
        for status in ("ASSESSED", "REJECTED", "CLOSED", "INVESTIGATING"):
            other = await insert_claim(session, policy["id"], status=status)
            r = await settle(client, staff["adjuster"], other.id, payee("100.00"))
            assert r.status_code == 409, r.text
            assert await written(session, other.id) == (0, 0, 0)
        r = await settle(client, staff["surveyor"], claim.id, payee())
        assert r.status_code == 403
        r = await settle(client, staff["adjuster"], uuid.uuid4(), payee())
        assert r.status_code == 404
        r = await paid(client, staff["finance"], claim.id, str(uuid.uuid4()), "REF-X")
        assert r.status_code == 404
        assert await written(session, claim.id) == (0, 0, 0)

    async def test_paid_at_in_the_future_and_a_reused_reference(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        a = await approved_claim(session, policy, "5000.00")
        b = await approved_claim(session, policy, "6000.00")
        ra = (await settle(client, staff["adjuster"], a.id, payee("5000.00"))).json()
        rb = (await settle(client, staff["adjuster"], b.id, payee("6000.00"))).json()
        sa, sb = ra["settlements"][0]["id"], rb["settlements"][0]["id"]
        r = await client.post(
            f"{CLAIMS}/{a.id}/settlements/{sa}/paid",
            json={
                "transaction_reference": "REF-1",
                "paid_at": (datetime.now(UTC) + timedelta(days=1)).isoformat(),
            },
            headers=staff["finance"],
        )
        assert r.status_code == 422
        assert (await paid(client, staff["finance"], a.id, sa, "REF-SAME")).status_code == 200
        before = await written(session, b.id)
        r = await paid(client, staff["finance"], b.id, sb, "REF-SAME")
        assert r.status_code == 409
        assert await written(session, b.id) == before
        assert (await claim_row(session, b.id))["status"] == "APPROVED"
        # the settlement of one claim is not reachable through another
        r = await paid(client, staff["finance"], a.id, sb, "REF-OTHER")
        assert r.status_code == 404


# --- 3+ with the at-fault deductible -------------------------------------------------------


class TestPlus:
    async def test_at_fault_3_plus_bears_2000_not_at_fault_none(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(
            client,
            staff["admin"],
            policy_type="CLASS_3",
            coverage_option="PLUS",
        )
        other = {"name": "Somsak", "registration_number": "2ขค 99", "insurer": "Thai Re"}
        at_fault = await approved_claim(
            session,
            policy,
            "30000.00",
            liability="100",
            assessor=staff["surveyor_id"],
            other_party_info=other,
        )
        r = await settle(client, staff["adjuster"], at_fault.id, payee("30000.00"))
        assert r.status_code == 201, r.text
        row = r.json()["settlements"][0]
        assert (row["deductible_amount"], row["net_amount"]) == ("2000.00", "28000.00")
        assert r.json()["deductible"]["at_fault_deductible"] == "2000.00"
        assert r.json()["deductible"]["insured_at_fault"] is True

        clean = await approved_claim(
            session,
            policy,
            "30000.00",
            liability="0",
            assessor=staff["surveyor_id"],
            other_party_info=other,
        )
        r = await settle(client, staff["adjuster"], clean.id, payee("30000.00"))
        assert r.status_code == 201, r.text
        row = r.json()["settlements"][0]
        assert (row["deductible_amount"], row["net_amount"]) == ("0.00", "30000.00")
        r = await paid(client, staff["finance"], clean.id, row["id"], "REF-PLUS-CLEAN")
        effect = r.json()["ncd_effect"]
        # not at fault, other party identified and insured: the claim keeps the NCD
        assert effect["counts_against_ncd"] is False and effect["insured_at_fault"] is False

    async def test_3_plus_own_damage_limit_and_collision_only(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(
            client, staff["admin"], policy_type="CLASS_3", coverage_option="PLUS"
        )
        big = await approved_claim(
            session, policy, "150000.00", other_party_info={"registration_number": "1กก 1"}
        )
        r = await settle(client, staff["adjuster"], big.id, payee("100000.01"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "above_cover_limit"
        r = await settle(client, staff["adjuster"], big.id, payee("100000.00"))
        assert r.status_code == 201, r.text
        lone = await approved_claim(session, policy, "5000.00", other_party_info={"name": "tree"})
        r = await settle(client, staff["adjuster"], lone.id, payee("5000.00"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "not_covered"
        assert await written(session, lone.id) == (0, 0, 0)


# --- CMI bodily injury per person ----------------------------------------------------------


def cmi(stage: str, person: str = "นายสมชาย ใจดี", **amounts: Any) -> dict[str, Any]:
    return payee(
        None,
        payee_type="HOSPITAL",
        payee_name="โรงพยาบาลกรุงเทพ",
        head_of_loss="BODILY_INJURY",
        cmi={"stage": stage, "injured_person": person, **amounts},
    )


class TestCmi:
    async def test_per_person_limits(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"])  # CMI
        claim = await approved_claim(session, policy, "700000.00")
        url_claim = claim.id
        # initial: medical up to 30,000, death or disability 35,000
        r = await settle(client, staff["adjuster"], url_claim, cmi("INITIAL", medical="30000.01"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["field"] == "body.payees.0.cmi.medical"
        r = await settle(
            client, staff["adjuster"], url_claim, cmi("INITIAL", inpatient_days=1, medical="1")
        )
        assert r.status_code == 422  # no inpatient compensation before fault is shown
        assert await written(session, claim.id) == (0, 0, 0)
        r = await settle(
            client,
            staff["adjuster"],
            url_claim,
            cmi("INITIAL", medical="30000.00"),
            cmi("INITIAL", person="นางสาวมาลี", death_or_disability="35000.00"),
        )
        assert r.status_code == 201, r.text
        rows = r.json()["settlements"]
        assert [(x["gross_amount"], x["deductible_amount"], x["net_amount"]) for x in rows] == [
            ("30000.00", "0.00", "30000.00"),
            ("35000.00", "0.00", "35000.00"),
        ]
        assert rows[0]["loss_details"]["stage"] == "INITIAL"
        # after fault (inclusive of the initial): 50,000 more medical, 20 days inpatient
        r = await settle(
            client, staff["adjuster"], url_claim, cmi("AFTER_FAULT", medical="50000.01")
        )
        assert r.status_code == 422
        assert "50000.00 left" in r.text
        r = await settle(
            client, staff["adjuster"], url_claim, cmi("AFTER_FAULT", inpatient_days=21)
        )
        assert r.status_code == 422
        # the same person twice in one request counts both rows
        r = await settle(
            client,
            staff["adjuster"],
            url_claim,
            cmi("AFTER_FAULT", medical="25000.00"),
            cmi("AFTER_FAULT", person="  นายสมชาย   ใจดี ", medical="25000.01"),
        )
        assert r.status_code == 422
        assert (await written(session, claim.id))[0] == 2
        r = await settle(
            client,
            staff["adjuster"],
            url_claim,
            cmi("AFTER_FAULT", medical="50000.00", inpatient_days=20),
            cmi("AFTER_FAULT", person="นางสาวมาลี", death_or_disability="465000.00"),
        )
        assert r.status_code == 201, r.text
        rows = r.json()["settlements"][2:]
        assert [x["gross_amount"] for x in rows] == ["54000.00", "465000.00"]
        assert rows[0]["loss_details"]["inpatient_compensation"] == "4000.00"
        # a gross given on a CMI row must be the sum; own damage is not CMI's
        r = await settle(
            client,
            staff["adjuster"],
            url_claim,
            {**cmi("AFTER_FAULT", person="คนที่สาม", medical="100.00"), "gross_amount": "100.01"},
        )
        assert r.status_code == 422
        r = await settle(client, staff["adjuster"], url_claim, payee("100.00"))
        assert r.status_code == 422
        assert r.json()["errors"][0]["type"] == "not_covered"
        assert (
            await count(
                session,
                "select count(*) from motor.payments where claim_id = :c"
                " and payment_type = 'CLAIM_SETTLEMENT' and payment_direction = 'OUTGOING'",
                c=claim.id,
            )
            == 4
        )


class TestAssessToSettle:
    async def test_assessed_qa_approved_settled_through_the_api(
        self, client: AsyncClient, session: AsyncSession, staff: dict[str, Any]
    ) -> None:
        policy = await active_policy(client, staff["admin"], **class1_quote())
        claim = await insert_claim(session, policy["id"], status="ASSIGNED")
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments",
            json={
                "assessment_type": "INITIAL",
                "damage_assessment": {"front_bumper": "broken"},
                "repair_estimates": {
                    "line_items": [
                        {"description": "Front bumper", "amount": "21000.00"},
                        {"description": "Labour", "amount": "9000.00"},
                    ]
                },
                "liability_percentage": "100",
                "recommended_amount": "30000.00",
                "recommended_action": "APPROVE",
            },
            headers=staff["surveyor"],
        )
        assert r.status_code == 201, r.text
        aid = r.json()["assessment"]["id"]
        r = await client.post(
            f"{CLAIMS}/{claim.id}/assessments/{aid}/qa-review",
            json={"qa_notes": "Photos match the estimate"},
            headers=staff["adjuster"],
        )
        assert r.status_code == 200, r.text
        r = await client.post(
            f"{CLAIMS}/{claim.id}/approval",
            json={"approved_amount": "30000.00", "notes": "within authority"},
            headers=staff["adjuster"],
        )
        assert r.status_code == 200, r.text
        r = await settle(client, staff["adjuster"], claim.id, payee("30000.00"))
        assert r.status_code == 201, r.text
        sid = r.json()["settlements"][0]["id"]
        r = await paid(client, staff["finance"], claim.id, sid, "SCB-OUT-77")
        assert r.status_code == 200, r.text
        row = await claim_row(session, claim.id)
        assert row["status"] == "SETTLED"
        assert (row["assessed_amount"], row["approved_amount"]) == (D("30000.00"), D("30000.00"))
        assert (row["deductible_amount"], row["settled_amount"]) == (D("2000.00"), D("28000.00"))
        assert row["assessment_date"] == row["approval_date"] == row["settlement_date"]
        assert row["ncd_effect"]["insured_at_fault"] is True
        audit = await count(
            session,
            "select count(*) from audit.audit_log where table_name = 'motor.claims'"
            " and record_id = :c and operation = 'UPDATE'",
            c=str(claim.id),
        )
        assert audit >= 3  # assessed, approved, settled
