"""PDF rendering helpers on fpdf2, shared by the product lines (EOBs, receipts, letters).

    pdf = new_document(title="Explanation of Benefits", subtitle="EOB-2025-...", lang="en")
    key_values(pdf, [("Claim number", "CLM-2025-..."), ("Member", "Siti Rahayu")])
    table(pdf, ["Benefit", "Charged"], [["OP-GP", money(Decimal("1000000"), "IDR", "en")]],
          col_widths=(60, 30), align=("L", "R"))
    data = render(pdf)

Pages are A4 portrait, millimetres, 15 mm margins, page numbers in the footer. Text uses
the built-in Helvetica (Latin-1; other characters are transliterated where Unicode allows,
else replaced by '?'), or a TrueType font passed as `font_path` (needed for Thai script).
Thai documents pass the vendored Sarabun (`SARABUN_REGULAR`, `SARABUN_BOLD`) and
`text_shaping=True`: uharfbuzz then places Thai vowels and tone marks (decision 0049).
Thai dates are Buddhist era: `long_date(d, "th")` -> `5 มกราคม 2569` (Gregorian + 543).

Amounts are formatted explicitly, without babel: Indonesian `Rp 1.234.567,00`, English
`IDR 1,234,567.00`; any other currency `<CODE> 1,234.00`. Dates: `10 Maret 2025` /
`10 March 2025`.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF
from fpdf.enums import XPos, YPos

from polis.platform.money import quantize

MARGIN = 15.0
CORE_FONT = "helvetica"
UNICODE_FONT = "polis-unicode"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
SARABUN_REGULAR = FONT_DIR / "Sarabun-Regular.ttf"
SARABUN_BOLD = FONT_DIR / "Sarabun-Bold.ttf"
BUDDHIST_ERA_OFFSET = 543

MONTHS = {
    "en": (
        "January", "February", "March", "April", "May", "June", "July",
        "August", "September", "October", "November", "December",
    ),
    "id": (
        "Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli",
        "Agustus", "September", "Oktober", "November", "Desember",
    ),
    "th": (
        "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน", "กรกฎาคม",
        "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
    ),
}  # fmt: skip
_PAGE = {
    "en": "Page {page} of {pages}",
    "id": "Halaman {page} dari {pages}",
    "th": "หน้า {page} จาก {pages}",
}


def group_digits(amount: Decimal, *, group: str, decimal: str, places: int = 2) -> str:
    """`amount` rounded to `places` (ROUND_HALF_UP) with thousands grouped: 1234567.5 ->
    '1.234.567,50' for group='.', decimal=','."""
    text = f"{quantize(amount, places):.{places}f}"
    sign = "-" if text.startswith("-") else ""
    whole, _, fraction = text.lstrip("-").partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    body = group.join(groups)
    return sign + (body + decimal + fraction if places else body)


def money(amount: Decimal | None, currency: str = "IDR", lang: str = "en") -> str:
    """An amount for people: `Rp 1.234.567,00` (IDR, Indonesian), `IDR 1,234,567.00`
    (IDR, English), `<CODE> 1,234.00` otherwise; '-' for None."""
    if amount is None:
        return "-"
    if currency == "IDR" and lang == "id":
        return "Rp " + group_digits(amount, group=".", decimal=",")
    return f"{currency} " + group_digits(amount, group=",", decimal=".")


def long_date(value: date | datetime | None, lang: str = "en") -> str:
    """`10 Maret 2025` / `10 March 2025` / `10 มีนาคม 2568` (Thai: Buddhist era); '-' for
    None."""
    if value is None:
        return "-"
    months = MONTHS.get(lang, MONTHS["en"])
    year = value.year + BUDDHIST_ERA_OFFSET if lang == "th" else value.year
    return f"{value.day} {months[value.month - 1]} {year}"


def latin1(text: str) -> str:
    """`text` in the Latin-1 the core fonts can draw: accents kept where Latin-1 has them,
    others decomposed (NFKD) to their base letter, anything else '?'."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ord(ch) < 256:
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if ord(c) < 256)
        out.append(base or "?")
    return "".join(out)


