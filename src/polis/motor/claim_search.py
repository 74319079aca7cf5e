"""Full-text search over motor claims and their documents that works for Thai (issue 5,
item 6; decision 0053).

PostgreSQL's parsers split words at spaces and punctuation; Thai is written without spaces
between words, so a whole Thai phrase would be one "word" and a word inside it could never be
found. Text is therefore *segmented here* before PostgreSQL sees it:

1. NFC and pythainlp's Thai normalisation (sara am, the order of marks), Thai digits to
   Arabic digits, hyphens and slashes to spaces (so "CLM-2026-000123" and "123/2569" index
   their parts);
2. every run of Thai script is split into words by pythainlp's default word tokenizer
   (`newmm`, dictionary-based maximal matching: offline, nothing to download), the words
   joined by spaces; the other text is left to PostgreSQL's parser;
3. the result goes through `to_tsvector('simple', ...)` (lower-casing, no stemming, no stop
   words: right for a mix of Thai, English, numbers and identifiers) into the
   `search_vector` columns of motor.claims and motor.claim_documents (GIN-indexed,
   migration 0016), weighted A (numbers: claim, police report, court case; document file
   name), B (other party; document description), C (descriptions; extracted text),
   D (incident location).

A query is segmented the same way; every word must match (AND), each as a prefix (`:*`), so
"อุบัติ" finds "อุบัติเหตุ" and "bumper" finds "bumpers". `index_claim` is called by first
notice of loss and by every change of a claim's searchable text; `index_document` by the
upload and by OCR.
"""

from __future__ import annotations

import asyncio
import re
import unicodedata
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, literal_column, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor.models import MotorClaim, MotorClaimDocument
from polis.platform.pagination import Keyset, PageParams, decode_cursor, encode_cursor

CONFIG = "simple"
MAX_INDEXED_CHARS = 200_000  # of one text; the rest of a very long OCR text is not indexed
MAX_QUERY_WORDS = 16

_THAI_RUN = re.compile(r"([\u0e00-\u0e7f]+)")
_SPLITTERS = re.compile(r"[-/\\_\u2010-\u2015\u2212|]+")
_SPACES = re.compile(r"\s+")

SEARCH_KEYSET = Keyset(
    "claim-search", literal_column("rank"), literal_column("claim_id"), descending=True
)


def _tokenize(run: str) -> list[str]:
    from pythainlp.tokenize import word_tokenize

    return [w for w in word_tokenize(run, keep_whitespace=False) if w.strip()]


def segment(value: str | None) -> str:
    """Text with its Thai words separated by spaces, ready for to_tsvector('simple', ...):
    'รถกระบะชนกันชน' -> 'รถกระบะ ชน กันชน'. Non-Thai text is kept (hyphens and slashes
    become spaces)."""
    if not value:
        return ""
    from pythainlp.util import normalize, thai_digit_to_arabic_digit

    raw = unicodedata.normalize("NFC", value[:MAX_INDEXED_CHARS])
    raw = thai_digit_to_arabic_digit(normalize(raw))
    raw = _SPLITTERS.sub(" ", raw)
    parts: list[str] = []
    for piece in _THAI_RUN.split(raw):
        if not piece:
            continue
        if _THAI_RUN.fullmatch(piece):
            parts.extend(_tokenize(piece))
        else:
            parts.append(piece)
    return _SPACES.sub(" ", " ".join(parts)).strip()


def query_words(q: str) -> list[str]:
    """The words of a search query after segmentation (at most MAX_QUERY_WORDS)."""
    return segment(q).split()[:MAX_QUERY_WORDS]


def tsquery_text(q: str) -> str | None:
    """The to_tsquery('simple', ...) input of a query: every word as a quoted prefix, ANDed;
    None when the query has no words."""
    words = query_words(q)
    if not words:
        return None
    quoted = ("'" + w.replace("\\", "\\\\").replace("'", "''") + "':*" for w in words)
    return " & ".join(quoted)


