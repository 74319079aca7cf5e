"""Pure rules of motor claims: every allowed and refused transition, the date columns,
the coverage matrix, approval authority at its boundaries, settlement to the satang, and
the CMI bodily-injury caps."""

from __future__ import annotations

import uuid
from decimal import Decimal
from itertools import pairwise, product
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.motor import claim_rules as r
from polis.platform.errors import Conflict, Forbidden

D = Decimal

SEED_STATUSES = {
    "REPORTED",
    "ASSIGNED",
    "INVESTIGATING",
    "ASSESSED",
    "APPROVED",
    "REJECTED",
    "SETTLED",
    "CLOSED",
}

ALLOWED = {
    ("REPORTED", "ASSIGNED"),
    ("REPORTED", "INVESTIGATING"),
    ("REPORTED", "REJECTED"),
    ("ASSIGNED", "INVESTIGATING"),
    ("ASSIGNED", "ASSESSED"),
    ("ASSIGNED", "REJECTED"),
    ("INVESTIGATING", "ASSESSED"),
    ("INVESTIGATING", "REJECTED"),
    ("ASSESSED", "APPROVED"),
    ("ASSESSED", "REJECTED"),
    ("ASSESSED", "INVESTIGATING"),
    ("APPROVED", "SETTLED"),
    ("SETTLED", "CLOSED"),
    ("REJECTED", "CLOSED"),
}
ALL_PAIRS = sorted(product(sorted(SEED_STATUSES), repeat=2))
REFUSED = [p for p in ALL_PAIRS if p not in ALLOWED]


class TestTransitions:
    def test_exactly_the_seed_statuses(self) -> None:
        assert set(r.CLAIM_TRANSITIONS) == SEED_STATUSES
        assert set(r.STATUSES) == SEED_STATUSES
        for targets in r.CLAIM_TRANSITIONS.values():
            assert targets <= SEED_STATUSES

    def test_table_is_the_documented_one(self) -> None:
        table = {(a, b) for a, targets in r.CLAIM_TRANSITIONS.items() for b in targets}
        assert table == ALLOWED
        assert len(ALL_PAIRS) == 64 and len(REFUSED) == 64 - len(ALLOWED)

    @pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
    def test_allowed(self, current: str, target: str) -> None:
        assert r.can_transition(current, target)
        r.check_transition(current, target)

    @pytest.mark.parametrize(("current", "target"), REFUSED)
    def test_refused(self, current: str, target: str) -> None:
        assert not r.can_transition(current, target)
        with pytest.raises(Conflict) as info:
            r.check_transition(current, target, "CLM-2026-00000001")
        assert info.value.type_ == "invalid-transition"
        assert info.value.status_code == 409
        assert current in info.value.message and target in info.value.message

    def test_unknown_status_refused(self) -> None:
        with pytest.raises(Conflict):
            r.check_transition("PENDING", "ASSIGNED")
        with pytest.raises(Conflict):
            r.check_transition("REPORTED", "PAID")

    def test_closed_is_terminal_and_every_status_reaches_it(self) -> None:
        assert r.allowed_from("CLOSED") == []
        for start in SEED_STATUSES:
            seen, todo = {start}, [start]
            while todo:
                for nxt in r.CLAIM_TRANSITIONS[todo.pop()]:
                    if nxt not in seen:
                        seen.add(nxt)
                        todo.append(nxt)
            assert "CLOSED" in seen

    def test_date_columns(self) -> None:
        assert r.date_column("ASSESSED") == "assessment_date"
        assert r.date_column("APPROVED") == "approval_date"
        assert r.date_column("SETTLED") == "settlement_date"
        assert r.date_column("CLOSED") == "closure_date"
        for status in ("REPORTED", "ASSIGNED", "INVESTIGATING", "REJECTED"):
            assert r.date_column(status) is None

    def test_happy_path(self) -> None:
        path = ["REPORTED", "ASSIGNED", "ASSESSED", "APPROVED", "SETTLED", "CLOSED"]
        for a, b in pairwise(path):
            r.check_transition(a, b)


# --- coverage --------------------------------------------------------------------------

BI, TPP, OD = r.BODILY_INJURY, r.THIRD_PARTY_PROPERTY, r.OWN_DAMAGE


def _covered_own_damage(policy: str, option: str, claim_type: str, collision: bool) -> bool:
    if policy == "CLASS_1":
        return True
    if policy == "CLASS_2" and claim_type in ("FIRE", "THEFT"):
        return True
    return option == "PLUS" and claim_type == "ACCIDENT" and collision


