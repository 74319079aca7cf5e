"""Pure renewal rules: the NCD ladder and claim effects (THAI_MOTOR.md), reading claim rows,
renewal windows, start dates, notice stages and the coverage diff (decision 0047)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.motor.rating import NCD_LADDER
from polis.motor.renewal_rules import (
    ClaimFacts,
    claim_facts,
    coverage_changes,
    ladder_step,
    next_ncd,
    notice_due,
    renewal_refusal,
    renewal_start,
)

PREMIUM = Decimal("18000.00")
AT_FAULT = ClaimFacts(True, True, True, Decimal("5000.00"))
RECOVERABLE = ClaimFacts(False, True, True, Decimal("90000.00"))
UNIDENTIFIED = ClaimFacts(False, False, False, Decimal("1000.00"))


def test_ladder_across_claim_free_renewals() -> None:
    ncd = 0
    seen = []
    for _ in range(5):
        ncd = next_ncd(ncd, [], PREMIUM).ncd
        seen.append(ncd)
    assert seen == [20, 30, 40, 50, 50]


@pytest.mark.parametrize(
    ("current", "claims", "expected", "steps"),
    [
        (40, [AT_FAULT], 30, -1),  # at fault: one step
        (50, [UNIDENTIFIED], 40, -1),  # other party unknown: one step
        (40, [ClaimFacts(True, True, True, Decimal("36000.00"))], 30, -1),  # = 200%: one
        (40, [ClaimFacts(True, True, True, Decimal("36000.01"))], 20, -2),  # > 200%: two
        (20, [AT_FAULT, AT_FAULT], 0, -1),  # one step per period, floor 0
        (20, [ClaimFacts(True, False, False, Decimal("50000"))], 0, -1),  # floor 0
        (40, [RECOVERABLE], 40, 0),  # not at fault, recoverable: kept (paid does not count)
        (40, [RECOVERABLE, AT_FAULT], 30, -1),  # only counting claims' payments count
        (0, [AT_FAULT], 0, 0),
        (25, [], 30, 1),  # off-ladder stored value counts as its rung (20)
    ],
)
def test_claim_effects(current: int, claims: list[ClaimFacts], expected: int, steps: int) -> None:
    outcome = next_ncd(current, claims, PREMIUM)
    assert (outcome.ncd, outcome.steps) == (expected, steps)


def test_not_at_fault_without_recoverable_party_counts() -> None:
    assert ClaimFacts(False, True, False).counts_against_ncd
    assert ClaimFacts(False, False, True).counts_against_ncd
    assert not ClaimFacts(False, True, True).counts_against_ncd


def test_claim_rows_read_for_the_ncd() -> None:
    # liability from the assessment wins over other_party_info
    info = {"insured_at_fault": False, "registration_number": "1กข 1234", "insurer": "X"}
    assert claim_facts(info, Decimal("50"), None).insured_at_fault
    assert not claim_facts(info, Decimal("0"), None).counts_against_ncd
    assert not claim_facts(info, None, Decimal("100")).counts_against_ncd
    assert claim_facts(info, None, Decimal("100")).paid == Decimal("100")
    # fault unknown counts as at fault; no identified party is not recoverable
    assert claim_facts({}, None, None).insured_at_fault
    assert claim_facts(None, None, None).paid == Decimal("0.00")
    unknown = claim_facts({"insured_at_fault": False, "recoverable": True}, None, None)
    assert not unknown.other_party_identified and not unknown.other_party_recoverable
    explicit = {"insured_at_fault": False, "identified": True, "recoverable": False}
    assert claim_facts(explicit, None, None).counts_against_ncd


claims_strategy = st.lists(
    st.builds(
        ClaimFacts,
        st.booleans(),
        st.booleans(),
        st.booleans(),
        st.decimals(min_value=0, max_value=10**7, places=2, allow_nan=False),
    ),
    max_size=5,
)
ncd_strategy = st.one_of(
    st.sampled_from(NCD_LADDER),
    st.decimals(min_value=0, max_value=50, places=2, allow_nan=False),
)
premium_strategy = st.decimals(min_value=1, max_value=10**6, places=2, allow_nan=False)


@given(ncd_strategy, claims_strategy, premium_strategy)
def test_ncd_is_on_the_ladder_and_a_claim_never_raises_it(
    current: Decimal, claims: list[ClaimFacts], premium: Decimal
) -> None:
    outcome = next_ncd(current, claims, premium)
    assert outcome.ncd in NCD_LADDER and 0 <= outcome.ncd <= 50
    free = next_ncd(current, [], premium).ncd
    if claims:
        assert outcome.ncd <= NCD_LADDER[ladder_step(current)]
        assert outcome.ncd <= free


@given(ncd_strategy, premium_strategy)
def test_a_claim_free_year_never_lowers_it(current: Decimal, premium: Decimal) -> None:
    outcome = next_ncd(current, [], premium)
    assert outcome.ncd >= NCD_LADDER[ladder_step(current)]
    assert outcome.steps == (0 if ladder_step(current) == 4 else 1)


@given(st.lists(st.booleans(), min_size=1, max_size=12))
def test_any_history_stays_on_the_ladder(history: list[bool]) -> None:
    ncd = 0
    for claimed in history:
        before = ncd
        ncd = next_ncd(ncd, [AT_FAULT] if claimed else [], PREMIUM).ncd
        assert ncd in NCD_LADDER
        assert (ncd <= before) if claimed else (ncd >= before)


END = date(2027, 6, 1)


def test_windows() -> None:
    # MANUAL opens 60 days before the end, EARLY 90; the grace period after for EXPIRED
    assert renewal_refusal("MANUAL", "ACTIVE", END, END - timedelta(60), 30) is None
    refused = renewal_refusal("MANUAL", "ACTIVE", END, END - timedelta(61), 30)
    assert refused is not None and refused.opens_on == END - timedelta(60)
    assert renewal_refusal("EARLY", "ACTIVE", END, END - timedelta(90), 30) is None
    assert renewal_refusal("EARLY", "ACTIVE", END, END - timedelta(91), 30) is not None
    assert renewal_refusal("EARLY", "ACTIVE", END, END, 30) is not None
    assert renewal_refusal("MANUAL", "EXPIRED", END, END + timedelta(30), 30) is None
    assert renewal_refusal("MANUAL", "EXPIRED", END, END + timedelta(31), 30) is not None
    assert renewal_refusal("EARLY", "EXPIRED", END, END + timedelta(1), 30) is not None
    for status in ("DRAFT", "SUSPENDED", "CANCELLED"):
        assert renewal_refusal("MANUAL", status, END, END - timedelta(5), 30) is not None


def test_start_dates() -> None:
    assert renewal_start("MANUAL", END, END - timedelta(10), None) == (END, None)
    assert renewal_start("MANUAL", END, END + timedelta(3), None) == (END + timedelta(3), None)
    assert renewal_start("EARLY", END, END - timedelta(80), None) == (END, None)
    assert renewal_start("EARLY", END, END - timedelta(80), END + timedelta(1))[0] is None
    assert renewal_start("MANUAL", END, END - timedelta(10), END - timedelta(1))[0] is None
    later = END + timedelta(5)
    assert renewal_start("MANUAL", END, END - timedelta(10), later) == (later, None)


def test_notice_stages() -> None:
    assert notice_due(END, END - timedelta(31), []) is None
    assert notice_due(END, END - timedelta(30), []) == 30
    assert notice_due(END, END - timedelta(29), [30]) is None
    assert notice_due(END, END - timedelta(15), [30]) == 15
    assert notice_due(END, END - timedelta(10), []) == 15  # missed the 30: one notice
    assert notice_due(END, END - timedelta(7), [30, 15]) == 7
    assert notice_due(END, END - timedelta(6), [7]) is None
    assert notice_due(END, END, []) is None


def test_coverage_changes() -> None:
    old = {"sum_insured": "650000.00", "no_claim_discount": Decimal("20.00"), "quote_number": "a"}
    new = {"sum_insured": "650000.00", "no_claim_discount": Decimal("30.00"), "quote_number": "b"}
    assert coverage_changes(old, new) == {"no_claim_discount": {"from": "20.00", "to": "30.00"}}
    assert coverage_changes(old, old) == {}


def test_first_notice_other_party_fault_is_read() -> None:
    """FNOL records the other party's fault (OtherParty.at_fault); insured_at_fault wins when
    both are there, and an assessment's liability wins over both."""
    theirs = {"at_fault": True, "registration_number": "1กข 1234", "insurer": "X"}
    assert not claim_facts(theirs, None, None).insured_at_fault
    assert not claim_facts(theirs, None, None).counts_against_ncd
    assert claim_facts({**theirs, "at_fault": False}, None, None).insured_at_fault
    assert claim_facts({**theirs, "insured_at_fault": True}, None, None).insured_at_fault
    assert claim_facts(theirs, Decimal("100"), None).insured_at_fault
