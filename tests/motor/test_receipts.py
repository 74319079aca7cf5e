"""Motor receipts and tax invoices (decision 0049): one receipt per paid premium payment,
gap-free increasing numbers, VAT shown with parts that sum exactly, amount in Thai words,
Buddhist-era dates, the PDF in Thai and English read back with pypdf."""

from __future__ import annotations

import io
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import policy_rules, receipts
from polis.motor.models import MotorPayment, PaymentReceipt
from polis.motor.quotes import today_bangkok
from tests.motor.test_policies_api import PAYMENTS, bound_policy, confirm, staff

NUMBER = re.compile(r"^RC-(\d{4})-(\d{7})$")


def pdf_text(data: bytes) -> str:
    """The PDF's text, C0 control characters dropped (fpdf2's shaped Thai maps a few
    zero-width glyphs to control characters in ToUnicode; the letters are all there)."""
    reader = PdfReader(io.BytesIO(data))
    raw = "\n".join(page.extract_text() for page in reader.pages)
    return re.sub(r"[\x00-\x08\x0b-\x1f]", "", raw)


def pdf_fonts(data: bytes) -> set[str]:
    reader = PdfReader(io.BytesIO(data))
    names = set()
    for page in reader.pages:
        fonts: Any = page["/Resources"]["/Font"]
        for ref in fonts.values():
            names.add(str(ref.get_object()["/BaseFont"]))
    return names


async def receipt_count(session: AsyncSession, payment_id: str) -> int:
    return int(
        await session.scalar(
            text("select count(*) from motor.payment_receipts where payment_id = :p"),
            {"p": payment_id},
        )
        or 0
    )


async def paid_cmi(client: AsyncClient, headers: dict[str, str], **kw: Any) -> dict[str, Any]:
    policy = await bound_policy(client, headers, **kw)
    reference = f"KBANK-{uuid.uuid4().hex[:12]}"
    response = await confirm(client, headers, policy["payments"][0], reference)
    assert response.status_code == 200, response.text
    return policy


# --- pure rules ------------------------------------------------------------------------------


def test_receipt_number_format() -> None:
    assert receipts.receipt_number(2026, 1) == "RC-2026-0000001"
    assert receipts.receipt_number(2026, 9_999_999) == "RC-2026-9999999"
    with pytest.raises(ValueError):
        receipts.receipt_number(2026, 0)


def test_full_payment_carries_the_policy_fees() -> None:
    split = receipts.split_amount(
        amount=Decimal("645.21"),
        premium=Decimal("645.21"),
        stamp_duty=Decimal("3.00"),
        vat=Decimal("42.21"),
    )
    assert (split.net_premium, split.stamp_duty, split.vat) == (
        Decimal("600.00"),
        Decimal("3.00"),
        Decimal("42.21"),
    )
    assert split.amount_before_vat == Decimal("603.00")


def test_amount_in_words() -> None:
    assert receipts.amount_in_words(Decimal("645.21"), "th") == "หกร้อยสี่สิบห้าบาทยี่สิบเอ็ดสตางค์"
    assert receipts.amount_in_words(Decimal("1000.00"), "th") == "หนึ่งพันบาทถ้วน"
    assert (
        receipts.amount_in_words(Decimal("645.21"), "en")
        == "Six hundred forty-five baht and twenty-one satang"
    )
    assert receipts.amount_in_words(Decimal("1000000.00"), "en") == "One million baht only"


def test_buddhist_era_dates() -> None:
    assert receipts.buddhist_date(date(2026, 1, 5), "th") == "5 มกราคม 2569"
    assert receipts.buddhist_date(date(2026, 1, 5), "en") == "5 January 2026"


@settings(max_examples=200, deadline=None)
@given(
    net=st.decimals(min_value="100.00", max_value="200000.00", places=2),
    plan=st.sampled_from(["FULL", "INSTALLMENT_6", "INSTALLMENT_12"]),
)
def test_instalment_shares_sum_exactly(net: Decimal, plan: str) -> None:
    from polis.motor import rating

    stamp, vat = (f.amount for f in rating.fees_for(net))
    premium = net + stamp + vat
    schedule = policy_rules.schedule(premium, plan, date(2026, 1, 1), 12)
    before = Decimal("0.00")
    parts = []
    for item in schedule:
        split = receipts.split_amount(
            amount=item.amount, premium=premium, stamp_duty=stamp, vat=vat, paid_before=before
        )
        assert split.net_premium + split.stamp_duty + split.vat == item.amount
        assert split.amount_before_vat + split.vat == item.amount
        assert min(split.net_premium, split.stamp_duty, split.vat) >= 0
        parts.append(split)
        before += item.amount
    assert sum(p.vat for p in parts) == vat
    assert sum(p.stamp_duty for p in parts) == stamp
    assert sum(p.net_premium for p in parts) == net


