"""Explanations of benefits: one billing.eob row per decided claim with the claim's totals
to the rupiah (none for a pended claim), re-adjudication and review decisions, and
`GET /claims/{id}/eob` as JSON and as a PDF in Indonesian or English."""

from __future__ import annotations

import io
import re
import uuid
from decimal import Decimal
from typing import Any

import pypdf
import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health.adjudication import (
    ClaimLineRequest,
    decide_pended_claim,
    readjudicate_claim,
    release_awaiting_funds,
    submit_claim,
)
from polis.health.eob import write_eob
from polis.health.models import Claim, Eob, Policy
from tests.health.test_adjudication_service import ClaimWorld, build_world, gp, request
from tests.iam.factories import signed_in

D = Decimal
CLAIMS = "/api/v1/health/claims"
DENTAL = ClaimLineRequest(benefit_code="DENT", charged_amount=D("200000.00"))


async def _eobs(session: AsyncSession, claim_id: uuid.UUID) -> list[Eob]:
    return list(
        (
            await session.scalars(
                select(Eob)
                .where(Eob.claim_id == claim_id)
                .execution_options(populate_existing=True)
            )
        ).all()
    )


async def _claim(session: AsyncSession, claim_id: uuid.UUID) -> Claim:
    claim = await session.scalar(
        select(Claim).where(Claim.id == claim_id).execution_options(populate_existing=True)
    )
    assert claim is not None
    return claim


def _totals(eob: Eob) -> tuple[Decimal | None, ...]:
    return (
        eob.total_charged,
        eob.total_approved,
        eob.total_paid,
        eob.member_responsibility,
        eob.deductible_applied,
        eob.copay_amount,
        eob.coinsurance_amount,
    )


# --- written on adjudication --------------------------------------------------------------


async def test_eob_has_the_claim_totals_to_the_rupiah(session: AsyncSession) -> None:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w, gp(), DENTAL))
    # OP-GP: 1,000,000 - 10% = 900,000 allowed; deductible 500,000; copay 50,000;
    # coinsurance 10% of 350,000 = 35,000; the plan pays 315,000. DENT is denied.
    assert outcome.status == "partially_approved"
    (eob,) = await _eobs(session, outcome.claim_id)
    claim = await _claim(session, outcome.claim_id)
    assert _totals(eob) == (
        D("1200000.00"),
        D("900000.00"),
        D("315000.00"),
        D("885000.00"),
        D("500000.00"),
        D("50000.00"),
        D("35000.00"),
    )
    assert (eob.total_charged, eob.total_approved, eob.total_paid, eob.member_responsibility) == (
        claim.total_charged_amount,
        claim.total_approved_amount,
        claim.total_paid_amount,
        claim.member_responsibility,
    )
    assert eob.eob_number == "EOB-" + outcome.claim_number.removeprefix("CLM-")
    assert eob.eob_number.startswith("EOB-2025-")
    assert (eob.member_id, eob.service_date, eob.provider_name) == (
        w.member.id,
        claim.service_date,
        "RS Medika Jakarta",
    )
    assert eob.generated_date is not None and eob.sent_date is None


async def test_denied_claim_gets_an_eob_with_nothing_paid(session: AsyncSession) -> None:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w, DENTAL))
    assert outcome.status == "denied"
    (eob,) = await _eobs(session, outcome.claim_id)
    assert _totals(eob) == (
        D("200000.00"),
        D("0.00"),
        D("0.00"),
        D("200000.00"),
        D("0.00"),
        D("0.00"),
        D("0.00"),
    )


async def test_pended_claim_gets_none_until_released(session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("100000.00"), buffer=D("0"))
    outcome = await submit_claim(session, request(w))
    assert outcome.status == "pended"
    assert await _eobs(session, outcome.claim_id) == []
    assert await write_eob(session, outcome.claim_id) is None
    assert await _eobs(session, outcome.claim_id) == []

    await session.execute(
        update(Policy).where(Policy.id == w.policy.id).values(aso_fund_balance=D("1000000.00"))
    )
    released = await release_awaiting_funds(session, w.policy.id)
    (done,) = released.released
    assert await _eobs(session, outcome.claim_id) == []  # the pended claim, now voided
    (eob,) = await _eobs(session, done.replacement.claim_id)
    assert eob.total_paid == D("315000.00")


async def test_one_eob_per_claim(session: AsyncSession) -> None:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w))
    (first,) = await _eobs(session, outcome.claim_id)
    again = await write_eob(session, outcome.claim_id)
    assert again is not None and again.id == first.id
    assert len(await _eobs(session, outcome.claim_id)) == 1


