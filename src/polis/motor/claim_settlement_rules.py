"""Pure rules of motor claim assessments and settlement beyond `claim_rules` (issue 5, items
3 and 5; decision 0051): which claim statuses accept which assessment type, who an assessor
is by role, repair-estimate totals, how a claim's deductible is spread over its settlement
rows, what a claim settlement pays through which payment method, and when a claim is
settled. No I/O, no database.

Assessment types by claim status (ACCEPTING)::

    INITIAL        ASSIGNED, INVESTIGATING          only while the claim has no assessment
    DETAILED       ASSIGNED, INVESTIGATING, ASSESSED   not after a FINAL
    FINAL          ASSIGNED, INVESTIGATING, ASSESSED   not after a FINAL
    RE_ASSESSMENT  INVESTIGATING, ASSESSED          only with an earlier assessment

REPORTED (nobody assigned yet), APPROVED, REJECTED, SETTLED and CLOSED accept none. An
assessment recorded while the claim is ASSIGNED or INVESTIGATING moves it to ASSESSED unless it
recommends INVESTIGATE or REQUEST_MORE_INFO (then it is recorded and the claim stays); one
recorded while ASSESSED adds to the file without a status move.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from polis.motor import claim_rules
from polis.motor.claim_rules import ASSESSED, ASSIGNED, INVESTIGATING, ZERO, to_satang
from polis.platform.errors import Conflict
from polis.platform.ids import random_code

# --- assessments -----------------------------------------------------------------------------

INITIAL = "INITIAL"
DETAILED = "DETAILED"
RE_ASSESSMENT = "RE_ASSESSMENT"
FINAL = "FINAL"
ASSESSMENT_TYPES: tuple[str, ...] = (INITIAL, DETAILED, RE_ASSESSMENT, FINAL)

ACCEPTING: dict[str, frozenset[str]] = {
    INITIAL: frozenset({ASSIGNED, INVESTIGATING}),
    DETAILED: frozenset({ASSIGNED, INVESTIGATING, ASSESSED}),
    FINAL: frozenset({ASSIGNED, INVESTIGATING, ASSESSED}),
    RE_ASSESSMENT: frozenset({INVESTIGATING, ASSESSED}),
}
# Recommendations that say the claim is not ready for a decision: recorded, no move.
NOT_READY_ACTIONS = frozenset({"INVESTIGATE", "REQUEST_MORE_INFO"})

# claim_assessments.assessor_type by the user's role. ADMIN and SUPER_ADMIN record the
# assessment of a specialist (an engineer, a loss adjuster firm) as SPECIALIST.
ASSESSOR_TYPES: dict[str, str] = {
    "SURVEYOR": "SURVEYOR",
    "ADJUSTER": "ADJUSTER",
    "ADMIN": "SPECIALIST",
    "SUPER_ADMIN": "SPECIALIST",
}


def assessor_type_for(role: str) -> str | None:
    """The assessor_type a user of `role` records; None when the role does not assess."""
    return ASSESSOR_TYPES.get(role)


@dataclass(frozen=True)
class Admission:
    """Whether an assessment is accepted, why not, and whether it moves the claim."""

    allowed: bool
    reason: str
    moves_to_assessed: bool = False


def admit_assessment(
    status: str,
    assessment_type: str,
    earlier_types: Collection[str],
    recommended_action: str | None = None,
) -> Admission:
    """Whether a claim in `status` whose earlier assessments are of `earlier_types` accepts
    an assessment of `assessment_type` (see the module's table)."""
    if assessment_type not in ACCEPTING:
        raise ValueError(f"unknown assessment_type {assessment_type!r}")
    accepting = ACCEPTING[assessment_type]
    if status not in accepting:
        allowed = ", ".join(sorted(accepting))
        return Admission(False, f"a {assessment_type} assessment needs the claim {allowed}")
    if assessment_type == INITIAL and earlier_types:
        return Admission(False, "an INITIAL assessment is the first one: the claim has one")
    if assessment_type == RE_ASSESSMENT and not earlier_types:
        return Admission(False, "a RE_ASSESSMENT needs an earlier assessment to revise")
    if assessment_type in (DETAILED, FINAL) and FINAL in earlier_types:
        return Admission(False, "the claim has a FINAL assessment: only a RE_ASSESSMENT follows")
    moves = status in (ASSIGNED, INVESTIGATING) and recommended_action not in NOT_READY_ACTIONS
    return Admission(True, "accepted", moves)


def check_assessment(
    status: str,
    assessment_type: str,
    earlier_types: Collection[str],
    recommended_action: str | None = None,
    claim_number: str = "",
) -> Admission:
    """`admit_assessment`, raising 409 `assessment-not-accepted` when refused."""
    admission = admit_assessment(status, assessment_type, earlier_types, recommended_action)
    if not admission.allowed:
        what = f"Claim {claim_number}" if claim_number else "The claim"
        raise Conflict(
            f"{what} is {status}: {admission.reason}.",
            type_="assessment-not-accepted",
            extra={
                "claim_status": status,
                "assessment_type": assessment_type,
                "accepted_in": sorted(ACCEPTING[assessment_type]),
            },
        )
    return admission


def estimate_total(amounts: Iterable[Decimal]) -> Decimal:
    """The total of repair-estimate line amounts, to the satang."""
    return to_satang(sum(amounts, ZERO))


# --- settlement ------------------------------------------------------------------------------

# claim_settlements.settlement_method -> motor.payments.payment_method (the seed's payments
# CHECK has no CHEQUE: a cheque is paid out of, and cleared through, the insurer's bank
# account, so its payment row is a BANK_TRANSFER; the settlement row keeps CHEQUE).
PAYMENT_METHODS: dict[str, str] = {
    "BANK_TRANSFER": "BANK_TRANSFER",
    "PROMPTPAY": "PROMPTPAY",
    "CHEQUE": "BANK_TRANSFER",
    "CASH": "CASH",
}

# claim_settlements.status
PENDING = "PENDING"
APPROVED = "APPROVED"
PAID = "PAID"
CANCELLED = "CANCELLED"


def payment_method_for(settlement_method: str) -> str:
    """The payment_method of the OUTGOING payment carrying a settlement."""
    return PAYMENT_METHODS[settlement_method]


def new_settlement_number(today: date) -> str:
    """STL-YYYY-XXXXXXXXXXXX: the year and 12 random Crockford base-32 characters (60 bits);
    the UNIQUE settlement_number refuses the improbable duplicate."""
    return f"STL-{today.year}-{random_code(12)}"


def allocate_deductible(
    deductible: Decimal, already_applied: Decimal, grosses: Sequence[Decimal]
) -> list[Decimal]:
    """The claim's deductible spread over new own-damage rows in order: each row bears what
    is left of the deductible (after `already_applied` on earlier rows of the claim), never
    more than its own gross. So the deductible is taken once per claim, whatever the number
    of payees."""
    for value in (deductible, already_applied, *grosses):
        if not isinstance(value, Decimal):
            raise TypeError("money must be a Decimal")
        if value < 0:
            raise ValueError("amounts cannot be negative")
    left = max(ZERO, to_satang(deductible) - to_satang(already_applied))
    out = []
    for gross in grosses:
        applied = min(left, to_satang(gross))
        out.append(applied)
        left -= applied
    return out


@dataclass(frozen=True)
class Row:
    """What the settled-claim rule needs of one claim_settlements row."""

    status: str
    net_amount: Decimal
    deductible_amount: Decimal = ZERO


def is_done(row: Row) -> bool:
    """A row needs nothing more: PAID, CANCELLED, or APPROVED with nothing to pay (net 0)."""
    return row.status in (PAID, CANCELLED) or (row.status == APPROVED and row.net_amount == 0)


def claim_settles(rows: Sequence[Row]) -> bool:
    """The claim is settled when it has a live (not cancelled) settlement row and every row
    is done (paid, cancelled, or net 0)."""
    live = [r for r in rows if r.status != CANCELLED]
    return bool(live) and all(is_done(r) for r in rows)


@dataclass(frozen=True)
class Totals:
    """The claim columns a settlement sets: settled_amount (net paid) and deductible_amount
    (the deductible borne on live rows)."""

    settled_amount: Decimal
    deductible_amount: Decimal


def totals(rows: Sequence[Row]) -> Totals:
    """settled_amount = net of PAID rows; deductible_amount = deductible of live rows."""
    paid = sum((r.net_amount for r in rows if r.status == PAID), ZERO)
    deductible = sum((r.deductible_amount for r in rows if r.status != CANCELLED), ZERO)
    return Totals(to_satang(paid), to_satang(deductible))


def person_key(name: str) -> str:
    """The key of an injured person across CMI rows (case and spacing ignored)."""
    return " ".join(name.split()).casefold()


def cmi_already_paid(
    earlier: Iterable[tuple[str, claim_rules.CmiPayment]], person: str
) -> claim_rules.CmiPayment:
    """What earlier live CMI rows of the claim paid `person`, per head (the after-fault limits
    include the initial payment, THAI_MOTOR.md)."""
    key = person_key(person)
    medical = death = inpatient = ZERO
    for who, paid in earlier:
        if person_key(who) == key:
            medical += paid.medical
            death += paid.death_or_disability
            inpatient += paid.inpatient_compensation
    return claim_rules.CmiPayment(medical, death, inpatient)


def collided_with_land_vehicle(other_party_info: dict[str, object] | None) -> bool:
    """Whether an ACCIDENT was a collision with a land vehicle (the 2+/3+ own-damage cover):
    `other_party_info.collision_with_land_vehicle` when given, else an other party with a
    vehicle (a registration number, make or model)."""
    info = dict(other_party_info or {})
    flag = info.get("collision_with_land_vehicle")
    if isinstance(flag, bool):
        return flag
    return any(info.get(k) for k in ("registration_number", "vehicle_make", "vehicle_model"))
