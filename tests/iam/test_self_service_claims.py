"""Self-service submissions (decision 0068, amended): a member submits a reimbursement claim
for themselves and a customer notifies a claim on their own policy, through the staff routes'
services. The member and the policy come from the login's link under row-level security,
never from the body: amounts are those the staff route computes, to the rupiah / satang;
another person's policy is a 404 and an unknown provider a 404, a refused claim writes
nothing; an Idempotency-Key replays the first answer; staff-only fields are refused; a login
without the permission is a 403."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.authorizations import today_jakarta
from polis.reference.models import SystemConfiguration
from tests.iam.factories import signed_in
from tests.iam.test_self_service_rls import (
    ME,
    _health_person,
    _motor_person,
    _new_login,
    admin,  # noqa: F401 - fixture
)
from tests.motor.claim_factory import active_policy, backdate_policy, class1_quote, days_ago
from tests.motor.test_policies_api import bound_policy
from tests.web.test_portal import PDF

HEALTH = f"{ME}/health/claims"
MOTOR = f"{ME}/motor/claims"
STAFF_ONLY = ("fraud_score", "fraud_flags", "requires_investigation")


def own_body(provider_code: str, *items: dict[str, Any], **over: Any) -> dict[str, Any]:
    """A reimbursement claim of one's own (no member_number, no claim_type)."""
    body: dict[str, Any] = {
        "provider_code": provider_code,
        "service_type": "outpatient",
        "service_date": "2025-03-10",
        "items": list(items)
        or [{"benefit_code": "OP-GP", "diagnosis_code": "J06.9", "charged_amount": "1000000.00"}],
    }
    body.update(over)
    return body


async def count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


CLAIMS_OF = "select count(*) from claims.claim where member_id = :m"
ALL_CLAIMS = "select count(*) from claims.claim"
ALL_LINES = "select count(*) from claims.claim_item"
MOTOR_CLAIMS = "select count(*) from motor.claims"
AMOUNTS = (
    "total_charged_amount",
    "total_approved_amount",
    "total_paid_amount",
    "member_responsibility",
)
LINE_AMOUNTS = (
    "benefit_code",
    "charged_amount",
    "approved_amount",
    "paid_amount",
    "deductible_amount",
    "coinsurance_amount",
    "copay_amount",
    "status",
    "denial_reason",
)


