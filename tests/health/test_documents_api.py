"""Claim documents over HTTP: real multipart uploads of a PDF and a PNG, byte-identical
downloads, refusals (wrong content, too large, empty) as 422 problem+json that write
nothing, unknown claims and documents as 404, content-addressed storage in a temporary
directory."""

from __future__ import annotations

import hashlib
import io
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fpdf import FPDF
from httpx import ASGITransport, AsyncClient
from PIL import Image
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from polis.health.adjudication import submit_claim
from polis.health.models import ClaimDocument
from tests.health.test_adjudication_service import build_world, request
from tests.iam.factories import signed_in

CLAIMS = "/api/v1/health/claims"


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
    """The app with its document store in a temporary directory (and the test transaction)."""
    from asgi_lifespan import LifespanManager

    from polis.app import create_app
    from polis.config import Settings
    from polis.db.session import Database

    database = Database(engine=connection.engine, sessionmaker=sessionmaker)
    app = create_app(Settings(database_url=db_url, documents_dir=documents_dir), database=database)
    async with (
        LifespanManager(app),
        AsyncClient(transport=ASGITransport(app=app), base_url="http://test") as c,
    ):
        yield app, c


def pdf_bytes(text: str = "Invoice RS Medika") -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, text)
    return bytes(pdf.output())


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (16, 8), (20, 120, 200)).save(out, format="PNG")
    return out.getvalue()


async def _claim(session: AsyncSession) -> uuid.UUID:
    w = await build_world(session)
    outcome = await submit_claim(session, request(w))
    await session.commit()  # a savepoint of the test transaction, visible to the app
    return outcome.claim_id


async def _staff(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    return headers


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


async def _rows(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(ClaimDocument)) or 0)


async def _upload(
    client: AsyncClient,
    headers: dict[str, str],
    claim_id: uuid.UUID | str,
    data: bytes,
    name: str,
    content_type: str | None,
    document_type: str = "invoice",
) -> tuple[int, dict[str, object]]:
    part = (name, data, content_type) if content_type else (name, data)
    response = await client.post(
        f"{CLAIMS}/{claim_id}/documents",
        data={"document_type": document_type},
        files={"file": part},
        headers=headers,
    )
    return response.status_code, response.json()


