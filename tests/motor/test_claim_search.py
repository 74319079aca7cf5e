"""Thai full-text search over motor claims and their documents (issue 5 item 6, decision
0053): segmentation (pure, with hypothesis), and `GET /claims/search` finding a Thai word
inside a sentence written without spaces, English words, claim and police report numbers,
words read by OCR from an uploaded image, never absent words; ranked, paged by cursor."""

from __future__ import annotations

import uuid
from typing import Any

from httpx import AsyncClient
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import claim_search
from polis.motor.claim_search import query_words, segment, tsquery_text
from polis.motor.models import MotorClaim
from tests.motor.claim_factory import CLAIMS, active_policy, insert_claim, staff_user

SENTENCE = "รถกระบะชนกันชนหลังเสียหาย"

# --- segmentation (pure) --------------------------------------------------------------------


def test_thai_sentence_without_spaces_is_split_into_words() -> None:
    assert segment(SENTENCE).split() == ["รถกระบะ", "ชน", "กันชน", "หลัง", "เสียหาย"]
    assert "อุบัติเหตุ" in segment("อุบัติเหตุรถชนที่สี่แยก").split()


def test_non_thai_text_is_left_to_postgresql_with_hyphens_and_slashes_split() -> None:
    assert segment("Rear bumper, CLM-2026-000123 (123/2569)") == (
        "Rear bumper, CLM 2026 000123 (123 2569)"
    )
    assert segment("ทะเบียน1กข1234") == "ทะเบียน 1 กข 1234"


def test_thai_digits_and_mark_order_are_normalised() -> None:
    assert segment("เลขที่ ๑๒๓/๒๕๖๙") == "เลขที่ 123 2569"
    # tone mark before the vowel (as some PDFs map them) reads as the usual order
    assert segment("ท\u0e48\u0e35") == segment("ที่")


def test_empty_and_punctuation_only_text() -> None:
    assert segment(None) == segment("") == ""
    assert query_words("  ") == []
    assert tsquery_text(" - / ") is None


def test_query_words_become_quoted_prefixes_anded() -> None:
    assert tsquery_text("กันชน bumper") == "'กันชน':* & 'bumper':*"
    assert tsquery_text("o'neil x\\y") == "'o''neil':* & 'x':* & 'y':*"


THAI_WORDS = ["รถ", "กันชน", "หลัง", "เสียหาย", "ประกัน", "สี่แยก", "ตำรวจ", "โรงพยาบาล"]


@given(st.lists(st.sampled_from(THAI_WORDS), min_size=1, max_size=8))
def test_segmentation_keeps_every_character_of_thai_text(words: list[str]) -> None:
    joined = "".join(words)
    assert "".join(segment(joined).split()) == joined


@given(st.text(max_size=60))
def test_segmentation_never_fails_and_makes_a_valid_query(value: str) -> None:
    out = segment(value)
    assert "  " not in out
    query = tsquery_text(value)
    assert query is None or query.endswith(":*")


# --- the search API -------------------------------------------------------------------------


async def indexed_claim(session: AsyncSession, policy_id: str, **columns: Any) -> MotorClaim:
    claim = await insert_claim(session, policy_id, **columns)
    await claim_search.index_claim(session, claim)
    await session.commit()
    return claim


