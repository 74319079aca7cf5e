"""Motor policy documents (decision 0049): schedule, CMI certificate and receipt due once the
policy is paid, rendered and stored on first request (lazily), with versions; list, download
(PDF, RFC 6266 name), regenerate as version n+1; Thai shaped with the vendored Sarabun; 404s
and permissions."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

from httpx import AsyncClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.documents import pdf
from polis.motor import documents
from polis.motor.quotes import today_bangkok
from tests.motor.test_policies_api import POLICIES, bound_policy, confirm, staff
from tests.motor.test_receipts import pdf_fonts, pdf_text


async def paid(client: AsyncClient, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    policy = await bound_policy(client, headers, **kw)
    reference = f"BANK-{uuid.uuid4().hex[:12]}"
    response = await confirm(client, headers, policy["payments"][0], reference)
    assert response.status_code == 200, response.text
    return policy


async def listing(client: AsyncClient, headers: dict[str, str], number: str) -> dict[str, Any]:
    response = await client.get(f"{POLICIES}/{number}/documents", headers=headers)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def download(
    client: AsyncClient, headers: dict[str, str], number: str, document_id: str
) -> Any:
    return await client.get(f"{POLICIES}/{number}/documents/{document_id}", headers=headers)


def by_type(docs: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [d for d in docs if d["document_type"] == kind]


def test_thai_shaping_is_on_and_text_survives() -> None:
    doc = pdf.new_document(
        title="ตารางกรมธรรม์",
        lang="th",
        font_path=pdf.SARABUN_REGULAR,
        bold_font_path=pdf.SARABUN_BOLD,
        text_shaping=True,
    )
    assert doc.text_shaping  # uharfbuzz shaping enabled
    line = "ผู้เอาประกันภัย น้ำท่วม กำหนดชำระ ใบกำกับภาษี"
    pdf.paragraph(doc, line)
    data = pdf.render(doc)
    assert line in pdf_text(data)
    assert any(name.endswith("+Sarabun") for name in pdf_fonts(data))
    # The health EOB's default (no font given) is unchanged: core Helvetica, no shaping.
    plain = pdf.new_document(title="Explanation of Benefits")
    assert not plain.text_shaping and plain.body_font == pdf.CORE_FONT


def test_thai_long_date_is_buddhist_era() -> None:
    from datetime import date

    assert pdf.long_date(date(2026, 12, 31), "th") == "31 ธันวาคม 2569"
    assert pdf.long_date(date(2026, 12, 31), "id") == "31 Desember 2026"


class TestActivationDocuments:
    async def test_a_draft_policy_has_none(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        body = await listing(client, headers, policy["policy_number"])
        assert body == {"policy_number": policy["policy_number"], "latest": [], "history": []}

    async def test_paying_makes_schedule_certificate_and_receipt(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        # Lazy rendering (decision 0049 "Amended"): the payment stores no PDF; the first read
        # renders version 1 of each document due (schedule, certificate, receipt).
        stored = await session.scalar(
            text("select count(*) from motor.policy_documents where policy_id = :p"),
            {"p": policy["id"]},
        )
        assert stored == 0
        body = await listing(client, headers, number)
        kinds = sorted(d["document_type"] for d in body["latest"])
        assert kinds == ["CERTIFICATE", "RECEIPT", "SCHEDULE"]
        assert len(body["history"]) == 3
        for doc in body["latest"]:
            assert doc["language"] == "th" and doc["version_number"] == 1
            assert doc["mime_type"] == "application/pdf" and doc["is_official"] is True
            assert re.fullmatch(r"[0-9a-f]{64}", doc["sha256"]) and doc["file_size"] > 1000
            assert doc["template_version"] == documents.TEMPLATE_VERSION
        schedule = by_type(body["latest"], "SCHEDULE")[0]
        assert schedule["document_name"] == f"schedule-{number}-th.pdf"
        # A second payment confirmation changes nothing.
        again = await confirm(client, headers, policy["payments"][0], "X-" + uuid.uuid4().hex[:8])
        assert again.status_code == 409
        assert len((await listing(client, headers, number))["history"]) == 3
        rows = await session.scalar(
            text("select count(*) from motor.policy_documents where policy_id = :p"),
            {"p": policy["id"]},
        )
        assert rows == 3

    async def test_schedule_pdf(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        schedule = by_type((await listing(client, headers, number))["latest"], "SCHEDULE")[0]
        response = await download(client, headers, number, schedule["id"])
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        disposition = response.headers["content-disposition"]
        assert disposition.startswith("attachment; ")
        assert f"filename*=UTF-8''schedule-{number}-th.pdf" in disposition
        assert response.headers["x-content-type-options"] == "nosniff"
        content = pdf_text(response.content)
        for text_ in (
            "ตารางกรมธรรม์ประกันภัยรถยนต์",
            number,
            "สมชาย ใจดี",
            "ประกันภัยรถยนต์ภาคบังคับ (พ.ร.บ.)",
            "เบี้ยประกันภัยสุทธิ",
            "600.00",
            "อากรแสตมป์",
            "3.00",
            "ภาษีมูลค่าเพิ่ม 7%",
            "42.21",
            "645.21",
            str(today_bangkok().year + 543),
        ):
            assert text_ in content, text_
        assert any(name.endswith("+Sarabun") for name in pdf_fonts(response.content))

    async def test_cmi_certificate_pdf(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        cert = by_type((await listing(client, headers, number))["latest"], "CERTIFICATE")[0]
        response = await download(client, headers, number, cert["id"])
        content = pdf_text(response.content)
        for text_ in (
            "หนังสือรับรองการประกันภัย",
            number,
            "30,000.00",
            "35,000.00",
            "80,000.00",
            "500,000.00",
            "200.00 บาทต่อวัน ไม่เกิน 20 วัน",
        ):
            assert text_ in content, text_

    async def test_english_regeneration_and_versions(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        url = f"{POLICIES}/{number}/documents/regenerate"
        first = await client.post(
            url, json={"document_type": "SCHEDULE", "language": "en"}, headers=headers
        )
        assert first.status_code == 201, first.text
        assert first.json()["version_number"] == 1
        assert first.json()["document_name"] == f"schedule-{number}-en.pdf"
        second = await client.post(
            url, json={"document_type": "SCHEDULE", "language": "en"}, headers=headers
        )
        assert second.json()["version_number"] == 2
        thai = await client.post(
            url, json={"document_type": "SCHEDULE", "language": "th"}, headers=headers
        )
        assert thai.json()["version_number"] == 2
        body = await listing(client, headers, number)
        latest = {d["document_name"]: d for d in body["latest"]}
        assert latest[f"schedule-{number}-en.pdf"]["id"] == second.json()["id"]
        assert latest[f"schedule-{number}-th.pdf"]["id"] == thai.json()["id"]
        assert len(body["history"]) == 6  # schedule th x2, en x2, certificate, receipt
        old = await download(client, headers, number, first.json()["id"])
        assert old.status_code == 200
        content = pdf_text(old.content)
        for label in (
            "Motor Insurance Policy Schedule",
            "Policy number",
            "Period of insurance",
            "Net premium",
            "Stamp duty",
            "VAT 7%",
            "Total premium",
            "Somchai Jaidee",
            number,
        ):
            assert label in content, label
        newest = await download(client, headers, number, second.json()["id"])
        assert "-v2.pdf" in newest.headers["content-disposition"]

    async def test_receipt_regeneration(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        url = f"{POLICIES}/{number}/documents/regenerate"
        payment_id = policy["payments"][0]["id"]
        response = await client.post(
            url,
            json={"document_type": "RECEIPT", "language": "th", "payment_id": payment_id},
            headers=headers,
        )
        assert response.status_code == 201, response.text
        assert response.json()["version_number"] == 2
        missing = await client.post(
            url, json={"document_type": "RECEIPT", "language": "en"}, headers=headers
        )
        assert missing.status_code == 422
        assert missing.json()["errors"][0]["field"] == "body.payment_id"
        other = await paid(client, headers)
        foreign = await client.post(
            url,
            json={
                "document_type": "RECEIPT",
                "language": "th",
                "payment_id": other["payments"][0]["id"],
            },
            headers=headers,
        )
        assert foreign.status_code == 404


class TestErrors:
    async def test_404s(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        assert (
            await client.get(f"{POLICIES}/MTR-NOPE/documents", headers=headers)
        ).status_code == 404
        missing = "00000000-0000-4000-8000-000000000000"
        assert (await download(client, headers, number, missing)).status_code == 404
        other = await paid(client, headers)
        doc = (await listing(client, headers, other["policy_number"]))["latest"][0]
        response = await download(client, headers, number, doc["id"])
        assert response.status_code == 404
        assert response.headers["content-type"].startswith("application/problem+json")
        response = await client.post(
            f"{POLICIES}/MTR-NOPE/documents/regenerate",
            json={"document_type": "SCHEDULE", "language": "th"},
            headers=headers,
        )
        assert response.status_code == 404

    async def test_bad_regeneration_is_422_and_writes_nothing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        url = f"{POLICIES}/{number}/documents/regenerate"
        for body in (
            {"document_type": "POLICY", "language": "th"},
            {"document_type": "SCHEDULE", "language": "fr"},
            {"document_type": "SCHEDULE", "language": "th", "extra": 1},
        ):
            response = await client.post(url, json=body, headers=headers)
            assert response.status_code == 422, body
        assert len((await listing(client, headers, number))["history"]) == 3

    async def test_certificate_only_for_cmi(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers, policy_type="CLASS_3", options={})
        number = policy["policy_number"]
        body = await listing(client, headers, number)
        assert sorted(d["document_type"] for d in body["latest"]) == ["RECEIPT", "SCHEDULE"]
        response = await client.post(
            f"{POLICIES}/{number}/documents/regenerate",
            json={"document_type": "CERTIFICATE", "language": "th"},
            headers=headers,
        )
        assert response.status_code == 422
        assert response.json()["errors"][0]["type"] == "not_cmi"
        schedule = by_type(body["latest"], "SCHEDULE")[0]
        content = pdf_text((await download(client, headers, number, schedule["id"])).content)
        assert "ประเภท 3" in content
        assert Decimal(policy["total_premium"]) > 0

    async def test_permissions(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid(client, headers)
        number = policy["policy_number"]
        doc = (await listing(client, headers, number))["latest"][0]
        customer = await staff(client, session, role="CUSTOMER")
        assert (
            await client.get(f"{POLICIES}/{number}/documents", headers=customer)
        ).status_code == 403
        assert (await download(client, customer, number, doc["id"])).status_code == 403
        surveyor = await staff(client, session, role="SURVEYOR")  # reads, cannot write
        assert (await download(client, surveyor, number, doc["id"])).status_code == 200
        response = await client.post(
            f"{POLICIES}/{number}/documents/regenerate",
            json={"document_type": "SCHEDULE", "language": "th"},
            headers=surveyor,
        )
        assert response.status_code == 403
        assert (await client.get(f"{POLICIES}/{number}/documents")).status_code == 401