async def test_pdf_and_png_round_trip_byte_identical(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    user, headers = await signed_in(client, session, role="CLAIMS_PROCESSOR")
    pdf, png = pdf_bytes(), png_bytes()

    status, invoice = await _upload(
        client, headers, claim_id, pdf, "invoice.pdf", "application/pdf"
    )
    assert status == 201, invoice
    digest = hashlib.sha256(pdf).hexdigest()
    assert invoice["claim_id"] == str(claim_id)
    assert (
        invoice["document_type"],
        invoice["file_name"],
        invoice["file_size"],
        invoice["mime_type"],
        invoice["sha256"],
        invoice["uploaded_by"],
    ) == ("invoice", "invoice.pdf", len(pdf), "application/pdf", digest, str(user.id))
    assert invoice["uploaded_at"]
    assert (documents_dir / digest[:2] / digest[2:4] / digest).read_bytes() == pdf

    status, receipt = await _upload(
        client, headers, claim_id, png, "kwitansi apotek.png", "image/png", "receipt"
    )
    assert status == 201, receipt
    assert (receipt["mime_type"], receipt["document_type"]) == ("image/png", "receipt")

    listed = await client.get(f"{CLAIMS}/{claim_id}/documents", headers=headers)
    assert listed.status_code == 200
    assert [d["id"] for d in listed.json()] == [invoice["id"], receipt["id"]]

    for doc, data, mime in ((invoice, pdf, "application/pdf"), (receipt, png, "image/png")):
        response = await client.get(f"{CLAIMS}/{claim_id}/documents/{doc['id']}", headers=headers)
        assert response.status_code == 200
        assert response.content == data
        assert response.headers["content-type"] == mime
        name = str(doc["file_name"])
        assert response.headers["content-disposition"] == (
            f"attachment; filename=\"{name}\"; filename*=UTF-8''{quote(name, safe='')}"
        )
    row = await session.scalar(
        select(ClaimDocument).where(ClaimDocument.id == uuid.UUID(str(invoice["id"])))
    )
    assert row is not None and row.file_path == f"{digest[:2]}/{digest[2:4]}/{digest}"


async def test_same_content_is_stored_once(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    first, second = await _claim(session), await _claim(session)
    headers = await _staff(client, session)
    pdf = pdf_bytes()
    a = await _upload(client, headers, first, pdf, "a.pdf", "application/pdf")
    b = await _upload(client, headers, second, pdf, "b.pdf", "application/pdf")
    c = await _upload(client, headers, first, pdf, "again.pdf", "application/pdf")
    assert [x[0] for x in (a, b, c)] == [201, 201, 201]
    assert len({x[1]["id"] for x in (a, b, c)}) == 3
    assert len({x[1]["sha256"] for x in (a, b, c)}) == 1
    assert len(_files(documents_dir)) == 1
    assert await _rows(session) == 3


@pytest.mark.parametrize(
    ("data", "name", "content_type", "problem"),
    [
        (b"This is plain text, not a PDF.", "invoice.pdf", "application/pdf", "not-allowed"),
        (png_bytes(), "invoice.pdf", "application/pdf", "mismatch"),
        (png_bytes(), "photo.pdf", "image/png", "mismatch"),
        (b"", "empty.pdf", "application/pdf", "empty"),
    ],
)
async def test_refused_uploads_write_nothing(
    app_client: tuple[FastAPI, AsyncClient],
    session: AsyncSession,
    documents_dir: Path,
    data: bytes,
    name: str,
    content_type: str,
    problem: str,
) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    headers = await _staff(client, session)
    before = await _rows(session)
    status, body = await _upload(client, headers, claim_id, data, name, content_type)
    assert status == 422, body
    expected = {
        "not-allowed": "document-type-not-allowed",
        "mismatch": "document-type-mismatch",
        "empty": "document-empty",
    }[problem]
    assert body["type"] == f"urn:polis:problem:{expected}"
    assert body["errors"] == [{"field": "file", "message": body["detail"], "type": expected}]
    assert await _rows(session) == before
    assert _files(documents_dir) == []


async def test_too_large_is_422(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    app, client = app_client
    app.state.settings = app.state.settings.model_copy(update={"document_max_bytes": 1024})
    claim_id = await _claim(session)
    headers = await _staff(client, session)
    big = pdf_bytes("x" * 50) + b"%" + b"0" * 2048
    status, body = await _upload(client, headers, claim_id, big, "big.pdf", "application/pdf")
    assert status == 422, body
    assert body["type"] == "urn:polis:problem:document-too-large"
    assert "1 KiB" in body["detail"]
    assert await _rows(session) == 0
    assert _files(documents_dir) == []
    small = pdf_bytes("ok")
    assert len(small) <= 1024
    status, _ = await _upload(client, headers, claim_id, small, "small.pdf", "application/pdf")
    assert status == 201


async def test_bad_form_is_422(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession
) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    headers = await _staff(client, session)
    status, body = await _upload(
        client, headers, claim_id, pdf_bytes(), "a.pdf", "application/pdf", "selfie"
    )
    assert status == 422
    assert "body.document_type" in [e["field"] for e in body["errors"]]
    response = await client.post(
        f"{CLAIMS}/{claim_id}/documents", data={"document_type": "invoice"}, headers=headers
    )
    assert response.status_code == 422
    assert "body.file" in [e["field"] for e in response.json()["errors"]]
    assert await _rows(session) == 0


async def test_file_name_is_sanitised(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession
) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    headers = await _staff(client, session)
    status, body = await _upload(
        client, headers, claim_id, pdf_bytes(), "../../etc/Kwitansi Ümit.pdf", "application/pdf"
    )
    assert status == 201, body
    assert body["file_name"] == "Kwitansi Ümit.pdf"
    response = await client.get(f"{CLAIMS}/{claim_id}/documents/{body['id']}", headers=headers)
    assert response.headers["content-disposition"] == (
        "attachment; filename=\"Kwitansi _mit.pdf\"; filename*=UTF-8''Kwitansi%20%C3%9Cmit.pdf"
    )


async def test_unknown_claim_or_document_is_404(
    app_client: tuple[FastAPI, AsyncClient], session: AsyncSession, documents_dir: Path
) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    headers = await _staff(client, session)
    unknown = uuid.uuid4()
    status, body = await _upload(client, headers, unknown, pdf_bytes(), "a.pdf", "application/pdf")
    assert status == 404
    assert body["type"] == "urn:polis:problem:claim-not-found"
    assert _files(documents_dir) == []
    response = await client.get(f"{CLAIMS}/{unknown}/documents", headers=headers)
    assert response.status_code == 404
    response = await client.get(f"{CLAIMS}/{claim_id}/documents/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    assert response.json()["type"] == "urn:polis:problem:document-not-found"
    # A document of another claim is not found under this one.
    other = await _claim(session)
    status, doc = await _upload(client, headers, other, pdf_bytes(), "a.pdf", "application/pdf")
    assert status == 201
    response = await client.get(f"{CLAIMS}/{claim_id}/documents/{doc['id']}", headers=headers)
    assert response.status_code == 404
    assert (await client.get(f"{CLAIMS}/{claim_id}/documents", headers=headers)).json() == []


async def test_permissions(app_client: tuple[FastAPI, AsyncClient], session: AsyncSession) -> None:
    _, client = app_client
    claim_id = await _claim(session)
    url = f"{CLAIMS}/{claim_id}/documents"
    assert (await client.get(url)).status_code == 401
    _, member = await signed_in(client, session, role="MEMBER")
    status, body = await _upload(client, member, claim_id, pdf_bytes(), "a.pdf", "application/pdf")
    assert status == 403
    assert "documents:write" in str(body["detail"])
    response = await client.get(url, headers=member)
    assert response.status_code == 403
    assert "documents:read" in response.json()["detail"]
    assert await _rows(session) == 0