async def test_readjudicated_claim_gets_its_own_eob(session: AsyncSession) -> None:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w))
    (old,) = await _eobs(session, outcome.claim_id)
    user = uuid.uuid4()
    redo = await readjudicate_claim(session, outcome.claim_id, user)
    assert [e.id for e in await _eobs(session, outcome.claim_id)] == [old.id]
    (new,) = await _eobs(session, redo.replacement.claim_id)
    replacement = await _claim(session, redo.replacement.claim_id)
    assert new.id != old.id and new.eob_number != old.eob_number
    assert new.eob_number == "EOB-" + replacement.claim_number.removeprefix("CLM-")
    assert new.total_paid == replacement.total_paid_amount
    count = await session.scalar(
        select(func.count()).select_from(Eob).where(Eob.member_id == w.member.id)
    )
    assert count == 2


async def test_review_decisions_write_eobs(session: AsyncSession) -> None:
    w = await build_world(session, op_limit=D("100000000.00"))
    # Above HEALTH_CLAIM_REVIEW_AMOUNT (50,000,000): pended for a person, no EOB.
    denied = await submit_claim(session, request(w, gp("60000000.00")))
    assert denied.status == "pended"
    assert await _eobs(session, denied.claim_id) == []
    await decide_pended_claim(session, denied.claim_id, "denied", "not necessary", uuid.uuid4())
    (eob,) = await _eobs(session, denied.claim_id)
    assert (eob.total_charged, eob.total_paid, eob.member_responsibility) == (
        D("60000000.00"),
        D("0.00"),
        D("60000000.00"),
    )

    approved = await submit_claim(session, request(w, gp("60000000.00")))
    assert approved.status == "pended"
    review = await decide_pended_claim(session, approved.claim_id, "approved", "ok", uuid.uuid4())
    assert review.readjudicated is not None
    replacement = review.readjudicated.replacement
    assert await _eobs(session, approved.claim_id) == []
    (eob,) = await _eobs(session, replacement.claim_id)
    claim = await _claim(session, replacement.claim_id)
    assert eob.total_paid == claim.total_paid_amount
    assert eob.total_charged == D("60000000.00")


async def test_eob_number_scheme(session: AsyncSession) -> None:
    """EOB- + the claim number's tail; another claim number shape gets a random tail."""
    w = await build_world(session, funding="aso")
    pended = await submit_claim(session, request(w))  # no funds: pended, no EOB
    await session.execute(
        text(
            "update claims.claim set claim_number = 'LEGACY-1', status = 'approved' where id = :id"
        ),
        {"id": pended.claim_id},
    )
    eob = await write_eob(session, pended.claim_id)
    assert eob is not None
    assert re.fullmatch(r"EOB-2025-[0-9A-HJKMNP-TV-Z]{12}", eob.eob_number), eob.eob_number
    assert await write_eob(session, uuid.uuid4()) is None


# --- GET /claims/{id}/eob -----------------------------------------------------------------


async def _world_with_claim(session: AsyncSession) -> tuple[ClaimWorld, uuid.UUID, str]:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w, gp(), DENTAL))
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return w, outcome.claim_id, outcome.claim_number