def _flatten(value: Any) -> Iterable[str]:
    """The strings and numbers inside a JSON value (keys left out)."""
    if value is None or isinstance(value, bool):
        return
    if isinstance(value, dict):
        for inner in value.values():
            yield from _flatten(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from _flatten(inner)
    else:
        yield str(value)


def _join(*values: Any) -> str:
    return segment(" ".join(v for value in values for v in _flatten(value)))


_VECTOR = (
    "setweight(to_tsvector('simple', :a), 'A') || setweight(to_tsvector('simple', :b), 'B')"
    " || setweight(to_tsvector('simple', :c), 'C') || setweight(to_tsvector('simple', :d), 'D')"
)


def claim_texts(claim: MotorClaim) -> dict[str, str]:
    """The segmented texts of a claim by weight (A, B, C, D)."""
    location = claim.incident_location or {}
    if isinstance(location, dict):  # coordinates are not words
        location = {k: v for k, v in location.items() if k not in ("lat", "lng", "lon")}
    return {
        "a": _join(claim.claim_number, claim.police_report_number, claim.court_case_number),
        "b": _join(claim.other_party_info),
        "c": _join(claim.incident_description, claim.damage_description, claim.injury_description),
        "d": _join(location),
    }


def document_texts(
    original_filename: str | None, description: str | None, extracted_text: str | None
) -> dict[str, str]:
    """The segmented texts of a claim document by weight (A, B, C; D unused)."""
    name = re.sub(r"[._]+", " ", original_filename or "")
    return {
        "a": segment(name),
        "b": segment(description),
        "c": segment(extracted_text),
        "d": "",
    }


_CLAIM_TEXT_COLUMNS = (
    "claim_number",
    "police_report_number",
    "court_case_number",
    "other_party_info",
    "incident_description",
    "damage_description",
    "injury_description",
    "incident_location",
)


async def index_claim(session: AsyncSession, claim: MotorClaim) -> None:
    """(Re)compute the claim's search vector from its searchable text."""
    await session.flush()
    unloaded = [n for n in ("id", *_CLAIM_TEXT_COLUMNS) if n in inspect(claim).unloaded]
    if unloaded:  # e.g. expired by a commit: load them here, not lazily in claim_texts
        await session.refresh(claim, attribute_names=unloaded)
    await session.execute(
        text(f"UPDATE motor.claims SET search_vector = {_VECTOR} WHERE id = :id"),
        {"id": claim.id, **claim_texts(claim)},
    )


async def index_document(session: AsyncSession, document: MotorClaimDocument) -> None:
    """(Re)compute a claim document's search vector (file name, description, extracted
    text)."""
    await session.flush()
    names = ("id", "original_filename", "description", "extracted_text")
    unloaded = [n for n in names if n in inspect(document).unloaded]
    if unloaded:
        await session.refresh(document, attribute_names=unloaded)
    # segmentation of a long OCR text takes a while: in a worker thread, off the event loop
    texts = await asyncio.to_thread(
        document_texts, document.original_filename, document.description, document.extracted_text
    )
    await session.execute(
        text(f"UPDATE motor.claim_documents SET search_vector = {_VECTOR} WHERE id = :id"),
        {"id": document.id, **texts},
    )


# --- search ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DocumentHit:
    """A claim document that matches the query."""

    id: uuid.UUID
    document_type: str
    document_category: str | None
    original_filename: str
    upload_status: str | None
    is_sensitive: bool
    rank: float
    snippet: str | None


@dataclass(frozen=True)
class ClaimHit:
    """A claim that matches the query, itself or through its documents."""

    id: uuid.UUID
    claim_number: str
    policy_id: uuid.UUID
    claim_type: str
    status: str | None
    incident_date: datetime
    reported_date: datetime | None
    rank: float
    matched_claim: bool
    documents: list[DocumentHit]


_HITS = """
WITH query AS (SELECT to_tsquery('simple', :tsq) AS q),
hits AS (
    SELECT c.id AS claim_id, ts_rank(c.search_vector, query.q) AS rank, true AS own
      FROM motor.claims c, query
     WHERE c.deleted_at IS NULL AND c.search_vector @@ query.q
    UNION ALL
    SELECT d.claim_id, ts_rank(d.search_vector, query.q), false
      FROM motor.claim_documents d, query
     WHERE d.search_vector @@ query.q AND (:sensitive OR NOT coalesce(d.is_sensitive, false))
),
ranked AS (
    SELECT claim_id, max(rank) AS rank, bool_or(own) AS own FROM hits GROUP BY claim_id
)
SELECT r.claim_id, r.rank, r.own, c.claim_number, c.policy_id, c.claim_type, c.status,
       c.incident_date, c.reported_date
  FROM ranked r JOIN motor.claims c ON c.id = r.claim_id AND c.deleted_at IS NULL
 WHERE (CAST(:after_rank AS real) IS NULL
        OR (r.rank, r.claim_id) < (CAST(:after_rank AS real), CAST(:after_id AS uuid)))
 ORDER BY r.rank DESC, r.claim_id DESC
 LIMIT :limit
"""

_DOCUMENTS = """
SELECT d.id, d.claim_id, d.document_type, d.document_category, d.original_filename,
       d.upload_status, coalesce(d.is_sensitive, false) AS is_sensitive, d.description,
       d.extracted_text, ts_rank(d.search_vector, to_tsquery('simple', :tsq)) AS rank
  FROM motor.claim_documents d
 WHERE d.claim_id = ANY(:ids) AND d.search_vector @@ to_tsquery('simple', :tsq)
   AND (:sensitive OR NOT coalesce(d.is_sensitive, false))
 ORDER BY rank DESC, d.uploaded_at, d.id
"""


def snippet(source: str | None, words: list[str], width: int = 120) -> str | None:
    """About `width` characters of `source` around the first query word found in it."""
    if not source:
        return None
    flat = _SPACES.sub(" ", unicodedata.normalize("NFC", source)).strip()
    lowered = flat.lower()
    for word in words:
        at = lowered.find(word.lower())
        if at >= 0:
            start = max(0, at - width // 3)
            end = min(len(flat), start + width)
            return ("…" if start else "") + flat[start:end] + ("…" if end < len(flat) else "")
    return None


async def search(
    session: AsyncSession, q: str, page: PageParams, *, include_sensitive: bool
) -> tuple[list[ClaimHit], str | None]:
    """The claims matching `q` (their own text or a document's), best first, one page, and
    the next page's cursor. Sensitive documents take part only with `include_sensitive`."""
    tsq = tsquery_text(q)
    if tsq is None:
        return [], None
    after_rank: float | None = None
    after_id: uuid.UUID | None = None
    if page.cursor:
        after_rank, after_id = decode_cursor(SEARCH_KEYSET, page.cursor)
        after_rank = float(after_rank)
    rows = (
        await session.execute(
            text(_HITS),
            {
                "tsq": tsq,
                "sensitive": include_sensitive,
                "after_rank": after_rank,
                "after_id": after_id,
                "limit": page.limit + 1,
            },
        )
    ).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    words = query_words(q)
    documents: dict[uuid.UUID, list[DocumentHit]] = {}
    if rows:
        found = await session.execute(
            text(_DOCUMENTS),
            {"tsq": tsq, "ids": [r.claim_id for r in rows], "sensitive": include_sensitive},
        )
        for d in found:
            documents.setdefault(d.claim_id, []).append(
                DocumentHit(
                    id=d.id,
                    document_type=d.document_type,
                    document_category=d.document_category,
                    original_filename=d.original_filename,
                    upload_status=d.upload_status,
                    is_sensitive=d.is_sensitive,
                    rank=float(d.rank),
                    snippet=snippet(d.extracted_text, words) or snippet(d.description, words),
                )
            )
    hits = [
        ClaimHit(
            id=r.claim_id,
            claim_number=r.claim_number,
            policy_id=r.policy_id,
            claim_type=r.claim_type,
            status=r.status,
            incident_date=r.incident_date,
            reported_date=r.reported_date,
            rank=float(r.rank),
            matched_claim=bool(r.own),
            documents=documents.get(r.claim_id, []),
        )
        for r in rows
    ]
    cursor = encode_cursor(SEARCH_KEYSET, rows[-1].rank, rows[-1].claim_id) if more else None
    return hits, cursor