def lines(claim: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [tuple(i[k] for k in LINE_AMOUNTS) for i in claim["items"]]


async def documents_rule(session: AsyncSession, value: str) -> None:
    await session.execute(
        update(SystemConfiguration)
        .where(SystemConfiguration.config_key == "HEALTH_REIMBURSEMENT_DOCUMENTS")
        .values(config_value=value)
    )
    await session.commit()


# --- health ----------------------------------------------------------------------------------


async def test_a_member_claims_a_reimbursement_as_the_staff_route_computes_it(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)  # the same plan and claims so far
    _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    dental = {"benefit_code": "DENT", "diagnosis_code": "K02.1", "charged_amount": "200000.00"}
    gp = {
        "benefit_code": "OP-GP",
        "diagnosis_code": "j06.9",
        "charged_amount": "1000000.00",
        "service_code": "CONSULT-GP",
    }

    mine = await client.post(
        HEALTH, json=own_body(ana.world.provider.provider_code, gp, dental), headers=ana.headers
    )
    assert mine.status_code == 201, mine.text
    claim = mine.json()
    theirs = await client.post(
        "/api/v1/health/claims",
        json={
            **own_body(budi.world.provider.provider_code, gp, dental),
            "member_number": budi.member.member_number,
            "claim_type": "reimbursement",
        },
        headers=staff,
    )
    assert theirs.status_code == 201, theirs.text
    staff_claim = theirs.json()

    # The member is the login's, the claim a reimbursement, amounts as the staff route's.
    assert claim["member_number"] == ana.member.member_number
    assert claim["claim_type"] == "reimbursement"
    assert [claim[k] for k in AMOUNTS] == [staff_claim[k] for k in AMOUNTS]
    assert lines(claim) == lines(staff_claim)
    assert [claim[k] for k in AMOUNTS] == ["1200000.00", "900000.00", "765000.00", "435000.00"]
    # The deductible was met by the earlier claims: OP-GP 1,000,000 less the 10% discount is
    # 900,000, copay 50,000, coinsurance 10% of 850,000; the plan would pay 765,000. Dental
    # is not covered. Without its documents a reimbursement claim waits for them, moving
    # nothing.
    assert claim["status"] == staff_claim["status"] == "pended"
    assert claim["pended_reason"] == "documents_required"
    assert claim["documents_required"] == ["invoice", "receipt"]
    assert [i["status"] for i in claim["items"]] == ["pended", "denied"]
    assert claim["items"][0]["diagnosis_code"] == "J06.9"

    row = (
        await session.execute(
            text("select member_id, created_by, claim_type from claims.claim where id = :c"),
            {"c": claim["id"]},
        )
    ).one()
    assert row.member_id == ana.member.id and row.claim_type == "reimbursement"
    me = await client.get(f"{ME}/health/member", headers=ana.headers)
    assert me.status_code == 200
    read_back = await client.get(f"{HEALTH}/{claim['id']}", headers=ana.headers)
    assert read_back.status_code == 200
    assert lines(read_back.json()) == lines(claim)
    # The other member does not see it.
    other = await client.get(f"{HEALTH}/{claim['id']}", headers=budi.headers)
    assert other.status_code == 404

    # The documents it waits for are attached through the existing route.
    for kind in claim["documents_required"]:
        made = await client.post(
            f"{HEALTH}/{claim['id']}/documents",
            data={"document_type": kind},
            files={"file": (f"{kind}.pdf", PDF, "application/pdf")},
            headers=ana.headers,
        )
        assert made.status_code == 201, made.text


async def test_with_the_documents_rule_off_the_claim_is_decided_to_the_rupiah(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    await documents_rule(session, "[]")
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    gp = {"benefit_code": "OP-GP", "diagnosis_code": "J06.9", "charged_amount": "300000.00"}
    made = await client.post(
        HEALTH, json=own_body(ana.world.provider.provider_code, gp), headers=ana.headers
    )
    assert made.status_code == 201, made.text
    claim = made.json()
    theirs = await client.post(
        "/api/v1/health/claims",
        json={
            **own_body(budi.world.provider.provider_code, gp),
            "member_number": budi.member.member_number,
            "claim_type": "reimbursement",
        },
        headers=staff,
    )
    assert theirs.status_code == 201, theirs.text
    staff_claim = theirs.json()
    assert claim["pended_reason"] is None and claim["documents_required"] == []
    assert claim["status"] == staff_claim["status"] == "approved"
    assert [claim[k] for k in AMOUNTS] == [staff_claim[k] for k in AMOUNTS]
    assert lines(claim) == lines(staff_claim)
    # The deductible was met by the earlier claims: 300,000 less 10% = 270,000 allowed,
    # copay 50,000, coinsurance 10% of 220,000 = 22,000; the plan pays 198,000.
    assert [claim[k] for k in AMOUNTS] == ["300000.00", "270000.00", "198000.00", "102000.00"]
    used = text(
        "select used_amount, visit_count from member.accumulator where member_id = :m"
        " and benefit_code = 'OP-GP' and year = 2025"
    )
    mine = (await session.execute(used, {"m": ana.member.id})).one()
    assert tuple(mine) == tuple((await session.execute(used, {"m": budi.member.id})).one())


async def test_refused_claims_write_nothing(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    provider = ana.world.provider.provider_code
    before = await count(session, ALL_CLAIMS), await count(session, ALL_LINES)
    future = (today_jakarta() + timedelta(days=1)).isoformat()

    cases: list[tuple[dict[str, Any], int, str, str | None]] = [
        # The member is the caller: naming another member, or staff's fields, is refused.
        (
            {**own_body(provider), "member_number": budi.member.member_number},
            422,
            "validation-error",
            "body.member_number",
        ),
        ({**own_body(provider), "claim_type": "cashless"}, 422, "validation-error", None),
        ({**own_body(provider), "authorization_number": "GL-1"}, 422, "validation-error", None),
        (own_body("NO-SUCH-PROVIDER"), 404, "provider-not-found", None),
        (own_body(provider, service_date="2019-06-01"), 422, "no-coverage", None),
        (own_body(provider, service_date=future), 422, "validation-error", "body.service_date"),
        (
            own_body(
                provider, {"benefit_code": "OP-GP", "diagnosis_code": "XYZ", "charged_amount": "1"}
            ),
            422,
            "validation-error",
            "body.items.0.diagnosis_code",
        ),
        (
            own_body(provider, {"benefit_code": "OP-GP", "charged_amount": "-5.00"}),
            422,
            "validation-error",
            "body.items.0.charged_amount",
        ),
        (
            own_body(provider, {"benefit_code": "NOPE", "charged_amount": "10.00"}),
            404,
            "benefit-not-found",
            None,
        ),
        (own_body(provider, items=[]), 422, "validation-error", "body.items"),
    ]
    for body, status, type_, field in cases:
        response = await client.post(HEALTH, json=body, headers=ana.headers)
        assert response.status_code == status, (body, response.text)
        problem = response.json()
        assert problem["type"] == f"urn:polis:problem:{type_}", (body, problem)
        if field is not None:
            assert field in [e["field"] for e in problem["errors"]], problem
    assert (await count(session, ALL_CLAIMS), await count(session, ALL_LINES)) == before
    assert await count(session, CLAIMS_OF, m=budi.member.id) == 2


async def test_the_same_idempotency_key_gives_one_claim(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    ana = await _health_person(client, session, admin)
    body = own_body(ana.world.provider.provider_code)
    headers = {**ana.headers, "Idempotency-Key": str(uuid.uuid4())}
    first = await client.post(HEALTH, json=body, headers=headers)
    assert first.status_code == 201, first.text
    again = await client.post(HEALTH, json=body, headers=headers)
    assert again.status_code == 201, again.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    assert await count(session, CLAIMS_OF, m=ana.member.id) == 3  # two before, one now
    changed = await client.post(HEALTH, json={**body, "service_type": "dental"}, headers=headers)
    assert changed.status_code == 422
    assert changed.json()["type"].endswith("idempotency-key-mismatch")
    assert await count(session, CLAIMS_OF, m=ana.member.id) == 3


async def test_logins_without_the_permission_are_refused(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    ana = await _health_person(client, session, admin)
    kan = await _motor_person(client, session, admin)
    _, processor = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    before = await count(session, ALL_CLAIMS), await count(session, MOTOR_CLAIMS)
    health_body = own_body(ana.world.provider.provider_code)
    motor_body = fnol(kan.policy)
    for url, body, headers in (
        (HEALTH, health_body, kan.headers),  # a customer has no health.claims:submit_own
        (MOTOR, motor_body, ana.headers),  # a member has no motor.claims:submit_own
        (HEALTH, health_body, processor),
        (MOTOR, motor_body, processor),
    ):
        response = await client.post(url, json=body, headers=headers)
        assert response.status_code == 403, (url, response.text)
        assert response.json()["type"].endswith("forbidden")
    # A MEMBER login not linked to anyone.
    unlinked = await _new_login(client, admin, "MEMBER")
    response = await client.post(HEALTH, json=health_body, headers=unlinked)
    assert response.status_code == 403
    assert response.json()["type"].endswith("self-service-not-linked")
    assert (await count(session, ALL_CLAIMS), await count(session, MOTOR_CLAIMS)) == before


# --- motor -----------------------------------------------------------------------------------


def fnol(policy: dict[str, Any], **over: Any) -> dict[str, Any]:
    """An accident two days ago with damage to the insured car."""
    body: dict[str, Any] = {
        "policy_number": policy["policy_number"],
        "claim_type": "ACCIDENT",
        "incident_date": days_ago(2).isoformat(),
        "incident_description": "ชนท้ายที่สี่แยกไฟแดง",
        "damage_description": "กันชนหลังบุบ ไฟท้ายแตก",
        "estimated_amount": "45000.5",
    }
    body.update(over)
    return body


async def class1_customer(
    client: AsyncClient, session: AsyncSession, staff: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """An ACTIVE CLASS_1 policy that started ten days ago, and its customer's login."""
    policy = await active_policy(client, staff, **class1_quote())
    await backdate_policy(session, policy["id"], 10)
    await session.commit()
    headers = await _new_login(client, staff, "CUSTOMER", customer_id=policy["customer_id"])
    return policy, headers


async def test_a_customer_notifies_a_claim_on_own_policy(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy, headers = await class1_customer(client, session, admin)
    before = await count(session, MOTOR_CLAIMS)
    made = await client.post(MOTOR, json=fnol(policy), headers=headers)
    assert made.status_code == 201, made.text
    claim = made.json()
    assert await count(session, MOTOR_CLAIMS) == before + 1
    for name in STAFF_ONLY:
        assert name not in claim
    assert claim["policy_id"] == policy["id"]
    assert claim["policy_number"] == policy["policy_number"]
    assert claim["status"] == "REPORTED" and claim["estimated_amount"] == "45000.50"

    # What staff see of the same claim, fraud scoring aside: the same to the satang.
    staff = await client.get(f"/api/v1/motor/claims/{claim['id']}", headers=admin)
    assert staff.status_code == 200, staff.text
    seen = {k: v for k, v in staff.json().items() if k not in STAFF_ONLY}
    assert claim == seen
    own_damage = {h["head"]: h for h in claim["heads_of_loss"]}["OWN_DAMAGE"]
    assert own_damage["covered"] is True
    assert claim["created_by"] is not None
    user_id = await session.scalar(
        text("select user_id from motor.customers where id = :c"), {"c": policy["customer_id"]}
    )
    assert claim["created_by"] == str(user_id)
    read_back = await client.get(f"{MOTOR}/{claim['id']}", headers=headers)
    assert read_back.status_code == 200 and read_back.json() == claim

    # By policy_id as well.
    by_id = fnol(policy, policy_number=None, policy_id=policy["id"])
    assert (await client.post(MOTOR, json=by_id, headers=headers)).status_code == 201


async def test_another_customers_policy_and_refusals_write_nothing(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy, headers = await class1_customer(client, session, admin)
    lek = await _motor_person(client, session, admin)
    draft = await bound_policy(client, admin)  # not paid: DRAFT
    draft_login = await _new_login(client, admin, "CUSTOMER", customer_id=draft["customer_id"])
    before = await count(session, MOTOR_CLAIMS)

    theirs = await client.post(MOTOR, json=fnol(lek.policy), headers=headers)
    assert theirs.status_code == 404, theirs.text
    by_id = fnol(lek.policy, policy_number=None, policy_id=lek.policy["id"])
    assert (await client.post(MOTOR, json=by_id, headers=headers)).status_code == 404
    unknown = await client.post(MOTOR, json=fnol(policy, policy_number="MTR-NOPE"), headers=headers)
    assert unknown.status_code == 404

    not_active = await client.post(MOTOR, json=fnol(draft), headers=draft_login)
    assert not_active.status_code == 409, not_active.text
    assert not_active.json()["type"].endswith("policy-not-active")

    for over, field in (
        ({"fraud_score": "0"}, "body.fraud_score"),
        ({"requires_investigation": False}, "body.requires_investigation"),
        ({"status": "APPROVED"}, "body.status"),
        ({"estimated_amount": "-1"}, "body.estimated_amount"),
        ({"incident_date": days_ago(30).isoformat()}, "body.incident_date"),
    ):
        refused = await client.post(MOTOR, json=fnol(policy, **over), headers=headers)
        assert refused.status_code == 422, (over, refused.text)
        assert field in [e["field"] for e in refused.json()["errors"]], refused.json()
    assert await count(session, MOTOR_CLAIMS) == before


async def test_a_motor_claim_is_notified_once_per_idempotency_key(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy, headers = await class1_customer(client, session, admin)
    keyed = {**headers, "Idempotency-Key": str(uuid.uuid4())}
    before = await count(session, MOTOR_CLAIMS)
    first = await client.post(MOTOR, json=fnol(policy), headers=keyed)
    assert first.status_code == 201, first.text
    again = await client.post(MOTOR, json=fnol(policy), headers=keyed)
    assert again.status_code == 201
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json()["id"] == first.json()["id"]
    assert await count(session, MOTOR_CLAIMS) == before + 1
