"""Pure rules of motor claims (issue 5, seed 001): the status transition table and the date
column each move sets, what each policy type covers, approval authority by role (data in
`polis/motor/data/approval_limits.json`), the settlement less the deductible, and the CMI
bodily-injury limits per person. No I/O beyond reading that file; no database.

Transition table (exactly the seed's statuses)::

    REPORTED      -> ASSIGNED | INVESTIGATING | REJECTED
    ASSIGNED      -> INVESTIGATING | ASSESSED | REJECTED
    INVESTIGATING -> ASSESSED | REJECTED
    ASSESSED      -> APPROVED | REJECTED | INVESTIGATING
    APPROVED      -> SETTLED
    SETTLED       -> CLOSED
    REJECTED      -> CLOSED
    CLOSED        (terminal)

Why each move:
- REPORTED -> ASSIGNED: an adjuster (and a surveyor) is assigned to the notified claim.
- REPORTED -> INVESTIGATING: a fraud score above the threshold at first notice sends the claim
  straight to investigation (issue 5, item 7), before anyone is assigned to assess it.
- REPORTED -> REJECTED: refused at once (e.g. found outside cover after notice).
- ASSIGNED -> ASSESSED: the normal path, the first assessment recorded.
- ASSIGNED -> INVESTIGATING: the adjuster or surveyor finds grounds to investigate.
- INVESTIGATING -> ASSESSED | REJECTED: an investigation ends in an assessment or a refusal;
  it never returns to ASSIGNED (re-assignment of staff is a field change, not a status).
- ASSESSED -> APPROVED | REJECTED: the decision, by a user with the authority and who did not
  assess the claim (`may_approve`).
- ASSESSED -> INVESTIGATING: QA or the approver sends an assessment back; a RE_ASSESSMENT then
  moves the claim to ASSESSED again (its assessment_date overwritten).
- APPROVED -> SETTLED: the money goes out. An approval is not undone by a status move (no
  APPROVED -> REJECTED): a wrong approval is handled by cancelling the unpaid settlement row,
  which keeps the audit trail. A claim whose deductible swallows the approved amount settles
  at 0 (settled_amount 0, no payment row) so it still reaches SETTLED.
- SETTLED -> CLOSED, REJECTED -> CLOSED: the file is closed. A rejection is not re-opened by
  a status move; a dispute is a new claim (or the court_case_number on this one).
- CLOSED is terminal.

Every service that changes `claims.status` asks `check_transition` first, so a refused move is
one error (409 `invalid-transition`) wherever it is attempted.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from polis.platform.errors import Conflict, Forbidden

CENT = Decimal("0.01")
ZERO = Decimal("0.00")


def to_satang(amount: Decimal) -> Decimal:
    """`amount` rounded half-up to the satang (2 places); floats are refused."""
    if not isinstance(amount, Decimal):
        raise TypeError("money must be a Decimal")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


# --- statuses (seed CHECK) -------------------------------------------------------------------

REPORTED = "REPORTED"
ASSIGNED = "ASSIGNED"
INVESTIGATING = "INVESTIGATING"
ASSESSED = "ASSESSED"
APPROVED = "APPROVED"
REJECTED = "REJECTED"
SETTLED = "SETTLED"
CLOSED = "CLOSED"

STATUSES: tuple[str, ...] = (
    REPORTED,
    ASSIGNED,
    INVESTIGATING,
    ASSESSED,
    APPROVED,
    REJECTED,
    SETTLED,
    CLOSED,
)

CLAIM_TRANSITIONS: Mapping[str, frozenset[str]] = {
    REPORTED: frozenset({ASSIGNED, INVESTIGATING, REJECTED}),
    ASSIGNED: frozenset({INVESTIGATING, ASSESSED, REJECTED}),
    INVESTIGATING: frozenset({ASSESSED, REJECTED}),
    ASSESSED: frozenset({APPROVED, REJECTED, INVESTIGATING}),
    APPROVED: frozenset({SETTLED}),
    SETTLED: frozenset({CLOSED}),
    REJECTED: frozenset({CLOSED}),
    CLOSED: frozenset(),
}
TERMINAL = frozenset({CLOSED})
# Statuses in which a claim still counts against the policy (open, not yet decided/paid).
OPEN_STATUSES = frozenset({REPORTED, ASSIGNED, INVESTIGATING, ASSESSED, APPROVED})

# The claims date column a move into each status sets (seed: assessment_date, approval_date,
# settlement_date, closure_date; all DATE). reported_date is set at first notice, not by a move;
# REJECTED has no date column of its own (the audit row carries when; closure_date follows).
DATE_COLUMN: Mapping[str, str] = {
    ASSESSED: "assessment_date",
    APPROVED: "approval_date",
    SETTLED: "settlement_date",
    CLOSED: "closure_date",
}


def can_transition(current: str, target: str) -> bool:
    """Whether a claim may move from `current` to `target`."""
    return target in CLAIM_TRANSITIONS.get(current, frozenset())


def allowed_from(current: str) -> list[str]:
    """The statuses a claim in `current` may move to (sorted, for error messages)."""
    return sorted(CLAIM_TRANSITIONS.get(current, frozenset()))


def check_transition(current: str, target: str, claim_number: str = "") -> None:
    """Raise 409 `invalid-transition` unless `current -> target` is in the table."""
    if not can_transition(current, target):
        what = f"Claim {claim_number}" if claim_number else "The claim"
        allowed = ", ".join(allowed_from(current)) or "none (terminal)"
        raise Conflict(
            f"{what} cannot move from {current} to {target}; allowed: {allowed}.",
            type_="invalid-transition",
            extra={"current": current, "target": target, "allowed": allowed_from(current)},
        )


def date_column(target: str) -> str | None:
    """The claims date column that a move into `target` sets, or None."""
    return DATE_COLUMN.get(target)


# --- coverage --------------------------------------------------------------------------------

POLICY_TYPES = ("CMI", "CLASS_1", "CLASS_2", "CLASS_3")
COVERAGE_OPTIONS = ("STANDARD", "PLUS")
CLAIM_TYPES = ("ACCIDENT", "THEFT", "FIRE", "FLOOD", "VANDALISM", "NATURAL_DISASTER")

# Heads of loss a claim asks to be paid under.
BODILY_INJURY = "BODILY_INJURY"  # injury or death of a person (third party or occupant)
THIRD_PARTY_PROPERTY = "THIRD_PARTY_PROPERTY"  # damage to someone else's property
OWN_DAMAGE = "OWN_DAMAGE"  # the insured vehicle itself (damage, loss by theft or fire)
HEADS = (BODILY_INJURY, THIRD_PARTY_PROPERTY, OWN_DAMAGE)

# Own-damage claim types each voluntary class covers in its STANDARD form
# (THAI_MOTOR.md: class 1 own damage incl. collision, fire, theft, flood per policy;
# class 2 own fire and theft; class 3 none). CLASS_1 is read as covering every seed claim
# type (its flood/natural-disaster cover is "per policy": a wording that excludes it is a
# coverage_details matter for the service, not this table).
_OWN_DAMAGE_TYPES: Mapping[str, frozenset[str]] = {
    "CMI": frozenset(),
    "CLASS_1": frozenset(CLAIM_TYPES),
    "CLASS_2": frozenset({"FIRE", "THEFT"}),
    "CLASS_3": frozenset(),
}

# 2+ / 3+ own-damage cover: collision with a land vehicle, up to a limit (typical 100,000 THB,
# as in the rate table's plus_cover), with a 2,000 THB deductible when the insured is at fault.
PLUS_OWN_DAMAGE_LIMIT = Decimal("100000.00")
PLUS_AT_FAULT_DEDUCTIBLE = Decimal("2000.00")


@dataclass(frozen=True)
class Coverage:
    """Whether a head of loss is covered; `reason` says why not (or which cover applies);
    `limit` is the cover's own cap when it has one (2+/3+ own damage)."""

    covered: bool
    reason: str
    limit: Decimal | None = None


