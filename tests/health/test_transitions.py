"""The claim transition table (polis.health.transitions, pure): every pair of statuses is
either a move the lifecycle of issue 3 allows or a 409 `invalid-transition`."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.health import transitions
from polis.health.models import CLAIM_STATUSES
from polis.platform.errors import Conflict

# The lifecycle spelled out independently of the table: submitted -> pended or decided;
# pended -> decided (review, funds released) or voided; approved / partially_approved ->
# payment_pending -> paid -> closed; decided -> appealed -> voided (re-adjudicated) or back
# to a decided status (rejected); a denied claim closes; an unpaid claim can be voided.
ALLOWED = {
    ("submitted", "adjudicating"),
    ("submitted", "pended"),
    ("submitted", "approved"),
    ("submitted", "partially_approved"),
    ("submitted", "denied"),
    ("submitted", "cancelled"),
    ("adjudicating", "pended"),
    ("adjudicating", "approved"),
    ("adjudicating", "partially_approved"),
    ("adjudicating", "denied"),
    ("pended", "approved"),
    ("pended", "partially_approved"),
    ("pended", "denied"),
    ("pended", "voided"),
    ("approved", "payment_pending"),
    ("approved", "appealed"),
    ("approved", "voided"),
    ("partially_approved", "payment_pending"),
    ("partially_approved", "appealed"),
    ("partially_approved", "voided"),
    ("denied", "appealed"),
    ("denied", "voided"),
    ("denied", "closed"),
    ("payment_pending", "paid"),
    ("payment_pending", "approved"),
    ("payment_pending", "partially_approved"),
    ("paid", "closed"),
    ("appealed", "voided"),
    ("appealed", "approved"),
    ("appealed", "partially_approved"),
    ("appealed", "denied"),
}
PAIRS = list(itertools.product(transitions.STATUSES, repeat=2))


def test_the_statuses_are_the_database_check() -> None:
    assert set(transitions.STATUSES) == set(CLAIM_STATUSES)
    assert len(transitions.STATUSES) == 12
    assert {a for a, _ in ALLOWED} | {b for _, b in ALLOWED} <= set(transitions.STATUSES)


@pytest.mark.parametrize(("current", "target"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_every_pair(current: str, target: str) -> None:
    if (current, target) in ALLOWED:
        assert transitions.allowed(current, target)
        transitions.check_transition(current, target, "CLM-2025-X")  # no error
        return
    assert not transitions.allowed(current, target)
    with pytest.raises(Conflict) as exc:
        transitions.check_transition(current, target, "CLM-2025-X")
    assert exc.value.status_code == 409
    assert exc.value.type_ == "invalid-transition"
    assert exc.value.message == f"Claim CLM-2025-X cannot move from {current} to {target}."


def test_all_144_pairs_are_decided_by_the_table() -> None:
    allowed = {p for p in PAIRS if transitions.allowed(*p)}
    assert allowed == ALLOWED
    assert len(PAIRS) == 144 and len(allowed) == 31


def test_unknown_statuses_and_the_anonymous_message() -> None:
    assert not transitions.allowed("nonsense", "approved")
    assert not transitions.allowed("approved", "nonsense")
    with pytest.raises(Conflict) as exc:
        transitions.check_transition("paid", "voided")
    assert exc.value.message == "The claim cannot move from paid to voided."


def test_terminal_statuses_have_no_way_out_and_nothing_returns_to_submitted() -> None:
    for status in transitions.TERMINAL:
        assert transitions.TRANSITIONS[status] == frozenset()
    assert all(not transitions.allowed(s, "submitted") for s in transitions.STATUSES)


def _reachable(start: str) -> set[str]:
    seen, todo = {start}, [start]
    while todo:
        for nxt in transitions.TRANSITIONS[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_every_status_is_reachable_and_every_claim_can_finish() -> None:
    assert _reachable("submitted") == set(transitions.STATUSES)
    for status in transitions.STATUSES:
        assert _reachable(status) & transitions.TERMINAL, status


@given(st.lists(st.integers(min_value=0, max_value=50), max_size=40))
def test_random_walks_follow_the_table(choices: list[int]) -> None:
    """Following allowed moves from `submitted`: a paid claim is never voided, nothing
    leaves a terminal status, and money only moves to `paid` through `payment_pending`."""
    status, path = "submitted", ["submitted"]
    for choice in choices:
        options = sorted(transitions.TRANSITIONS[status])
        if not options:
            assert status in transitions.TERMINAL
            break
        status = options[choice % len(options)]
        path.append(status)
    for before, after in itertools.pairwise(path):
        transitions.check_transition(before, after)
        if after == "paid":
            assert before == "payment_pending"
        if before in ("paid", "payment_pending", "closed"):
            assert after != "voided"
