"""Pure rules of motor policies and their payment schedules (decision 0039): the status
transition table, instalment schedules that sum exactly to the premium, policy numbers and
payment references, overdue instalments, and the cancellation refund by the short-rate scale
held as data (`polis/motor/data/short_rate_refund.json`). No I/O beyond reading that file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any

from polis.motor.rating import add_months

CENT = Decimal("0.01")

# --- statuses (seed CHECK: DRAFT, ACTIVE, EXPIRED, CANCELLED, SUSPENDED) -------------------

POLICY_TRANSITIONS: dict[str, frozenset[str]] = {
    "DRAFT": frozenset({"ACTIVE", "CANCELLED"}),
    "ACTIVE": frozenset({"SUSPENDED", "CANCELLED", "EXPIRED"}),
    "SUSPENDED": frozenset({"ACTIVE", "CANCELLED", "EXPIRED"}),
    "CANCELLED": frozenset(),
    "EXPIRED": frozenset(),
}
# A vehicle's cover: statuses that hold its period against another bind.
LIVE_STATUSES = ("DRAFT", "ACTIVE", "SUSPENDED")


def can_transition(current: str, target: str) -> bool:
    """Whether a policy may move from `current` to `target`."""
    return target in POLICY_TRANSITIONS.get(current, frozenset())


def allowed_from(current: str) -> list[str]:
    """The statuses a policy in `current` may move to (sorted, for error messages)."""
    return sorted(POLICY_TRANSITIONS.get(current, frozenset()))


# --- payment plans and schedules -----------------------------------------------------------

INSTALMENTS: dict[str, int] = {"FULL": 1, "INSTALLMENT_6": 6, "INSTALLMENT_12": 12}
# policies.payment_frequency (seed CHECK: ANNUAL, SEMI_ANNUAL, MONTHLY) of each plan:
# the full premium once, or monthly instalments.
FREQUENCY: dict[str, str] = {
    "FULL": "ANNUAL",
    "INSTALLMENT_6": "MONTHLY",
    "INSTALLMENT_12": "MONTHLY",
}


@dataclass(frozen=True)
class ScheduledPayment:
    """One row of a schedule; number/of are None for a FULL payment (the seed's
    chk_payment_installments: both NULL, or 0 < number <= total)."""

    amount: Decimal
    due_date: date
    installment_number: int | None
    total_installments: int | None

    @property
    def payment_type(self) -> str:
        """motor.payments.payment_type: PREMIUM for the full premium, else INSTALLMENT."""
        return "PREMIUM" if self.installment_number is None else "INSTALLMENT"


class ScheduleError(ValueError):
    """The premium cannot be split by this plan (too small, or more months than the term)."""


def split_amount(total: Decimal, parts: int) -> list[Decimal]:
    """`total` (2 places, > 0) in `parts` amounts of whole satang that sum exactly to it:
    each is floor(total / parts) and the remainder satang go on the first."""
    if parts < 1:
        raise ScheduleError("at least one part")
    satang = int((total / CENT).to_integral_exact())
    if Decimal(satang) * CENT != total:
        raise ScheduleError("the total must have at most 2 decimal places")
    if satang < parts:
        raise ScheduleError(f"{total} cannot be split into {parts} positive amounts")
    each, remainder = divmod(satang, parts)
    amounts = [each + remainder] + [each] * (parts - 1)
    return [Decimal(a) * CENT for a in amounts]


def schedule(
    total: Decimal, plan: str, start_date: date, period_months: int
) -> list[ScheduledPayment]:
    """The payments of a plan: FULL is one payment due on the start date; INSTALLMENT_n is
    n monthly instalments due on the start date and the same day of the next months (clamped
    to the month's end). n may not exceed the policy's months (no instalment after cover)."""
    if plan not in INSTALMENTS:
        raise ScheduleError(f"unknown payment plan {plan!r}")
    n = INSTALMENTS[plan]
    if n > period_months:
        raise ScheduleError(f"{plan} needs a term of at least {n} months, not {period_months}")
    amounts = split_amount(total, n)
    if plan == "FULL":
        return [ScheduledPayment(amounts[0], start_date, None, None)]
    return [
        ScheduledPayment(amount, add_months(start_date, i), i + 1, n)
        for i, amount in enumerate(amounts)
    ]


def is_overdue(due_date: date | None, today: date, grace_days: int) -> bool:
    """An unpaid instalment is overdue once `grace_days` have passed after its due date
    (due 1 March with 30 days' grace: still fine on 31 March, overdue on 1 April)."""
    return due_date is not None and today > due_date + timedelta(days=grace_days)


# --- numbers and references ---------------------------------------------------------------


def policy_number(year: int, sequence: int) -> str:
    """MTR-YYYY-NNNNNNNN: the bind year (Bangkok) and motor.policy_number_seq, zero-padded."""
    if not 0 < sequence < 10**8:
        raise ValueError("policy number sequence out of range")
    return f"MTR-{year:04d}-{sequence:08d}"


def payment_reference(number: str, installment_number: int | None) -> str:
    """The bill-payment reference (PromptPay tag 30 ref1) of a scheduled payment: the policy
    number without dashes and the instalment number in 2 digits (01 for FULL):
    MTR-2026-00000042, instalment 3 -> MTR20260000004203 (17 of ref1's 20 characters)."""
    return number.replace("-", "") + f"{installment_number or 1:02d}"


# --- cancellation refund ------------------------------------------------------------------


@dataclass(frozen=True)
class RefundBracket:
    """Days in force from..to (inclusive) -> per cent of the full premium refunded."""

    from_day: int
    to_day: int
    refund_percent: Decimal


@dataclass(frozen=True)
class ShortRateTable:
    """The refund scale; `illustrative` until checked against the OIC order."""

    name: str
    illustrative: bool
    brackets: tuple[RefundBracket, ...]

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> ShortRateTable:
        """Parse and check: brackets contiguous from day 1, percentages 0..100 not rising."""
        brackets = tuple(
            RefundBracket(int(b["from_day"]), int(b["to_day"]), Decimal(str(b["refund_percent"])))
            for b in data["brackets"]
        )
        expected, last = 1, Decimal(100)
        for b in brackets:
            if b.from_day != expected or b.to_day < b.from_day:
                raise ValueError(f"brackets must be contiguous from day 1 (at {b.from_day})")
            if not Decimal(0) <= b.refund_percent <= last:
                raise ValueError("refund percentages must fall from 100 to 0")
            expected, last = b.to_day + 1, b.refund_percent
        return cls(str(data.get("name", "")), bool(data.get("illustrative", True)), brackets)

    def refund_percent(self, days_in_force: int) -> Decimal:
        """Per cent of the full premium refunded after `days_in_force` days: 100 when the
        cover never ran (0 days), 0 past the last bracket."""
        if days_in_force <= 0:
            return Decimal(100)
        for b in self.brackets:
            if b.from_day <= days_in_force <= b.to_day:
                return b.refund_percent
        return Decimal(0)


@lru_cache(maxsize=1)
def short_rate_table() -> ShortRateTable:
    """The shipped refund scale (package data)."""
    text = resources.files("polis.motor").joinpath("data", "short_rate_refund.json")
    return ShortRateTable.from_data(json.loads(text.read_text("utf-8")))


def days_on_annual_scale(start: date, end: date, effective: date, period_months: int) -> int:
    """Days the policy was in force at `effective`, on the annual scale the table is written
    for: the days themselves for a 12-month term, else scaled by 365 / the term's days and
    rounded down (a 6-month policy 91 days in is at day 182 of the scale)."""
    days = max(0, (min(effective, end) - start).days)
    if period_months == 12 or days == 0:
        return days
    term = (end - start).days
    return max(1, days * 365 // term)


@dataclass(frozen=True)
class Refund:
    """A cancellation's refund: `amount` = max(0, paid - earned), where earned = total -
    unearned and unearned = total x percent / 100 rounded half-up to the satang."""

    days_in_force: int
    refund_percent: Decimal
    unearned_premium: Decimal
    earned_premium: Decimal
    paid: Decimal
    amount: Decimal


def cancellation_refund(
    *,
    total_premium: Decimal,
    paid: Decimal,
    start: date,
    end: date,
    effective: date,
    period_months: int,
    table: ShortRateTable | None = None,
) -> Refund:
    """What a cancellation effective on `effective` refunds of what was paid."""
    table = table or short_rate_table()
    days = days_on_annual_scale(start, end, effective, period_months)
    percent = table.refund_percent(days)
    unearned = (total_premium * percent / 100).quantize(CENT, rounding=ROUND_HALF_UP)
    earned = total_premium - unearned
    amount = max(Decimal("0.00"), paid - earned)
    return Refund(days, percent, unearned, earned, paid, amount)