# --- issuing -----------------------------------------------------------------------------------


class TestIssue:
    async def test_a_paid_payment_gets_one_receipt(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        assert await receipt_count(session, payment["id"]) == 0
        first = await confirm(client, headers, payment, f"KBANK-{policy['policy_number']}")
        assert first.status_code == 200
        again = await confirm(client, headers, payment, f"KBANK-{policy['policy_number']}")
        assert again.status_code == 200
        assert await receipt_count(session, payment["id"]) == 1
        row = (
            await session.execute(
                select(PaymentReceipt).where(PaymentReceipt.payment_id == payment["id"])
            )
        ).scalar_one()
        assert row.receipt_type == "TAX_INVOICE"
        assert row.tax_invoice_number == row.receipt_number
        assert row.vat_amount == Decimal("42.21")
        assert row.delivery_method == "DOWNLOAD" and row.delivered_at is None
        assert row.language == "th"
        assert row.issued_date == today_bangkok()
        # Lazy rendering (decision 0049 "Amended"): the row is issued with the payment, its PDF
        # on first request.
        assert row.file_path is None
        # The service itself is idempotent too (the gateway's callbacks reach it the same way).
        pay = (
            await session.execute(select(MotorPayment).where(MotorPayment.id == payment["id"]))
        ).scalar_one()
        same = await receipts.issue_receipt(session, pay)
        assert same is not None and same.id == row.id
        assert await receipt_count(session, payment["id"]) == 1

    async def test_pending_payment_has_no_receipt(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers)
        payment = policy["payments"][0]
        response = await client.get(f"{PAYMENTS}/{payment['id']}/receipt", headers=headers)
        assert response.status_code == 404
        assert response.json()["type"].endswith("receipt-not-found")
        missing = "00000000-0000-4000-8000-000000000000"
        response = await client.get(f"{PAYMENTS}/{missing}/receipt", headers=headers)
        assert response.status_code == 404
        pay = (
            await session.execute(select(MotorPayment).where(MotorPayment.id == payment["id"]))
        ).scalar_one()
        assert await receipts.issue_receipt(session, pay) is None
        assert await receipt_count(session, payment["id"]) == 0

    async def test_numbers_are_unique_and_increasing(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        numbers = []
        for _ in range(3):
            policy = await paid_cmi(client, headers)
            body = (
                await client.get(
                    f"{PAYMENTS}/{policy['payments'][0]['id']}/receipt", headers=headers
                )
            ).json()
            numbers.append(body["receipt_number"])
        parsed = [NUMBER.match(n) for n in numbers]
        assert all(parsed)
        year = today_bangkok().year
        serials = [int(m.group(2)) for m in parsed if m and int(m.group(1)) == year]
        assert len(serials) == 3
        assert serials == sorted(serials) and len(set(serials)) == 3
        assert serials[2] - serials[0] == 2  # consecutive: no gaps

    async def test_a_rolled_back_number_is_given_back(self, session: AsyncSession) -> None:
        savepoint = await session.begin_nested()
        first = await receipts.next_receipt_number(session, 2031)
        await savepoint.rollback()
        again = await receipts.next_receipt_number(session, 2031)
        assert first == again == "RC-2031-0000001"
        assert await receipts.next_receipt_number(session, 2031) == "RC-2031-0000002"

    async def test_instalment_receipts_share_the_vat_exactly(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await bound_policy(client, headers, plan="INSTALLMENT_6")
        assert len(policy["payments"]) == 6
        vat = stamp = total = Decimal("0.00")
        for index, payment in enumerate(policy["payments"]):
            response = await confirm(
                client, headers, payment, f"INST-{index}-{uuid.uuid4().hex[:8]}"
            )
            assert response.status_code == 200, response.text
            body = (await client.get(f"{PAYMENTS}/{payment['id']}/receipt", headers=headers)).json()
            amount = Decimal(body["amount"])
            assert amount == Decimal(payment["total_amount"])
            assert Decimal(body["amount_before_vat"]) + Decimal(body["vat_amount"]) == amount
            assert Decimal(body["net_premium"]) + Decimal(body["stamp_duty"]) == Decimal(
                body["amount_before_vat"]
            )
            assert "6" in body["description"]
            vat += Decimal(body["vat_amount"])
            stamp += Decimal(body["stamp_duty"])
            total += amount
        assert (total, stamp, vat) == (Decimal("645.21"), Decimal("3.00"), Decimal("42.21"))


# --- the API -----------------------------------------------------------------------------------


class TestReceiptApi:
    async def test_json_in_thai_and_english(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid_cmi(client, headers)
        url = f"{PAYMENTS}/{policy['payments'][0]['id']}/receipt"
        body = (await client.get(url, headers=headers)).json()
        assert NUMBER.match(body["receipt_number"])
        assert body["receipt_type"] == "TAX_INVOICE"
        assert body["policy_number"] == policy["policy_number"]
        assert (
            body["amount"],
            body["net_premium"],
            body["stamp_duty"],
            body["amount_before_vat"],
            body["vat_amount"],
        ) == ("645.21", "600.00", "3.00", "603.00", "42.21")
        assert body["amount_in_words"] == "หกร้อยสี่สิบห้าบาทยี่สิบเอ็ดสตางค์"
        assert body["issued_date_text"].endswith(str(today_bangkok().year + 543))
        assert body["seller"]["tax_id"] == "0105550000001"
        assert body["seller"]["branch"] == "สำนักงานใหญ่"
        assert body["buyer"]["name"] == "สมชาย ใจดี"
        assert body["display_language"] == "th"
        english = (await client.get(url, params={"lang": "en"}, headers=headers)).json()
        assert english["amount_in_words"] == "Six hundred forty-five baht and twenty-one satang"
        assert english["buyer"]["name"] == "Somchai Jaidee"
        assert english["seller"]["name"] == "Polis Insurance Public Company Limited"
        assert english["receipt_number"] == body["receipt_number"]

    async def test_thai_pdf(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid_cmi(client, headers)
        payment_id = policy["payments"][0]["id"]
        url = f"{PAYMENTS}/{payment_id}/receipt"
        number = (await client.get(url, headers=headers)).json()["receipt_number"]
        response = await client.get(url, params={"format": "pdf"}, headers=headers)
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/pdf"
        assert (
            f"filename*=UTF-8''receipt-{number}-th.pdf" in (response.headers["content-disposition"])
        )
        content = pdf_text(response.content)
        assert "ใบเสร็จรับเงิน" in content and "ใบกำกับภาษี" in content
        assert "หกร้อยสี่สิบห้าบาทยี่สิบเอ็ดสตางค์" in content
        assert str(today_bangkok().year + 543) in content
        assert policy["policy_number"] in content and number in content
        assert "0105550000001" in content  # seller tax id
        assert "บริษัท โพลิส ประกันภัย จำกัด (มหาชน)" in content
        assert "มูลค่าก่อนภาษีมูลค่าเพิ่ม" in content and "603.00" in content
        assert "ภาษีมูลค่าเพิ่ม 7%" in content and "42.21" in content
        assert "สมชาย ใจดี" in content
        assert any(name.endswith("+Sarabun") for name in pdf_fonts(response.content))
        delivered = await session.scalar(
            text("select delivered_at from motor.payment_receipts where payment_id = :p"),
            {"p": payment_id},
        )
        assert delivered is not None
        # The first PDF request rendered and stored version 1; the next one hands it out as is.
        stored = (
            await session.execute(
                text(
                    "select r.file_path, d.version_number from motor.payment_receipts r"
                    " join motor.policy_documents d on d.file_path = r.file_path"
                    " and d.document_type = 'RECEIPT' where r.payment_id = :p"
                ),
                {"p": payment_id},
            )
        ).all()
        assert len(stored) == 1 and stored[0][1] == 1
        again = await client.get(url, params={"format": "pdf"}, headers=headers)
        assert again.content == response.content

    async def test_english_pdf(self, client: AsyncClient, session: AsyncSession) -> None:
        headers = await staff(client, session)
        policy = await paid_cmi(client, headers)
        url = f"{PAYMENTS}/{policy['payments'][0]['id']}/receipt"
        response = await client.get(url, params={"format": "pdf", "lang": "en"}, headers=headers)
        assert response.status_code == 200
        content = pdf_text(response.content)
        for label in (
            "Receipt / Tax Invoice",
            "Tax invoice number",
            "Amount before VAT",
            "VAT 7%",
            "Six hundred forty-five baht and twenty-one satang",
            "Polis Insurance Public Company Limited",
            "Somchai Jaidee",
            str(today_bangkok().year),
            policy["policy_number"],
        ):
            assert label in content, label

    async def test_permissions_and_bad_input(
        self, client: AsyncClient, session: AsyncSession
    ) -> None:
        headers = await staff(client, session)
        policy = await paid_cmi(client, headers)
        url = f"{PAYMENTS}/{policy['payments'][0]['id']}/receipt"
        surveyor = await staff(client, session, role="SURVEYOR")
        assert (await client.get(url, headers=surveyor)).status_code == 403
        assert (await client.get(url)).status_code == 401
        response = await client.get(url, params={"lang": "fr"}, headers=headers)
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
