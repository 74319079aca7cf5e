"""Motor claim documents over HTTP (issue 5 item 6): real multipart uploads, OCR after the
response (a PNG with Thai text, a text-layer PDF, a video without text), list / read /
download / review, refusals as 422 or 409 problem+json that write no row and no file,
sensitive documents withheld from readers, and the OCR sweep with FOR UPDATE SKIP LOCKED."""

from __future__ import annotations

import hashlib
import io
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from httpx import ASGITransport, AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
)

from polis.documents.storage import DocumentStore
from polis.motor.claim_documents import ocr_pending
from polis.motor.models import MotorClaimDocument
from tests.documents.test_ocr import ENGLISH_LINE, encoded, text_image, text_layer_pdf
from tests.motor.claim_factory import CLAIMS, active_policy, insert_claim, staff_user

MAX_BYTES = 300_000
NOT_ALLOWED = "document-type-not-allowed"
PDF = "application/pdf"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 256


@pytest.fixture
def documents_dir(tmp_path: Path) -> Iterator[Path]:
    root = tmp_path / "documents"
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
async def app_client(
    connection: AsyncConnection,
    sessionmaker: async_sessionmaker[AsyncSession],
    db_url: str,
    documents_dir: Path,
) -> AsyncIterator[tuple[FastAPI, AsyncClient]]:
    """The app with its document store in a temporary directory, a 300 kB upload limit, and
    the test transaction (the OCR background task's session joins it too)."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    settings = Settings(
        database_url=db_url, documents_dir=documents_dir, document_max_bytes=MAX_BYTES
    )
    app = create_app(settings, database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield app, c


def thai_png() -> bytes:
    return encoded(text_image(), "PNG")


def files_in(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def document_rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(MotorClaimDocument)) or 0)


async def new_claim(client: AsyncClient, session: AsyncSession, **columns: Any) -> uuid.UUID:
    """A claim (inserted directly) on an ACTIVE policy made through the API by an admin."""
    _, admin = await staff_user(client, session, "ADMIN")
    policy = await active_policy(client, admin)
    claim = await insert_claim(session, policy["id"], **columns)
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return claim.id


async def upload(
    client: AsyncClient,
    headers: dict[str, str],
    claim_id: uuid.UUID | str,
    data: bytes,
    name: str,
    content_type: str | None,
    document_type: str = "PHOTO",
    **form: str,
) -> tuple[int, dict[str, Any]]:
    part = (name, data, content_type) if content_type else (name, data)
    response = await client.post(
        f"{CLAIMS}/{claim_id}/documents",
        data={"document_type": document_type, **form},
        files={"file": part},
        headers=headers,
    )
    return response.status_code, response.json()


def problem(status: int, body: dict[str, Any], kind: str) -> None:
    assert body["type"] == f"urn:polis:problem:{kind}", body
    assert body["status"] == status


async def test_upload_ocr_list_get_download_review(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    adjuster, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)
    png = thai_png()

    status, doc = await upload(
        client, headers, claim_id, png, "หน้ารถ.png", "image/png", description="ด้านหน้า"
    )
    assert status == 201, doc
    digest = hashlib.sha256(png).hexdigest()
    assert doc["upload_status"] == "PENDING"  # answered before the OCR ran
    assert (doc["document_type"], doc["document_category"], doc["mime_type"]) == (
        "PHOTO",
        "DAMAGE",
        "image/png",
    )
    assert (doc["original_filename"], doc["file_size"], doc["sha256"]) == (
        "หน้ารถ.png",
        len(png),
        digest,
    )
    assert (doc["is_sensitive"], doc["is_required"], doc["uploaded_by"]) == (
        False,
        False,
        str(adjuster.id),
    )
    assert doc["extracted_text"] is None
    assert (documents_dir / digest[:2] / digest[2:4] / digest).read_bytes() == png

    # the background task ran after the response, in a session of its own
    got = (await client.get(f"{CLAIMS}/{claim_id}/documents/{doc['id']}", headers=headers)).json()
    assert got["upload_status"] == "PROCESSED"
    assert "อุบัติเหตุ" in got["extracted_text"]
    assert ENGLISH_LINE in got["extracted_text"]
    assert got["extracted_data"]["ocr"]["languages"] == "tha+eng"
    assert got["extracted_data"]["ocr"]["engine"] == "tesseract 5.5.4"
    assert got["extracted_data"]["ocr"]["pages"] == 1

    status, pdf_doc = await upload(
        client,
        headers,
        claim_id,
        text_layer_pdf("ใบเสนอราคาซ่อม กันชนหลัง 12,500 บาท Estimate"),
        "estimate.pdf",
        "application/pdf",
        document_type="ESTIMATE",
        is_required="true",
    )
    assert status == 201, pdf_doc
    assert (pdf_doc["document_category"], pdf_doc["is_required"]) == ("FINANCIAL", True)

    listed = (await client.get(f"{CLAIMS}/{claim_id}/documents", headers=headers)).json()
    assert [d["id"] for d in listed] == [doc["id"], pdf_doc["id"]]  # oldest first
    assert listed[1]["upload_status"] == "PROCESSED"
    assert "กันชนหลัง 12,500 บาท" in listed[1]["extracted_text"]
    assert listed[1]["extracted_data"]["ocr"]["page_info"][0]["source"] == "text-layer"

    response = await client.get(
        f"{CLAIMS}/{claim_id}/documents/{doc['id']}/content", headers=headers
    )
    assert response.status_code == 200
    assert response.content == png
    assert response.headers["content-type"] == "image/png"
    assert "filename*=UTF-8''%E0%B8%AB" in response.headers["content-disposition"]
    assert response.headers["x-content-type-options"] == "nosniff"

    review = f"{CLAIMS}/{claim_id}/documents/{doc['id']}/review"
    response = await client.post(
        review, json={"upload_status": "APPROVED", "review_notes": "ชัดเจน"}, headers=headers
    )
    assert response.status_code == 200, response.text
    reviewed = response.json()
    assert (reviewed["upload_status"], reviewed["review_notes"]) == ("APPROVED", "ชัดเจน")
    assert reviewed["reviewed_by"] == str(adjuster.id)
    assert reviewed["reviewed_at"] is not None

    response = await client.post(
        review, json={"upload_status": "REJECTED", "review_notes": "x"}, headers=headers
    )
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    problem(409, response.json(), "document-already-reviewed")
    row = await session.get(MotorClaimDocument, uuid.UUID(doc["id"]), populate_existing=True)
    assert row is not None
    assert (row.upload_status, row.review_notes) == ("APPROVED", "ชัดเจน")


async def test_review_needs_processed_document_and_reasons_for_rejection(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession
) -> None:
    _, client = app_client
    _, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)
    pending = MotorClaimDocument(
        claim_id=claim_id,
        document_type="OTHER",
        original_filename="x.pdf",
        file_path="00/00/" + "0" * 64,
        upload_status="PENDING",
    )
    session.add(pending)
    await session.commit()
    review = f"{CLAIMS}/{claim_id}/documents/{pending.id}/review"

    response = await client.post(review, json={"upload_status": "APPROVED"}, headers=headers)
    assert response.status_code == 409
    problem(409, response.json(), "document-not-processed")

    response = await client.post(review, json={"upload_status": "REJECTED"}, headers=headers)
    assert response.status_code == 422
    body = response.json()
    assert body["errors"][0]["field"] == "body.review_notes"

    response = await client.post(review, json={"upload_status": "PROCESSED"}, headers=headers)
    assert response.status_code == 422
    await session.refresh(pending)
    assert (pending.upload_status, pending.reviewed_by, pending.reviewed_at) == (
        "PENDING",
        None,
        None,
    )

    _, surveyor = await staff_user(client, session, "SURVEYOR")  # motor.claims:read only
    response = await client.post(review, json={"upload_status": "APPROVED"}, headers=surveyor)
    assert response.status_code == 403


@pytest.mark.parametrize(
    ("document_type", "make", "name", "content_type", "kind"),
    [
        ("PHOTO", lambda: text_layer_pdf("x" * 40), "a.pdf", "application/pdf", NOT_ALLOWED),
        ("VIDEO", thai_png, "a.png", "image/png", NOT_ALLOWED),
        ("POLICE_REPORT", lambda: MP4, "a.mp4", "video/mp4", NOT_ALLOWED),
        ("INVOICE", lambda: b"plain text, not a document", "a.txt", "text/plain", NOT_ALLOWED),
        ("PHOTO", thai_png, "a.png", "image/jpeg", "document-type-mismatch"),
        ("PHOTO", thai_png, "a.jpg", "image/png", "document-type-mismatch"),
        ("VIDEO", lambda: MP4, "clip.mov", "video/mp4", "document-type-mismatch"),
        ("RECEIPT", lambda: b"", "a.pdf", "application/pdf", "document-empty"),
        ("RECEIPT", lambda: b"%PDF-1.4\n" + b"0" * MAX_BYTES, "a.pdf", PDF, "document-too-large"),
    ],
)  # fmt: skip
async def test_refused_uploads_write_no_row_and_no_file(
    app_client: tuple[FastAPI, AsyncClient],
    session: AsyncSession,
    documents_dir: Path,
    document_type: str,
    make: Any,
    name: str,
    content_type: str,
    kind: str,
) -> None:
    _, client = app_client
    _, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)
    before = await document_rows(session)

    status, body = await upload(
        client, headers, claim_id, make(), name, content_type, document_type=document_type
    )

    assert status == 422, body
    problem(422, body, kind)
    assert body["errors"][0]["field"] == "file"
    assert await document_rows(session) == before
    assert files_in(documents_dir) == []


async def test_bad_form_fields_unknown_and_closed_claims(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    _, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)
    before = await document_rows(session)

    status, body = await upload(
        client, headers, claim_id, thai_png(), "a.png", "image/png", document_type="SELFIE"
    )
    assert status == 422
    assert any("document_type" in e["field"] for e in body["errors"])
    status, body = await upload(
        client, headers, claim_id, thai_png(), "a.png", "image/png", document_category="CAR"
    )
    assert status == 422
    status, body = await upload(client, headers, uuid.uuid4(), thai_png(), "a.png", "image/png")
    assert status == 404

    closed = await new_claim(client, session, status="CLOSED")
    status, body = await upload(client, headers, closed, thai_png(), "a.png", "image/png")
    assert status == 409
    problem(409, body, "claim-closed")

    assert await document_rows(session) == before
    assert files_in(documents_dir) == []
    response = await client.get(f"{CLAIMS}/{claim_id}/documents/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    response = await client.get(f"{CLAIMS}/{uuid.uuid4()}/documents", headers=headers)
    assert response.status_code == 404


async def test_video_is_processed_without_text_and_has_its_own_limit(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    _, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)

    status, doc = await upload(
        client, headers, claim_id, MP4, "dashcam", "video/mp4", document_type="VIDEO"
    )
    assert status == 201, doc
    assert (doc["original_filename"], doc["mime_type"], doc["document_category"]) == (
        "dashcam.mp4",
        "video/mp4",
        "SCENE",
    )
    got = (await client.get(f"{CLAIMS}/{claim_id}/documents/{doc['id']}", headers=headers)).json()
    assert got["upload_status"] == "PROCESSED"
    assert got["extracted_text"] is None
    assert "no text extraction for video/mp4" in got["extracted_data"]["ocr"]["skipped"]

    # a video above MOTOR_CLAIM_VIDEO_MAX_BYTES is refused; the limit is configuration
    await session.execute(
        text(
            "update ref.system_configurations set config_value = '200'"
            " where config_key = 'MOTOR_CLAIM_VIDEO_MAX_BYTES'"
        )
    )
    await session.commit()
    before, stored = await document_rows(session), files_in(documents_dir)
    status, body = await upload(
        client, headers, claim_id, MP4 + b"\x01", "b.mp4", "video/mp4", document_type="VIDEO"
    )
    assert status == 422
    problem(422, body, "document-too-large")
    assert "200 bytes" in body["detail"]
    assert await document_rows(session) == before
    assert files_in(documents_dir) == stored


async def test_unreadable_file_is_processed_with_the_reason(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession
) -> None:
    _, client = app_client
    _, headers = await staff_user(client, session, "ADJUSTER")
    claim_id = await new_claim(client, session)
    broken = b"%PDF-1.4\n%broken beyond repair\n" + b"\x00" * 64
    status, doc = await upload(
        client, headers, claim_id, broken, "broken.pdf", "application/pdf", document_type="INVOICE"
    )
    assert status == 201, doc
    got = (await client.get(f"{CLAIMS}/{claim_id}/documents/{doc['id']}", headers=headers)).json()
    assert got["upload_status"] == "PROCESSED"  # not retried forever
    assert got["extracted_text"] is None
    assert "not a readable PDF" in got["extracted_data"]["ocr"]["error"]


async def test_medical_reports_are_sensitive_and_withheld_from_readers(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession
) -> None:
    _, client = app_client
    _, adjuster = await staff_user(client, session, "ADJUSTER")
    _, surveyor = await staff_user(client, session, "SURVEYOR")  # motor.claims:read only
    claim_id = await new_claim(client, session)
    report = text_layer_pdf("ใบรับรองแพทย์ ผู้ป่วยกระดูกไหปลาร้าหัก Fractured clavicle")

    status, doc = await upload(
        client,
        adjuster,
        claim_id,
        report,
        "med.pdf",
        "application/pdf",
        document_type="MEDICAL_REPORT",
    )
    assert status == 201, doc
    assert (doc["is_sensitive"], doc["document_category"]) == (True, "MEDICAL")
    status, photo = await upload(
        client, adjuster, claim_id, thai_png(), "p.png", "image/png", is_sensitive="false"
    )
    assert status == 201

    url = f"{CLAIMS}/{claim_id}/documents"
    as_adjuster = (await client.get(f"{url}/{doc['id']}", headers=adjuster)).json()
    assert "Fractured clavicle" in as_adjuster["extracted_text"]
    assert as_adjuster["text_withheld"] is False

    listed = {d["id"]: d for d in (await client.get(url, headers=surveyor)).json()}
    assert listed[doc["id"]]["text_withheld"] is True
    assert listed[doc["id"]]["extracted_text"] is None
    assert listed[doc["id"]]["extracted_data"] is None
    assert listed[doc["id"]]["upload_status"] == "PROCESSED"
    assert "อุบัติเหตุ" in listed[photo["id"]]["extracted_text"]
    single = (await client.get(f"{url}/{doc['id']}", headers=surveyor)).json()
    assert (single["extracted_text"], single["text_withheld"]) == (None, True)

    response = await client.get(f"{url}/{doc['id']}/content", headers=surveyor)
    assert response.status_code == 403
    problem(403, response.json(), "document-sensitive")
    assert (await client.get(f"{url}/{doc['id']}/content", headers=adjuster)).content == report
    assert (await client.get(f"{url}/{photo['id']}/content", headers=surveyor)).status_code == 200

    # search: the words of the sensitive report are found only by those who may read it
    found = (
        await client.get(f"{CLAIMS}/search", params={"q": "clavicle"}, headers=adjuster)
    ).json()
    assert [c["id"] for c in found["items"]] == [str(claim_id)]
    assert found["items"][0]["documents"][0]["id"] == doc["id"]
    hidden = (
        await client.get(f"{CLAIMS}/search", params={"q": "clavicle"}, headers=surveyor)
    ).json()
    assert hidden["items"] == []


async def test_anonymous_and_unpermitted_callers_are_refused(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    claim_id = await new_claim(client, session)
    status, _ = await upload(client, {}, claim_id, thai_png(), "a.png", "image/png")
    assert status == 401
    _, customer = await staff_user(client, session, "CUSTOMER")
    status, _ = await upload(client, customer, claim_id, thai_png(), "a.png", "image/png")
    assert status == 403
    assert (await client.get(f"{CLAIMS}/{claim_id}/documents", headers=customer)).status_code == 403
    assert files_in(documents_dir) == []


# --- the sweep ---------------------------------------------------------------------------------


async def pending_document(
    session: AsyncSession, store: DocumentStore, claim_id: uuid.UUID, data: bytes, mime: str
) -> MotorClaimDocument:
    stored = store.put(data)
    row = MotorClaimDocument(
        claim_id=claim_id,
        document_type="PHOTO" if mime.startswith("image/") else "OTHER",
        original_filename="scan" + (".png" if mime == "image/png" else ".pdf"),
        file_path=stored.relative_path,
        file_size=stored.size,
        mime_type=mime,
        upload_status="PENDING",
        uploaded_at=func.clock_timestamp(),
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def test_sweep_processes_pending_documents_oldest_first(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    claim_id = await new_claim(client, session)
    store = DocumentStore(documents_dir)
    first = await pending_document(session, store, claim_id, thai_png(), "image/png")
    second = await pending_document(
        session, store, claim_id, text_layer_pdf("ใบแจ้งความเลขที่ 45/2569 Police"), "application/pdf"
    )

    assert await ocr_pending(session, 1, store=store) == [first.id]
    assert second.upload_status == "PENDING"
    assert await ocr_pending(session, 10, store=store) == [second.id]
    assert await ocr_pending(session, 10, store=store) == []
    await session.refresh(first)
    await session.refresh(second)
    assert first.upload_status == second.upload_status == "PROCESSED"
    assert first.extracted_text is not None and "อุบัติเหตุ" in first.extracted_text
    assert second.extracted_text is not None and "45/2569" in second.extracted_text
    assert second.extracted_data is not None
    assert second.extracted_data["ocr"]["page_info"][0]["source"] == "text-layer"


async def test_sweep_skips_rows_locked_by_another_transaction(
    engine: AsyncEngine, tmp_path: Path
) -> None:
    """Committed rows (outside the test transaction), one locked by another connection: the
    sweep takes the other one and leaves the locked row PENDING."""
    from tests.motor.test_schema import make_claim, make_customer, make_policy, make_vehicle

    store = DocumentStore(tmp_path / "docs")
    async with engine.begin() as conn:
        customer = await make_customer(conn)
        vehicle = await make_vehicle(conn, customer)
        policy = await make_policy(conn, customer, vehicle)
        claim = await make_claim(conn, policy)
        ids = []
        for data in (thai_png(), encoded(text_image((ENGLISH_LINE,)), "PNG")):
            stored = store.put(data)
            ids.append(
                (
                    await conn.execute(
                        text(
                            "insert into motor.claim_documents (claim_id, document_type,"
                            " original_filename, file_path, mime_type, upload_status,"
                            " uploaded_at) values (:c, 'PHOTO', 'a.png', :p, 'image/png',"
                            " 'PENDING', clock_timestamp()) returning id"
                        ),
                        {"c": claim, "p": stored.relative_path},
                    )
                ).scalar_one()
            )
    locked, free = ids
    try:
        async with engine.connect() as holder:
            await holder.begin()
            await holder.execute(
                text("select id from motor.claim_documents where id = :id for update"),
                {"id": locked},
            )
            async with async_sessionmaker(engine, expire_on_commit=False)() as sweeper:
                done = await ocr_pending(sweeper, 10, store=store)
                await sweeper.commit()
            assert done == [free]
            await holder.rollback()
        async with engine.connect() as conn:
            rows = dict(
                (
                    await conn.execute(
                        text(
                            "select id, upload_status from motor.claim_documents"
                            " where claim_id = :c"
                        ),
                        {"c": claim},
                    )
                ).all()
            )
        assert rows == {locked: "PENDING", free: "PROCESSED"}
    finally:
        async with engine.begin() as conn:
            await conn.execute(
                text("delete from motor.claim_documents where claim_id = :c"), {"c": claim}
            )
            await conn.execute(text("delete from motor.claims where id = :c"), {"c": claim})
            await conn.execute(text("delete from motor.policies where id = :p"), {"p": policy})
            await conn.execute(
                text("delete from motor.customer_vehicles where id = :v"), {"v": vehicle}
            )
            await conn.execute(text("delete from motor.customers where id = :c"), {"c": customer})


def test_generated_image_is_small() -> None:
    assert len(io.BytesIO(thai_png()).getvalue()) < MAX_BYTES
