"""UU PDP for health members (decision 0059): the export holds the member's data (NIK and
passport decrypted) and nobody else's; anonymisation leaves no personal value in the
member's rows, keeps claims, lines, EOBs and payments with their amounts, writes one
ANONYMIZE audit row and is idempotent; refusals (covered member, open claim, unknown
member, missing permission) are problem+json and change nothing."""

from __future__ import annotations

import json
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.eob import write_eob
from polis.health.models import Member, Payment
from polis.platform.crypto import get_keyring
from tests.health.test_adjudication_service import ClaimWorld
from tests.health.test_payments_service import add_claim, payable_world
from tests.health.test_schema import add_member, cover
from tests.iam.factories import signed_in

MEMBERS = "/api/v1/health/members"
PROBLEM = "application/problem+json"
ACCOUNT = "9876543210123"


def _nik() -> str:
    return "3171" + str(uuid.uuid4().int)[:12]


async def _identify(session: AsyncSession, member: Member, email: str) -> dict[str, str]:
    """Give the member sealed identifiers and contact data, as the member service does."""
    ring = get_keyring()
    nik, passport = _nik(), f"X{uuid.uuid4().int % 10**7:07d}"
    sealed, sealed_passport = ring.seal(nik), ring.seal(passport)
    member.national_id = sealed.masked
    member.national_id_encrypted = sealed.ciphertext
    member.national_id_hash = sealed.blind_index
    member.passport_number = sealed_passport.masked
    member.passport_number_encrypted = sealed_passport.ciphertext
    member.passport_number_hash = sealed_passport.blind_index
    member.encryption_key_id = sealed.key_id
    member.email = email
    member.phone = "+62 812-3456-7890"
    member.address_line1 = "Jl. Merdeka No. 17"
    member.address_line2 = "RT 04 / RW 09"
    member.city = "Jakarta Pusat"
    member.province = "DKI Jakarta"
    member.postal_code = "10110"
    await session.flush()
    return {"nik": nik, "passport": passport}


async def _world(session: AsyncSession) -> tuple[ClaimWorld, dict[str, Any], Member]:
    """A member with a paid reimbursement claim (lines, EOB, a payment to the member's bank
    account) and a second member of the same policy with a claim of their own."""
    w = await payable_world(session)
    ids = await _identify(session, w.member, f"siti.{uuid.uuid4().hex[:6]}@mail.example")
    claim = await add_claim(session, w, claim_type="reimbursement", status="approved")
    assert await write_eob(session, claim.id) is not None
    claim.status = "paid"
    sealed = get_keyring().seal(ACCOUNT)
    payment = Payment(
        payment_number=f"PAY-{uuid.uuid4().hex[:10]}",
        claim_id=claim.id,
        payment_type="reimbursement",
        payment_method="bank_transfer",
        payment_amount=Decimal("315000.00"),
        payee_type="member",
        payee_id=w.member.id,
        bank_name="Bank Mandiri",
        account_number=sealed.masked,
        account_number_encrypted=sealed.ciphertext,
        encryption_key_id=sealed.key_id,
        payment_status="paid",
        payment_date=date(2025, 3, 20),
    )
    session.add(payment)
    other = await add_member(session, first_name="Dewi")
    await cover(session, other, w.policy, w.plan)
    await _identify(session, other, f"dewi.{uuid.uuid4().hex[:6]}@mail.example")
    other_claim = await add_claim(session, w, status="paid", member_id=other.id)
    await session.commit()
    return w, {**ids, "claim": claim, "payment": payment, "other_claim": other_claim}, other


async def _person(session: AsyncSession, member_id: uuid.UUID) -> dict[str, Any]:
    row = (
        await session.execute(
            text(
                "select member_number, first_name, last_name, birth_date::text, national_id,"
                " passport_number, national_id_encrypted is not null as sealed, email, phone,"
                " address_line1, address_line2, city, province, postal_code"
                " from member.member where id = :m"
            ),
            {"m": member_id},
        )
    ).one()
    return dict(row._mapping)


async def _terminate(session: AsyncSession, member_id: uuid.UUID) -> None:
    await session.execute(
        text(
            "update member.member set status = 'terminated', termination_date = '2025-12-31'"
            " where id = :m"
        ),
        {"m": member_id},
    )
    await session.execute(
        text(
            "update member.member_coverage set status = 'terminated',"
            " coverage_end_date = '2025-12-31' where member_id = :m"
        ),
        {"m": member_id},
    )
    await session.commit()


async def _one(session: AsyncSession, sql: str, **params: Any) -> Any:
    return await session.scalar(text(sql), params)


