"""Explanations of benefits (billing.eob): written when a claim is decided, shown as JSON or
as a PDF in Indonesian or English (decision 0027).

- `write_eob(session, claim)` inserts the claim's EOB when the claim is decided (approved,
  partially approved or denied) and returns it; a claim in any other status (pended,
  submitted, voided, ...) gets none, and a claim that already has one keeps it (one EOB
  per claim). `polis.health.adjudication` calls it at the end of `submit_claim` (a
  re-adjudication's replacement claim is written by `submit_claim`, so it gets its own)
  and when a reviewer denies a pended claim. It only flushes.
- The EOB number is the claim number with `EOB` for `CLM`: `EOB-YYYY-XXXXXXXXXXXX`, unique
  because claim numbers are and a claim has one EOB; a claim number of another shape gets
  `EOB-<service year>-<12 random Crockford base-32 characters>`.
- Totals are the claim's (charged, approved, paid, member responsibility); the deductible,
  copay and coinsurance are the sums of its lines.
- `eob_view` assembles what both renderings show (the row, member, provider, claim and its
  lines with their traces in plain words); `render_pdf` draws it with polis.documents.pdf.
- `sent_date` is set when the PDF is first produced (the document leaves the system); the
  JSON view does not set it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import raw
from polis.db.raw import Statement
from polis.documents import pdf as pdfkit
from polis.health import document_schemas as schemas
from polis.health.models import Claim, ClaimItem, Eob, Member
from polis.platform.errors import NotFound
from polis.platform.ids import random_code
from polis.platform.money import quantize

DECIDED_STATUSES = ("approved", "partially_approved", "denied")
LANGUAGES = ("id", "en")
ZERO = Decimal("0.00")
JAKARTA = ZoneInfo("Asia/Jakarta")  # business dates on the document are local


# --- writing ------------------------------------------------------------------------------


# One INSERT ... SELECT (decisions 0038 and 0073): reads the claim (in its partition: the
# service date is given), its provider's name and its lines' sums, and inserts only when the
# claim is decided and has no EOB yet.
_INSERT_EOB = Statement(
    """
    INSERT INTO billing.eob (id, eob_number, claim_id, member_id, service_date, provider_name,
        total_charged, total_approved, total_paid, member_responsibility,
        deductible_applied, coinsurance_amount, copay_amount)
    SELECT :id,
           CASE WHEN c.claim_number LIKE 'CLM-%' THEN 'EOB-' || substr(c.claim_number, 5)
                ELSE 'EOB-' || to_char(c.service_date, 'YYYY') || '-' || CAST(:fallback AS text)
           END,
           c.id, c.member_id, c.service_date, p.provider_name,
           c.total_charged_amount, c.total_approved_amount, c.total_paid_amount,
           c.member_responsibility, s.deductible, s.coinsurance, s.copay
    FROM claims.claim c
    JOIN provider.provider p ON p.id = c.provider_id
    CROSS JOIN LATERAL (
        SELECT coalesce(sum(i.deductible_amount), 0) AS deductible,
               coalesce(sum(i.coinsurance_amount), 0) AS coinsurance,
               coalesce(sum(i.copay_amount), 0) AS copay
        FROM claims.claim_item i WHERE i.claim_id = c.id
    ) s
    WHERE c.id = :claim_id AND c.service_date = :service_date
      AND c.status = ANY(CAST(:decided AS text[]))
      AND NOT EXISTS (SELECT 1 FROM billing.eob e WHERE e.claim_id = c.id)
    RETURNING id
    """
)
_DECIDED = list(DECIDED_STATUSES)


async def _insert_eob(
    session: AsyncSession, claim_id: uuid.UUID, service_date: date
) -> uuid.UUID | None:
    """The new EOB's id, None when the claim is not decided, unknown or has its EOB."""
    params = {
        "id": uuid.uuid4(),
        "claim_id": claim_id,
        "service_date": service_date,
        "fallback": random_code(12),
        "decided": _DECIDED,
    }
    return cast(uuid.UUID | None, await raw.fetchval(session, _INSERT_EOB, params))


