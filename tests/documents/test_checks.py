"""Upload checks: size, sniffed MIME type against the declared type and the extension, file
name sanitising; each refusal a 422 with its own problem type and a field error."""

from __future__ import annotations

import io

import pytest
from fpdf import FPDF
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image

from polis.documents.checks import (
    DocumentRejected,
    check_upload,
    human_size,
    normalise_mime,
    sanitise_file_name,
)


def pdf_bytes() -> bytes:
    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(0, 10, "Invoice")
    return bytes(pdf.output())


def image_bytes(fmt: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 10, 10)).save(out, format=fmt)
    return out.getvalue()


LIMIT = 10 * 1024 * 1024


@pytest.mark.parametrize(
    ("data", "name", "declared", "mime"),
    [
        (pdf_bytes(), "invoice.pdf", "application/pdf", "application/pdf"),
        (image_bytes("PNG"), "receipt.PNG", "image/png", "image/png"),
        (image_bytes("JPEG"), "scan.jpeg", "image/jpg", "image/jpeg"),
        (image_bytes("JPEG"), "scan.jpg", None, "image/jpeg"),
        (image_bytes("TIFF"), "scan.tif", "application/octet-stream", "image/tiff"),
    ],
)
def test_accepted(data: bytes, name: str, declared: str | None, mime: str) -> None:
    checked = check_upload(data, file_name=name, declared_type=declared, max_bytes=LIMIT)
    assert (checked.mime_type, checked.size, checked.file_name) == (mime, len(data), name)


def _rejected(data: bytes, name: str, declared: str | None, limit: int = LIMIT) -> str:
    with pytest.raises(DocumentRejected) as info:
        check_upload(data, file_name=name, declared_type=declared, max_bytes=limit)
    error = info.value
    assert error.status_code == 422
    assert [e["field"] for e in error.extra["errors"]] == ["file"]
    assert error.extra["errors"][0]["type"] == error.type_
    return error.type_


def test_refusals_each_with_their_type() -> None:
    pdf = pdf_bytes()
    assert _rejected(b"", "a.pdf", "application/pdf") == "document-empty"
    assert _rejected(pdf, "a.pdf", "application/pdf", limit=len(pdf) - 1) == "document-too-large"
    assert _rejected(b"just some text", "a.pdf", "application/pdf") == ("document-type-not-allowed")
    gif = b"GIF89a" + b"\x00" * 20
    assert _rejected(gif, "a.gif", "image/gif") == "document-type-not-allowed"
    png = image_bytes("PNG")
    assert _rejected(png, "a.png", "application/pdf") == "document-type-mismatch"
    assert _rejected(png, "a.pdf", "image/png") == "document-type-mismatch"
    # Exactly at the limit is allowed.
    assert check_upload(pdf, file_name="a.pdf", declared_type=None, max_bytes=len(pdf)).size


def test_too_large_names_the_limit() -> None:
    with pytest.raises(DocumentRejected, match="10 MiB"):
        check_upload(b"x" * (LIMIT + 1), file_name="a.pdf", declared_type=None, max_bytes=LIMIT)


def test_a_name_without_extension_gets_the_type_s_own() -> None:
    checked = check_upload(pdf_bytes(), file_name="kwitansi", declared_type=None, max_bytes=LIMIT)
    assert checked.file_name == "kwitansi.pdf"
    checked = check_upload(pdf_bytes(), file_name=None, declared_type=None, max_bytes=LIMIT)
    assert checked.file_name == "document.pdf"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("../../etc/passwd.pdf", "passwd.pdf"),
        ("C:\\Users\\siti\\Kwitansi RS.pdf", "Kwitansi RS.pdf"),
        ("..hidden.pdf", "hidden.pdf"),
        ('a\x00b\nc<>:"|?*.pdf', "abc.pdf"),
        ("  spaced   out  .pdf", "spaced out .pdf"),
        ("résumé.pdf", "résumé.pdf"),
        ("", ""),
    ],
)
def test_sanitise_file_name(raw: str, clean: str) -> None:
    assert sanitise_file_name(raw) == clean


def test_long_names_keep_their_extension() -> None:
    name = sanitise_file_name("a" * 400 + ".pdf")
    assert len(name) == 255 and name.endswith(".pdf")


@given(st.text(max_size=300))
def test_sanitised_names_are_single_safe_components(raw: str) -> None:
    name = sanitise_file_name(raw)
    assert "/" not in name and "\\" not in name
    assert not name.startswith(".")
    assert len(name) <= 255
    assert all(ord(c) >= 32 and c != "\x7f" for c in name)


def test_helpers() -> None:
    assert normalise_mime("Application/PDF; charset=binary") == "application/pdf"
    assert normalise_mime("image/jpg") == "image/jpeg"
    assert normalise_mime(None) == ""
    assert human_size(10 * 1024 * 1024) == "10 MiB"
    assert human_size(1000) == "1000 bytes"