def coverage(
    policy_type: str,
    claim_type: str,
    head: str,
    *,
    coverage_option: str = "STANDARD",
    collision_with_land_vehicle: bool = False,
) -> Coverage:
    """Whether a policy of `policy_type` (and `coverage_option`, PLUS for 2+/3+) covers a
    `claim_type` claim for the loss `head`.

    - CMI: bodily injury from a road accident only.
    - Voluntary classes (1, 2, 3): third-party bodily injury and property from an accident.
    - Own damage: CLASS_1 every claim type; CLASS_2 fire and theft; CLASS_3 none; with PLUS
      (2+ / 3+) also an ACCIDENT that is a collision with a land vehicle, up to the limit.
    """
    if policy_type not in POLICY_TYPES:
        raise ValueError(f"unknown policy_type {policy_type!r}")
    if claim_type not in CLAIM_TYPES:
        raise ValueError(f"unknown claim_type {claim_type!r}")
    if head not in HEADS:
        raise ValueError(f"unknown head of loss {head!r}")
    if coverage_option not in COVERAGE_OPTIONS:
        raise ValueError(f"unknown coverage_option {coverage_option!r}")
    if coverage_option == "PLUS" and policy_type not in ("CLASS_2", "CLASS_3"):
        raise ValueError(f"{policy_type} has no PLUS option (only 2+ and 3+)")

    if policy_type == "CMI":
        if head == BODILY_INJURY and claim_type == "ACCIDENT":
            return Coverage(True, "CMI bodily injury (statutory limits per person)")
        return Coverage(False, "CMI covers bodily injury from a road accident only")

    if head in (BODILY_INJURY, THIRD_PARTY_PROPERTY):
        if claim_type == "ACCIDENT":
            return Coverage(True, f"{policy_type} third-party liability")
        return Coverage(False, f"third-party liability answers for accidents, not {claim_type}")

    # OWN_DAMAGE
    if claim_type in _OWN_DAMAGE_TYPES[policy_type]:
        return Coverage(True, f"{policy_type} own damage by {claim_type}")
    if coverage_option == "PLUS" and claim_type == "ACCIDENT":
        if collision_with_land_vehicle:
            label = "2+" if policy_type == "CLASS_2" else "3+"
            return Coverage(
                True,
                f"{label} own damage from collision with a land vehicle",
                PLUS_OWN_DAMAGE_LIMIT,
            )
        return Coverage(False, "2+/3+ own damage covers collision with a land vehicle only")
    if policy_type == "CLASS_3":
        return Coverage(False, "CLASS_3 covers third parties only, no own damage")
    return Coverage(False, f"{policy_type} does not cover own damage by {claim_type}")