async def write_eob(session: AsyncSession, claim: Claim | uuid.UUID) -> Eob | None:
    """Insert the EOB of a decided claim (once) and return it. A claim that already has one
    returns it unchanged; a claim with none that is not decided (or unknown) returns None.
    Flushes first; runs in the caller's transaction."""
    if isinstance(claim, Claim):
        if claim.status not in DECIDED_STATUSES:
            return None
        claim_id, service_date = claim.id, claim.service_date
    else:
        claim_id = claim
    await session.flush()
    if not isinstance(claim, Claim):
        found = await session.scalar(select(Claim.service_date).where(Claim.id == claim_id))
        if found is None:
            return None
        service_date = found
    inserted = await _insert_eob(session, claim_id, service_date)
    if inserted is not None:
        return await session.get(Eob, inserted, populate_existing=True)
    return await session.scalar(select(Eob).where(Eob.claim_id == claim_id))


async def record_eob(session: AsyncSession, claim_id: uuid.UUID, service_date: date) -> None:
    """write_eob for submit_claim's hot path: the same statement, without the flush
    (submit_claim writes through raw statements: nothing is pending) and without loading
    the row back."""
    await _insert_eob(session, claim_id, service_date)


async def mark_sent(session: AsyncSession, eob_id: uuid.UUID) -> None:
    """Set sent_date the first time the EOB leaves as a document (later calls keep it)."""
    await session.execute(
        update(Eob).where(Eob.id == eob_id, Eob.sent_date.is_(None)).values(sent_date=func.now())
    )


# --- words --------------------------------------------------------------------------------

LABELS: dict[str, dict[str, str]] = {
    "id": {
        "title": "Penjelasan Manfaat",
        "issuer": "Polis - Asuransi Kesehatan",
        "eob_number": "Nomor EOB",
        "claim_number": "Nomor klaim",
        "claim_status": "Status klaim",
        "member": "Peserta",
        "member_number": "Nomor peserta",
        "provider": "Penyedia layanan",
        "service_date": "Tanggal layanan",
        "generated_date": "Tanggal dibuat",
        "summary": "Ringkasan",
        "total_charged": "Total tagihan",
        "total_approved": "Total disetujui",
        "deductible_applied": "Risiko sendiri (deductible)",
        "copay_amount": "Urun biaya (copay)",
        "coinsurance_amount": "Koasuransi",
        "total_paid": "Dibayar oleh asuransi",
        "member_responsibility": "Tanggungan Anda",
        "lines": "Rincian layanan",
        "benefit": "Manfaat",
        "charged": "Tagihan",
        "approved": "Disetujui",
        "deductible": "Deductible",
        "copay": "Copay",
        "coinsurance": "Koasuransi",
        "paid": "Dibayar",
        "status": "Status",
        "explanation": "Penjelasan per layanan",
        "reason": "Alasan",
        "amounts_in": "Jumlah dalam Rupiah (Rp).",
        "note": (
            "Dokumen ini bukan tagihan. Tanggungan Anda adalah tagihan dikurangi jumlah yang "
            "dibayar oleh asuransi; provider dapat menagihkannya kepada Anda."
        ),
        "to": "menjadi",
    },
    "en": {
        "title": "Explanation of Benefits",
        "issuer": "Polis - Health Insurance",
        "eob_number": "EOB number",
        "claim_number": "Claim number",
        "claim_status": "Claim status",
        "member": "Member",
        "member_number": "Member number",
        "provider": "Provider",
        "service_date": "Service date",
        "generated_date": "Generated",
        "summary": "Summary",
        "total_charged": "Total charged",
        "total_approved": "Total approved",
        "deductible_applied": "Deductible",
        "copay_amount": "Copayment",
        "coinsurance_amount": "Coinsurance",
        "total_paid": "Paid by the plan",
        "member_responsibility": "Your responsibility",
        "lines": "Services",
        "benefit": "Benefit",
        "charged": "Charged",
        "approved": "Approved",
        "deductible": "Deductible",
        "copay": "Copay",
        "coinsurance": "Coinsurance",
        "paid": "Paid",
        "status": "Status",
        "explanation": "Explanation per service",
        "reason": "Reason",
        "amounts_in": "Amounts in Indonesian rupiah (IDR).",
        "note": (
            "This is not a bill. Your responsibility is the amount charged less what the plan "
            "pays; the provider may bill it to you."
        ),
        "to": "to",
    },
}