PRODUCTS = [
    ("CMI", "STANDARD"),
    ("CLASS_1", "STANDARD"),
    ("CLASS_2", "STANDARD"),
    ("CLASS_2", "PLUS"),
    ("CLASS_3", "STANDARD"),
    ("CLASS_3", "PLUS"),
]


class TestCoverage:
    @pytest.mark.parametrize(("policy", "option"), PRODUCTS)
    def test_matrix(self, policy: str, option: str) -> None:
        for claim_type, head, collision in product(r.CLAIM_TYPES, r.HEADS, (False, True)):
            got = r.coverage(
                policy,
                claim_type,
                head,
                coverage_option=option,
                collision_with_land_vehicle=collision,
            )
            if policy == "CMI":
                expected = head == BI and claim_type == "ACCIDENT"
            elif head in (BI, TPP):
                expected = claim_type == "ACCIDENT"
            else:
                expected = _covered_own_damage(policy, option, claim_type, collision)
            assert got.covered is expected, (policy, option, claim_type, head, collision)
            assert got.reason

    def test_reasons_and_limits(self) -> None:
        theft3 = r.coverage("CLASS_3", "THEFT", OD)
        assert not theft3.covered and "third parties only" in theft3.reason
        cmi = r.coverage("CMI", "ACCIDENT", OD)
        assert not cmi.covered and "bodily injury" in cmi.reason
        plus = r.coverage(
            "CLASS_3", "ACCIDENT", OD, coverage_option="PLUS", collision_with_land_vehicle=True
        )
        assert plus.covered and plus.limit == D("100000.00") and "3+" in plus.reason
        plus2 = r.coverage(
            "CLASS_2", "ACCIDENT", OD, coverage_option="PLUS", collision_with_land_vehicle=True
        )
        assert plus2.covered and "2+" in plus2.reason
        not_collision = r.coverage("CLASS_3", "ACCIDENT", OD, coverage_option="PLUS")
        assert not not_collision.covered and "land vehicle" in not_collision.reason
        assert r.coverage("CLASS_1", "FLOOD", OD).limit is None

    @pytest.mark.parametrize(
        ("args", "kwargs"),
        [
            (("CLASS_4", "ACCIDENT", OD), {}),
            (("CLASS_1", "HAIL", OD), {}),
            (("CLASS_1", "ACCIDENT", "PET"), {}),
            (("CLASS_1", "ACCIDENT", OD), {"coverage_option": "PLUS"}),
            (("CMI", "ACCIDENT", BI), {"coverage_option": "PLUS"}),
            (("CLASS_3", "ACCIDENT", OD), {"coverage_option": "GOLD"}),
        ],
    )
    def test_unknown_values(self, args: tuple[str, str, str], kwargs: dict[str, Any]) -> None:
        with pytest.raises(ValueError):
            r.coverage(*args, **kwargs)


# --- approval authority ----------------------------------------------------------------

ASSESSOR = uuid.uuid4()
APPROVER = uuid.uuid4()


