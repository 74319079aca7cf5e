"""The health claim lifecycle as an explicit transition table (pure; decision 0018).

    submitted -> pended | approved | partially_approved | denied   (synchronous adjudication)
    pended -> approved | partially_approved | denied               (review, funds released)
    approved | partially_approved -> payment_pending -> paid -> closed
    approved | partially_approved | denied -> appealed -> voided    (re-adjudicated as a new
                                                                      claim that links back)
    any unpaid claim -> voided                                      (accumulators reversed)

`adjudicating` is kept for the seed's vocabulary but never stored by synchronous
adjudication; `cancelled` is a claim withdrawn before adjudication. Every service that
changes `claims.claim.status` asks `check_transition` first, so a refused move is one error
type (409 `invalid-transition`) wherever it is attempted.
"""

from __future__ import annotations

from collections.abc import Mapping

from polis.platform.errors import Conflict

SUBMITTED = "submitted"
ADJUDICATING = "adjudicating"
PENDED = "pended"
APPROVED = "approved"
PARTIALLY_APPROVED = "partially_approved"
DENIED = "denied"
PAYMENT_PENDING = "payment_pending"
PAID = "paid"
CLOSED = "closed"
APPEALED = "appealed"
VOIDED = "voided"
CANCELLED = "cancelled"

DECIDED = frozenset({APPROVED, PARTIALLY_APPROVED, DENIED})
PAYABLE = frozenset({APPROVED, PARTIALLY_APPROVED})
TERMINAL = frozenset({CLOSED, VOIDED, CANCELLED})

TRANSITIONS: Mapping[str, frozenset[str]] = {
    SUBMITTED: frozenset({ADJUDICATING, PENDED, APPROVED, PARTIALLY_APPROVED, DENIED, CANCELLED}),
    ADJUDICATING: frozenset({PENDED, APPROVED, PARTIALLY_APPROVED, DENIED}),
    PENDED: frozenset({APPROVED, PARTIALLY_APPROVED, DENIED, VOIDED}),
    APPROVED: frozenset({PAYMENT_PENDING, APPEALED, VOIDED}),
    PARTIALLY_APPROVED: frozenset({PAYMENT_PENDING, APPEALED, VOIDED}),
    DENIED: frozenset({APPEALED, VOIDED, CLOSED}),
    # A failed or cancelled payment returns the claim to what it was before the run.
    PAYMENT_PENDING: frozenset({PAID, APPROVED, PARTIALLY_APPROVED}),
    PAID: frozenset({CLOSED}),
    # An appeal is re-adjudicated (the claim is voided and a new one links back) or
    # rejected (the claim returns to its decided status).
    APPEALED: frozenset({VOIDED, APPROVED, PARTIALLY_APPROVED, DENIED}),
    CLOSED: frozenset(),
    VOIDED: frozenset(),
    CANCELLED: frozenset(),
}

STATUSES = tuple(TRANSITIONS)


def allowed(current: str, target: str) -> bool:
    """Whether a claim in `current` may move to `target`."""
    return target in TRANSITIONS.get(current, frozenset())


def check_transition(current: str, target: str, claim_number: str = "") -> None:
    """Raise 409 `invalid-transition` unless `current -> target` is in the table."""
    if not allowed(current, target):
        what = f"Claim {claim_number}" if claim_number else "The claim"
        raise Conflict(
            f"{what} cannot move from {current} to {target}.", type_="invalid-transition"
        )