class Document(FPDF):
    """An A4 page set-up with a title block on the first page and numbered footers."""

    def __init__(
        self,
        *,
        title: str,
        subtitle: str | None = None,
        lang: str = "en",
        font_path: Path | None = None,
        issuer: str = "Polis",
        bold_font_path: Path | None = None,
        text_shaping: bool = False,
    ) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.lang = lang
        self.doc_title = title
        self.doc_subtitle = subtitle
        self.issuer = issuer
        self.unicode_font = font_path is not None
        if font_path is not None:
            self.add_font(UNICODE_FONT, "", str(font_path))
            self.add_font(UNICODE_FONT, "B", str(bold_font_path or font_path))
            self.body_font = UNICODE_FONT
            if text_shaping:  # uharfbuzz: Thai marks placed, clusters kept
                self.set_text_shaping(True)
        else:
            self.body_font = CORE_FONT
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + 5)
        self.set_title(self.clean(title))
        self.set_author(issuer)
        self.set_creator("Polis (fpdf2)")
        self.set_lang(lang)
        self.alias_nb_pages()

    def clean(self, value: object) -> str:
        """A value as drawable text for the document's font."""
        string = "" if value is None else str(value)
        return string if self.unicode_font else latin1(string)

    def font(self, size: float = 10, bold: bool = False) -> None:
        """Switch to the document's font."""
        self.set_font(self.body_font, "B" if bold else "", size)

    def header(self) -> None:
        """Issuer line on every page; title and subtitle on the first."""
        self.font(8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.clean(self.issuer), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(0, 0, 0)
        if self.page_no() == 1:
            self.font(16, bold=True)
            self.cell(0, 9, self.clean(self.doc_title), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            if self.doc_subtitle:
                self.font(10)
                self.cell(0, 6, self.clean(self.doc_subtitle), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        y = self.get_y() + 1
        self.line(MARGIN, y, self.w - MARGIN, y)
        self.set_y(y + 3)

    def footer(self) -> None:
        """Page x of n."""
        self.set_y(-MARGIN)
        self.font(8)
        label = _PAGE.get(self.lang, _PAGE["en"]).format(page=self.page_no(), pages="{nb}")
        self.cell(0, 5, self.clean(label), align="C")


def new_document(
    *,
    title: str,
    subtitle: str | None = None,
    lang: str = "en",
    font_path: Path | None = None,
    issuer: str = "Polis",
    bold_font_path: Path | None = None,
    text_shaping: bool = False,
) -> Document:
    """A document with its first page added and the body font set."""
    pdf = Document(
        title=title,
        subtitle=subtitle,
        lang=lang,
        font_path=font_path,
        issuer=issuer,
        bold_font_path=bold_font_path,
        text_shaping=text_shaping,
    )
    pdf.add_page()
    pdf.font(10)
    return pdf


def heading(pdf: Document, text: str) -> None:
    """A bold section heading."""
    pdf.ln(2)
    pdf.font(11, bold=True)
    pdf.cell(0, 7, pdf.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(10)


def key_values(
    pdf: Document, pairs: Sequence[tuple[str, object]], *, label_width: float = 55
) -> None:
    """Label: value lines (labels bold), values wrapped when long."""
    for label, value in pairs:
        pdf.font(10, bold=True)
        pdf.cell(label_width, 6, pdf.clean(label))
        pdf.font(10)
        pdf.multi_cell(0, 6, pdf.clean(value), new_x=XPos.LMARGIN, new_y=YPos.NEXT)


def table(
    pdf: Document,
    headings: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    col_widths: Sequence[float] | None = None,
    align: Sequence[str] | None = None,
    font_size: float = 8,
) -> None:
    """A bordered table: bold headings (repeated on each page), one line per row; `align`
    per column ('L', 'C', 'R'), amounts right-aligned by the caller."""
    pdf.font(font_size)
    aligns = list(align or ["L"] * len(headings))
    with pdf.table(
        col_widths=tuple(col_widths) if col_widths else None,
        text_align=tuple(aligns),
        line_height=1.6 * font_size * 0.3528,  # points to mm, 1.6 line spacing
        first_row_as_headings=True,
        width=pdf.epw,
    ) as grid:
        head = grid.row()
        for text in headings:
            head.cell(pdf.clean(text))
        for values in rows:
            row = grid.row()
            for value in values:
                row.cell(pdf.clean(value))
    pdf.font(10)


def paragraph(pdf: Document, text: str, *, size: float = 9) -> None:
    """Wrapped text across the page."""
    pdf.font(size)
    pdf.multi_cell(0, size * 0.5, pdf.clean(text), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.font(10)


def render(pdf: Document) -> bytes:
    """The PDF file's bytes."""
    return bytes(pdf.output())
