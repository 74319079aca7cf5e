"""Pure fraud-scoring rules of motor claims (issue 5 item 7): each rule at its boundary,
combinations, the shipped data file, refused data files and score properties."""

from __future__ import annotations

import copy
import json
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from importlib import resources
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polis.motor.fraud_rules import (
    MAX_SCORE,
    ClaimFraudFacts,
    FraudRulesError,
    FraudRuleSet,
    PriorClaim,
    fraud_rules,
    load_fraud_rules,
    local_date_time,
    normalise_id,
    other_party_ids,
    score_claim,
)

START = date(2026, 1, 1)
INCIDENT = date(2026, 6, 1)

# Parameters of the test rule set (independent of the shipped file's values).
EARLY_DAYS = 30
MIN_CLAIMS = 3
WINDOW = 365
LATE_DAYS = 30
RATIO = Decimal("0.90")
SHOP_MIN = 2

WEIGHTS = {
    "EARLY_INCIDENT": 25,
    "FREQUENT_CLAIMS": 20,
    "LATE_REPORTING": 15,
    "THEFT_NO_POLICE_REPORT": 30,
    "AMOUNT_NEAR_SUM_INSURED": 20,
    "REPEAT_OTHER_PARTY": 30,
    "REPEAT_REPAIR_SHOP": 10,
    "NIGHT_INCIDENT": 5,
}
PARAMS: dict[str, dict[str, Any]] = {
    "EARLY_INCIDENT": {"days": EARLY_DAYS},
    "FREQUENT_CLAIMS": {"min_claims": MIN_CLAIMS, "window_days": WINDOW},
    "LATE_REPORTING": {"days": LATE_DAYS},
    "THEFT_NO_POLICE_REPORT": {"claim_types": ["THEFT"]},
    "AMOUNT_NEAR_SUM_INSURED": {"ratio": str(RATIO)},
    "REPEAT_OTHER_PARTY": {"min_prior_claims": 1, "window_days": None},
    "REPEAT_REPAIR_SHOP": {"min_prior_claims": SHOP_MIN, "window_days": WINDOW},
    "NIGHT_INCIDENT": {"start": "22:00", "end": "05:00"},
}


def doc(threshold: int = 50, enabled: frozenset[str] | None = None) -> dict[str, Any]:
    return {
        "version": "2026.1",
        "investigation_threshold": threshold,
        "rules": [
            {
                "code": code,
                "description": code.lower(),
                "weight": weight,
                "enabled": enabled is None or code in enabled,
                "params": PARAMS[code],
            }
            for code, weight in WEIGHTS.items()
        ],
    }


RULES = load_fraud_rules(doc())

CLEAN = ClaimFraudFacts(
    claim_type="ACCIDENT",
    incident_date=INCIDENT,
    reported_date=INCIDENT,
    policy_start_date=START,
    claimed_amount=Decimal("20000.00"),
    sum_insured=Decimal("500000.00"),
    police_report_number=None,
    other_party_ids=frozenset({"registration_number:กข1234"}),
    repair_shop_id="SHOP-1",
    prior_claims=(),
    incident_local_time=time(14, 0),
)


def codes(facts: ClaimFraudFacts, rules: FraudRuleSet = RULES) -> set[str]:
    return set(score_claim(facts, rules).codes)


def test_clean_claim_scores_zero() -> None:
    result = score_claim(CLEAN, RULES)
    assert result.score == 0
    assert result.flags == ()
    assert not result.requires_investigation
    assert result.rules_version == "2026.1"


# --- each rule alone at its boundary -------------------------------------------------------


