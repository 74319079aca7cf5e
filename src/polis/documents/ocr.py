"""Text of scanned documents and photos: Tesseract OCR in Thai and English (decision 0052).

    result = extract_text(data, "application/pdf")
    result.text            # every page's text, pages separated by a form feed
    result.pages           # per page: where its text came from, characters, OCR confidence
    result.summary()       # what claim_documents.extracted_data["ocr"] records

- *Images* (PNG, JPEG, TIFF with all its frames, WebP, BMP: whatever Pillow opens) are
  OCRed with libtesseract through `tesserocr`, languages `tha+eng`.
- *PDFs* are read with pypdfium2. A page whose own text layer has text (a PDF made by a
  program) gives that text, exactly and at once; a page without (a scan) is rendered at
  300 dpi and OCRed.
- *Engine and models* come with the project: the `tesserocr` wheel bundles libtesseract
  5.5.4 and Leptonica, and the Thai and English `tessdata_fast` 4.1.0 models are vendored in
  `polis/documents/tessdata` (README there). No system Tesseract, no download.

Thread safety: a `PyTessBaseAPI` is not thread-safe and neither is PDFium, so each call makes
its own API and the whole extraction runs under one process-wide lock: calls from several
threads (the web app's thread pool, a job worker) are served one at a time. OCR is CPU-bound
and the machine small, so one at a time per process is also the right amount of parallelism.

Failures (not an image, a damaged or encrypted PDF, a decompression bomb) raise `OcrError`
with a short reason the caller can record.
"""

from __future__ import annotations

import io
import re
import threading
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

TESSDATA = Path(__file__).resolve().parent / "tessdata"
LANGUAGES = "tha+eng"
RENDER_DPI = 300
MAX_PAGES = 50  # pages of one document read at most (the rest is reported, not read)
MIN_TEXT_LAYER_CHARS = 16  # fewer non-space characters on a PDF page: treat it as a scan
MAX_PIXELS = 60_000_000  # a larger image is refused (a 300-dpi A0 page is about 140 M)
_BORDER = 24  # white pixels added around an image: Thai marks at the very edge are lost
_UPSCALE_BELOW = 1200  # an image whose longer side is shorter is read at twice its size

PDF_MIME = "application/pdf"
IMAGE_MIMES = frozenset(
    {"image/png", "image/jpeg", "image/tiff", "image/webp", "image/bmp", "image/gif"}
)

_LOCK = threading.Lock()
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f\ufffe\uffff\ufffd]")


class OcrError(Exception):
    """The document's text could not be read; the message says why (short, for records)."""


@cache
def engine_version() -> str:
    """'tesseract 5.5.4' (the bundled library's first version line)."""
    import tesserocr

    return str(tesserocr.tesseract_version()).splitlines()[0].strip()


@dataclass(frozen=True)
class PageText:
    """One page: its 1-based number, where its text came from, and the text."""

    number: int
    source: str  # "text-layer" (the PDF's own text) or "ocr"
    text: str
    confidence: int | None = None  # Tesseract's mean word confidence 0-100 (OCR pages)

    def info(self) -> dict[str, Any]:
        out: dict[str, Any] = {"page": self.number, "source": self.source, "chars": len(self.text)}
        if self.confidence is not None:
            out["confidence"] = self.confidence
        return out


@dataclass(frozen=True)
class OcrResult:
    """The text of a document page by page."""

    pages: list[PageText]
    page_count: int  # pages in the document (more than len(pages) when truncated)
    engine: str = field(default_factory=lambda: engine_version())
    languages: str = LANGUAGES

    @property
    def text(self) -> str:
        """Every page's text (stripped), pages separated by a form feed."""
        return "\f".join(p.text.strip() for p in self.pages).strip()

    def summary(self) -> dict[str, Any]:
        """What to record beside the text (JSON-ready)."""
        return {
            "languages": self.languages,
            "engine": self.engine,
            "pages": self.page_count,
            "pages_read": len(self.pages),
            "ocr_pages": sum(1 for p in self.pages if p.source == "ocr"),
            "page_info": [p.info() for p in self.pages],
        }


def can_extract(mime_type: str | None) -> bool:
    """Whether `extract_text` reads this MIME type."""
    return mime_type == PDF_MIME or mime_type in IMAGE_MIMES


