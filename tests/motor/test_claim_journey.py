"""One accident claim from first notice of loss to CLOSED through the API, each step by the
role that does it in an insurer (issue 5): the money that goes out equals the approved amount
less the deductible, to the satang."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.motor.claim_factory import (
    CLAIMS,
    MOTOR,
    active_policy,
    backdate_policy,
    class1_quote,
    days_ago,
    staff_user,
)


async def ok(response: Any, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    return dict(response.json())


async def test_accident_claim_from_first_notice_to_closed(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    adjuster, as_adjuster = await staff_user(client, session, "ADJUSTER")
    surveyor, as_surveyor = await staff_user(client, session, "SURVEYOR")
    _, as_finance = await staff_user(client, session, "FINANCE")

    # A CLASS_1 policy with a 2,000 THB voluntary deductible, in force for 200 days.
    policy = await active_policy(client, admin, **class1_quote())
    await backdate_policy(session, policy["id"], 200)

    # 1. First notice of loss, by the adjuster on the phone with the customer.
    notice = {
        "policy_number": policy["policy_number"],
        "claim_type": "ACCIDENT",
        "incident_date": days_ago(2).isoformat(),
        "incident_description": "รถกระบะชนท้ายที่สี่แยกไฟแดง",
        "damage_description": "กันชนหลังบุบ ไฟท้ายแตก",
        "incident_location": {
            "lat": 13.7563,
            "lng": 100.4918,
            "address": {
                "text": "ถนนราชดำเนินใน",
                "tambon": "พระบรมมหาราชวัง",
                "amphoe": "1001",
                "province": "10",
                "postal_code": "10200",
            },
        },
        "other_party_info": {
            "name": "นายสมศักดิ์ ขับเร็ว",
            "registration_number": "2ขค 5678",
            "insurer": "ABC Insurance",
            "at_fault": True,
        },
        "police_report_number": "BKK-PN-2026-0042",
        "estimated_amount": "32000.00",
    }
    claim = await ok(
        await client.post(
            CLAIMS, json=notice, headers={**as_adjuster, "Idempotency-Key": str(uuid.uuid4())}
        ),
        201,
    )
    claim_id = claim["id"]
    assert claim["status"] == "REPORTED", claim
    assert claim["requires_investigation"] is False

    # 2. Assignment: the adjuster takes it and sends a surveyor.
    claim = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/assignment",
            json={"adjuster_id": str(adjuster.id), "surveyor_id": str(surveyor.id)},
            headers=as_adjuster,
        )
    )
    assert claim["status"] == "ASSIGNED"

    # 3. The surveyor's assessment: 30,000 to repair, the insured not at fault.
    assessed = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/assessments",
            json={
                "assessment_type": "INITIAL",
                "damage_assessment": {"rear_bumper": "cracked", "tail_lamp": "broken"},
                "repair_estimates": {
                    "line_items": [
                        {"description": "Rear bumper, replace", "amount": "18000.00"},
                        {"description": "Labour and paint", "amount": "12000.00"},
                    ]
                },
                "liability_percentage": "0",
                "recommended_amount": "30000.00",
                "recommended_action": "APPROVE",
            },
            headers=as_surveyor,
        ),
        201,
    )
    assert assessed["claim"]["status"] == "ASSESSED"
    assert assessed["claim"]["assessed_amount"] == "30000.00"

    # 4. Approval by the adjuster (within 50,000; he did not assess it).
    approved = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/approval",
            json={"approved_amount": "30000.00", "notes": "within authority"},
            headers=as_adjuster,
        )
    )
    assert approved["claim"]["status"] == "APPROVED"

    # 5. Settlement by finance: the repair shop is paid the approved amount less 2,000.
    settled = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/settlements",
            json={
                "payees": [
                    {
                        "payee_type": "REPAIR_SHOP",
                        "payee_name": "อู่ช่างเอก",
                        "settlement_method": "BANK_TRANSFER",
                        "head_of_loss": "OWN_DAMAGE",
                        "gross_amount": "30000.00",
                    }
                ]
            },
            headers={**as_finance, "Idempotency-Key": str(uuid.uuid4())},
        ),
        201,
    )
    [row] = settled["settlements"]
    assert (row["gross_amount"], row["deductible_amount"], row["net_amount"]) == (
        "30000.00",
        "2000.00",
        "28000.00",
    )
    assert row["payment"]["payment_status"] == "PENDING"

    paid = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/settlements/{row['id']}/paid",
            json={
                "transaction_reference": "KBANK-OUT-0001",
                "paid_at": datetime.now(UTC).isoformat(),  # 09:00 Bangkok may still be ahead
            },
            headers=as_finance,
        )
    )
    assert paid["claim"]["status"] == "SETTLED", paid

    # 6. The adjuster closes the file.
    closed = await ok(
        await client.post(
            f"{CLAIMS}/{claim_id}/closure", json={"notes": "ปิดแฟ้ม"}, headers=as_adjuster
        )
    )
    assert closed["status"] == "CLOSED"

    # The claim row: every amount and date column of the journey.
    row_db = (
        await session.execute(
            text(
                "select status, assessed_amount, approved_amount, deductible_amount,"
                " settled_amount, assessment_date, approval_date, settlement_date,"
                " closure_date, ncd_effect from motor.claims where id = :id"
            ),
            {"id": claim_id},
        )
    ).one()
    assert row_db.status == "CLOSED"
    assert row_db.assessed_amount == Decimal("30000.00")
    assert row_db.approved_amount == Decimal("30000.00")
    assert row_db.deductible_amount == Decimal("2000.00")
    assert row_db.settled_amount == Decimal("28000.00")
    assert None not in (
        row_db.assessment_date,
        row_db.approval_date,
        row_db.settlement_date,
        row_db.closure_date,
    )
    assert row_db.ncd_effect is not None

    # Money out: exactly one successful outgoing CLAIM_SETTLEMENT payment, approved - deductible.
    out = (
        await session.execute(
            text(
                "select payment_type, payment_direction, payment_status, amount, total_amount"
                " from motor.payments where claim_id = :id"
            ),
            {"id": claim_id},
        )
    ).all()
    assert [tuple(r) for r in out] == [
        ("CLAIM_SETTLEMENT", "OUTGOING", "SUCCESS", Decimal("28000.00"), Decimal("28000.00"))
    ]
    assert sum(r.total_amount for r in out) == row_db.approved_amount - row_db.deductible_amount

    # The history shows each move, in order.
    history = await ok(await client.get(f"{CLAIMS}/{claim_id}/history", headers=as_adjuster))
    moves = [(c["from_status"], c["to_status"]) for c in history["changes"]]
    assert moves == [
        (None, "REPORTED"),
        ("REPORTED", "ASSIGNED"),
        ("ASSIGNED", "ASSESSED"),
        ("ASSESSED", "APPROVED"),
        ("APPROVED", "SETTLED"),
        ("SETTLED", "CLOSED"),
    ]

    # The customer's dashboard counts it as settled.
    dashboard = await ok(
        await client.get(f"{MOTOR}/customers/{policy['customer_id']}/dashboard", headers=admin)
    )
    [line] = [p for p in dashboard["policies"] if p["policy_number"] == policy["policy_number"]]
    assert line["claim_count"] == 1
    assert line["total_claims_settled"] == "28000.00"