STATUS_WORDS: dict[str, dict[str, str]] = {
    "id": {
        "approved": "Disetujui",
        "partially_approved": "Disetujui sebagian",
        "denied": "Ditolak",
        "pended": "Ditunda",
        "voided": "Dibatalkan",
        "cancelled": "Dibatalkan",
        "payment_pending": "Menunggu pembayaran",
        "paid": "Dibayar",
        "closed": "Ditutup",
        "appealed": "Banding",
    },
    "en": {
        "approved": "Approved",
        "partially_approved": "Partially approved",
        "denied": "Denied",
        "pended": "Pended",
        "voided": "Voided",
        "cancelled": "Cancelled",
        "payment_pending": "Payment pending",
        "paid": "Paid",
        "closed": "Closed",
        "appealed": "Appealed",
    },
}

# Trace step and denial reason codes (polis.health.rules, polis.health.adjudication) in
# plain words: (Indonesian, English).
CODE_WORDS: dict[str, tuple[str, str]] = {
    "eligibility": (
        "Kepesertaan diperiksa: peserta, cakupan, polis dan kontrak provider aktif",
        "Eligibility checked: member, coverage, policy and provider contract active",
    ),
    "benefit": ("Manfaat ditanggung oleh plan", "The benefit is covered by the plan"),
    "exclusions": (
        "Tidak ada pengecualian; masa tunggu sudah dilalui",
        "No exclusion applies; the waiting period has been served",
    ),
    "authorization": (
        "Surat jaminan (pra-otorisasi) berlaku",
        "A valid guarantee letter (pre-authorisation) applies",
    ),
    "contract_discount": ("Diskon kontrak provider", "Provider contract discount"),
    "authorization_cap": (
        "Dibatasi jumlah yang disetujui dalam surat jaminan",
        "Capped at the amount approved in the guarantee letter",
    ),
    "deductible": ("Risiko sendiri (deductible) Anda", "Your deductible"),
    "copay": ("Urun biaya (copay) Anda", "Your copayment"),
    "coinsurance": ("Koasuransi (bagian Anda)", "Coinsurance (your share)"),
    "oop_max": (
        "Batas maksimum biaya sendiri tercapai",
        "Out-of-pocket maximum reached",
    ),
    "paid": ("Dibayar oleh asuransi", "Paid by the plan"),
    "funding": ("Dibayar dari dana ASO perusahaan", "Paid from the employer's ASO fund"),
    "voided": ("Klaim dibatalkan", "The claim was voided"),
    "readjudication": ("Klaim diproses ulang", "The claim was re-adjudicated"),
    "link": ("Klaim diproses ulang", "The claim was re-adjudicated"),
    "manual_review": ("Diputuskan oleh peninjau", "Decided by a reviewer"),
    "awaiting_funds": ("Menunggu dana ASO", "Waiting for ASO funds"),
    "member_inactive": ("Peserta tidak aktif", "The member is not active"),
    "coverage_inactive": (
        "Cakupan tidak aktif pada tanggal layanan",
        "The coverage is not active on the service date",
    ),
    "policy_inactive": ("Polis tidak aktif", "The policy is not active"),
    "no_provider_contract": (
        "Provider tidak memiliki kontrak untuk klaim cashless",
        "The provider has no contract for cashless claims",
    ),
    "contract_inactive": ("Kontrak provider tidak aktif", "The provider contract is not active"),
    "claim_type_not_allowed": (
        "Jenis klaim tidak diizinkan oleh kontrak provider",
        "The provider contract does not allow this claim type",
    ),
    "benefit_not_in_plan": (
        "Manfaat tidak termasuk dalam plan Anda",
        "The benefit is not part of your plan",
    ),
    "not_covered": ("Manfaat tidak ditanggung", "The benefit is not covered"),
    "in_network_not_covered": (
        "Tidak ditanggung di provider jaringan",
        "Not covered at network providers",
    ),
    "out_of_network_not_covered": (
        "Tidak ditanggung di luar jaringan provider",
        "Not covered outside the provider network",
    ),
    "excluded": ("Termasuk pengecualian polis", "Excluded by the policy"),
    "waiting_period": ("Masih dalam masa tunggu", "Still within the waiting period"),
    "authorization_missing": (
        "Memerlukan surat jaminan (pra-otorisasi)",
        "A guarantee letter (pre-authorisation) is required",
    ),
    "authorization_not_approved": (
        "Surat jaminan belum atau tidak disetujui",
        "The guarantee letter is not approved",
    ),
    "authorization_expired": (
        "Surat jaminan tidak berlaku pada tanggal layanan",
        "The guarantee letter is not valid on the service date",
    ),
    "authorization_other_provider": (
        "Surat jaminan diterbitkan untuk provider lain",
        "The guarantee letter is for another provider",
    ),
    "authorization_exhausted": (
        "Jumlah surat jaminan sudah habis",
        "The guarantee letter's amount is used up",
    ),
    "visit_limit": ("Batas jumlah kunjungan tercapai", "The visit limit is reached"),
    "per_incident_limit": ("Batas per kejadian", "Per-incident limit"),
    "per_day_limit": ("Batas per hari", "Per-day limit"),
    "per_year_limit": ("Batas tahunan manfaat", "Annual benefit limit"),
    "annual_limit": ("Batas tahunan plan", "Plan annual limit"),
    "lifetime_limit": ("Batas seumur hidup", "Lifetime limit"),
}