def extract_text(data: bytes, mime_type: str) -> OcrResult:
    """The text of a PDF or an image (see the module docstring); OcrError when unreadable."""
    if not can_extract(mime_type):
        raise OcrError(f"no text extraction for {mime_type}")
    with _LOCK:
        if mime_type == PDF_MIME:
            return _pdf(data)
        return _image(data)


class _Tesseract:
    """One Tesseract API, made on first use and ended on exit (the caller holds the lock)."""

    def __init__(self) -> None:
        self._api: Any = None

    def __enter__(self) -> _Tesseract:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._api is not None:
            self._api.End()
            self._api = None

    def read(self, image: Any, dpi: int = RENDER_DPI) -> tuple[str, int]:
        """(text, mean word confidence 0-100) of a Pillow image."""
        import tesserocr

        if self._api is None:
            try:
                self._api = tesserocr.PyTessBaseAPI(
                    path=str(TESSDATA), lang=LANGUAGES, psm=tesserocr.PSM.AUTO
                )
            except RuntimeError as exc:  # missing or damaged traineddata
                raise OcrError(f"Tesseract could not start: {exc}") from None
        self._api.SetImage(_prepare(image))
        self._api.SetSourceResolution(dpi)
        return _clean(self._api.GetUTF8Text() or ""), int(self._api.MeanTextConf())


def _clean(text: str) -> str:
    """NFC, without control characters other than line breaks and tabs (PDFium marks soft
    hyphens and generated breaks with them)."""
    text = unicodedata.normalize("NFC", text.replace("\r\n", "\n"))
    return _CONTROL.sub("", text)


def _prepare(image: Any) -> Any:
    """Greyscale on a white background, with a white border."""
    from PIL import Image, ImageOps

    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        image = Image.alpha_composite(background, rgba)
    image = image.convert("L")
    if max(image.size) < _UPSCALE_BELOW:
        # Small images (a cropped photo, a thumbnail) read far better at twice the size:
        # Tesseract's Thai model loses the marks above and below small letters.
        image = image.resize((image.width * 2, image.height * 2), Image.Resampling.LANCZOS)
    return ImageOps.expand(image, border=_BORDER, fill=255)


def _image(data: bytes) -> OcrResult:
    from PIL import Image, ImageSequence, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise OcrError(f"image too large to read ({opened.width}x{opened.height} pixels)")
            dpi = _dpi(opened.info.get("dpi"))
            frames = [f.copy() for f in ImageSequence.Iterator(opened)]
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, ValueError) as exc:
        raise OcrError(f"not a readable image: {exc}") from None
    pages: list[PageText] = []
    with _Tesseract() as tesseract:
        for i, frame in enumerate(frames[:MAX_PAGES]):
            text, conf = tesseract.read(frame, dpi)
            pages.append(PageText(number=i + 1, source="ocr", text=text, confidence=conf))
    return OcrResult(pages=pages, page_count=len(frames))


def _dpi(value: Any) -> int:
    try:
        dpi = round(float(value[0]))
    except (TypeError, ValueError, IndexError):
        return RENDER_DPI
    return dpi if 70 <= dpi <= 1200 else RENDER_DPI


def _pdf(data: bytes) -> OcrResult:
    import pypdfium2 as pdfium

    try:
        pdf = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise OcrError(f"not a readable PDF: {exc}") from None
    pages: list[PageText] = []
    try:
        page_count = len(pdf)
        with _Tesseract() as tesseract:
            for index in range(min(page_count, MAX_PAGES)):
                pages.append(_pdf_page(pdf, index, tesseract))
    except pdfium.PdfiumError as exc:
        raise OcrError(f"PDF page could not be read: {exc}") from None
    finally:
        pdf.close()
    return OcrResult(pages=pages, page_count=page_count)


def _pdf_page(pdf: Any, index: int, tesseract: _Tesseract) -> PageText:
    """The page's own text when it has some, else the OCR of its 300-dpi rendering."""
    page = pdf[index]
    try:
        textpage = page.get_textpage()
        try:
            text = str(textpage.get_text_range())
        finally:
            textpage.close()
        text = _clean(text)
        if len("".join(text.split())) >= MIN_TEXT_LAYER_CHARS:
            return PageText(number=index + 1, source="text-layer", text=text)
        bitmap = page.render(scale=RENDER_DPI / 72, grayscale=True)
        try:
            image = bitmap.to_pil()
        finally:
            bitmap.close()
        ocr_text, conf = tesseract.read(image, RENDER_DPI)
        return PageText(number=index + 1, source="ocr", text=ocr_text, confidence=conf)
    finally:
        page.close()
