"""PDPA for motor customers (decision 0059): the export holds the person's data (national id
decrypted) and nobody else's; anonymisation leaves no personal value in the person's rows,
keeps policies, claims and payments with their amounts, writes one ANONYMIZE audit row and is
idempotent; refusals (live policy, open claim, unknown id, missing permission) are
problem+json and change nothing."""

from __future__ import annotations

import json
import uuid
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.iam.factories import signed_in
from tests.motor.claim_factory import active_policy, insert_claim

CUSTOMERS = "/api/v1/motor/customers"
PROBLEM = "application/problem+json"


async def _rows(session: AsyncSession, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    return [tuple(r) for r in (await session.execute(text(sql), params)).all()]


async def _one(session: AsyncSession, sql: str, **params: Any) -> Any:
    return await session.scalar(text(sql), params)


async def _customer_of(session: AsyncSession, policy: dict[str, Any]) -> str:
    return str(
        await _one(session, "select customer_id from motor.policies where id = :p", p=policy["id"])
    )


async def _person(session: AsyncSession, customer_id: str) -> dict[str, Any]:
    """The personal values of a customer as stored (national id decrypted by the caller)."""
    row = (
        await session.execute(
            text(
                "select email, phone_number, first_name, last_name, first_name_en,"
                " last_name_en, national_id, date_of_birth::text, address::text"
                " from motor.customers where id = :c"
            ),
            {"c": customer_id},
        )
    ).one()
    return dict(row._mapping)


async def _end_policy(session: AsyncSession, policy_id: str) -> None:
    await session.execute(
        text("update motor.policies set status = 'EXPIRED' where id = :p"), {"p": policy_id}
    )
    await session.commit()


async def _world(
    client: AsyncClient, session: AsyncSession
) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
    """Staff headers (ADMIN) and two customers, each with an ACTIVE CMI policy paid in full;
    the first also has a settled claim and a withdrawn marketing consent."""
    _, headers = await signed_in(client, session, role="ADMIN")
    mine = await active_policy(client, headers)
    other = await active_policy(client, headers)
    claim = await insert_claim(session, mine["id"], status="SETTLED", estimated_amount=None)
    await session.commit()
    cid = await _customer_of(session, mine)
    for granted in (True, False):  # a grant, then its withdrawal (the existing consent route)
        response = await client.post(
            f"{CUSTOMERS}/{cid}/consents",
            json={"consent_type": "MARKETING", "granted": granted, "channel": "WEB"},
            headers=headers,
        )
        assert response.status_code in (200, 201), response.text
    return (
        headers,
        {**mine, "customer_id": cid, "claim_id": str(claim.id)},
        {
            **other,
            "customer_id": await _customer_of(session, other),
        },
    )


async def test_export_holds_the_persons_data_and_nobody_elses(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers, mine, other = await _world(client, session)
    admin_id = await _one(
        session,
        "select created_by from motor.policies where id = :p",
        p=mine["id"],
    )
    cid = mine["customer_id"]
    national_id_blob = await _one(
        session, "select national_id_encrypted from motor.customers where id = :c", c=cid
    )
    from polis.platform.crypto import get_keyring

    national_id = get_keyring().decrypt(national_id_blob)
    me = await _person(session, cid)
    them = await _person(session, other["customer_id"])

    response = await client.get(f"{CUSTOMERS}/{cid}/pdpa-export", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert "attachment" in response.headers["content-disposition"]
    data = response.json()
    assert data["customer"]["id"] == cid
    assert data["customer"]["national_id"] == national_id  # their own, decrypted
    assert data["customer"]["email"] == me["email"]
    assert "national_id_encrypted" not in data["customer"]
    assert "national_id_hash" not in data["customer"]
    assert [p["policy_number"] for p in data["policies"]] == [mine["policy_number"]]
    assert [c["id"] for c in data["claims"]] == [mine["claim_id"]]
    assert len(data["payments"]) == 1
    assert data["payments"][0]["total_amount"] == mine["total_premium"]  # exact decimal string
    assert "card_token" not in data["payments"][0]
    assert [v["id"] for v in data["vehicles"]] == [mine["vehicle_id"]]
    # the consent and its withdrawal (the consent route's own record of it)
    assert [
        (c["consent_type"], c["granted"], c["withdrawn_at"] is not None) for c in data["consents"]
    ] == [("MARKETING", True, True)]
    for key in ("policy_documents", "claim_documents", "settlements", "receipts", "documents"):
        assert isinstance(data[key], list), key
    assert all("file_path" not in d for d in data["policy_documents"] + data["receipts"])

    text_of_export = response.text
    for value in (
        other["customer_id"],
        other["policy_number"],
        them["email"],
        them["national_id"],
        other["vehicle_id"],
    ):
        assert value not in text_of_export, value

    audit = await _rows(
        session,
        "select user_id, user_role, business_context, request_id from audit.audit_log"
        " where table_name = 'motor.customers' and record_id = :c and operation = 'EXPORT'",
        c=cid,
    )
    assert len(audit) == 1
    assert audit[0][0] == admin_id
    assert audit[0][1:3] == ("ADMIN", "DATA_PORTABILITY")
    assert str(audit[0][3]) == response.headers["x-request-id"]


async def test_anonymize_refused_while_a_policy_is_live_or_a_claim_open(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers, mine, _ = await _world(client, session)
    _, super_headers = await signed_in(client, session, role="SUPER_ADMIN")
    cid = mine["customer_id"]
    before = await _person(session, cid)
    url = f"{CUSTOMERS}/{cid}/anonymize"

    response = await client.post(url, headers=super_headers)
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    assert response.json()["type"].endswith("customer-has-active-policy")

    await _end_policy(session, mine["id"])
    await insert_claim(session, mine["id"], status="INVESTIGATING")
    await session.commit()
    response = await client.post(url, headers=super_headers)
    assert response.status_code == 409, response.text
    assert response.json()["type"].endswith("customer-has-open-claims")
    assert "1 open claims" in response.json()["detail"]

    assert await _person(session, cid) == before
    assert (
        await _one(
            session,
            "select count(*) from audit.audit_log where record_id = :c and operation = 'ANONYMIZE'",
            c=cid,
        )
        == 0
    )

    # ADMIN may export but not anonymise; AGENT neither
    response = await client.post(url, headers=headers)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith(PROBLEM)
    _, agent = await signed_in(client, session, role="AGENT")
    assert (await client.get(f"{CUSTOMERS}/{cid}/pdpa-export", headers=agent)).status_code == 403
    assert (await client.post(url, headers=agent)).status_code == 403
    assert (await client.post(url)).status_code == 401
    assert await _person(session, cid) == before


async def test_unknown_customer_is_404(client: AsyncClient, session: AsyncSession) -> None:
    _, headers = await signed_in(client, session, role="SUPER_ADMIN")
    nobody = uuid.uuid4()
    count = "select count(*) from audit.audit_log where record_id = :c"
    for response in (
        await client.get(f"{CUSTOMERS}/{nobody}/pdpa-export", headers=headers),
        await client.post(f"{CUSTOMERS}/{nobody}/anonymize", headers=headers),
    ):
        assert response.status_code == 404, response.text
        assert response.headers["content-type"].startswith(PROBLEM)
        assert response.json()["type"].endswith("customer-not-found")
    assert await _one(session, count, c=nobody) == 0
    response = await client.get(f"{CUSTOMERS}/not-a-uuid/pdpa-export", headers=headers)
    assert response.status_code == 422


async def test_anonymize_erases_the_person_and_keeps_the_money(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, mine, other = await _world(client, session)
    super_user, headers = await signed_in(client, session, role="SUPER_ADMIN")
    cid = mine["customer_id"]
    me = await _person(session, cid)
    them_before = await _person(session, other["customer_id"])
    from polis.platform.crypto import get_keyring

    national_id = get_keyring().decrypt(
        await _one(
            session, "select national_id_encrypted from motor.customers where id = :c", c=cid
        )
    )
    await _end_policy(session, mine["id"])
    money = (
        "select p.policy_number, p.total_premium::text, p.status,"
        " (select string_agg(pay.total_amount::text || pay.payment_status, ',')"
        "    from motor.payments pay where pay.policy_id = p.id),"
        " (select string_agg(c.claim_number || c.status, ',') from motor.claims c"
        "    where c.policy_id = p.id)"
        " from motor.policies p where p.customer_id = :c"
    )
    money_before = await _rows(session, money, c=cid)

    response = await client.post(f"{CUSTOMERS}/{cid}/anonymize", headers=headers)
    assert response.status_code == 200, response.text
    first = response.json()
    assert first["id"] == cid
    assert first["subject"] == "motor.customers"
    assert first["already_anonymized"] is False

    after = await _person(session, cid)
    assert after == {
        "email": f"anonymized_{cid}@deleted.local",
        "phone_number": None,
        "first_name": "ANONYMIZED",
        "last_name": "DATA",
        "first_name_en": "ANONYMIZED",
        "last_name_en": "DATA",
        "national_id": None,
        "date_of_birth": None,
        "address": None,
    }
    assert await _rows(
        session,
        "select national_id_encrypted, national_id_hash, account_status from motor.customers"
        " where id = :c",
        c=cid,
    ) == [(None, None, "CLOSED")]
    assert await _rows(session, money, c=cid) == money_before  # rows and amounts kept
    assert await _person(session, other["customer_id"]) == them_before  # nobody else touched

    # No personal value left anywhere in the person's rows or their audit trail.
    personal = [
        me["email"],
        me["phone_number"],
        me["first_name"],
        me["last_name"],
        me["first_name_en"],
        me["last_name_en"],
        national_id,
        me["national_id"],
        me["date_of_birth"],
    ]
    traces = await _rows(
        session,
        "select to_jsonb(c)::text from motor.customers c where c.id = :c"
        " union all select to_jsonb(cr)::text from motor.consent_records cr"
        "   where cr.customer_id = :c"
        " union all select coalesce(old_values::text, '') || coalesce(new_values::text, '')"
        "   from audit.audit_log where record_id = :c",
        c=cid,
    )
    blob = json.dumps([t[0] for t in traces], ensure_ascii=False)
    for value in personal:
        assert value and value not in blob, value

    audit = await _rows(
        session,
        "select user_id, user_role, business_context from audit.audit_log"
        " where table_name = 'motor.customers' and record_id = :c and operation = 'ANONYMIZE'",
        c=cid,
    )
    assert audit == [(super_user.id, "SUPER_ADMIN", "RIGHT_TO_ERASURE")]

    # Idempotent: the same answer, nothing new written.
    audit_count = "select count(*) from audit.audit_log where record_id = :c"
    n = await _one(session, audit_count, c=cid)
    response = await client.post(f"{CUSTOMERS}/{cid}/anonymize", headers=headers)
    assert response.status_code == 200, response.text
    again = response.json()
    assert again["already_anonymized"] is True
    assert again["anonymized_at"] == first["anonymized_at"]
    assert await _one(session, audit_count, c=cid) == n

    # The export still answers, with the anonymised values.
    response = await client.get(f"{CUSTOMERS}/{cid}/pdpa-export", headers=headers)
    assert response.status_code == 200
    assert response.json()["customer"]["first_name"] == "ANONYMIZED"
    assert national_id not in response.text
