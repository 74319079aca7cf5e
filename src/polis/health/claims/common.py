"""Constants and small helpers shared by the claim modules (see polis.health.adjudication)."""

from __future__ import annotations

from decimal import Decimal

from polis.health import rules
from polis.platform.errors import BusinessRuleError

ZERO = Decimal("0.00")
AWAITING_FUNDS = "awaiting_funds"
# Pended for a person (decision 0025): above the review amount; reimbursement without the
# required documents. Like AWAITING_FUNDS, such a claim moves no accumulator and no fund.
REVIEW_AMOUNT = "review_amount"
DOCUMENTS_REQUIRED = "documents_required"
REVIEW_AMOUNT_SETTING = "HEALTH_CLAIM_REVIEW_AMOUNT"
DOCUMENTS_SETTING = "HEALTH_REIMBURSEMENT_DOCUMENTS"
# Claims whose amounts count towards out of pocket and whose moves a void reverses (a
# pended claim has moved nothing; an appealed one keeps its moves until it is decided).
COUNTED_STATUSES = (
    "approved",
    "partially_approved",
    "payment_pending",
    "paid",
    "closed",
    "appealed",
)


def _invalid(message: str, type_: str = "invalid-claim") -> BusinessRuleError:
    return BusinessRuleError(message, type_=type_)


def _claim_status(result: rules.AdjudicationResult) -> str:
    statuses = {line.status for line in result.lines}
    if statuses == {"denied"}:
        return "denied"
    if statuses == {"approved"}:
        return "approved"
    return "partially_approved"