async def test_export_holds_the_members_data_and_nobody_elses(
    client: AsyncClient, session: AsyncSession
) -> None:
    w, mine, other = await _world(session)
    admin, headers = await signed_in(client, session, role="ADMIN")
    them = await _person(session, other.id)

    response = await client.get(f"{MEMBERS}/{w.member.member_number}/pdpa-export", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()
    assert data["member"]["id"] == str(w.member.id)
    assert data["member"]["national_id"] == mine["nik"]  # their own, decrypted
    assert data["member"]["passport_number"] == mine["passport"]
    for key in ("national_id_encrypted", "national_id_hash", "passport_number_encrypted"):
        assert key not in data["member"]
    assert [c["policy_number"] for c in data["coverages"]] == [w.policy.policy_number]
    assert [c["id"] for c in data["claims"]] == [str(mine["claim"].id)]
    assert data["claims"][0]["total_paid_amount"] == "315000.00"  # decimal strings
    assert [i["paid_amount"] for i in data["claims"][0]["items"]] == ["315000.00"]
    assert [e["claim_id"] for e in data["eobs"]] == [str(mine["claim"].id)]
    assert [(p["payment_number"], p["payment_amount"]) for p in data["payments"]] == [
        (mine["payment"].payment_number, "315000.00")
    ]
    assert "account_number_encrypted" not in data["payments"][0]
    assert data["documents"] == []
    text_of_export = response.text
    for value in (
        str(other.id),
        them["member_number"],
        them["email"],
        mine["other_claim"].claim_number,
    ):
        assert value not in text_of_export, value
    assert ACCOUNT not in text_of_export

    # by id too; each export writes one EXPORT row naming who asked
    response = await client.get(f"{MEMBERS}/{w.member.id}/pdpa-export", headers=headers)
    assert response.status_code == 200
    rows = (
        await session.execute(
            text(
                "select user_id, user_role, business_context from audit.audit_log"
                " where table_name = 'member.member' and record_id = :m and operation = 'EXPORT'"
            ),
            {"m": w.member.id},
        )
    ).all()
    assert [tuple(r) for r in rows] == [(admin.id, "ADMIN", "DATA_PORTABILITY")] * 2


async def test_anonymize_refused_while_covered_or_a_claim_is_open(
    client: AsyncClient, session: AsyncSession
) -> None:
    w, _, _ = await _world(session)
    _, headers = await signed_in(client, session, role="SUPER_ADMIN")
    url = f"{MEMBERS}/{w.member.id}/anonymize"
    before = await _person(session, w.member.id)

    response = await client.post(url, headers=headers)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("member-is-covered")

    await _terminate(session, w.member.id)
    pended = await add_claim(session, w, status="pended")
    await session.commit()
    response = await client.post(url, headers=headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("member-has-open-claims")
    await session.execute(
        text("update claims.claim set status = 'denied' where id = :c"), {"c": pended.id}
    )
    await session.execute(
        text(
            "insert into billing.payment (payment_number, payment_type, payment_method,"
            " payment_amount, payee_type, payee_id, payment_status) values"
            " (:n, 'reimbursement', 'bank_transfer', 1000, 'member', :m, 'pending')"
        ),
        {"n": f"PAY-{uuid.uuid4().hex[:10]}", "m": w.member.id},
    )
    await session.commit()
    response = await client.post(url, headers=headers)
    assert response.status_code == 409, response.text  # a payment to the member in flight
    assert response.json()["type"].endswith("member-has-open-claims")

    assert await _person(session, w.member.id) == before
    assert (
        await _one(
            session,
            "select count(*) from audit.audit_log where record_id = :m and operation = 'ANONYMIZE'",
            m=w.member.id,
        )
        == 0
    )
    _, admin = await signed_in(client, session, role="ADMIN")
    assert (await client.post(url, headers=admin)).status_code == 403
    _, processor = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    response = await client.get(f"{MEMBERS}/{w.member.id}/pdpa-export", headers=processor)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_unknown_member_is_404(client: AsyncClient, session: AsyncSession) -> None:
    _, headers = await signed_in(client, session, role="SUPER_ADMIN")
    for ref in (str(uuid.uuid4()), "MBR-NOBODY"):
        for response in (
            await client.get(f"{MEMBERS}/{ref}/pdpa-export", headers=headers),
            await client.post(f"{MEMBERS}/{ref}/anonymize", headers=headers),
        ):
            assert response.status_code == 404, response.text
            assert response.headers["content-type"].startswith(PROBLEM)
            assert response.json()["type"].endswith("member-not-found")


async def test_anonymize_erases_the_member_and_keeps_the_money(
    client: AsyncClient, session: AsyncSession
) -> None:
    w, mine, other = await _world(session)
    super_user, headers = await signed_in(client, session, role="SUPER_ADMIN")
    member_id = w.member.id
    await _terminate(session, member_id)
    me = await _person(session, member_id)
    them = await _person(session, other.id)
    money = (
        "select c.claim_number, c.status, c.total_charged_amount::text, c.total_paid_amount::text,"
        " (select string_agg(i.paid_amount::text, ',') from claims.claim_item i"
        "   where i.claim_id = c.id),"
        " (select string_agg(e.total_paid::text, ',') from billing.eob e where e.claim_id = c.id),"
        " (select string_agg(p.payment_amount::text || p.payment_status, ',')"
        "   from billing.payment p where p.claim_id = c.id)"
        " from claims.claim c where c.member_id = :m order by c.claim_number"
    )
    money_before = [tuple(r) for r in (await session.execute(text(money), {"m": member_id}))]
    assert money_before and money_before[0][6] == "315000.00paid"

    response = await client.post(f"{MEMBERS}/{me['member_number']}/anonymize", headers=headers)
    assert response.status_code == 200, response.text
    first = response.json()
    assert (first["subject"], first["id"], first["already_anonymized"]) == (
        "member.member",
        str(member_id),
        False,
    )

    after = await _person(session, member_id)
    assert after == {
        "member_number": "ANON-" + member_id.hex,
        "first_name": "ANONYMIZED",
        "last_name": "DATA",
        "birth_date": me["birth_date"][:4] + "-01-01",
        "national_id": None,
        "passport_number": None,
        "sealed": False,
        "email": None,
        "phone": None,
        "address_line1": None,
        "address_line2": None,
        "city": None,
        "province": None,
        "postal_code": None,
    }
    assert [tuple(r) for r in (await session.execute(text(money), {"m": member_id}))] == (
        money_before
    )
    assert await _person(session, other.id) == them
    assert (
        await _one(
            session,
            "select coalesce(bank_name, '') || coalesce(account_number, '')"
            " || coalesce(encode(account_number_encrypted, 'hex'), '') from billing.payment"
            " where id = :p",
            p=mine["payment"].id,
        )
        == ""
    )

    personal = [
        me["member_number"],
        me["first_name"],
        me["last_name"],
        me["birth_date"],
        me["national_id"],
        me["passport_number"],
        mine["nik"],
        mine["passport"],
        me["email"],
        me["phone"],
        me["address_line1"],
        me["postal_code"],
    ]
    traces = await session.execute(
        text(
            "select to_jsonb(m)::text from member.member m where m.id = :m"
            " union all select coalesce(old_values::text, '') || coalesce(new_values::text, '')"
            "   from audit.audit_log where record_id = :m"
        ),
        {"m": member_id},
    )
    blob = json.dumps([t[0] for t in traces], ensure_ascii=False)
    for value in personal:
        assert value and value not in blob, value

    audit = (
        await session.execute(
            text(
                "select user_id, user_role, business_context from audit.audit_log"
                " where table_name = 'member.member' and record_id = :m"
                " and operation = 'ANONYMIZE'"
            ),
            {"m": member_id},
        )
    ).all()
    assert [tuple(r) for r in audit] == [(super_user.id, "SUPER_ADMIN", "RIGHT_TO_ERASURE")]

    count = "select count(*) from audit.audit_log where record_id = :m"
    n = await _one(session, count, m=member_id)
    response = await client.post(f"{MEMBERS}/{member_id}/anonymize", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["already_anonymized"] is True
    assert response.json()["anonymized_at"] == first["anonymized_at"]
    assert await _one(session, count, m=member_id) == n
    # the old member number no longer finds anyone
    response = await client.post(f"{MEMBERS}/{me['member_number']}/anonymize", headers=headers)
    assert response.status_code == 404


async def test_anonymize_erases_the_members_login_too(
    client: AsyncClient, session: AsyncSession
) -> None:
    from tests.iam.factories import PASSWORD, create_user, login

    w, _mine, _other = await _world(session)
    member_id = w.member.id
    user = await create_user(
        session, role="MEMBER", first_name="Siti", last_name="Aminah", phone_number="081234567"
    )
    await session.execute(
        text("update member.member set user_id = :u where id = :m"), {"u": user.id, "m": member_id}
    )
    await session.commit()
    token = await login(client, user.username)
    assert (
        await client.get("/api/v1/me/health/member", headers={"Authorization": f"Bearer {token}"})
    ).status_code == 200
    await _terminate(session, member_id)
    _, headers = await signed_in(client, session, role="SUPER_ADMIN")
    number = await _one(
        session, "select member_number from member.member where id = :m", m=member_id
    )

    response = await client.post(f"{MEMBERS}/{number}/anonymize", headers=headers)
    assert response.status_code == 200, response.text

    row = (
        await session.execute(
            text(
                "select username, email, first_name, last_name, phone_number, account_status"
                " from iam.users where id = :u"
            ),
            {"u": user.id},
        )
    ).one()
    assert tuple(row) == (
        f"anonymized_{user.id}",
        f"anonymized_{user.id}@deleted.local",
        "ANONYMIZED",
        "DATA",
        None,
        "TERMINATED",
    )
    assert (
        await _one(session, "select user_id from member.member where id = :m", m=member_id) is None
    )
    active = await _one(
        session,
        "select count(*) from iam.user_sessions where user_id = :u and is_active",
        u=user.id,
    )
    assert active == 0
    # The token stops working and the old username signs in no more.
    me = await client.get("/api/v1/me/health/member", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 401
    again = await client.post(
        "/api/v1/auth/login", json={"username": user.username, "password": PASSWORD}
    )
    assert again.status_code == 401
    # Nor do the login's audit rows keep the erased values.
    trail = await _one(
        session,
        "select string_agg(coalesce(old_values::text, '') || coalesce(new_values::text, ''), ' ')"
        " from audit.audit_log where table_name = 'iam.users' and record_id = :u",
        u=user.id,
    )
    for value in (user.username, "Siti", "Aminah", "081234567"):
        assert value not in trail, value
