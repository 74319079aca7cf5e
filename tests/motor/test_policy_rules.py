"""Pure rules of motor policies: the transition table, schedules that sum exactly, policy
numbers and payment references, overdue instalments, the short-rate refund."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.motor import policy_rules as r
from polis.motor.promptpay import bill_payment, parse


class TestTransitions:
    def test_table(self) -> None:
        assert r.allowed_from("DRAFT") == ["ACTIVE", "CANCELLED"]
        assert r.allowed_from("ACTIVE") == ["CANCELLED", "EXPIRED", "SUSPENDED"]
        assert r.allowed_from("SUSPENDED") == ["ACTIVE", "CANCELLED", "EXPIRED"]
        assert r.allowed_from("CANCELLED") == []
        assert r.allowed_from("EXPIRED") == []

    @pytest.mark.parametrize(
        ("current", "target"),
        [
            ("DRAFT", "SUSPENDED"),
            ("DRAFT", "EXPIRED"),
            ("ACTIVE", "DRAFT"),
            ("CANCELLED", "ACTIVE"),
            ("EXPIRED", "ACTIVE"),
            ("EXPIRED", "CANCELLED"),
        ],
    )
    def test_refused(self, current: str, target: str) -> None:
        assert not r.can_transition(current, target)

    def test_every_status_of_the_seed_is_in_the_table(self) -> None:
        assert set(r.POLICY_TRANSITIONS) == {"DRAFT", "ACTIVE", "EXPIRED", "CANCELLED", "SUSPENDED"}


class TestSchedule:
    def test_full_is_one_premium_due_on_the_start_date(self) -> None:
        (only,) = r.schedule(Decimal("645.21"), "FULL", date(2026, 12, 1), 12)
        assert only == r.ScheduledPayment(Decimal("645.21"), date(2026, 12, 1), None, None)
        assert only.payment_type == "PREMIUM"

    def test_remainder_satang_on_the_first_instalment(self) -> None:
        rows = r.schedule(Decimal("645.21"), "INSTALLMENT_6", date(2026, 1, 31), 12)
        assert [x.amount for x in rows] == [Decimal("107.56")] + [Decimal("107.53")] * 5
        assert [x.due_date for x in rows] == [
            date(2026, 1, 31),
            date(2026, 2, 28),
            date(2026, 3, 31),
            date(2026, 4, 30),
            date(2026, 5, 31),
            date(2026, 6, 30),
        ]
        assert [(x.installment_number, x.total_installments) for x in rows] == [
            (i, 6) for i in range(1, 7)
        ]
        assert {x.payment_type for x in rows} == {"INSTALLMENT"}

    def test_twelve_instalments(self) -> None:
        rows = r.schedule(Decimal("18976.35"), "INSTALLMENT_12", date(2026, 12, 15), 12)
        assert rows[0].amount == Decimal("1581.39")  # 1897635 = 12 x 158136 + 3
        assert all(x.amount == Decimal("1581.36") for x in rows[1:])
        assert sum(x.amount for x in rows) == Decimal("18976.35")
        assert rows[-1].due_date == date(2027, 11, 15)

    def test_plan_longer_than_the_term_is_refused(self) -> None:
        with pytest.raises(r.ScheduleError):
            r.schedule(Decimal("1000.00"), "INSTALLMENT_12", date(2026, 1, 1), 6)

    def test_too_small_to_split(self) -> None:
        with pytest.raises(r.ScheduleError):
            r.split_amount(Decimal("0.05"), 6)

    @given(
        satang=st.integers(min_value=12, max_value=10**12 - 1),
        plan=st.sampled_from(["FULL", "INSTALLMENT_6", "INSTALLMENT_12"]),
        start=st.dates(min_value=date(2024, 1, 1), max_value=date(2040, 12, 31)),
        months=st.sampled_from([12, 24, 36]),
    )
    def test_any_schedule_sums_exactly_and_is_positive(
        self, satang: int, plan: str, start: date, months: int
    ) -> None:
        total = Decimal(satang) / 100
        rows = r.schedule(total, plan, start, months)
        assert len(rows) == r.INSTALMENTS[plan]
        assert sum(x.amount for x in rows) == total
        assert all(x.amount > 0 and x.amount.as_tuple().exponent == -2 for x in rows)
        assert max(x.amount for x in rows) - min(x.amount for x in rows) < Decimal(len(rows)) / 100
        dues = [x.due_date for x in rows]
        assert dues == sorted(dues) and dues[0] == start


class TestNumbers:
    def test_policy_number(self) -> None:
        assert r.policy_number(2026, 42) == "MTR-2026-00000042"
        with pytest.raises(ValueError):
            r.policy_number(2026, 10**8)

    def test_payment_reference_fits_promptpay_ref1(self) -> None:
        ref = r.payment_reference("MTR-2026-00000042", 3)
        assert ref == "MTR20260000004203"
        assert r.payment_reference("MTR-2026-00000042", None) == "MTR20260000004201"
        payload = bill_payment("010555000000101", ref1=ref, amount=Decimal("107.56"))
        assert parse(payload).ref1 == ref


class TestOverdue:
    def test_grace_period_boundary(self) -> None:
        due = date(2026, 3, 1)
        assert not r.is_overdue(due, date(2026, 3, 31), 30)
        assert r.is_overdue(due, date(2026, 4, 1), 30)
        assert not r.is_overdue(None, date(2030, 1, 1), 30)


class TestShortRate:
    def test_shipped_table(self) -> None:
        table = r.short_rate_table()
        assert table.illustrative
        assert table.refund_percent(0) == 100
        assert table.refund_percent(1) == 72
        assert table.refund_percent(9) == 72
        assert table.refund_percent(10) == 68
        assert table.refund_percent(100) == 48
        assert table.refund_percent(182) == 30
        assert table.refund_percent(359) == 1
        assert table.refund_percent(365) == 0
        assert table.refund_percent(400) == 0

    def test_table_refuses_gaps(self) -> None:
        with pytest.raises(ValueError):
            r.ShortRateTable.from_data(
                {
                    "brackets": [
                        {"from_day": 1, "to_day": 9, "refund_percent": "72"},
                        {"from_day": 11, "to_day": 19, "refund_percent": "68"},
                    ]
                }
            )

    def test_full_premium_paid_refund_to_the_satang(self) -> None:
        start = date(2026, 12, 1)
        refund = r.cancellation_refund(
            total_premium=Decimal("645.21"),
            paid=Decimal("645.21"),
            start=start,
            end=date(2027, 12, 1),
            effective=start + timedelta(days=100),
            period_months=12,
        )
        # 48% of 645.21 = 309.7008 -> 309.70 unearned; 335.51 earned
        assert refund.refund_percent == 48
        assert refund.unearned_premium == Decimal("309.70")
        assert refund.earned_premium == Decimal("335.51")
        assert refund.amount == Decimal("309.70")

    def test_instalments_paid_less_than_earned_refund_nothing(self) -> None:
        start = date(2026, 12, 1)
        refund = r.cancellation_refund(
            total_premium=Decimal("12000.00"),
            paid=Decimal("2000.00"),
            start=start,
            end=date(2027, 12, 1),
            effective=start + timedelta(days=200),
            period_months=12,
        )
        assert refund.refund_percent == 27
        assert refund.earned_premium == Decimal("8760.00")
        assert refund.amount == Decimal("0.00")

    def test_cancelled_before_cover_starts_refunds_all_paid(self) -> None:
        start = date(2026, 12, 1)
        refund = r.cancellation_refund(
            total_premium=Decimal("645.21"),
            paid=Decimal("645.21"),
            start=start,
            end=date(2027, 12, 1),
            effective=start - timedelta(days=3),
            period_months=12,
        )
        assert refund.amount == Decimal("645.21")

    def test_six_month_term_on_the_annual_scale(self) -> None:
        start = date(2026, 1, 1)
        end = date(2026, 7, 1)  # 181 days
        assert r.days_on_annual_scale(start, end, date(2026, 4, 2), 6) == 91 * 365 // 181

    @given(
        satang=st.integers(min_value=1, max_value=10**10),
        paid_share=st.integers(min_value=0, max_value=100),
        days=st.integers(min_value=-10, max_value=400),
    )
    def test_refund_never_exceeds_paid_nor_goes_negative(
        self, satang: int, paid_share: int, days: int
    ) -> None:
        total = Decimal(satang) / 100
        paid = (total * paid_share / 100).quantize(Decimal("0.01"))
        start = date(2026, 1, 1)
        refund = r.cancellation_refund(
            total_premium=total,
            paid=paid,
            start=start,
            end=date(2027, 1, 1),
            effective=start + timedelta(days=days),
            period_months=12,
        )
        assert Decimal(0) <= refund.amount <= paid
        assert refund.unearned_premium + refund.earned_premium == total