# --- approval authority ----------------------------------------------------------------------


@dataclass(frozen=True)
class ApprovalLimits:
    """Per role, the largest approved amount (None: unlimited); roles absent may not approve."""

    limits: Mapping[str, Decimal | None]
    illustrative: bool = True

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> ApprovalLimits:
        limits: dict[str, Decimal | None] = {}
        for role, value in data["limits"].items():
            if value is None:
                limits[str(role)] = None
                continue
            amount = Decimal(str(value))
            if amount < 0 or amount != to_satang(amount):
                raise ValueError(f"limit of {role} must be >= 0 with at most 2 places")
            limits[str(role)] = amount
        return cls(limits, bool(data.get("illustrative", True)))

    def limit_of(self, role: str) -> Decimal | None:
        """The role's limit; raises KeyError when the role may not approve at all."""
        return self.limits[role]

    def covers(self, role: str, amount: Decimal) -> bool:
        """Whether `role` has authority for `amount` (the limit itself included)."""
        if role not in self.limits:
            return False
        limit = self.limits[role]
        return limit is None or amount <= limit

    def roles_for(self, amount: Decimal) -> list[str]:
        """The roles with authority for `amount`, lowest limit first (unlimited last)."""
        ok = [r for r in self.limits if self.covers(r, amount)]
        return sorted(ok, key=lambda r: (self.limits[r] is None, self.limits[r] or ZERO))


@lru_cache(maxsize=1)
def approval_limits() -> ApprovalLimits:
    """The shipped authority limits (package data; illustrative figures)."""
    text = resources.files("polis.motor").joinpath("data", "approval_limits.json")
    return ApprovalLimits.from_data(json.loads(text.read_text("utf-8")))


@dataclass(frozen=True)
class ApprovalDecision:
    allowed: bool
    reason: str
    # When refused for the amount: the roles that could approve it.
    needs_role: tuple[str, ...] = ()


def may_approve(
    role: str,
    amount: Decimal,
    assessed_by: uuid.UUID | Iterable[uuid.UUID] | None,
    approver: uuid.UUID,
    limits: ApprovalLimits | None = None,
) -> ApprovalDecision:
    """Whether `approver` (of `role`) may approve `amount` on a claim assessed by
    `assessed_by` (one user or every assessor of the claim). Refused when the approver
    assessed the claim, or the amount is above the role's limit (then `needs_role` lists the
    roles that could)."""
    if not isinstance(amount, Decimal):
        raise TypeError("money must be a Decimal")
    if amount < 0:
        raise ValueError("the approved amount cannot be negative")
    limits = limits or approval_limits()
    if assessed_by is None:
        assessors: frozenset[uuid.UUID] = frozenset()
    elif isinstance(assessed_by, uuid.UUID):
        assessors = frozenset({assessed_by})
    else:
        assessors = frozenset(assessed_by)
    if approver in assessors:
        return ApprovalDecision(False, "nobody approves a claim they assessed")
    if role not in limits.limits:
        return ApprovalDecision(
            False, f"role {role} has no approval authority", tuple(limits.roles_for(amount))
        )
    if not limits.covers(role, amount):
        return ApprovalDecision(
            False,
            f"{amount} THB is above the {role} limit of {limits.limit_of(role)} THB",
            tuple(limits.roles_for(amount)),
        )
    return ApprovalDecision(True, f"within the {role} limit")


def check_approval(
    role: str,
    amount: Decimal,
    assessed_by: uuid.UUID | Iterable[uuid.UUID] | None,
    approver: uuid.UUID,
    limits: ApprovalLimits | None = None,
) -> None:
    """Raise 403 `approval-authority` when `may_approve` refuses."""
    decision = may_approve(role, amount, assessed_by, approver, limits)
    if not decision.allowed:
        raise Forbidden(
            decision.reason + ".",
            type_="approval-authority",
            extra={"needs_role": list(decision.needs_role)},
        )


