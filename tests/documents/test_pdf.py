"""PDF helpers: money and date formatting per language, and a document that pypdf reads."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal

import pypdf
from hypothesis import given
from hypothesis import strategies as st

from polis.documents import pdf

D = Decimal


def test_money_per_language() -> None:
    assert pdf.money(D("1234567"), "IDR", "id") == "Rp 1.234.567,00"
    assert pdf.money(D("1234567"), "IDR", "en") == "IDR 1,234,567.00"
    assert pdf.money(D("0"), "IDR", "id") == "Rp 0,00"
    assert pdf.money(D("999.995"), "IDR", "en") == "IDR 1,000.00"  # ROUND_HALF_UP
    assert pdf.money(D("-1234.5"), "IDR", "id") == "Rp -1.234,50"
    assert pdf.money(D("100"), "THB", "en") == "THB 100.00"
    assert pdf.money(None) == "-"


@given(st.decimals(min_value=-(10**13), max_value=10**13, places=2))
def test_grouped_amounts_read_back(amount: Decimal) -> None:
    text = pdf.group_digits(amount, group=".", decimal=",")
    assert Decimal(text.replace(".", "").replace(",", ".")) == amount
    whole = text.lstrip("-").split(",")[0]
    assert all(len(g) == 3 for g in whole.split(".")[1:])
    assert 1 <= len(whole.split(".")[0]) <= 3


def test_long_date() -> None:
    assert pdf.long_date(date(2025, 3, 10), "id") == "10 Maret 2025"
    assert pdf.long_date(date(2025, 3, 10), "en") == "10 March 2025"
    assert pdf.long_date(None) == "-"


def test_latin1_fallback() -> None:
    assert pdf.latin1("Siti Rahmā") == "Siti Rahma"
    assert pdf.latin1("José") == "José"
    assert pdf.latin1("中") == "?"


def test_document_renders_text_pypdf_reads() -> None:
    doc = pdf.new_document(title="Penjelasan Manfaat", subtitle="EOB-2025-X", lang="id")
    pdf.key_values(doc, [("Nomor klaim", "CLM-2025-ABC"), ("Peserta", "Siti Rahmā")])
    pdf.heading(doc, "Rincian")
    rows = [["OP-GP", pdf.money(D("315000"), "IDR", "id")] for _ in range(80)]
    pdf.table(doc, ["Manfaat", "Dibayar"], rows, col_widths=(60, 40), align=("L", "R"))
    pdf.paragraph(doc, "Dokumen ini bukan tagihan.")
    data = pdf.render(doc)
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 2  # the table ran over a page
    first = reader.pages[0].extract_text()
    for text in ("Penjelasan Manfaat", "CLM-2025-ABC", "Siti Rahma", "Rp 315.000,00"):
        assert text in first
    assert "Halaman 1 dari" in first
    assert reader.metadata is not None and reader.metadata.title == "Penjelasan Manfaat"
    last = reader.pages[-1].extract_text()
    assert "Dokumen ini bukan tagihan." in last
