"""OCR (polis.documents.ocr): Thai and English from a generated image, a PDF's own text
layer, a scanned-image PDF, multi-frame TIFF, refusals; the engine and models come from the
tesserocr wheel and the vendored tessdata (no system Tesseract)."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import pytest
from fpdf import FPDF
from PIL import Image, ImageDraw, ImageFont

from polis.documents import ocr
from polis.documents.pdf import SARABUN_REGULAR

THAI_LINE = "อุบัติเหตุรถชนที่สี่แยก"
ENGLISH_LINE = "Rear bumper damaged"


def text_image(lines: tuple[str, ...] = (THAI_LINE, ENGLISH_LINE), size: int = 40) -> Image.Image:
    """Black text in Sarabun on white, one line each (small: OCR stays fast)."""
    font = ImageFont.truetype(str(SARABUN_REGULAR), size)
    image = Image.new("RGB", (size * 16, int(size * 1.6) * len(lines) + size), "white")
    draw = ImageDraw.Draw(image)
    for i, line in enumerate(lines):
        draw.text((size // 2, size // 2 + i * int(size * 1.6)), line, font=font, fill="black")
    return image


def encoded(image: Image.Image, fmt: str, **kw: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kw)
    return out.getvalue()


def text_layer_pdf(text: str) -> bytes:
    """A PDF whose page carries real text (fpdf2, Sarabun). Not shaped: fpdf2's shaped Thai
    maps some marks out of order in the text layer (decision 0052), unshaped text keeps the
    logical order."""
    pdf = FPDF()
    pdf.add_page()
    pdf.add_font("Sarabun", fname=str(SARABUN_REGULAR))
    pdf.set_font("Sarabun", size=14)
    pdf.set_text_shaping(False)
    pdf.multi_cell(0, 8, text)
    return bytes(pdf.output())


def scanned_pdf(image: Image.Image) -> bytes:
    """A PDF whose only page is a picture of text (no text layer): a scan."""
    pdf = FPDF()
    pdf.add_page()
    pdf.image(image, x=10, y=10, w=150)
    return bytes(pdf.output())


def test_the_engine_is_the_bundled_tesseract_with_the_vendored_models() -> None:
    assert ocr.engine_version() == "tesseract 5.5.4"
    assert (ocr.TESSDATA / "tha.traineddata").stat().st_size > 500_000
    assert (ocr.TESSDATA / "eng.traineddata").stat().st_size > 1_000_000
    assert (ocr.TESSDATA / "README.md").read_text().count("Apache") >= 1


def test_png_with_thai_and_english_text_finds_its_words() -> None:
    result = ocr.extract_text(encoded(text_image(), "PNG"), "image/png")
    assert "อุบัติเหตุ" in result.text
    assert "รถชน" in result.text
    assert "แยก" in result.text
    assert "Rear bumper damaged" in result.text
    summary = result.summary()
    assert summary["languages"] == "tha+eng"
    assert summary["engine"] == "tesseract 5.5.4"
    assert summary["pages"] == 1
    assert summary["page_info"][0]["source"] == "ocr"
    assert summary["page_info"][0]["confidence"] > 60


def test_jpeg_and_transparent_png_are_read() -> None:
    jpeg = ocr.extract_text(encoded(text_image((ENGLISH_LINE,)), "JPEG", quality=90), "image/jpeg")
    assert "bumper" in jpeg.text
    rgba = Image.new("RGBA", (700, 120), (0, 0, 0, 0))
    rgba.alpha_composite(text_image((ENGLISH_LINE,)).convert("RGBA").resize((700, 120)))
    transparent = Image.new("RGBA", (700, 120), (0, 0, 0, 0))
    ImageDraw.Draw(transparent).text(
        (20, 30), ENGLISH_LINE, font=ImageFont.truetype(str(SARABUN_REGULAR), 40), fill="black"
    )
    assert "bumper" in ocr.extract_text(encoded(transparent, "PNG"), "image/png").text


def test_multi_frame_tiff_is_read_page_by_page() -> None:
    first, second = text_image(("หน้าแรก",)), text_image(("Second page",))
    data = encoded(first, "TIFF", save_all=True, append_images=[second])
    result = ocr.extract_text(data, "image/tiff")
    assert result.page_count == 2
    assert "Second page" in result.pages[1].text
    assert "\f" in result.text


def test_pdf_text_layer_is_used_as_is_without_ocr() -> None:
    data = text_layer_pdf("ใบแจ้งความ สถานีตำรวจนครบาลลุมพินี Police report 123/2569")
    result = ocr.extract_text(data, "application/pdf")
    assert result.pages[0].source == "text-layer"
    assert result.pages[0].confidence is None
    assert "สถานีตำรวจนครบาลลุมพินี" in result.text
    assert "Police report 123/2569" in result.text
    assert result.summary()["ocr_pages"] == 0


def test_scanned_pdf_page_is_rendered_and_ocred() -> None:
    data = scanned_pdf(text_image())
    result = ocr.extract_text(data, "application/pdf")
    assert result.pages[0].source == "ocr"
    assert "อุบัติเหตุ" in result.text
    assert "bumper" in result.text
    assert result.summary()["ocr_pages"] == 1


@pytest.mark.parametrize(
    ("data", "mime"),
    [
        (b"not an image at all", "image/png"),
        (b"%PDF-1.7 broken", "application/pdf"),
        (b"\x00" * 64, "video/mp4"),
    ],
)
def test_unreadable_input_is_an_ocr_error(data: bytes, mime: str) -> None:
    with pytest.raises(ocr.OcrError):
        ocr.extract_text(data, mime)


def test_calls_from_several_threads_are_served_one_at_a_time() -> None:
    data = encoded(text_image((ENGLISH_LINE,), size=32), "PNG")
    results: list[str] = []

    def work() -> None:
        results.append(ocr.extract_text(data, "image/png").text)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 3
    assert all("bumper" in r for r in results)


def test_vendored_tessdata_is_package_data() -> None:
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text()
    assert '"documents/tessdata/*"' in pyproject