# --- settlement ------------------------------------------------------------------------------


def deductible_for(
    *,
    head: str,
    coverage_option: str = "STANDARD",
    at_fault: bool = False,
    policy_excess: Decimal = ZERO,
) -> Decimal:
    """The deductible on a head of loss: own damage bears the policy excess (the voluntary
    deductible in coverage_details) and, on a 2+/3+ policy when the insured is at fault, the
    2,000 THB at-fault deductible. Third-party and bodily-injury heads bear none."""
    if not isinstance(policy_excess, Decimal):
        raise TypeError("money must be a Decimal")
    if policy_excess < 0:
        raise ValueError("the policy excess cannot be negative")
    if head != OWN_DAMAGE:
        return ZERO
    total = to_satang(policy_excess)
    if coverage_option == "PLUS" and at_fault:
        total += PLUS_AT_FAULT_DEDUCTIBLE
    return total


@dataclass(frozen=True)
class Settlement:
    """gross = the approved amount (capped at the cover's limit), deductible = what of the
    deductible applies (never above gross), net = gross - deductible (seed
    chk_settlement_amounts), all to the satang."""

    gross_amount: Decimal
    deductible_amount: Decimal
    net_amount: Decimal


def settlement(
    approved_amount: Decimal, deductible: Decimal, limit: Decimal | None = None
) -> Settlement:
    """What a claim pays: the approved amount (half-up to the satang, capped at `limit`) less
    the deductible; never negative, never above the approved amount."""
    for value in (approved_amount, deductible):
        if not isinstance(value, Decimal):
            raise TypeError("money must be a Decimal")
    if approved_amount < 0 or deductible < 0:
        raise ValueError("amounts cannot be negative")
    gross = to_satang(approved_amount)
    if limit is not None:
        gross = min(gross, to_satang(limit))
    applied = min(to_satang(deductible), gross)
    return Settlement(gross, applied, gross - applied)


# --- CMI bodily-injury limits per person (THAI_MOTOR.md) -------------------------------------

INITIAL = "INITIAL"  # paid without proof of fault, within 7 days
AFTER_FAULT = "AFTER_FAULT"  # after the victim is shown not at fault (includes the initial)


@dataclass(frozen=True)
class CmiLimits:
    medical: Decimal
    death_or_disability: Decimal
    inpatient_daily: Decimal
    inpatient_max_days: int


CMI_LIMITS: Mapping[str, CmiLimits] = {
    INITIAL: CmiLimits(Decimal("30000.00"), Decimal("35000.00"), ZERO, 0),
    AFTER_FAULT: CmiLimits(Decimal("80000.00"), Decimal("500000.00"), Decimal("200.00"), 20),
}


@dataclass(frozen=True)
class CmiPayment:
    """What CMI pays one person now, per head, and the total."""

    medical: Decimal
    death_or_disability: Decimal
    inpatient_compensation: Decimal

    @property
    def total(self) -> Decimal:
        return self.medical + self.death_or_disability + self.inpatient_compensation


def cmi_payable(
    stage: str,
    *,
    medical: Decimal = ZERO,
    death_or_disability: Decimal = ZERO,
    inpatient_days: int = 0,
    already_paid: CmiPayment | None = None,
) -> CmiPayment:
    """The requested amounts for one person capped at the CMI limits of `stage`. The
    AFTER_FAULT limits include the initial payment: pass it as `already_paid` and only the
    rest up to the limit is payable. Inpatient compensation is 200 THB a day for at most 20
    days, after fault only."""
    if stage not in CMI_LIMITS:
        raise ValueError(f"unknown CMI stage {stage!r}")
    for value in (medical, death_or_disability):
        if not isinstance(value, Decimal):
            raise TypeError("money must be a Decimal")
        if value < 0:
            raise ValueError("requested amounts cannot be negative")
    if inpatient_days < 0:
        raise ValueError("inpatient days cannot be negative")
    cap = CMI_LIMITS[stage]
    paid = already_paid or CmiPayment(ZERO, ZERO, ZERO)

    def capped(requested: Decimal, limit: Decimal, before: Decimal) -> Decimal:
        room = max(ZERO, limit - before)
        return min(to_satang(requested), room)

    days = min(inpatient_days, cap.inpatient_max_days)
    return CmiPayment(
        medical=capped(medical, cap.medical, paid.medical),
        death_or_disability=capped(
            death_or_disability, cap.death_or_disability, paid.death_or_disability
        ),
        inpatient_compensation=capped(
            cap.inpatient_daily * days,
            cap.inpatient_daily * cap.inpatient_max_days,
            paid.inpatient_compensation,
        ),
    )
