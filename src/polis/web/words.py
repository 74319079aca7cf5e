"""Codes in plain words for the pages: claim statuses, trace steps and denial reasons.

Indonesian and English come from the EOB's own words (polis.health.eob), so a page and the
EOB say the same; Thai is the Thai catalog's translation of the English words.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from polis.health import eob
from polis.web import i18n

# Message ids of statuses (claims, lines, letters, payments); translated when shown.
STATUSES: dict[str, str] = {
    "submitted": "Submitted",
    "adjudicating": "Adjudicating",
    "pended": "Pended",
    "approved": "Approved",
    "partially_approved": "Partially approved",
    "denied": "Denied",
    "payment_pending": "Payment pending",
    "paid": "Paid",
    "closed": "Closed",
    "appealed": "Appealed",
    "voided": "Voided",
    "cancelled": "Cancelled",
    "pending": "Pending",
    "expired": "Expired",
    "sent": "Sent",
    "failed": "Failed",
    # Motor (upper-case codes): claims, policies, quotes, payments.
    "REPORTED": "Reported",
    "ASSIGNED": "Assigned",
    "INVESTIGATING": "Investigating",
    "ASSESSED": "Assessed",
    "APPROVED": "Approved",
    "REJECTED": "Rejected",
    "SETTLED": "Settled",
    "CLOSED": "Closed",
    "DRAFT": "Draft",
    "ACTIVE": "Active",
    "EXPIRED": "Expired",
    "CANCELLED": "Cancelled",
    "SUSPENDED": "Suspended",
    "QUOTED": "Quoted",
    "BOUND": "Bound",
    "WITHDRAWN": "Withdrawn",
    "PENDING": "Pending",
    "PROCESSING": "Processing",
    "SUCCESS": "Paid",
    "FAILED": "Failed",
    "REFUNDED": "Refunded",
}

# Codes the pages add to the EOB's (pended claims).
EXTRA_CODES: dict[str, str] = {
    "review_amount": "Above the amount a reviewer must check",
    "documents_required": "Waiting for required documents",
}


def words(table: dict[str, str] | None, code: str | None) -> str:
    """A status (table given) or a trace / reason code in the current language."""
    if code is None:
        return ""
    lang = i18n.current_language()
    if table is not None:
        return i18n.gettext_(table[code]) if code in table else code
    head, sep, rest = code.partition(": ")
    if head in EXTRA_CODES:
        text = i18n.gettext_(EXTRA_CODES[head])
    elif head not in eob.CODE_WORDS:
        return code
    elif lang in eob.LANGUAGES:
        return eob.code_words(code, lang) or code
    else:
        text = i18n.gettext_(eob.CODE_WORDS[head][1])
    return f"{text}: {rest}" if sep else text


def _amount(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)) if value is not None else None
    except (InvalidOperation, ValueError):
        return None


def step_words(step: dict[str, Any], lang: str) -> str:
    """One adjudication step in plain words with the amounts it changed."""
    code = str(step.get("code", ""))
    head = code.partition(": ")[0]
    if lang in eob.LANGUAGES and head not in EXTRA_CODES:
        return eob.step_words(step, lang)
    text = words(None, code) if (head in eob.CODE_WORDS or head in EXTRA_CODES) else None
    text = text or str(step.get("message") or code)
    before, after = _amount(step.get("amount_before")), _amount(step.get("amount_after"))
    if before is not None and after is not None and before != after:
        return f"{text}: {i18n.money(before, lang)} → {i18n.money(after, lang)}"
    if after is not None and head in ("paid", "funding", "review_amount"):
        return f"{text}: {i18n.money(after, lang)}"
    return text


def _mark(message: str) -> str:
    """Marks a table's word for extraction (python -m polis.web.messages); translated when
    shown."""
    return message


_ = _mark  # the extractor looks for _()

# Plan, benefit and exclusion codes (health configuration pages).
PLAN_WORDS: dict[str, str] = {
    "basic": _("Basic plan"),
    "standard": _("Standard plan"),
    "premium": _("Premium plan"),
    "covered": _("Covered"),
    "not_covered": _("Not covered"),
    "limited": _("Limited"),
    "per_incident": _("per incident"),
    "per_day": _("per day"),
    "per_year": _("per year"),
    "diagnosis": _("Diagnosis"),
    "procedure": _("Procedure"),
    "condition": _("Condition"),
}

# Kinds of claim documents (POST /health/claims/{id}/documents' document_type).
DOCUMENT_WORDS: dict[str, str] = {
    "invoice": _("Invoice"),
    "receipt": _("Receipt"),
    "medical_report": _("Medical report"),
    "prescription": _("Prescription"),
    "referral": _("Referral"),
    "lab_result": _("Laboratory result"),
    "discharge_summary": _("Discharge summary"),
    "other": _("Other"),
}
del _