def test_early_incident_boundary() -> None:
    at = replace(
        CLEAN,
        incident_date=START + timedelta(days=EARLY_DAYS),
        reported_date=START + timedelta(days=EARLY_DAYS),
    )
    after = replace(
        at,
        incident_date=at.incident_date + timedelta(days=1),
        reported_date=at.incident_date + timedelta(days=1),
    )
    same_day = replace(CLEAN, incident_date=START, reported_date=START)
    assert codes(at) == {"EARLY_INCIDENT"}
    assert codes(same_day) == {"EARLY_INCIDENT"}
    assert codes(after) == set()
    result = score_claim(at, RULES)
    assert result.score == WEIGHTS["EARLY_INCIDENT"]
    assert "30 day(s)" in result.flags[0].message


def _priors(n: int, days_before: int) -> tuple[PriorClaim, ...]:
    return tuple(PriorClaim(INCIDENT - timedelta(days=days_before)) for _ in range(n))


def test_frequent_claims_count_boundary() -> None:
    assert codes(replace(CLEAN, prior_claims=_priors(MIN_CLAIMS - 1, 10))) == {"FREQUENT_CLAIMS"}
    assert codes(replace(CLEAN, prior_claims=_priors(MIN_CLAIMS - 2, 10))) == set()


def test_frequent_claims_window_boundary() -> None:
    inside = _priors(MIN_CLAIMS - 1, WINDOW)
    outside = _priors(MIN_CLAIMS - 1, WINDOW + 1)
    assert codes(replace(CLEAN, prior_claims=inside)) == {"FREQUENT_CLAIMS"}
    assert codes(replace(CLEAN, prior_claims=outside)) == set()


def test_late_reporting_boundary() -> None:
    on_limit = replace(CLEAN, reported_date=INCIDENT + timedelta(days=LATE_DAYS))
    late = replace(CLEAN, reported_date=INCIDENT + timedelta(days=LATE_DAYS + 1))
    assert codes(on_limit) == set()
    assert codes(late) == {"LATE_REPORTING"}


@pytest.mark.parametrize("number", [None, "", "   "])
def test_theft_without_police_report_fires(number: str | None) -> None:
    assert codes(replace(CLEAN, claim_type="THEFT", police_report_number=number)) == {
        "THEFT_NO_POLICE_REPORT"
    }


def test_theft_with_police_report_or_other_type_does_not_fire() -> None:
    assert codes(replace(CLEAN, claim_type="THEFT", police_report_number="PR-1/2569")) == set()
    assert codes(replace(CLEAN, claim_type="FIRE", police_report_number=None)) == set()


def test_amount_near_sum_insured_boundary() -> None:
    at = replace(CLEAN, claimed_amount=Decimal("450000.00"))
    below = replace(CLEAN, claimed_amount=Decimal("449999.99"))
    assert codes(at) == {"AMOUNT_NEAR_SUM_INSURED"}
    assert codes(below) == set()
    assert codes(replace(at, sum_insured=None)) == set()
    assert codes(replace(at, sum_insured=Decimal("0"))) == set()
    assert codes(replace(at, claimed_amount=None)) == set()


def test_repeat_other_party() -> None:
    same = PriorClaim(date(2020, 1, 1), other_party_ids=frozenset({"registration_number:กข1234"}))
    other = PriorClaim(date(2026, 5, 1), other_party_ids=frozenset({"registration_number:zz9"}))
    assert codes(replace(CLEAN, prior_claims=(same,))) == {"REPEAT_OTHER_PARTY"}
    assert codes(replace(CLEAN, prior_claims=(other,))) == set()
    assert codes(replace(CLEAN, prior_claims=(same,), other_party_ids=frozenset())) == set()


def test_repeat_other_party_window() -> None:
    params = copy.deepcopy(PARAMS)
    params["REPEAT_OTHER_PARTY"]["window_days"] = 100
    data = doc()
    for rule in data["rules"]:
        rule["params"] = params[rule["code"]]
    rules = load_fraud_rules(data)
    ids = CLEAN.other_party_ids
    inside = PriorClaim(INCIDENT - timedelta(days=100), other_party_ids=ids)
    outside = PriorClaim(INCIDENT - timedelta(days=101), other_party_ids=ids)
    assert codes(replace(CLEAN, prior_claims=(inside,)), rules) == {"REPEAT_OTHER_PARTY"}
    assert codes(replace(CLEAN, prior_claims=(outside,)), rules) == set()