async def _staff(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    return headers


def _pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_eob_as_json(client: AsyncClient, session: AsyncSession) -> None:
    w, claim_id, number = await _world_with_claim(session)
    headers = await _staff(client, session)
    response = await client.get(f"{CLAIMS}/{claim_id}/eob?lang=en", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["eob_number"] == "EOB-" + number.removeprefix("CLM-")
    assert (body["claim_id"], body["claim_number"], body["claim_status"]) == (
        str(claim_id),
        number,
        "partially_approved",
    )
    assert (body["member_number"], body["member_name"], body["provider_name"]) == (
        w.member.member_number,
        "Siti Rahma",
        "RS Medika Jakarta",
    )
    assert (
        body["total_charged"],
        body["total_approved"],
        body["total_paid"],
        body["member_responsibility"],
        body["deductible_applied"],
        body["copay_amount"],
        body["coinsurance_amount"],
    ) == ("1200000.00", "900000.00", "315000.00", "885000.00", "500000.00", "50000.00", "35000.00")
    assert body["service_date"] == "2025-03-10" and body["sent_date"] is None
    lines = {line["benefit_code"]: line for line in body["lines"]}
    op, dent = lines["OP-GP"], lines["DENT"]
    assert (
        op["benefit_code"],
        op["charged"],
        op["approved"],
        op["paid"],
        op["deductible"],
        op["copay"],
        op["coinsurance"],
        op["status"],
        op["denial_reason"],
    ) == (
        "OP-GP",
        "1000000.00",
        "900000.00",
        "315000.00",
        "500000.00",
        "50000.00",
        "35000.00",
        "approved",
        None,
    )
    steps = {s["code"]: s for s in op["trace"]}
    assert steps["contract_discount"]["text"] == (
        "Provider contract discount: IDR 1,000,000.00 to IDR 900,000.00"
    )
    assert steps["paid"]["text"] == "Paid by the plan: IDR 315,000.00"
    assert (dent["status"], dent["denial_reason"], dent["denial_reason_text"]) == (
        "denied",
        "not_covered",
        "The benefit is not covered",
    )
    indonesian = (await client.get(f"{CLAIMS}/{claim_id}/eob", headers=headers)).json()
    assert indonesian["lang"] == "id"
    lines = {line["benefit_code"]: line for line in indonesian["lines"]}
    steps = {s["code"]: s for s in lines["OP-GP"]["trace"]}
    assert steps["deductible"]["text"] == (
        "Risiko sendiri (deductible) Anda: Rp 900.000,00 menjadi Rp 400.000,00"
    )
    assert lines["DENT"]["denial_reason_text"] == "Manfaat tidak ditanggung"


@pytest.mark.parametrize(
    ("query", "accept", "title", "paid", "other_title"),
    [
        ("?format=pdf&lang=id", None, "Penjelasan Manfaat", "Rp 315.000,00", "Explanation"),
        ("?format=pdf&lang=en", None, "Explanation of Benefits", "IDR 315,000.00", "Penjelasan"),
        ("?lang=en", "application/pdf", "Explanation of Benefits", "IDR 315,000.00", "Penjelasan"),
    ],
)
async def test_eob_as_pdf(
    client: AsyncClient,
    session: AsyncSession,
    query: str,
    accept: str | None,
    title: str,
    paid: str,
    other_title: str,
) -> None:
    _, claim_id, number = await _world_with_claim(session)
    headers = await _staff(client, session)
    if accept:
        headers["Accept"] = accept
    response = await client.get(f"{CLAIMS}/{claim_id}/eob{query}", headers=headers)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith('attachment; filename="EOB-')
    assert response.content.startswith(b"%PDF-")
    text = _pdf_text(response.content)
    for expected in (title, number, "Siti Rahma", paid, "RS Medika Jakarta"):
        assert expected in text, (expected, text)
    assert other_title not in text
    # The first PDF sets sent_date; the JSON shows it afterwards.
    eob = await client.get(f"{CLAIMS}/{claim_id}/eob", headers=await _staff(client, session))
    assert eob.json()["sent_date"] is not None


async def test_sent_date_is_kept_from_the_first_pdf(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, claim_id, _ = await _world_with_claim(session)
    headers = await _staff(client, session)
    assert (await client.get(f"{CLAIMS}/{claim_id}/eob?format=pdf", headers=headers)).is_success
    first = (await client.get(f"{CLAIMS}/{claim_id}/eob", headers=headers)).json()["sent_date"]
    assert (await client.get(f"{CLAIMS}/{claim_id}/eob?format=pdf", headers=headers)).is_success
    again = (await client.get(f"{CLAIMS}/{claim_id}/eob", headers=headers)).json()["sent_date"]
    assert first is not None and again == first


async def test_no_eob_is_404(client: AsyncClient, session: AsyncSession) -> None:
    w = await build_world(session, funding="aso", aso=D("0"), buffer=D("0"))
    pended = await submit_claim(session, request(w))
    assert pended.status == "pended"
    await session.commit()
    headers = await _staff(client, session)
    response = await client.get(f"{CLAIMS}/{pended.claim_id}/eob", headers=headers)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["type"] == "urn:polis:problem:eob-not-found"
    response = await client.get(f"{CLAIMS}/{uuid.uuid4()}/eob?format=pdf", headers=headers)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:polis:problem:claim-not-found"


async def test_bad_query_and_permissions(client: AsyncClient, session: AsyncSession) -> None:
    _, claim_id, _ = await _world_with_claim(session)
    url = f"{CLAIMS}/{claim_id}/eob"
    assert (await client.get(url)).status_code == 401
    headers = await _staff(client, session)
    response = await client.get(f"{url}?lang=th", headers=headers)
    assert response.status_code == 422
    assert "query.lang" in [e["field"] for e in response.json()["errors"]]
    assert (await client.get(f"{url}?format=xml", headers=headers)).status_code == 422
    _, member = await signed_in(client, session, role="MEMBER")
    response = await client.get(url, headers=member)
    assert response.status_code == 403
    assert "health.claims:read" in response.json()["detail"]
    eob = await session.scalar(
        select(Eob).where(Eob.claim_id == claim_id).execution_options(populate_existing=True)
    )
    assert eob is not None and eob.sent_date is None
