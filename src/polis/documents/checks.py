"""Checks on an uploaded file before it is stored (decision 0026).

`check_upload` accepts a file only when

- it is not empty and not larger than the limit (`Settings.document_max_bytes`);
- its content, sniffed from its leading bytes with `filetype`, is one of `ALLOWED_TYPES`
  (PDF, JPEG, PNG, TIFF: what hospitals send as invoices, receipts and scans);
- the declared content type (the multipart part's Content-Type), when there is one, names
  that same type (`application/octet-stream` and a missing type count as undeclared;
  aliases such as `image/jpg` are accepted);
- the file name's extension belongs to that type (`.pdf`; `.jpg`/`.jpeg`; `.png`;
  `.tif`/`.tiff`); a name without an extension gets the type's own.

Each failure is a 422 problem+json (`DocumentRejected`) with its own type and a field error
on `file`, so a client can tell "too large" from "not a PDF". The file name is reduced to its
last path component, without control characters, at most 255 characters.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from urllib.parse import quote

import filetype  # type: ignore[import-untyped]

from polis.platform.errors import BusinessRuleError

# MIME type -> extensions (the first is the canonical one).
ALLOWED_TYPES: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/jpeg": (".jpg", ".jpeg"),
    "image/png": (".png",),
    "image/tiff": (".tif", ".tiff"),
}
_ALIASES = {
    "application/x-pdf": "application/pdf",
    "image/jpg": "image/jpeg",
    "image/pjpeg": "image/jpeg",
    "image/x-png": "image/png",
    "image/tif": "image/tiff",
}
_UNDECLARED = {"", "application/octet-stream", "binary/octet-stream"}
_MAX_NAME = 255
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"|?*]")


class DocumentRejected(BusinessRuleError):
    """An upload the checks refuse; one field error on `file` (422 problem+json)."""

    title = "Document Rejected"

    def __init__(self, message: str, *, type_: str, field: str = "file") -> None:
        super().__init__(
            message,
            type_=type_,
            extra={"errors": [{"field": field, "message": message, "type": type_}]},
        )


@dataclass(frozen=True)
class CheckedFile:
    """An accepted upload: its sniffed MIME type, size and safe file name."""

    mime_type: str
    size: int
    file_name: str


def human_size(size: int) -> str:
    """Bytes in the largest whole binary unit that fits: 10485760 -> '10 MiB'."""
    for unit, factor in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= factor and size % factor == 0:
            return f"{size // factor} {unit}"
    return f"{size} bytes"


def sanitise_file_name(name: str | None) -> str:
    """The last path component of `name` (either slash), NFC, without control or reserved
    characters and leading dots, at most 255 characters with the extension kept; '' if
    nothing is left."""
    text = unicodedata.normalize("NFC", name or "")
    text = re.split(r"[\\/]", text)[-1]
    text = _UNSAFE.sub("", text)
    text = " ".join(text.split()).lstrip(".").strip()
    if len(text) > _MAX_NAME:
        stem, dot, ext = text.rpartition(".")
        if dot and 0 < len(ext) <= 10:
            text = stem[: _MAX_NAME - len(ext) - 1] + "." + ext
        else:
            text = text[:_MAX_NAME]
    return text


def content_disposition(file_name: str, disposition: str = "attachment") -> str:
    """RFC 6266: an ASCII `filename` fallback and the exact name as UTF-8 `filename*`."""
    fallback = "".join(
        c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in file_name
    ).strip()
    encoded = quote(file_name, safe="")
    return f"{disposition}; filename=\"{fallback or 'document'}\"; filename*=UTF-8''{encoded}"


def normalise_mime(content_type: str | None) -> str:
    """The bare, lower-case media type of a Content-Type value, aliases resolved."""
    bare = (content_type or "").split(";", 1)[0].strip().lower()
    return _ALIASES.get(bare, bare)


def sniff(data: bytes) -> str | None:
    """The MIME type `filetype` reads from the leading bytes, or None."""
    kind = filetype.guess(data[:8192])
    return normalise_mime(kind.mime) if kind is not None else None


def check_upload(
    data: bytes, *, file_name: str | None, declared_type: str | None, max_bytes: int
) -> CheckedFile:
    """The accepted file, or DocumentRejected (see the module docstring for the rules)."""
    size = len(data)
    if size == 0:
        raise DocumentRejected("The file is empty.", type_="document-empty")
    if size > max_bytes:
        raise DocumentRejected(
            f"The file is larger than the limit of {human_size(max_bytes)}.",
            type_="document-too-large",
        )
    mime = sniff(data)
    allowed = ", ".join(sorted(ALLOWED_TYPES))
    if mime is None or mime not in ALLOWED_TYPES:
        found = f" (it is {mime})" if mime else ""
        raise DocumentRejected(
            f"The file's content is not an allowed type{found}; allowed: {allowed}.",
            type_="document-type-not-allowed",
        )
    declared = normalise_mime(declared_type)
    if declared not in _UNDECLARED and declared != mime:
        raise DocumentRejected(
            f"The declared content type {declared} does not match the file's content ({mime}).",
            type_="document-type-mismatch",
        )
    name = sanitise_file_name(file_name).rstrip(". ")
    extensions = ALLOWED_TYPES[mime]
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        name = (name or "document")[: _MAX_NAME - len(extensions[0])] + extensions[0]
    elif "." + ext.lower() not in extensions:
        raise DocumentRejected(
            f"The file name's extension .{ext} does not match the file's content ({mime}).",
            type_="document-type-mismatch",
        )
    return CheckedFile(mime_type=mime, size=size, file_name=name)