def test_repeat_repair_shop_boundary() -> None:
    shop_only = load_fraud_rules(doc(enabled=frozenset({"REPEAT_REPAIR_SHOP"})))

    def shop(n: int, days_before: int, shop_id: str = "SHOP-1") -> tuple[PriorClaim, ...]:
        return tuple(
            PriorClaim(INCIDENT - timedelta(days=days_before), repair_shop_id=shop_id)
            for _ in range(n)
        )

    def fired(facts: ClaimFraudFacts) -> set[str]:
        return codes(facts, shop_only)

    assert fired(replace(CLEAN, prior_claims=shop(SHOP_MIN, WINDOW))) == {"REPEAT_REPAIR_SHOP"}
    assert fired(replace(CLEAN, prior_claims=shop(SHOP_MIN - 1, 5))) == set()
    assert fired(replace(CLEAN, prior_claims=shop(SHOP_MIN, WINDOW + 1))) == set()
    assert fired(replace(CLEAN, prior_claims=shop(SHOP_MIN, 5), repair_shop_id=None)) == set()
    assert fired(replace(CLEAN, prior_claims=shop(SHOP_MIN, 5, "SHOP-2"))) == set()
    # alone in the full rule set: one earlier claim at the same shop, no other rule fires
    assert codes(replace(CLEAN, prior_claims=shop(1, 5))) == set()


@pytest.mark.parametrize(
    ("at", "fires"),
    [
        (time(21, 59), False),
        (time(22, 0), True),
        (time(0, 0), True),
        (time(4, 59), True),
        (time(5, 0), False),
        (None, False),
    ],
)
def test_night_incident_wrapping_midnight(at: time | None, fires: bool) -> None:
    assert codes(replace(CLEAN, incident_local_time=at)) == ({"NIGHT_INCIDENT"} if fires else set())


def test_night_window_within_a_day() -> None:
    data = doc()
    for rule in data["rules"]:
        if rule["code"] == "NIGHT_INCIDENT":
            rule["params"] = {"start": "01:00", "end": "04:00"}
    rules = load_fraud_rules(data)
    assert codes(replace(CLEAN, incident_local_time=time(0, 59)), rules) == set()
    assert codes(replace(CLEAN, incident_local_time=time(1, 0)), rules) == {"NIGHT_INCIDENT"}
    assert codes(replace(CLEAN, incident_local_time=time(4, 0)), rules) == set()


# --- combinations, threshold, disabled rules -----------------------------------------------


def _everything() -> ClaimFraudFacts:
    incident = START + timedelta(days=3)
    ids = CLEAN.other_party_ids
    priors = (
        PriorClaim(incident - timedelta(days=30), other_party_ids=ids, repair_shop_id="SHOP-1"),
        PriorClaim(incident - timedelta(days=60), repair_shop_id="SHOP-1"),
    )
    return replace(
        CLEAN,
        claim_type="THEFT",
        incident_date=incident,
        reported_date=incident + timedelta(days=45),
        claimed_amount=Decimal("500000.00"),
        prior_claims=priors,
        incident_local_time=time(2, 30),
    )


def test_all_rules_fire_and_score_is_capped() -> None:
    result = score_claim(_everything(), RULES)
    assert set(result.codes) == set(WEIGHTS)
    assert sum(WEIGHTS.values()) > MAX_SCORE
    assert result.score == MAX_SCORE
    assert result.requires_investigation
    assert [f["code"] for f in result.flags_json()] == list(WEIGHTS)  # rule-set order
    assert all(f["message"] for f in result.flags_json())