def _lang_index(lang: str) -> int:
    return 0 if lang == "id" else 1


def money(amount: Decimal | None, lang: str) -> str:
    """An IDR amount in the language's form: `Rp 1.234.567,00` / `IDR 1,234,567.00`."""
    return pdfkit.money(amount, "IDR", lang)


def code_words(code: str | None, lang: str, fallback: str | None = None) -> str | None:
    """A trace or reason code in plain words (unknown codes: `fallback`, else the code;
    `voided: <reason>` keeps its reason)."""
    if code is None:
        return None
    head, sep, rest = code.partition(": ")
    words = CODE_WORDS.get(head)
    if words is None:
        return fallback or code
    text = words[_lang_index(lang)]
    return f"{text}: {rest}" if sep else text


def _amount(value: Any) -> Decimal | None:
    try:
        return quantize(Decimal(str(value))) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def step_words(step: dict[str, Any], lang: str) -> str:
    """One trace step in plain words with its amounts (`... : Rp 1.000.000,00 menjadi Rp
    900.000,00` when the step changed the amount)."""
    code = str(step.get("code", ""))
    text = code_words(code, lang, fallback=str(step.get("message") or code)) or code
    if code in ("voided", "readjudication", "link", "manual_review") and step.get("message"):
        text = f"{text} ({step['message']})"
    before, after = _amount(step.get("amount_before")), _amount(step.get("amount_after"))
    if code == "funding":
        return text + ": " + money(after, lang)
    if before is not None and after is not None and before != after:
        return f"{text}: {money(before, lang)} {LABELS[lang]['to']} {money(after, lang)}"
    if code == "paid" and after is not None:
        return f"{text}: {money(after, lang)}"
    return text


# --- the view -----------------------------------------------------------------------------


@dataclass(frozen=True)
class EobRecord:
    """An EOB row and its claim."""

    eob: Eob
    claim: Claim


async def find_eob(session: AsyncSession, claim_id: uuid.UUID) -> EobRecord:
    """The claim's EOB; NotFound for an unknown claim (claim-not-found) or a claim without
    one (eob-not-found)."""
    claim = await session.scalar(
        select(Claim).where(Claim.id == claim_id).execution_options(populate_existing=True)
    )
    if claim is None:
        raise NotFound(f"Claim {claim_id} not found.", type_="claim-not-found")
    eob = await session.scalar(
        select(Eob).where(Eob.claim_id == claim_id).execution_options(populate_existing=True)
    )
    if eob is None:
        raise NotFound(
            f"Claim {claim.claim_number} has no explanation of benefits (status {claim.status}).",
            type_="eob-not-found",
        )
    return EobRecord(eob, claim)