class TestApproval:
    def test_shipped_limits(self) -> None:
        limits = r.approval_limits()
        assert limits.illustrative
        assert limits.limits == {
            "ADJUSTER": D("50000.00"),
            "UNDERWRITER": D("200000.00"),
            "ADMIN": D("1000000.00"),
            "SUPER_ADMIN": None,
        }

    @pytest.mark.parametrize(
        ("role", "limit"),
        [("ADJUSTER", "50000.00"), ("UNDERWRITER", "200000.00"), ("ADMIN", "1000000.00")],
    )
    def test_boundaries(self, role: str, limit: str) -> None:
        at = D(limit)
        assert r.may_approve(role, at, ASSESSOR, APPROVER).allowed
        assert r.may_approve(role, at - D("0.01"), ASSESSOR, APPROVER).allowed
        assert r.may_approve(role, D("0.00"), ASSESSOR, APPROVER).allowed
        over = r.may_approve(role, at + D("0.01"), ASSESSOR, APPROVER)
        assert not over.allowed and "above" in over.reason
        assert role not in over.needs_role and "SUPER_ADMIN" in over.needs_role

    def test_needs_the_next_role(self) -> None:
        d = r.may_approve("ADJUSTER", D("50000.01"), None, APPROVER)
        assert d.needs_role == ("UNDERWRITER", "ADMIN", "SUPER_ADMIN")
        d = r.may_approve("ADMIN", D("1000000.01"), None, APPROVER)
        assert d.needs_role == ("SUPER_ADMIN",)

    def test_super_admin_unlimited(self) -> None:
        assert r.may_approve("SUPER_ADMIN", D("9999999999.99"), ASSESSOR, APPROVER).allowed

    @pytest.mark.parametrize("role", ["CUSTOMER", "AGENT", "SURVEYOR", "NOBODY"])
    def test_roles_without_authority(self, role: str) -> None:
        d = r.may_approve(role, D("1.00"), ASSESSOR, APPROVER)
        assert not d.allowed and "no approval authority" in d.reason
        assert d.needs_role[0] == "ADJUSTER"

    @pytest.mark.parametrize("role", ["ADJUSTER", "UNDERWRITER", "ADMIN", "SUPER_ADMIN"])
    def test_nobody_approves_what_they_assessed(self, role: str) -> None:
        d = r.may_approve(role, D("100.00"), APPROVER, APPROVER)
        assert not d.allowed and "assessed" in d.reason
        d = r.may_approve(role, D("100.00"), [ASSESSOR, APPROVER], APPROVER)
        assert not d.allowed
        assert r.may_approve(role, D("100.00"), [ASSESSOR], APPROVER).allowed

    def test_check_approval_raises_forbidden(self) -> None:
        with pytest.raises(Forbidden) as info:
            r.check_approval("ADJUSTER", D("50000.01"), ASSESSOR, APPROVER)
        assert info.value.type_ == "approval-authority"
        assert info.value.extra["needs_role"][0] == "UNDERWRITER"
        with pytest.raises(Forbidden):
            r.check_approval("ADMIN", D("1.00"), APPROVER, APPROVER)
        r.check_approval("ADJUSTER", D("50000.00"), ASSESSOR, APPROVER)

    def test_bad_amounts(self) -> None:
        with pytest.raises(TypeError):
            r.may_approve("ADMIN", 10.0, None, APPROVER)  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            r.may_approve("ADMIN", D("-1"), None, APPROVER)

    def test_limits_from_data(self) -> None:
        limits = r.ApprovalLimits.from_data({"limits": {"A": "10", "B": None}})
        assert limits.covers("A", D("10")) and not limits.covers("A", D("10.01"))
        assert limits.covers("B", D("1e9"))
        with pytest.raises(ValueError):
            r.ApprovalLimits.from_data({"limits": {"A": "-1"}})
        with pytest.raises(ValueError):
            r.ApprovalLimits.from_data({"limits": {"A": "1.001"}})


# --- settlement ------------------------------------------------------------------------


class TestSettlement:
    def test_deductibles(self) -> None:
        assert r.deductible_for(head=OD, coverage_option="PLUS", at_fault=True) == D("2000.00")
        assert r.deductible_for(head=OD, coverage_option="PLUS", at_fault=False) == D("0.00")
        assert r.deductible_for(head=OD, at_fault=True) == D("0.00")
        assert r.deductible_for(
            head=OD, coverage_option="PLUS", at_fault=True, policy_excess=D("1000")
        ) == D("3000.00")
        assert r.deductible_for(head=OD, policy_excess=D("5000")) == D("5000.00")
        assert r.deductible_for(head=TPP, policy_excess=D("5000"), at_fault=True) == D("0.00")
        assert r.deductible_for(head=BI, coverage_option="PLUS", at_fault=True) == D("0.00")
        with pytest.raises(ValueError):
            r.deductible_for(head=OD, policy_excess=D("-1"))

    def test_amounts_to_the_satang(self) -> None:
        s = r.settlement(D("45678.90"), D("2000.00"))
        assert (s.gross_amount, s.deductible_amount, s.net_amount) == (
            D("45678.90"),
            D("2000.00"),
            D("43678.90"),
        )
        s = r.settlement(D("1234.565"), D("0.005"))
        assert s.gross_amount == D("1234.57") and s.deductible_amount == D("0.01")
        assert s.net_amount == D("1234.56")
        assert str(s.net_amount) == "1234.56"

    def test_never_negative(self) -> None:
        s = r.settlement(D("1500.00"), D("2000.00"))
        assert s == r.Settlement(D("1500.00"), D("1500.00"), D("0.00"))

    def test_limit_caps_gross(self) -> None:
        s = r.settlement(D("150000.00"), D("2000.00"), limit=r.PLUS_OWN_DAMAGE_LIMIT)
        assert s == r.Settlement(D("100000.00"), D("2000.00"), D("98000.00"))

    def test_refuses_float_and_negative(self) -> None:
        with pytest.raises(TypeError):
            r.settlement(100.0, D("0"))  # type: ignore[arg-type]
        with pytest.raises(ValueError):
            r.settlement(D("-1"), D("0"))

    @given(
        approved=st.decimals(min_value=0, max_value=D("9999999999.99"), places=3),
        deductible=st.decimals(min_value=0, max_value=D("100000"), places=3),
        limit=st.none() | st.decimals(min_value=0, max_value=D("1000000"), places=2),
    )
    def test_property_bounds(
        self, approved: Decimal, deductible: Decimal, limit: Decimal | None
    ) -> None:
        s = r.settlement(approved, deductible, limit)
        assert D("0") <= s.net_amount <= s.gross_amount <= r.to_satang(approved)
        assert s.net_amount == s.gross_amount - s.deductible_amount
        for v in (s.gross_amount, s.deductible_amount, s.net_amount):
            assert v == v.quantize(D("0.01"))


