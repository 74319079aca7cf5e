"""Self-service writes and the QR to pay (decision 0068): a member or customer attaches files
to their own claims only, and gets the PromptPay QR of their own premium due only. Reads go
under row-level security first, so another person's claim or payment is a 404 and nothing is
written."""

from __future__ import annotations

from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import promptpay
from tests.iam.test_self_service_rls import (
    ME,
    _health_person,
    _motor_person,
    _new_login,
    admin,  # noqa: F401 - fixture
)
from tests.motor.test_policies_api import bound_policy, confirm
from tests.web.test_portal import PDF, PNG


async def _count(session: AsyncSession, sql: str, **params: Any) -> int:
    return int(await session.scalar(text(sql), params) or 0)


async def test_a_member_attaches_files_to_own_claims_only(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    ana = await _health_person(client, session, admin)
    budi = await _health_person(client, session, admin)
    docs = "select count(*) from claims.claim_document where claim_id = :c"
    before = await _count(session, docs, c=ana.claim_ids[1])

    made = await client.post(
        f"{ME}/health/claims/{ana.claim_ids[1]}/documents",
        data={"document_type": "receipt"},
        files={"file": ("kuitansi.pdf", PDF, "application/pdf")},
        headers=ana.headers,
    )
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["claim_id"] == str(ana.claim_ids[1]) and body["file_name"] == "kuitansi.pdf"
    assert await _count(session, docs, c=ana.claim_ids[1]) == before + 1
    back = await client.get(
        f"{ME}/health/claims/{ana.claim_ids[1]}/documents/{body['id']}", headers=ana.headers
    )
    assert back.status_code == 200 and back.content == PDF

    bad = await client.post(
        f"{ME}/health/claims/{ana.claim_ids[1]}/documents",
        data={"document_type": "receipt"},
        files={"file": ("x.pdf", b"not a pdf", "application/pdf")},
        headers=ana.headers,
    )
    assert bad.status_code == 422, bad.text
    assert await _count(session, docs, c=ana.claim_ids[1]) == before + 1

    theirs = await client.post(
        f"{ME}/health/claims/{budi.claim_ids[0]}/documents",
        data={"document_type": "receipt"},
        files={"file": ("k.pdf", PDF, "application/pdf")},
        headers=ana.headers,
    )
    assert theirs.status_code == 404
    assert theirs.json()["type"].endswith("claim-not-found")
    assert await _count(session, docs, c=budi.claim_ids[0]) == 1  # their own one only


async def test_a_customer_sends_photos_for_own_claims_only(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    kan = await _motor_person(client, session, admin)
    lek = await _motor_person(client, session, admin)
    docs = "select count(*) from motor.claim_documents where claim_id = :c"

    made = await client.post(
        f"{ME}/motor/claims/{kan.claim_id}/documents",
        data={"document_type": "PHOTO", "description": "rear bumper"},
        files={"file": ("bumper.png", PNG, "image/png")},
        headers=kan.headers,
    )
    assert made.status_code == 201, made.text
    assert made.json()["document_category"] == "DAMAGE"
    assert made.json()["upload_status"] == "PENDING"
    assert await _count(session, docs, c=kan.claim_id) == 1

    theirs = await client.post(
        f"{ME}/motor/claims/{lek.claim_id}/documents",
        data={"document_type": "PHOTO"},
        files={"file": ("b.png", PNG, "image/png")},
        headers=kan.headers,
    )
    assert theirs.status_code == 404
    assert await _count(session, docs, c=lek.claim_id) == 0

    # A member login has no customer: refused before anything is read.
    member = await _health_person(client, session, admin)
    refused = await client.post(
        f"{ME}/motor/claims/{kan.claim_id}/documents",
        data={"document_type": "PHOTO"},
        files={"file": ("b.png", PNG, "image/png")},
        headers=member.headers,
    )
    assert refused.status_code == 403


async def test_the_qr_of_own_premium_due(
    client: AsyncClient,
    session: AsyncSession,
    admin: dict[str, str],  # noqa: F811
) -> None:
    policy = await bound_policy(client, admin)
    headers = await _new_login(client, admin, "CUSTOMER", customer_id=policy["customer_id"])
    payment = policy["payments"][0]
    url = f"{ME}/motor/payments/{payment['id']}/promptpay"

    qr = await client.get(url, headers=headers)
    assert qr.status_code == 200, qr.text
    body = qr.json()
    assert body["amount"] == payment["total_amount"]
    assert promptpay.crc_hex(body["payload"][:-4]) == body["payload"][-4:]
    assert body["reference"] in body["payload"]
    image = await client.get(url, params={"format": "png"}, headers=headers)
    assert image.headers["content-type"] == "image/png" and image.content.startswith(b"\x89PNG")

    other = await _motor_person(client, session, admin)
    assert (await client.get(url, headers=other.headers)).status_code == 404

    assert (await confirm(client, admin, payment, "BANK-QR-1")).status_code == 200
    paid = await client.get(url, headers=headers)
    assert paid.status_code == 409
