"""Self-service under row-level security (issue 6 item 6, decision 0064): two members of
different families and two customers, each with their own claims, policies, payments and
documents. Every /me route answers each login its own rows only; another person's id is a
404; raw SQL in the self-service mode sees only own rows (none without the setting); staff
routes (the application role) still see everything; linking logins through POST /iam/users."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.adjudication import ClaimLineRequest, submit_claim
from polis.health.models import ClaimDocument, Member
from polis.iam.self_service import ROLE, enter, leave, self_service_mode
from polis.motor.models import Customer
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request
from tests.iam.factories import login, signed_in
from tests.motor.claim_factory import active_policy, insert_claim

D = Decimal
ME = "/api/v1/me"
USERS = "/api/v1/iam/users"
STRONG = "Tidak-Ada-Yang-Tahu-2026!"
DENTAL = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))


@dataclass
class HealthPerson:
    world: ClaimWorld
    claim_ids: list[uuid.UUID]
    document_id: uuid.UUID
    headers: dict[str, str]

    @property
    def member(self) -> Member:
        return self.world.member


@dataclass
class MotorPerson:
    customer_id: str
    policy: dict[str, Any]
    claim_id: uuid.UUID
    headers: dict[str, str]


async def _new_login(
    client: AsyncClient, admin: dict[str, str], role: str, **link: Any
) -> dict[str, str]:
    username = f"self_{uuid.uuid4().hex[:10]}"
    body = {
        "username": username,
        "email": f"{username}@example.test",
        "password": STRONG,
        "role": role,
        "first_name": "Self",
        "last_name": "Service",
        **link,
    }
    response = await client.post(USERS, json=body, headers=admin)
    assert response.status_code == 201, response.text
    token = await login(client, username, STRONG)
    return {"Authorization": f"Bearer {token}"}


async def _health_person(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> HealthPerson:
    world = await build_world(session)
    first = await submit_claim(session, request(world, gp()))
    second = await submit_claim(session, request(world, gp("250000.00"), DENTAL))
    document = ClaimDocument(
        claim_id=first.claim_id,
        document_type="invoice",
        file_name="invoice.pdf",
        file_path="documents/00/" + "0" * 64,
        file_size=10,
        mime_type="application/pdf",
    )
    session.add(document)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    headers = await _new_login(client, admin, "MEMBER", member_number=world.member.member_number)
    return HealthPerson(world, [first.claim_id, second.claim_id], document.id, headers)


async def _motor_person(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> MotorPerson:
    policy = await active_policy(client, admin)
    claim = await insert_claim(session, policy["id"])
    await session.commit()
    headers = await _new_login(client, admin, "CUSTOMER", customer_id=policy["customer_id"])
    return MotorPerson(policy["customer_id"], policy, claim.id, headers)


@pytest.fixture
async def admin(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="ADMIN")
    return headers


async def _get(client: AsyncClient, url: str, headers: dict[str, str], status: int = 200) -> Any:
    response = await client.get(url, headers=headers)
    assert response.status_code == status, (url, response.text)
    return response.json() if "json" in response.headers.get("content-type", "") else response


# --- health ----------------------------------------------------------------------------------


async def test_members_see_only_their_own_health_records(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    for me, other in ((ana, budi), (budi, ana)):
        body = await _get(client, f"{ME}/health/member", me.headers)
        assert body["member_number"] == me.member.member_number
        assert [c["policy_number"] for c in body["coverages"]] == [me.world.policy.policy_number]

        page = await _get(client, f"{ME}/health/claims", me.headers)
        assert sorted(c["id"] for c in page["items"]) == sorted(map(str, me.claim_ids))
        assert {c["member_number"] for c in page["items"]} == {me.member.member_number}

        for claim_id in me.claim_ids:
            detail = await _get(client, f"{ME}/health/claims/{claim_id}", me.headers)
            assert detail["member_number"] == me.member.member_number
            assert detail["items"], detail
            eob = await _get(client, f"{ME}/health/claims/{claim_id}/eob?lang=en", me.headers)
            assert eob["member_number"] == me.member.member_number
            assert eob["claim_id"] == str(claim_id)

        docs = await _get(client, f"{ME}/health/claims/{me.claim_ids[0]}/documents", me.headers)
        assert [d["id"] for d in docs] == [str(me.document_id)]

        # Another member's ids: not there at all.
        for claim_id in other.claim_ids:
            for suffix in ("", "/eob", "/documents"):
                problem = await _get(
                    client, f"{ME}/health/claims/{claim_id}{suffix}", me.headers, 404
                )
                assert problem["type"].endswith("claim-not-found"), problem
        url = f"{ME}/health/claims/{other.claim_ids[0]}/documents/{other.document_id}"
        await _get(client, url, me.headers, 404)


async def test_eob_as_pdf_for_the_member(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    ana = await _health_person(client, session, admin)
    response = await client.get(
        f"{ME}/health/claims/{ana.claim_ids[0]}/eob?format=pdf", headers=ana.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF")


# --- motor -----------------------------------------------------------------------------------


async def test_customers_see_only_their_own_motor_records(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    kan = await _motor_person(client, session, admin)
    lek = await _motor_person(client, session, admin)
    for me, other in ((kan, lek), (lek, kan)):
        number = me.policy["policy_number"]
        body = await _get(client, f"{ME}/motor/customer", me.headers)
        assert body["id"] == me.customer_id

        page = await _get(client, f"{ME}/motor/policies", me.headers)
        assert [p["policy_number"] for p in page["items"]] == [number]
        policy = await _get(client, f"{ME}/motor/policies/{number}", me.headers)
        assert policy["customer_id"] == me.customer_id
        assert {p["customer_id"] for p in policy["payments"]} == {me.customer_id}

        payments = await _get(client, f"{ME}/motor/payments", me.headers)
        assert payments["items"], payments
        assert {p["customer_id"] for p in payments["items"]} == {me.customer_id}
        assert {p["policy_id"] for p in payments["items"]} == {me.policy["id"]}
        assert {p["id"] for p in payments["items"]} == {p["id"] for p in policy["payments"]}

        claims = await _get(client, f"{ME}/motor/claims", me.headers)
        assert [c["id"] for c in claims["items"]] == [str(me.claim_id)]
        assert "fraud_score" not in claims["items"][0]
        claim = await _get(client, f"{ME}/motor/claims/{me.claim_id}", me.headers)
        assert claim["policy_number"] == number
        assert "fraud_flags" not in claim and "requires_investigation" not in claim

        docs = await _get(client, f"{ME}/motor/policies/{number}/documents", me.headers)
        assert docs["latest"], docs
        assert {d["policy_id"] for d in docs["history"]} == {me.policy["id"]}
        first = docs["latest"][0]["id"]
        pdf = await _get(client, f"{ME}/motor/policies/{number}/documents/{first}", me.headers)
        assert pdf.content.startswith(b"%PDF")

        # Another customer's ids: not there at all.
        theirs = other.policy["policy_number"]
        await _get(client, f"{ME}/motor/policies/{theirs}", me.headers, 404)
        await _get(client, f"{ME}/motor/policies/{theirs}/documents", me.headers, 404)
        await _get(client, f"{ME}/motor/claims/{other.claim_id}", me.headers, 404)


# --- refusals --------------------------------------------------------------------------------


async def test_unlinked_and_wrong_kind_logins_are_refused(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    _, member = await signed_in(client, session, role="MEMBER")
    _, customer = await signed_in(client, session, role="CUSTOMER")
    problem = await _get(client, f"{ME}/health/claims", member, 403)
    assert problem["type"].endswith("self-service-not-linked")
    await _get(client, f"{ME}/motor/policies", customer, 403)
    # Permissions first: a customer has no health permission, a member no motor one.
    problem = await _get(client, f"{ME}/health/claims", customer, 403)
    assert problem["type"] == "urn:polis:problem:forbidden"
    await _get(client, f"{ME}/motor/customer", member, 403)
    # documents:read_own is both roles', the record must be of the route's kind.
    ana = await _health_person(client, session, admin)
    problem = await _get(client, f"{ME}/motor/policies/P-1/documents", ana.headers, 403)
    assert problem["type"].endswith("self-service-not-linked")
    # Staff do not read through /me.
    await _get(client, f"{ME}/health/claims", admin, 403)
    response = await client.get(f"{ME}/health/claims")
    assert response.status_code == 401


async def test_linking_logins(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    world = await build_world(session)
    await session.commit()
    number = world.member.member_number
    base = {"password": STRONG, "first_name": "A", "last_name": "B"}

    def body(role: str, **link: Any) -> dict[str, Any]:
        name = f"link_{uuid.uuid4().hex[:10]}"
        return {**base, "username": name, "email": f"{name}@example.test", "role": role, **link}

    refused: list[str] = []

    async def post(status: int, role: str, **link: Any) -> dict[str, Any]:
        sent = body(role, **link)
        response = await client.post(USERS, json=sent, headers=admin)
        assert response.status_code == status, response.text
        if status != 201:
            refused.append(sent["username"])
        return dict(response.json())

    await post(404, "MEMBER", member_number="NOPE")
    problem = await post(422, "CUSTOMER", member_number=number)
    assert problem["type"].endswith("invalid-link")
    created = await post(201, "MEMBER", member_number=number)
    problem = await post(409, "MEMBER", member_number=number)
    assert problem["type"].endswith("person-already-linked")
    await post(404, "CUSTOMER", customer_id=str(uuid.uuid4()))
    await post(422, "MEMBER", member_number=number, customer_id=str(uuid.uuid4()))
    # Only the successful one was written, and it is linked.
    linked = await session.scalar(
        select(Member.user_id)
        .where(Member.id == world.member.id)
        .execution_options(populate_existing=True)
    )
    assert str(linked) == created["id"]
    written = await session.scalar(
        text("select count(*) from iam.users where username = any(:names)"), {"names": refused}
    )
    assert written == 0


# --- raw SQL in the self-service mode --------------------------------------------------------


async def test_raw_sql_in_self_service_mode_sees_only_own_rows(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    kan = await _motor_person(client, session, admin)
    lek = await _motor_person(client, session, admin)

    async with self_service_mode(session, member_id=ana.member.id):
        assert await session.scalar(text("select current_user")) == ROLE
        rows = (await session.execute(text("select id, member_id from claims.claim"))).all()
        assert sorted(r[0] for r in rows) == sorted(ana.claim_ids)
        assert {r[1] for r in rows} == {ana.member.id}
        assert (await session.execute(text("select id from member.member"))).scalars().all() == [
            ana.member.id
        ]
        items = await session.scalar(text("select count(distinct claim_id) from claims.claim_item"))
        assert items == 2
        eobs = (await session.execute(text("select member_id from billing.eob"))).scalars().all()
        assert set(eobs) == {ana.member.id}
        docs = (await session.execute(text("select id from claims.claim_document"))).scalars()
        assert list(docs) == [ana.document_id]
        view = (
            await session.execute(text("select member_number from claims.claim_summary_view"))
        ).scalars()
        assert set(view) == {ana.member.member_number}
        policies = (await session.execute(text("select id from policy.policy"))).scalars()
        assert list(policies) == [ana.world.policy.id]
        # Motor: nothing, the customer setting is empty.
        for table in ("motor.customers", "motor.policies", "motor.payments", "motor.claims"):
            assert await session.scalar(text(f"select count(*) from {table}")) == 0
        # Budi's claim by id: not there.
        assert (
            await session.scalar(
                text("select count(*) from claims.claim where id = :id"),
                {"id": budi.claim_ids[0]},
            )
            == 0
        )

    async with self_service_mode(session, customer_id=uuid.UUID(kan.customer_id)):
        ids = (await session.execute(text("select id from motor.customers"))).scalars().all()
        assert [str(i) for i in ids] == [kan.customer_id]
        policies = (await session.execute(text("select id from motor.policies"))).scalars()
        assert [str(p) for p in policies] == [kan.policy["id"]]
        owners = (await session.execute(text("select customer_id from motor.payments"))).scalars()
        assert {str(o) for o in owners} == {kan.customer_id}
        claims = (await session.execute(text("select id from motor.claims"))).scalars().all()
        assert claims == [kan.claim_id]
        assert await session.scalar(text("select count(*) from claims.claim")) == 0
        assert (
            await session.scalar(
                text("select count(*) from motor.claims where id = :id"), {"id": lek.claim_id}
            )
            == 0
        )

    # Back as the application role: everything again.
    assert await session.scalar(text("select current_user")) != ROLE
    everyone = await session.scalar(
        text("select count(*) from claims.claim where member_id = any(:ids)"),
        {"ids": [ana.member.id, budi.member.id]},
    )
    assert everyone == 4


async def test_without_the_setting_no_rows_and_no_error(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    await _health_person(client, session, admin)
    await _motor_person(client, session, admin)
    await enter(session)  # neither id
    try:
        for table in (
            "member.member",
            "claims.claim",
            "claims.claim_item",
            "billing.eob",
            "policy.policy",
            "motor.customers",
            "motor.policies",
            "motor.payments",
            "motor.claims",
            "motor.policy_documents",
        ):
            assert await session.scalar(text(f"select count(*) from {table}")) == 0, table
    finally:
        await leave(session)


async def test_the_self_service_role_cannot_write_or_read_elsewhere(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    ana = await _health_person(client, session, admin)
    statements = (
        "select * from iam.users",
        "select * from audit.audit_log",
        "update claims.claim set status = 'paid'",
        "delete from member.member",
        "insert into billing.eob (eob_number) values ('X')",
        "select * from claims.claim_default",  # a partition, past the parent's policies
    )
    for sql in statements:
        nested = await session.begin_nested()
        await enter(session, member_id=ana.member.id)
        with pytest.raises(DBAPIError) as caught:
            await session.execute(text(sql))
        assert "permission denied" in str(caught.value), sql
        await nested.rollback()
    assert await session.scalar(text("select current_user")) != ROLE


async def test_staff_routes_still_see_everyone(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    kan = await _motor_person(client, session, admin)
    lek = await _motor_person(client, session, admin)
    # A self-service request first: its mode must not outlive it.
    await _get(client, f"{ME}/health/claims", ana.headers)
    _, staff = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    for person in (ana, budi):
        for claim_id in person.claim_ids:
            await _get(client, f"/api/v1/health/claims/{claim_id}", staff)
    await _get(client, f"{ME}/motor/claims", kan.headers)
    for person in (kan, lek):
        await _get(client, f"/api/v1/motor/policies/{person.policy['policy_number']}", admin)
        await _get(client, f"/api/v1/motor/claims/{person.claim_id}", admin)
    customer = await session.get(Customer, uuid.UUID(kan.customer_id))
    assert customer is not None and customer.user_id is not None


async def test_password_login_for_linked_member_is_plain(
    client: AsyncClient, session: AsyncSession, admin: dict[str, str]
) -> None:
    # A self-service login needs no password change (its owner chose it): /me works at once.
    ana = await _health_person(client, session, admin)
    me = await _get(client, "/api/v1/auth/me", ana.headers)
    assert me["role"] == "MEMBER"
    assert me["password_change_required"] is False