async def eob_view(session: AsyncSession, record: EobRecord, lang: str) -> schemas.Eob:
    """The EOB with its member, provider, claim and lines, words in `lang`."""
    eob, claim = record.eob, record.claim
    member = await session.get(Member, eob.member_id)
    if member is None:  # pragma: no cover - foreign key
        raise NotFound("The EOB refers to a missing member.")
    items = (
        await session.scalars(
            select(ClaimItem)
            .where(ClaimItem.claim_id == claim.id)
            .order_by(ClaimItem.line_number, ClaimItem.created_at, ClaimItem.id)
        )
    ).all()
    lines = [
        schemas.EobLine(
            benefit_code=i.benefit_code,
            service_code=i.service_code,
            diagnosis_code=i.diagnosis_code,
            quantity=i.quantity,
            charged=i.charged_amount,
            approved=i.approved_amount,
            paid=i.paid_amount,
            deductible=i.deductible_amount,
            copay=i.copay_amount,
            coinsurance=i.coinsurance_amount,
            status=i.status,
            denial_reason=i.denial_reason,
            denial_reason_text=code_words(i.denial_reason, lang),
            trace=[
                schemas.EobTraceStep(
                    code=str(s.get("code", "")),
                    message=str(s.get("message", "")),
                    amount_before=_amount(s.get("amount_before")),
                    amount_after=_amount(s.get("amount_after")),
                    text=step_words(s, lang),
                )
                for s in i.adjudication_trace or []
            ],
        )
        for i in items
    ]
    return schemas.Eob(
        id=eob.id,
        eob_number=eob.eob_number,
        claim_id=claim.id,
        claim_number=claim.claim_number,
        claim_status=claim.status,
        member_id=member.id,
        member_number=member.member_number,
        member_name=f"{member.first_name} {member.last_name}".strip(),
        provider_name=eob.provider_name,
        service_date=eob.service_date,
        total_charged=eob.total_charged,
        total_approved=eob.total_approved,
        total_paid=eob.total_paid,
        member_responsibility=eob.member_responsibility,
        deductible_applied=eob.deductible_applied,
        coinsurance_amount=eob.coinsurance_amount,
        copay_amount=eob.copay_amount,
        generated_date=eob.generated_date,
        sent_date=eob.sent_date,
        lang="id" if lang == "id" else "en",
        lines=lines,
    )


# --- the PDF ------------------------------------------------------------------------------


def _plain(amount: Decimal | None, lang: str) -> str:
    if amount is None:
        return "-"
    if lang == "id":
        return pdfkit.group_digits(amount, group=".", decimal=",")
    return pdfkit.group_digits(amount, group=",", decimal=".")


def render_pdf(view: schemas.Eob) -> bytes:
    """The EOB as a PDF in the view's language."""
    lang = view.lang
    words = LABELS[lang]
    status_words = STATUS_WORDS[lang]
    doc = pdfkit.new_document(
        title=words["title"],
        subtitle=f"{view.eob_number} - {view.claim_number}",
        lang=lang,
        issuer=words["issuer"],
    )
    pdfkit.key_values(
        doc,
        [
            (words["eob_number"], view.eob_number),
            (words["claim_number"], view.claim_number),
            (words["claim_status"], status_words.get(view.claim_status, view.claim_status)),
            (words["member"], view.member_name),
            (words["member_number"], view.member_number),
            (words["provider"], view.provider_name or "-"),
            (words["service_date"], pdfkit.long_date(view.service_date, lang)),
            (
                words["generated_date"],
                pdfkit.long_date(view.generated_date.astimezone(JAKARTA), lang),
            ),
        ],
    )
    pdfkit.heading(doc, words["summary"])
    pdfkit.key_values(
        doc,
        [
            (words[key], money(getattr(view, key), lang))
            for key in (
                "total_charged",
                "total_approved",
                "deductible_applied",
                "copay_amount",
                "coinsurance_amount",
                "total_paid",
                "member_responsibility",
            )
        ],
        label_width=70,
    )
    pdfkit.heading(doc, words["lines"])
    pdfkit.paragraph(doc, words["amounts_in"], size=8)
    pdfkit.table(
        doc,
        [
            words["benefit"],
            words["charged"],
            words["approved"],
            words["deductible"],
            words["copay"],
            words["coinsurance"],
            words["paid"],
            words["status"],
        ],
        [
            [
                line.benefit_code,
                _plain(line.charged, lang),
                _plain(line.approved, lang),
                _plain(line.deductible, lang),
                _plain(line.copay, lang),
                _plain(line.coinsurance, lang),
                _plain(line.paid, lang),
                status_words.get(line.status, line.status),
            ]
            for line in view.lines
        ],
        col_widths=(26, 24, 24, 21, 19, 21, 24, 21),
        align=("L", "R", "R", "R", "R", "R", "R", "L"),
    )
    pdfkit.heading(doc, words["explanation"])
    for n, line in enumerate(view.lines, start=1):
        status = status_words.get(line.status, line.status)
        doc.font(9, bold=True)
        doc.multi_cell(
            0, 5, doc.clean(f"{n}. {line.benefit_code} - {status}"), new_x="LMARGIN", new_y="NEXT"
        )
        if line.denial_reason_text:
            pdfkit.paragraph(doc, f"{words['reason']}: {line.denial_reason_text}", size=8)
        for step in line.trace:
            pdfkit.paragraph(doc, f"  - {step.text}", size=8)
    doc.ln(3)
    pdfkit.paragraph(doc, words["note"], size=8)
    return pdfkit.render(doc)