async def search(
    client: AsyncClient, headers: dict[str, str], q: str, **params: Any
) -> dict[str, Any]:
    response = await client.get(f"{CLAIMS}/search", params={"q": q, **params}, headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


async def test_search_finds_thai_words_inside_a_sentence_english_and_numbers(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    _, surveyor = await staff_user(client, session, "SURVEYOR")  # motor.claims:read
    policy = await active_policy(client, admin)
    pickup = await indexed_claim(
        session,
        policy["id"],
        claim_number="MCL-20261101-SRCHTEST",
        incident_description=SENTENCE,
        damage_description="Rear bumper and tail light damaged",
        police_report_number="123/2569",
        other_party_info={"name": "สมศักดิ์ ใจดี", "plate": "1กข 1234", "insurer": "Viriyah"},
        incident_location={"lat": 13.75, "lng": 100.49, "address": {"text": "แยกราชประสงค์"}},
    )
    other = await indexed_claim(session, policy["id"], incident_description="น้ำท่วมรถจมน้ำที่ลานจอด")

    for q in ("กันชน", "ชน", "รถกระบะ", "เสียหาย", "กันชนหลัง", "bumper", "BUMPER tail"):
        assert ids(await search(client, surveyor, q)) == [str(pickup.id)], q
    assert ids(await search(client, surveyor, "MCL-20261101-SRCHTEST")) == [str(pickup.id)]
    assert ids(await search(client, surveyor, "srchtest")) == [str(pickup.id)]
    assert ids(await search(client, surveyor, "123/2569")) == [str(pickup.id)]
    assert ids(await search(client, surveyor, "สมศักดิ์")) == [str(pickup.id)]
    assert ids(await search(client, surveyor, "ราชประสงค์")) == [str(pickup.id)]
    assert ids(await search(client, surveyor, "bump")) == [str(pickup.id)]  # prefix
    assert ids(await search(client, surveyor, "น้ำท่วม")) == [str(other.id)]

    # absent words, and words that are there but not together, find nothing
    for q in ("ไฟไหม้", "windscreen", "กันชน น้ำท่วม", "MCL-20261101-NOSUCH", "999/2569"):
        assert ids(await search(client, surveyor, q)) == [], q

    page = await search(client, surveyor, "กันชนหลัง")
    assert page["words"] == ["กันชน", "หลัง"]
    hit = page["items"][0]
    assert hit["claim_number"] == "MCL-20261101-SRCHTEST"
    assert hit["matched_claim"] is True
    assert hit["documents"] == []
    assert hit["rank"] > 0


async def test_search_reindexes_when_the_text_changes(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin)
    claim = await indexed_claim(session, policy["id"], incident_description="กระจกแตก")
    assert ids(await search(client, admin, "กระจก")) == [str(claim.id)]
    claim.incident_description = "ไฟไหม้ห้องเครื่อง"
    await session.flush()
    session.expire(claim)  # index_claim loads what it needs (no lazy load in async)
    await claim_search.index_claim(session, claim)
    await session.commit()
    assert ids(await search(client, admin, "กระจก")) == []
    assert ids(await search(client, admin, "ไฟไหม้")) == [str(claim.id)]
    # a soft-deleted claim is not found
    await session.execute(
        text("update motor.claims set deleted_at = now() where id = :id"), {"id": claim.id}
    )
    await session.commit()
    assert ids(await search(client, admin, "ไฟไหม้")) == []


async def test_search_finds_claims_through_their_documents_ocr_text(
    client: AsyncClient, session: AsyncSession
) -> None:
    from tests.documents.test_ocr import encoded, text_image

    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin)
    claim = await indexed_claim(session, policy["id"], incident_description="Parked car hit")
    png = encoded(text_image(("อุบัติเหตุรถชนที่สี่แยก", "Rear bumper damaged")), "PNG")
    response = await client.post(
        f"{CLAIMS}/{claim.id}/documents",
        data={"document_type": "PHOTO", "description": "ภาพถ่ายหน้างาน"},
        files={"file": ("scene.png", png, "image/png")},
        headers=admin,
    )
    assert response.status_code == 201, response.text
    document_id = response.json()["id"]

    page = await search(client, admin, "อุบัติเหตุ")  # read by OCR after the upload
    assert ids(page) == [str(claim.id)]
    hit = page["items"][0]
    assert hit["matched_claim"] is False
    assert [d["id"] for d in hit["documents"]] == [document_id]
    assert "อุบัติเหตุ" in hit["documents"][0]["snippet"]
    assert ids(await search(client, admin, "ภาพถ่าย")) == [str(claim.id)]  # description
    assert ids(await search(client, admin, "scene")) == [str(claim.id)]  # file name
    # every word must be in one record: the claim's own text or one document's
    assert ids(await search(client, admin, "parked อุบัติเหตุ")) == []


async def test_search_is_ranked_and_paged_by_cursor(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin)
    strong = await indexed_claim(
        session, policy["id"], claim_number=f"MCL-PAGE-{uuid.uuid4().hex[:6]}",
        police_report_number="สภ.บางนา", incident_description="ชนที่บางนา ขาออกบางนา",
    )  # fmt: skip
    weaker = [
        await indexed_claim(session, policy["id"], incident_description=f"เฉี่ยวชนที่บางนา {i}")
        for i in range(3)
    ]
    first = await search(client, admin, "บางนา", limit=2)
    assert first["items"][0]["id"] == str(strong.id)  # weight A and twice in the text
    assert len(first["items"]) == 2
    assert first["next_cursor"]
    second = await search(client, admin, "บางนา", limit=2, cursor=first["next_cursor"])
    assert second["next_cursor"] is None
    seen = ids(first) + ids(second)
    assert sorted(seen) == sorted([str(strong.id)] + [str(c.id) for c in weaker])
    ranks = [i["rank"] for i in first["items"] + second["items"]]
    assert ranks == sorted(ranks, reverse=True)

    response = await client.get(
        f"{CLAIMS}/search", params={"q": "บางนา", "cursor": "not-a-cursor"}, headers=admin
    )
    assert response.status_code == 400
    assert response.json()["type"] == "urn:polis:problem:invalid-cursor"


async def test_search_refuses_bad_queries_and_callers(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    _, customer = await staff_user(client, session, "CUSTOMER")
    for params in ({}, {"q": ""}, {"q": "x" * 201}, {"q": "ชน", "limit": 0}):
        response = await client.get(f"{CLAIMS}/search", params=params, headers=admin)
        assert response.status_code == 422, params
        assert response.headers["content-type"] == "application/problem+json"
    assert (await search(client, admin, " - "))["items"] == []
    response = await client.get(f"{CLAIMS}/search", params={"q": "ชน"})
    assert response.status_code == 401
    response = await client.get(f"{CLAIMS}/search", params={"q": "ชน"}, headers=customer)
    assert response.status_code == 403


async def test_search_vectors_stay_out_of_the_audit_trail(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin)
    claim = await insert_claim(session, policy["id"], incident_description="ชนท้าย")
    audit = text(
        "select operation, new_values ? 'search_vector' from audit.audit_log"
        " where table_name = 'motor.claims' and record_id = :id order by id"
    )
    before = (await session.execute(audit, {"id": claim.id})).all()
    await claim_search.index_claim(session, claim)  # changes only search_vector
    await claim_search.index_claim(session, claim)
    after = (await session.execute(audit, {"id": claim.id})).all()
    assert after == before == [("INSERT", False)]
    vector = await session.scalar(
        text("select search_vector::text from motor.claims where id = :id"), {"id": claim.id}
    )
    assert vector is not None and "'ชน'" in vector and "'ท้าย'" in vector
