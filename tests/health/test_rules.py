"""Health adjudication engine (polis.health.rules): each rule alone, with exact rupiah
amounts, then properties over random claims. Pure functions: no database."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from polis.health import rules
from polis.health.rules import (
    Accumulators,
    AdjudicationResult,
    AuthorizationFacts,
    BenefitFacts,
    BenefitUsage,
    ClaimFacts,
    ClaimLine,
    CoverageFacts,
    ExclusionFacts,
    LineResult,
    PlanFacts,
    ProviderContractFacts,
    adjudicate,
    icd_matches,
)

D = Decimal
ZERO = D("0.00")
MEMBER = uuid.UUID(int=1)
PROVIDER = uuid.UUID(int=2)
OTHER_PROVIDER = uuid.UUID(int=3)
DAY = date(2025, 6, 15)

CLAIM = ClaimFacts(
    claim_type="cashless",
    service_type="outpatient",
    service_date=DAY,
    member_id=MEMBER,
    provider_id=PROVIDER,
    in_network=True,
)
COVERAGE = CoverageFacts(coverage_start_date=date(2025, 1, 1), coverage_end_date=date(2025, 12, 31))
PLAN = PlanFacts()
BENEFIT = BenefitFacts(benefit_code="OP")
CONTRACT = ProviderContractFacts(effective_date=date(2025, 1, 1), expiry_date=date(2025, 12, 31))


def run(
    *charges: str | ClaimLine,
    claim: ClaimFacts = CLAIM,
    coverage: CoverageFacts = COVERAGE,
    plan: PlanFacts = PLAN,
    benefit: BenefitFacts = BENEFIT,
    contract: ProviderContractFacts | None = CONTRACT,
    **kwargs: Any,
) -> AdjudicationResult:
    lines = [
        c if isinstance(c, ClaimLine) else ClaimLine(benefit.benefit_code, D(c))
        for c in (charges or ("1000000",))
    ]
    kwargs.setdefault("benefits", [benefit])
    return adjudicate(
        claim=claim, lines=lines, coverage=coverage, plan=plan, contract=contract, **kwargs
    )


def one(*charges: str | ClaimLine, **kwargs: Any) -> LineResult:
    result = run(*charges, **kwargs)
    assert len(result.lines) == 1
    return result.lines[0]


def amounts(line: LineResult) -> tuple[str, ...]:
    """allowed, deductible, copay, coinsurance, paid, approved, member responsibility."""
    return tuple(
        str(x)
        for x in (
            line.allowed,
            line.deductible_amount,
            line.copay_amount,
            line.coinsurance_amount,
            line.paid_amount,
            line.approved_amount,
            line.member_responsibility,
        )
    )


def assert_denied(line: LineResult, reason: str) -> None:
    assert line.status == "denied"
    assert line.denial_reason == reason
    assert line.paid_amount == line.approved_amount == line.allowed == 0
    assert line.member_responsibility == line.line.charged_amount
    assert line.trace[-1].code == reason


# --- the plain case ----------------------------------------------------------------------


def test_covered_line_is_paid_in_full_with_trace() -> None:
    line = one("1000000")
    assert line.status == "approved"
    assert line.denial_reason is None
    assert amounts(line) == (
        "1000000.00",
        "0.00",
        "0.00",
        "0.00",
        "1000000.00",
        "1000000.00",
        "0.00",
    )
    assert [s.code for s in line.trace] == ["eligibility", "benefit", "exclusions", "paid"]


# --- 1. eligibility ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"coverage": replace(COVERAGE, member_status="suspended")}, rules.MEMBER_INACTIVE),
        ({"coverage": replace(COVERAGE, coverage_status="terminated")}, rules.COVERAGE_INACTIVE),
        ({"claim": replace(CLAIM, service_date=date(2024, 12, 31))}, rules.COVERAGE_INACTIVE),
        (
            {
                "claim": replace(CLAIM, service_date=date(2026, 1, 1)),
                "contract": replace(CONTRACT, expiry_date=date(2026, 12, 31)),
            },
            rules.COVERAGE_INACTIVE,
        ),
        ({"coverage": replace(COVERAGE, policy_status="lapsed")}, rules.POLICY_INACTIVE),
        ({"contract": None}, rules.NO_PROVIDER_CONTRACT),
        ({"contract": replace(CONTRACT, status="suspended")}, rules.CONTRACT_INACTIVE),
        ({"contract": replace(CONTRACT, expiry_date=date(2025, 6, 14))}, rules.CONTRACT_INACTIVE),
        (
            {"contract": replace(CONTRACT, effective_date=date(2025, 6, 16))},
            rules.CONTRACT_INACTIVE,
        ),
        ({"contract": replace(CONTRACT, cashless_enabled=False)}, rules.CLAIM_TYPE_NOT_ALLOWED),
        (
            {
                "claim": replace(CLAIM, claim_type="reimbursement"),
                "contract": replace(CONTRACT, reimbursement_enabled=False),
            },
            rules.CLAIM_TYPE_NOT_ALLOWED,
        ),
    ],
)
def test_eligibility_failures_deny(changes: dict[str, Any], reason: str) -> None:
    assert_denied(one("250000", **changes), reason)


def test_reimbursement_without_contract_is_paid_without_discount() -> None:
    line = one("250000", claim=replace(CLAIM, claim_type="reimbursement"), contract=None)
    assert line.status == "approved"
    assert line.paid_amount == D("250000.00")


def test_coverage_without_end_date_is_open() -> None:
    assert one(coverage=replace(COVERAGE, coverage_end_date=None)).status == "approved"


# --- 2. benefit and network ----------------------------------------------------------------


def test_benefit_missing_from_plan_denies() -> None:
    assert_denied(one(ClaimLine("DENTAL", D("100000"))), rules.BENEFIT_NOT_IN_PLAN)


def test_not_covered_denies_and_limited_is_covered() -> None:
    assert_denied(one(benefit=replace(BENEFIT, coverage_type="not_covered")), rules.NOT_COVERED)
    assert one(benefit=replace(BENEFIT, coverage_type="limited")).status == "approved"


def test_network_rules() -> None:
    out = replace(CLAIM, in_network=False)
    assert_denied(one(claim=out), rules.OUT_OF_NETWORK_NOT_COVERED)
    assert one(claim=out, benefit=replace(BENEFIT, out_network_covered=True)).status == "approved"
    assert_denied(
        one(benefit=replace(BENEFIT, in_network_covered=False)), rules.IN_NETWORK_NOT_COVERED
    )


# --- 3. exclusions and waiting period ------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "excluded", "hit"),
    [
        ("K35.8", "K35.8", True),
        ("K35.8", "K35", True),
        ("k358", "K35", True),
        ("K35.80", "K35.8", True),
        ("K35", "K35.8", False),
        ("K36.0", "K35", False),
        ("K35.8", "K3", False),
    ],
)
def test_icd_matches(code: str, excluded: str, hit: bool) -> None:
    assert icd_matches(code, excluded) is hit


def test_exclusion_by_exact_code_and_by_parent_category() -> None:
    line = ClaimLine("OP", D("500000"), diagnosis_code="K35.8")
    exact = ExclusionFacts("EX-1", icd_code="K35.8")
    parent = ExclusionFacts("EX-2", icd_code="K35")
    other = ExclusionFacts("EX-3", icd_code="K36")
    assert_denied(one(line, exclusions=[exact]), rules.EXCLUDED)
    assert_denied(one(line, exclusions=[parent]), rules.EXCLUDED)
    assert one(line, exclusions=[other]).status == "approved"
    # exclusion_code is used when icd_code is empty
    assert_denied(one(line, exclusions=[ExclusionFacts("K35")]), rules.EXCLUDED)


def test_exclusion_outside_its_dates_and_procedure_exclusion() -> None:
    line = ClaimLine("OP", D("500000"), diagnosis_code="K35.8", procedure_code="47.01")
    later = ExclusionFacts("EX", icd_code="K35", effective_date=date(2025, 7, 1))
    ended = ExclusionFacts("EX", icd_code="K35", termination_date=date(2025, 6, 14))
    assert one(line, exclusions=[later, ended]).status == "approved"
    procedure = ExclusionFacts("47.01", exclusion_type="procedure")
    assert_denied(one(line, exclusions=[procedure]), rules.EXCLUDED)
    near = ExclusionFacts("47", exclusion_type="procedure")
    assert one(line, exclusions=[near]).status == "approved"  # procedures match exactly


def test_waiting_period_from_coverage_start() -> None:
    benefit = replace(BENEFIT, waiting_period_days=30)  # coverage from 2025-01-01
    last_waiting = replace(CLAIM, service_date=date(2025, 1, 30))
    first_covered = replace(CLAIM, service_date=date(2025, 1, 31))
    assert_denied(one(benefit=benefit, claim=last_waiting), rules.WAITING_PERIOD)
    assert one(benefit=benefit, claim=first_covered).status == "approved"
    earlier_start = replace(COVERAGE, waiting_period_start=date(2024, 12, 1))
    assert one(benefit=benefit, claim=last_waiting, coverage=earlier_start).status == "approved"


# --- 4. authorisation ----------------------------------------------------------------------

AUTH_BENEFIT = replace(BENEFIT, requires_authorization=True)
AUTH = AuthorizationFacts(
    authorization_number="PA-1",
    member_id=MEMBER,
    provider_id=PROVIDER,
    service_type="outpatient",
    valid_from=date(2025, 6, 1),
    valid_to=date(2025, 6, 30),
)


@pytest.mark.parametrize(
    ("auths", "reason"),
    [
        ([], rules.AUTHORIZATION_MISSING),
        ([replace(AUTH, member_id=uuid.UUID(int=9))], rules.AUTHORIZATION_MISSING),
        ([replace(AUTH, service_type="inpatient")], rules.AUTHORIZATION_MISSING),
        ([replace(AUTH, valid_to=date(2025, 6, 14))], rules.AUTHORIZATION_EXPIRED),
        ([replace(AUTH, valid_from=date(2025, 6, 16))], rules.AUTHORIZATION_EXPIRED),
        ([replace(AUTH, provider_id=OTHER_PROVIDER)], rules.AUTHORIZATION_OTHER_PROVIDER),
        ([replace(AUTH, status="pending")], rules.AUTHORIZATION_NOT_APPROVED),
        (
            [replace(AUTH, provider_id=OTHER_PROVIDER), replace(AUTH, valid_to=date(2025, 6, 1))],
            rules.AUTHORIZATION_EXPIRED,
        ),
    ],
)
def test_required_authorisation_missing_or_invalid_denies(
    auths: list[AuthorizationFacts], reason: str
) -> None:
    assert_denied(one(benefit=AUTH_BENEFIT, authorizations=auths), reason)


def test_valid_authorisation_admits_and_is_ignored_when_not_required() -> None:
    line = one(benefit=AUTH_BENEFIT, authorizations=[AUTH])
    assert line.status == "approved"
    assert "authorization" in [s.code for s in line.trace]
    assert one(authorizations=[]).status == "approved"


def test_approved_amount_caps_allowed_across_lines() -> None:
    auth = replace(AUTH, approved_amount=D("600000"))
    (line,) = run("1000000", benefit=AUTH_BENEFIT, authorizations=[auth]).lines
    assert line.status == "partially_approved"
    assert line.denial_reason == "authorization_cap"
    assert amounts(line) == (
        "600000.00",
        "0.00",
        "0.00",
        "0.00",
        "600000.00",
        "600000.00",
        "400000.00",
    )
    first, second, third = run(
        "400000", "400000", "100", benefit=AUTH_BENEFIT, authorizations=[auth]
    ).lines
    assert (first.allowed, second.allowed) == (D("400000.00"), D("200000.00"))
    assert_denied(third, rules.AUTHORIZATION_EXHAUSTED)


def test_approved_days_cap_per_day_benefit() -> None:
    benefit = replace(
        AUTH_BENEFIT, benefit_code="ROOM", limit_type="per_day", limit_amount=D("500000")
    )
    auth = replace(AUTH, approved_days=3)
    line = one(ClaimLine("ROOM", D("3000000"), quantity=5), benefit=benefit, authorizations=[auth])
    assert line.paid_amount == D("1500000.00")  # 3 authorised days x 500,000
    assert line.member_responsibility == D("1500000.00")
    assert line.denial_reason == rules.PER_DAY_LIMIT
    # the days are shared by the claim's lines: 2 more days, then none
    first, second, third = run(
        ClaimLine("ROOM", D("400000"), quantity=1),
        ClaimLine("ROOM", D("2000000"), quantity=4),
        ClaimLine("ROOM", D("100000"), quantity=1),
        benefit=benefit,
        authorizations=[auth],
    ).lines
    assert first.paid_amount == D("400000.00")
    assert second.paid_amount == D("1000000.00")
    assert_denied(third, rules.PER_DAY_LIMIT)


# --- 5. contract discount -------------------------------------------------------------------


def test_contract_discount_reduces_allowed() -> None:
    line = one("1000000", contract=replace(CONTRACT, discount_percentage=D("10")))
    assert line.status == "approved"
    assert amounts(line) == (
        "900000.00",
        "0.00",
        "0.00",
        "0.00",
        "900000.00",
        "900000.00",
        "100000.00",
    )
    step = next(s for s in line.trace if s.code == "contract_discount")
    assert (step.amount_before, step.amount_after) == (D("1000000.00"), D("900000.00"))


def test_discount_rounds_half_up() -> None:
    # 5% of 100.10 = 5.005 -> 5.01 (ROUND_HALF_UP; banker's rounding would give 5.00)
    line = one("100.10", contract=replace(CONTRACT, discount_percentage=D("5")))
    assert line.allowed == D("95.09")


# --- 6. member share ------------------------------------------------------------------------

SHARED = replace(BENEFIT, copay_amount=D("50000"), coinsurance_percentage=D("20"))
DEDUCTIBLE_PLAN = replace(PLAN, individual_deductible=D("500000"))


def test_deductible_then_copay_then_coinsurance() -> None:
    result = run("2000000", benefit=SHARED, plan=DEDUCTIBLE_PLAN)
    (line,) = result.lines
    # 2,000,000: deductible 500,000; copay 50,000; 20% of 1,450,000 = 290,000
    assert amounts(line) == (
        "2000000.00",
        "500000.00",
        "50000.00",
        "290000.00",
        "1160000.00",
        "2000000.00",
        "840000.00",
    )
    assert line.status == "approved"
    assert [s.code for s in line.trace][3:] == ["deductible", "copay", "coinsurance", "paid"]
    assert result.deltas.deductible_met_individual == D("500000.00")
    assert result.deltas.deductible_met_family == D("500000.00")
    assert result.deltas.oop_individual == D("840000.00")


def test_remaining_deductible_individual_and_family() -> None:
    met = Accumulators(deductible_met_individual=D("300000"))
    line = one("1000000", plan=DEDUCTIBLE_PLAN, accumulators=met)
    assert line.deductible_amount == D("200000.00")
    family = replace(DEDUCTIBLE_PLAN, family_deductible=D("1000000"))
    family_met = Accumulators(deductible_met_family=D("900000"))
    line = one("1000000", plan=family, accumulators=family_met)
    assert line.deductible_amount == D("100000.00")
    # a line smaller than the deductible is all deductible: approved, plan pays nothing
    line = one("120000", plan=DEDUCTIBLE_PLAN)
    assert (line.status, line.deductible_amount, line.paid_amount) == (
        "approved",
        D("120000.00"),
        D("0.00"),
    )


def test_copay_never_exceeds_what_is_left_and_coinsurance_rounds_half_up() -> None:
    line = one("30000", benefit=SHARED)
    assert (line.copay_amount, line.coinsurance_amount, line.paid_amount) == (
        D("30000.00"),
        D("0.00"),
        D("0.00"),
    )
    # 12.5% of 100.10 = 12.5125 -> 12.51; 10% of 0.05 = 0.005 -> 0.01
    line = one("100.10", benefit=replace(BENEFIT, coinsurance_percentage=D("12.5")))
    assert line.coinsurance_amount == D("12.51")
    line = one("0.05", benefit=replace(BENEFIT, coinsurance_percentage=D("10")))
    assert line.coinsurance_amount == D("0.01")


def test_out_of_pocket_maximum_caps_member_share() -> None:
    plan = replace(DEDUCTIBLE_PLAN, individual_oop_max=D("600000"))
    spent = Accumulators(oop_individual=D("200000"))
    result = run("2000000", benefit=SHARED, plan=plan, accumulators=spent)
    (line,) = result.lines
    # share would be 840,000; only 400,000 is left: coinsurance, then copay, give way first
    assert amounts(line) == (
        "2000000.00",
        "400000.00",
        "0.00",
        "0.00",
        "1600000.00",
        "2000000.00",
        "400000.00",
    )
    oop = next(s for s in line.trace if s.code == "oop_max")
    assert (oop.amount_before, oop.amount_after) == (D("1160000.00"), D("1600000.00"))
    assert result.deltas.oop_individual == D("400000.00")
    assert result.deltas.deductible_met_individual == D("400000.00")
    family = replace(DEDUCTIBLE_PLAN, family_oop_max=D("1000000"))
    line = one(
        "2000000", benefit=SHARED, plan=family, accumulators=Accumulators(oop_family=D("700000"))
    )
    assert line.deductible_amount + line.copay_amount + line.coinsurance_amount == D("300000")
    assert (line.copay_amount, line.coinsurance_amount) == (D("0.00"), D("0.00"))


# --- 7. limits ------------------------------------------------------------------------------


def test_per_incident_limit() -> None:
    benefit = replace(BENEFIT, limit_type="per_incident", limit_amount=D("1000000"))
    line = one("1500000", benefit=benefit)
    assert line.status == "partially_approved"
    assert line.denial_reason == rules.PER_INCIDENT_LIMIT
    assert amounts(line) == (
        "1500000.00",
        "0.00",
        "0.00",
        "0.00",
        "1000000.00",
        "1000000.00",
        "500000.00",
    )
    # the limit is per claim: a previous claim's usage does not reduce it
    used = Accumulators(benefits={"OP": BenefitUsage(D("900000"), 1)})
    assert one("1500000", benefit=benefit, accumulators=used).paid_amount == D("1000000.00")


def test_per_day_limit_times_days() -> None:
    benefit = replace(BENEFIT, limit_type="per_day", limit_amount=D("500000"))
    line = one(ClaimLine("OP", D("2000000"), quantity=3), benefit=benefit)
    assert line.paid_amount == D("1500000.00")
    assert line.member_responsibility == D("500000.00")
    capped = replace(benefit, limit_days=2)
    line = one(ClaimLine("OP", D("2000000"), quantity=3), benefit=capped)
    assert line.paid_amount == D("1000000.00")
    line = one(ClaimLine("OP", D("1200000"), quantity=3), benefit=benefit)
    assert (line.status, line.paid_amount) == ("approved", D("1200000.00"))


def test_per_year_limit() -> None:
    benefit = replace(BENEFIT, limit_type="per_year", limit_amount=D("5000000"))
    used = Accumulators(benefits={"OP": BenefitUsage(D("4500000"), 3)})
    result = run("1000000", benefit=benefit, accumulators=used)
    assert result.lines[0].paid_amount == D("500000.00")
    assert result.lines[0].denial_reason == rules.PER_YEAR_LIMIT
    assert result.deltas.benefits["OP"] == BenefitUsage(D("500000.00"), 1)
    spent = Accumulators(benefits={"OP": BenefitUsage(D("5000000"), 3)})
    assert_denied(one("1000000", benefit=benefit, accumulators=spent), rules.PER_YEAR_LIMIT)


def test_visit_limit() -> None:
    benefit = replace(BENEFIT, limit_visits=3)
    assert_denied(
        one(benefit=benefit, accumulators=Accumulators(benefits={"OP": BenefitUsage(ZERO, 3)})),
        rules.VISIT_LIMIT,
    )
    result = run(
        "100000",
        "200000",
        benefit=benefit,
        accumulators=Accumulators(benefits={"OP": BenefitUsage(ZERO, 2)}),
    )
    assert [x.status for x in result.lines] == ["approved", "approved"]  # one visit per claim
    assert result.deltas.benefits["OP"].visit_count == 1


def test_annual_limit_only_when_applicable() -> None:
    plan = replace(PLAN, annual_limit=D("10000000"))
    used = Accumulators(annual_used=D("9800000"))
    capped = replace(COVERAGE, annual_cap_applicable=True)
    line = one("1000000", plan=plan, coverage=capped, accumulators=used)
    assert (line.paid_amount, line.denial_reason) == (D("200000.00"), rules.ANNUAL_LIMIT)
    assert one("1000000", plan=plan, accumulators=used).paid_amount == D("1000000.00")
    full = Accumulators(annual_used=D("10000000"))
    assert_denied(one(plan=plan, coverage=capped, accumulators=full), rules.ANNUAL_LIMIT)


def test_lifetime_limit() -> None:
    plan = replace(PLAN, lifetime_limit=D("50000000"))
    used = Accumulators(lifetime_used=D("49900000"))
    line = one("1000000", plan=plan, accumulators=used)
    assert (line.paid_amount, line.denial_reason) == (D("100000.00"), rules.LIFETIME_LIMIT)


def test_inner_limits_skipped_when_not_applicable() -> None:
    no_inner = replace(COVERAGE, inner_limit_applicable=False)
    incident = replace(BENEFIT, limit_type="per_incident", limit_amount=D("1000000"))
    assert one("1500000", benefit=incident, coverage=no_inner).paid_amount == D("1500000.00")
    visits = replace(BENEFIT, limit_visits=1)
    used = Accumulators(benefits={"OP": BenefitUsage(ZERO, 1)})
    assert one(benefit=visits, coverage=no_inner, accumulators=used).status == "approved"
    # plan limits still apply
    plan = replace(PLAN, lifetime_limit=D("1200000"))
    line = one("1500000", benefit=incident, coverage=no_inner, plan=plan)
    assert line.paid_amount == D("1200000.00")


def test_limits_after_cost_sharing_cap_plan_payment() -> None:
    benefit = replace(
        SHARED, limit_type="per_incident", limit_amount=D("1000000")
    )  # plan share 1,160,000 > 1,000,000
    line = one("2000000", benefit=benefit, plan=DEDUCTIBLE_PLAN)
    assert amounts(line) == (
        "2000000.00",
        "500000.00",
        "50000.00",
        "290000.00",
        "1000000.00",
        "1840000.00",
        "1000000.00",
    )
    assert line.status == "partially_approved"


def test_two_lines_share_one_limit() -> None:
    benefit = replace(BENEFIT, limit_type="per_year", limit_amount=D("1000000"))
    result = run("700000", "700000", "1", benefit=benefit)
    first, second, third = result.lines
    assert (first.paid_amount, second.paid_amount) == (D("700000.00"), D("300000.00"))
    assert (first.status, second.status) == ("approved", "partially_approved")
    assert_denied(third, rules.PER_YEAR_LIMIT)
    assert result.deltas.benefits["OP"] == BenefitUsage(D("1000000.00"), 1)
    assert result.deltas.annual_used == D("1000000.00")
    incident = replace(BENEFIT, limit_type="per_incident", limit_amount=D("1000000"))
    first, second = run("600000", "600000", benefit=incident).lines
    assert (first.paid_amount, second.paid_amount) == (D("600000.00"), D("400000.00"))
    # the deductible is shared too
    first, second = run("300000", "300000", plan=DEDUCTIBLE_PLAN).lines
    assert (first.deductible_amount, second.deductible_amount) == (D("300000.00"), D("200000.00"))


def test_totals_and_deltas() -> None:
    result = run(
        "1000000",
        ClaimLine("DENTAL", D("50000")),
        "250000",
        benefit=SHARED,
        plan=DEDUCTIBLE_PLAN,
        contract=replace(CONTRACT, discount_percentage=D("10")),
    )
    t = result.totals
    lines = result.lines
    assert t.charged == D("1300000.00")
    assert t.paid == sum((x.paid_amount for x in lines), ZERO)
    assert t.approved == sum((x.approved_amount for x in lines), ZERO)
    assert t.member_responsibility == t.charged - t.paid
    assert t.deductible == D("500000.00")
    assert result.deltas.lifetime_used == t.paid == result.deltas.annual_used
    after = Accumulators().plus(result.deltas)
    assert after.benefit("OP").visit_count == 1
    assert after.oop_individual == t.deductible + t.copay + t.coinsurance


def test_invalid_line_is_rejected() -> None:
    with pytest.raises(ValueError):
        one(ClaimLine("OP", D("-1")))
    with pytest.raises(ValueError):
        one(ClaimLine("OP", D("1"), quantity=0))
    with pytest.raises(ValueError, match="limit_type"):
        one(benefit=replace(BENEFIT, limit_type="per_visit"))
    with pytest.raises(ValueError, match="coverage_type"):
        one(benefit=replace(BENEFIT, coverage_type="partial"))


# --- properties -----------------------------------------------------------------------------


def money(high: int = 5_000_000_00) -> st.SearchStrategy[Decimal]:
    return st.integers(0, high).map(lambda cents: D(cents).scaleb(-2))


def optional_money(high: int = 5_000_000_00) -> st.SearchStrategy[Decimal | None]:
    return st.one_of(st.none(), money(high))


def percent() -> st.SearchStrategy[Decimal]:
    return st.integers(0, 10000).map(lambda x: D(x).scaleb(-2))


def used_within(limit: Decimal | None) -> st.SearchStrategy[Decimal]:
    if limit is None:
        return money()
    return st.integers(0, int(limit * 100)).map(lambda cents: D(cents).scaleb(-2))


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, Any]:
    benefits = [
        BenefitFacts(
            benefit_code=code,
            limit_type=draw(st.sampled_from([None, "per_incident", "per_day", "per_year"])),
            limit_amount=draw(optional_money()),
            limit_days=draw(st.one_of(st.none(), st.integers(0, 10))),
            limit_visits=draw(st.one_of(st.none(), st.integers(0, 5))),
            coinsurance_percentage=draw(percent()),
            copay_amount=draw(money(100_000_00)),
            requires_authorization=draw(st.booleans()),
        )
        for code in ("A", "B")
    ]
    plan = PlanFacts(
        annual_limit=draw(optional_money(20_000_000_00)),
        lifetime_limit=draw(optional_money(50_000_000_00)),
        individual_deductible=draw(money(1_000_000_00)),
        family_deductible=draw(money(2_000_000_00)),
        individual_oop_max=draw(optional_money(3_000_000_00)),
        family_oop_max=draw(optional_money(6_000_000_00)),
    )
    usage = {
        b.benefit_code: BenefitUsage(
            draw(used_within(b.limit_amount if b.limit_type == "per_year" else None)),
            draw(st.integers(0, b.limit_visits if b.limit_visits is not None else 10)),
        )
        for b in benefits
    }
    ind_ded = plan.individual_deductible or None
    fam_ded = plan.family_deductible or None
    accumulators = Accumulators(
        benefits=usage,
        annual_used=draw(used_within(plan.annual_limit)),
        lifetime_used=draw(used_within(plan.lifetime_limit)),
        deductible_met_individual=draw(used_within(ind_ded)) if ind_ded else ZERO,
        deductible_met_family=draw(used_within(fam_ded)) if fam_ded else ZERO,
        oop_individual=draw(used_within(plan.individual_oop_max)),
        oop_family=draw(used_within(plan.family_oop_max)),
    )
    auth = replace(
        AUTH,
        approved_amount=draw(optional_money()),
        approved_days=draw(st.one_of(st.none(), st.integers(0, 10))),
    )
    lines = draw(
        st.lists(
            st.builds(
                ClaimLine,
                benefit_code=st.sampled_from(["A", "B"]),
                charged_amount=money(),
                quantity=st.integers(1, 6),
            ),
            min_size=1,
            max_size=5,
        )
    )
    coverage = replace(
        COVERAGE,
        inner_limit_applicable=draw(st.booleans()),
        annual_cap_applicable=draw(st.booleans()),
    )
    contract = replace(CONTRACT, discount_percentage=draw(percent()))
    return {
        "claim": CLAIM,
        "lines": lines,
        "coverage": coverage,
        "plan": plan,
        "benefits": benefits,
        "accumulators": accumulators,
        "authorizations": draw(st.sampled_from([[], [auth]])),
        "contract": contract,
    }


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_properties(scenario: dict[str, Any]) -> None:
    result = adjudicate(**scenario)
    for line in result.lines:
        charged = line.line.charged_amount
        assert 0 <= line.paid_amount <= line.allowed <= charged
        assert line.paid_amount + line.member_responsibility == charged
        assert line.approved_amount == (
            line.paid_amount + line.deductible_amount + line.copay_amount + line.coinsurance_amount
        )
        assert line.approved_amount <= line.allowed
        for part in (line.deductible_amount, line.copay_amount, line.coinsurance_amount):
            assert part >= 0
            assert part == part.quantize(D("0.01"))
        assert (line.status == "approved") == (line.denial_reason is None)

    totals = result.totals
    for total, attr in [
        (totals.charged, "charged_amount"),
        (totals.paid, "paid_amount"),
        (totals.approved, "approved_amount"),
        (totals.allowed, "allowed"),
        (totals.deductible, "deductible_amount"),
        (totals.copay, "copay_amount"),
        (totals.coinsurance, "coinsurance_amount"),
        (totals.member_responsibility, "member_responsibility"),
    ]:
        source = (lambda x: x.line) if attr == "charged_amount" else (lambda x: x)
        assert total == sum((getattr(source(x), attr) for x in result.lines), ZERO)

    coverage: CoverageFacts = scenario["coverage"]
    plan: PlanFacts = scenario["plan"]
    after = scenario["accumulators"].plus(result.deltas)
    if coverage.inner_limit_applicable:
        for b in scenario["benefits"]:
            if b.limit_type == "per_year" and b.limit_amount is not None:
                assert after.benefit(b.benefit_code).used_amount <= b.limit_amount
            if b.limit_visits is not None:
                assert after.benefit(b.benefit_code).visit_count <= b.limit_visits
    if coverage.annual_cap_applicable and plan.annual_limit is not None:
        assert after.annual_used <= plan.annual_limit
    if plan.lifetime_limit is not None:
        assert after.lifetime_used <= plan.lifetime_limit
    if plan.individual_deductible:
        assert after.deductible_met_individual <= plan.individual_deductible
    if plan.family_deductible:
        assert after.deductible_met_family <= plan.family_deductible
    if plan.individual_oop_max is not None:
        assert after.oop_individual <= plan.individual_oop_max
    if plan.family_oop_max is not None:
        assert after.oop_family <= plan.family_oop_max
    assert result.deltas.annual_used == result.deltas.lifetime_used == totals.paid