def test_combination_sums_weights() -> None:
    facts = replace(
        CLEAN,
        incident_date=START + timedelta(days=5),
        reported_date=START + timedelta(days=5 + LATE_DAYS + 1),
    )
    result = score_claim(facts, RULES)
    assert set(result.codes) == {"EARLY_INCIDENT", "LATE_REPORTING"}
    assert result.score == WEIGHTS["EARLY_INCIDENT"] + WEIGHTS["LATE_REPORTING"]  # 40
    assert not result.requires_investigation  # default threshold 50
    assert score_claim(facts, RULES, threshold=40).requires_investigation
    assert not score_claim(facts, RULES, threshold=41).requires_investigation


def test_theft_without_report_and_near_sum_reaches_threshold() -> None:
    facts = replace(CLEAN, claim_type="THEFT", claimed_amount=Decimal("480000"))
    result = score_claim(facts, RULES)
    assert result.score == 50
    assert result.requires_investigation


def test_disabled_rule_never_fires() -> None:
    rules = load_fraud_rules(doc(enabled=frozenset(WEIGHTS) - {"THEFT_NO_POLICE_REPORT"}))
    assert codes(replace(CLEAN, claim_type="THEFT"), rules) == set()


def test_threshold_out_of_range_is_refused() -> None:
    with pytest.raises(FraudRulesError):
        score_claim(CLEAN, RULES, threshold=101)


# --- identifiers ---------------------------------------------------------------------------


def test_other_party_ids_normalised_and_keyed() -> None:
    a = other_party_ids(
        {"registration_number": "กข-1234", "name": "Somchai", "phone": "081 234 5678"}
    )
    b = other_party_ids({"registration_number": "กข 1234"})
    assert a == {"registration_number:กข1234", "phone:0812345678"}
    assert a & b
    assert other_party_ids(None) == frozenset()
    assert other_party_ids({"phone": "", "national_id": True}) == frozenset()
    assert normalise_id(" AB.12/3 ") == "ab123"


def test_local_date_time_is_bangkok() -> None:
    # 18:30 UTC is 01:30 the next day in Bangkok: a night incident on the local date
    assert local_date_time(datetime(2026, 6, 1, 18, 30, tzinfo=UTC)) == (
        date(2026, 6, 2),
        time(1, 30),
    )
    assert local_date_time(datetime(2026, 6, 1, 9, 0)) == (date(2026, 6, 1), time(9, 0))


# --- the data file -------------------------------------------------------------------------


def test_shipped_rules_load() -> None:
    rules = fraud_rules()
    assert rules.version
    assert 0 <= rules.investigation_threshold <= MAX_SCORE
    assert {r.code for r in rules.rules} == set(WEIGHTS)
    text = resources.files("polis.motor").joinpath("data", "fraud_rules.json").read_text("utf-8")
    assert load_fraud_rules(text) == rules
    assert score_claim(CLEAN).score == 0  # default rule set


def _bad(mutate: Any) -> dict[str, Any]:
    data = doc()
    mutate(data)
    return data


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (_bad(lambda d: d["rules"][0].__setitem__("weight", 101)), "rules.0.weight"),
        (_bad(lambda d: d["rules"][0].__setitem__("weight", -1)), "rules.0.weight"),
        (_bad(lambda d: d["rules"][0].__setitem__("code", "NOPE")), "rules.0.code"),
        (_bad(lambda d: d["rules"][0].__setitem__("params", {})), "days"),
        (_bad(lambda d: d["rules"][0].__setitem__("params", {"days": 3, "x": 1})), "x"),
        (_bad(lambda d: d["rules"][4].__setitem__("params", {"ratio": "-1"})), "ratio"),
        (
            _bad(lambda d: d["rules"][3].__setitem__("params", {"claim_types": ["BOAT"]})),
            "claim_types",
        ),
        (
            _bad(lambda d: d["rules"][7].__setitem__("params", {"start": "01:00", "end": "01:00"})),
            "differ",
        ),
        (_bad(lambda d: d["rules"].append(dict(d["rules"][0]))), "duplicate"),
        (_bad(lambda d: d.__setitem__("investigation_threshold", 150)), "investigation_threshold"),
        (_bad(lambda d: d.pop("version")), "version"),
        (_bad(lambda d: d.__setitem__("rules", [])), "rules"),
        (_bad(lambda d: d.__setitem__("extra", 1)), "extra"),
    ],
)
def test_bad_rules_data_is_refused(data: dict[str, Any], needle: str) -> None:
    with pytest.raises(FraudRulesError) as info:
        load_fraud_rules(data)
    assert needle in str(info.value)


