"""Pure rules of motor renewals (decision 0047): the no-claim discount ladder and the effect
of claims, when a policy may be renewed, which renewal notice is due, and the coverage diff a
policy_renewals row records. No I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from polis.motor.rating import NCD_LADDER

# Renewal windows (days before the current policy's end date). Constants, not configuration:
# they are product rules, changed with a decision record (0047).
RENEWAL_WINDOW_DAYS = 60  # MANUAL renewals open 60 days before expiry
EARLY_RENEWAL_DAYS = 90  # EARLY renewals open 90 days before expiry, starting at the end date
AUTO_RENEWAL_LEAD_DAYS = 45  # auto_renewal policies are renewed by the job 45 days before
NOTICE_STAGES: tuple[int, ...] = (30, 15, 7)  # renewal notices, days before expiry
TWO_STEP_RATIO = Decimal(2)  # claims paid above 200% of the premium drop two steps

RENEWABLE_STATUSES = ("ACTIVE", "EXPIRED")


@dataclass(frozen=True)
class ClaimFacts:
    """What the NCD needs to know of one claim of the expiring policy."""

    insured_at_fault: bool
    other_party_identified: bool
    other_party_recoverable: bool
    paid: Decimal = Decimal("0.00")

    @property
    def counts_against_ncd(self) -> bool:
        """Only a not-at-fault claim with an identified, recoverable other party keeps the
        NCD; every other claim counts (THAI_MOTOR.md)."""
        return not (
            not self.insured_at_fault
            and self.other_party_identified
            and self.other_party_recoverable
        )


@dataclass(frozen=True)
class NcdOutcome:
    """The NCD of the renewal and how it was reached."""

    previous: int
    ncd: int
    steps: int  # +1 claim-free, 0 kept, -1 or -2 dropped
    counted_claims: int
    claims_paid: Decimal
    reason: str


def ladder_step(ncd: Decimal | int | None) -> int:
    """The ladder step (0..4) of an NCD: the highest rung not above it (a stored 25% that is
    not on the ladder counts as 20%)."""
    value = Decimal(ncd or 0)
    step = 0
    for index, rung in enumerate(NCD_LADDER):
        if value >= rung:
            step = index
    return step


def next_ncd(
    current: Decimal | int | None, claims: Sequence[ClaimFacts], premium: Decimal
) -> NcdOutcome:
    """The NCD of the next period.

    No claim counting against the NCD: one step up the ladder 0/20/30/40/50 (capped at 50).
    Any counting claim (at fault, or the other party unidentified or not recoverable): one
    step down; two steps down when the counting claims paid exceed 200% of `premium` (the
    expiring policy's total premium). Steps are per period, not per claim. Never below 0."""
    step = ladder_step(current)
    previous = NCD_LADDER[step]
    counted = [c for c in claims if c.counts_against_ncd]
    paid = sum((c.paid for c in counted), Decimal("0.00"))
    top = len(NCD_LADDER) - 1
    if not counted:
        new = min(step + 1, top)
        kept = len(claims)
        reason = (
            "claim-free period"
            if not kept
            else f"{kept} claim(s) not at fault with a recoverable other party"
        )
        if kept:  # recoverable claims keep the NCD where it was: no step up
            new = step
        return NcdOutcome(previous, NCD_LADDER[new], new - step, 0, paid, reason)
    drop = 2 if premium > 0 and paid > premium * TWO_STEP_RATIO else 1
    new = max(step - drop, 0)
    reason = (
        f"{len(counted)} claim(s) counting against the NCD, paid {paid}"
        f" {'>' if drop == 2 else '<='} 200% of the premium {premium}"
    )
    return NcdOutcome(previous, NCD_LADDER[new], new - step, len(counted), paid, reason)


def claim_facts(
    other_party_info: Mapping[str, Any] | None,
    liability_percentage: Decimal | None,
    settled_amount: Decimal | None,
) -> ClaimFacts:
    """A motor.claims row read for the NCD (decision 0047). Fault: the latest assessment's
    `liability_percentage` (> 0: the insured bears liability) when there is one, else
    `other_party_info.insured_at_fault`, else the negation of the first notice's
    `other_party_info.at_fault` (the other party's fault); unknown fault counts as at fault.
    The other party is identified by `other_party_info.identified`, else by a
    `registration_number` or `name`; recoverable by `other_party_info.recoverable`, else by
    a named `insurer`. Paid: the settled amount (0 while unsettled)."""
    info = dict(other_party_info or {})
    if liability_percentage is not None:
        at_fault = liability_percentage > 0
    else:
        flag = info.get("insured_at_fault")
        if not isinstance(flag, bool) and isinstance(info.get("at_fault"), bool):
            # First notice records whether the *other party* caused it (claim_schemas
            # OtherParty.at_fault): reported as theirs, the insured is taken as not at fault.
            flag = not info["at_fault"]
        at_fault = flag if isinstance(flag, bool) else True
    identified = info.get("identified")
    if not isinstance(identified, bool):
        identified = bool(info.get("registration_number") or info.get("name"))
    recoverable = info.get("recoverable")
    if not isinstance(recoverable, bool):
        recoverable = bool(info.get("insurer"))
    return ClaimFacts(
        insured_at_fault=at_fault,
        other_party_identified=identified,
        other_party_recoverable=identified and recoverable,
        paid=settled_amount if settled_amount is not None else Decimal("0.00"),
    )


# --- windows ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a renewal cannot be made now (409), with the facts a client needs."""

    reason: str
    detail: str
    opens_on: date | None = None


def renewal_refusal(
    renewal_type: str, status: str, end_date: date, today: date, grace_days: int
) -> Refusal | None:
    """None when a renewal of this kind may be made today.

    ACTIVE policies: MANUAL and AUTOMATIC from RENEWAL_WINDOW_DAYS before the end date, EARLY
    from EARLY_RENEWAL_DAYS before it (until the end date). EXPIRED policies: MANUAL and
    AUTOMATIC within `grace_days` after the end date (POLICY_GRACE_PERIOD_DAYS); never EARLY.
    Other statuses (DRAFT, SUSPENDED, CANCELLED) are not renewable."""
    if status not in RENEWABLE_STATUSES:
        return Refusal("status", f"a {status} policy cannot be renewed")
    if status == "EXPIRED" or end_date <= today:
        if renewal_type == "EARLY":
            return Refusal("window", "an early renewal must be made before the end date")
        if today > end_date + timedelta(days=grace_days):
            return Refusal(
                "window",
                f"the policy ended on {end_date}: the {grace_days}-day grace period is over",
            )
        return None
    lead = EARLY_RENEWAL_DAYS if renewal_type == "EARLY" else RENEWAL_WINDOW_DAYS
    opens = end_date - timedelta(days=lead)
    if today < opens:
        return Refusal(
            "window",
            f"{renewal_type.lower()} renewal opens {lead} days before the end date, on {opens}",
            opens_on=opens,
        )
    return None


def renewal_start(
    renewal_type: str, end_date: date, today: date, requested: date | None
) -> tuple[date | None, str | None]:
    """The new policy's start date, or a message why the requested one is refused.

    The renewal continues cover from the old end date; after a lapse (EXPIRED within grace)
    it starts today at the earliest. EARLY always starts on the old end date. A requested
    start_date may not overlap the old period nor lie in the past."""
    default = max(end_date, today)
    if requested is None:
        return default, None
    if renewal_type == "EARLY" and requested != end_date:
        return None, f"an early renewal starts on the old end date {end_date}"
    if requested < default:
        return None, f"start_date must not be before {default}"
    return requested, None


def notice_due(end_date: date, today: date, sent: Iterable[int]) -> int | None:
    """The renewal notice stage (30, 15 or 7 days) due today, or None. Only the most urgent
    unsent stage is due: a job that missed days sends one notice, not three."""
    days_left = (end_date - today).days
    if days_left <= 0:
        return None
    done = set(sent)
    due = [s for s in NOTICE_STAGES if days_left <= s]
    if not due:
        return None
    stage = min(due)
    if any(s <= stage for s in done):
        return None
    return stage


# --- diff ---------------------------------------------------------------------------------

_NOT_COVER = frozenset(
    {"quote_number", "premium_breakdown", "cancellation", "renewal_notices", "renewal"}
)


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def coverage_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """{field: {"from": old, "to": new}} for every field that differs (policy columns and
    coverage_details keys; bookkeeping keys such as quote_number are left out)."""
    out: dict[str, Any] = {}
    for key in sorted(set(old) | set(new)):
        if key in _NOT_COVER:
            continue
        before, after = _plain(old.get(key)), _plain(new.get(key))
        if before != after:
            out[key] = {"from": before, "to": after}
    return out