# --- CMI ------------------------------------------------------------------------------


class TestCmi:
    def test_initial_caps(self) -> None:
        p = r.cmi_payable(
            r.INITIAL, medical=D("45000"), death_or_disability=D("100000"), inpatient_days=5
        )
        assert p == r.CmiPayment(D("30000.00"), D("35000.00"), D("0.00"))
        assert p.total == D("65000.00")

    def test_under_caps_paid_in_full(self) -> None:
        p = r.cmi_payable(r.INITIAL, medical=D("12345.67"))
        assert p.medical == D("12345.67") and p.total == D("12345.67")

    def test_after_fault_caps(self) -> None:
        p = r.cmi_payable(
            r.AFTER_FAULT,
            medical=D("120000"),
            death_or_disability=D("750000"),
            inpatient_days=30,
        )
        assert p == r.CmiPayment(D("80000.00"), D("500000.00"), D("4000.00"))
        p = r.cmi_payable(r.AFTER_FAULT, inpatient_days=7)
        assert p.inpatient_compensation == D("1400.00")
        assert r.cmi_payable(r.AFTER_FAULT, inpatient_days=20).inpatient_compensation == D(
            "4000.00"
        )

    def test_after_fault_includes_the_initial_payment(self) -> None:
        initial = r.cmi_payable(r.INITIAL, medical=D("50000"), death_or_disability=D("35000"))
        rest = r.cmi_payable(
            r.AFTER_FAULT,
            medical=D("90000"),
            death_or_disability=D("500000"),
            already_paid=initial,
        )
        assert rest.medical == D("50000.00")  # 80,000 - 30,000
        assert rest.death_or_disability == D("465000.00")  # 500,000 - 35,000
        assert initial.medical + rest.medical == D("80000.00")

    def test_bad_input(self) -> None:
        with pytest.raises(ValueError):
            r.cmi_payable("LATER", medical=D("1"))
        with pytest.raises(ValueError):
            r.cmi_payable(r.INITIAL, medical=D("-1"))
        with pytest.raises(ValueError):
            r.cmi_payable(r.INITIAL, inpatient_days=-1)
        with pytest.raises(TypeError):
            r.cmi_payable(r.INITIAL, medical=1.0)  # type: ignore[arg-type]

    @given(
        stage=st.sampled_from([r.INITIAL, r.AFTER_FAULT]),
        medical=st.decimals(min_value=0, max_value=D("10000000"), places=2),
        death=st.decimals(min_value=0, max_value=D("10000000"), places=2),
        days=st.integers(min_value=0, max_value=400),
        paid_medical=st.decimals(min_value=0, max_value=D("100000"), places=2),
    )
    def test_property_never_above_caps(
        self, stage: str, medical: Decimal, death: Decimal, days: int, paid_medical: Decimal
    ) -> None:
        cap = r.CMI_LIMITS[stage]
        before = r.CmiPayment(paid_medical, D("0.00"), D("0.00"))
        p = r.cmi_payable(
            stage,
            medical=medical,
            death_or_disability=death,
            inpatient_days=days,
            already_paid=before,
        )
        assert D("0") <= p.medical <= medical
        assert p.medical + min(paid_medical, cap.medical) <= cap.medical
        assert D("0") <= p.death_or_disability <= min(death, cap.death_or_disability)
        assert D("0") <= p.inpatient_compensation <= cap.inpatient_daily * cap.inpatient_max_days
        assert p.total <= cap.medical + cap.death_or_disability + D("4000")