@pytest.mark.parametrize("text", ["{not json", "[1, 2]", json.dumps("x")])
def test_bad_rules_text_is_refused(text: str) -> None:
    with pytest.raises(FraudRulesError):
        load_fraud_rules(text)


# --- properties ----------------------------------------------------------------------------

days = st.integers(min_value=-10, max_value=800)
amounts = st.decimals(min_value=0, max_value=2_000_000, places=2, allow_nan=False)
shops = st.sampled_from(["SHOP-1", "SHOP-2", None])
party = st.frozensets(
    st.sampled_from(["registration_number:a", "phone:1", "national_id:9"]), max_size=2
)
priors = st.lists(
    st.builds(
        PriorClaim,
        incident_date=st.integers(0, 900).map(lambda n: INCIDENT - timedelta(days=n)),
        other_party_ids=party,
        repair_shop_id=shops,
    ),
    max_size=5,
).map(tuple)


@st.composite
def facts(draw: st.DrawFn) -> ClaimFraudFacts:
    since_start = draw(days)
    return ClaimFraudFacts(
        claim_type=draw(st.sampled_from(["ACCIDENT", "THEFT", "FIRE", "FLOOD"])),
        incident_date=INCIDENT,
        reported_date=INCIDENT + timedelta(days=draw(st.integers(0, 120))),
        policy_start_date=INCIDENT - timedelta(days=since_start),
        claimed_amount=draw(st.none() | amounts),
        sum_insured=draw(st.none() | amounts),
        police_report_number=draw(st.none() | st.just("PR-1")),
        other_party_ids=draw(party),
        repair_shop_id=draw(shops),
        prior_claims=draw(priors),
        incident_local_time=draw(st.none() | st.times()),
    )


weights = st.fixed_dictionaries({code: st.integers(0, MAX_SCORE) for code in WEIGHTS})


def _rules(w: dict[str, int], enabled: frozenset[str], threshold: int) -> FraudRuleSet:
    data = doc(threshold=threshold, enabled=enabled)
    for rule in data["rules"]:
        rule["weight"] = w[rule["code"]]
    return load_fraud_rules(data)


@settings(max_examples=150, deadline=None)
@given(facts(), weights, st.frozensets(st.sampled_from(list(WEIGHTS))), st.integers(0, MAX_SCORE))
def test_score_within_bounds_and_threshold(
    f: ClaimFraudFacts, w: dict[str, int], enabled: frozenset[str], threshold: int
) -> None:
    result = score_claim(f, _rules(w, enabled, threshold))
    assert 0 <= result.score <= MAX_SCORE
    assert result.score == min(MAX_SCORE, sum(flag.weight for flag in result.flags))
    assert set(result.codes) <= enabled
    assert result.requires_investigation == (result.score >= threshold)


@settings(max_examples=150, deadline=None)
@given(
    facts(), weights, st.frozensets(st.sampled_from(list(WEIGHTS))), st.sampled_from(list(WEIGHTS))
)
def test_enabling_a_rule_never_lowers_the_score(
    f: ClaimFraudFacts, w: dict[str, int], enabled: frozenset[str], extra: str
) -> None:
    before = score_claim(f, _rules(w, enabled, 50))
    after = score_claim(f, _rules(w, enabled | {extra}, 50))
    assert after.score >= before.score
    assert set(before.codes) <= set(after.codes)
    if extra in after.codes and extra not in before.codes:
        assert after.score == min(MAX_SCORE, before.score + w[extra])
