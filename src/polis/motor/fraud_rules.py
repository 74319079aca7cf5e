"""Pure fraud-scoring rules of motor claims (issue 5 item 7). No I/O.

The rules, their weights, parameters and the investigation threshold are data: the versioned
package file ``motor/data/fraud_rules.json``, loaded and validated by `load_fraud_rules`
(bad data raises `FraudRulesError` naming the offending field).

Scoring: every *enabled* rule that fires on the `ClaimFraudFacts` adds its weight (an integer
0..100); ``fraud_score = min(100, sum of the fired weights)``, so the score is always within
0..100 and firing one more rule never lowers it. ``requires_investigation`` is
``fraud_score >= threshold`` (the file's ``investigation_threshold`` unless the caller passes
one, e.g. from configuration). ``fraud_flags`` holds one entry per fired rule: its code, a
human message with the facts that fired it, and its weight.

Rules (codes):

* EARLY_INCIDENT: the incident date is ``0..days`` days after the policy's start date.
* FREQUENT_CLAIMS: the customer's claims whose incident lies within ``window_days`` before
  this incident (this claim included) number ``>= min_claims``.
* LATE_REPORTING: reported more than ``days`` whole calendar days after the incident.
* THEFT_NO_POLICE_REPORT: the claim type is one of ``claim_types`` and no police report
  number is given (blank counts as none).
* AMOUNT_NEAR_SUM_INSURED: claimed amount / sum insured ``>= ratio`` (both known, sum > 0).
* REPEAT_OTHER_PARTY: an identifier of this claim's other party (registration number,
  national id, phone...; normalised) appears in ``>= min_prior_claims`` earlier claims within
  ``window_days`` (null: any time).
* REPEAT_REPAIR_SHOP: this claim's repair shop handled ``>= min_prior_claims`` earlier claims
  within ``window_days`` (null: any time).
* NIGHT_INCIDENT: the local time of the incident is known and lies in ``[start, end)``
  (a window may wrap midnight, e.g. 22:00-05:00). Without a time the rule never fires.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

MAX_SCORE = 100
RULES_FILE = "fraud_rules.json"

RuleCode = Literal[
    "EARLY_INCIDENT",
    "FREQUENT_CLAIMS",
    "LATE_REPORTING",
    "THEFT_NO_POLICE_REPORT",
    "AMOUNT_NEAR_SUM_INSURED",
    "REPEAT_OTHER_PARTY",
    "REPEAT_REPAIR_SHOP",
    "NIGHT_INCIDENT",
]

CLAIM_TYPES = ("ACCIDENT", "THEFT", "FIRE", "FLOOD", "VANDALISM", "NATURAL_DISASTER")
ClaimType = Literal["ACCIDENT", "THEFT", "FIRE", "FLOOD", "VANDALISM", "NATURAL_DISASTER"]


class FraudRulesError(ValueError):
    """The fraud rules data is invalid; the message says which field and why."""


# --- facts --------------------------------------------------------------------------------


@dataclass(frozen=True)
class PriorClaim:
    """One earlier claim of the same customer, as far as the rules need it."""

    incident_date: date
    other_party_ids: frozenset[str] = frozenset()
    repair_shop_id: str | None = None


@dataclass(frozen=True)
class ClaimFraudFacts:
    """What the fraud rules know of a claim and its history.

    `incident_local_time` is the incident's wall-clock time where it happened (Asia/Bangkok),
    or None when only the date is known. `prior_claims` are the customer's other claims (not
    this one); identifiers are compared after `normalise_id`."""

    claim_type: str
    incident_date: date
    reported_date: date
    policy_start_date: date
    claimed_amount: Decimal | None = None
    sum_insured: Decimal | None = None
    police_report_number: str | None = None
    other_party_ids: frozenset[str] = frozenset()
    repair_shop_id: str | None = None
    prior_claims: tuple[PriorClaim, ...] = ()
    incident_local_time: time | None = None


LOCAL_TZ = ZoneInfo("Asia/Bangkok")


def local_date_time(moment: datetime) -> tuple[date, time]:
    """A claims TIMESTAMPTZ (incident_date, reported_date) as the Thai local date and time
    the rules compare; a naive datetime is taken as already local."""
    local = moment.astimezone(LOCAL_TZ) if moment.tzinfo is not None else moment
    return local.date(), local.time()


_SPACES = re.compile(r"[\s\-./]+")
OTHER_PARTY_ID_KEYS = (
    "registration_number",
    "national_id",
    "id_card_number",
    "passport_number",
    "driver_license_number",
    "phone",
)


def normalise_id(value: str) -> str:
    """Identifier comparison form: case-folded, spaces, dashes, dots and slashes dropped
    ("กข-1234" and "กข 1234" are the same plate)."""
    return _SPACES.sub("", value).casefold()


def other_party_ids(info: Mapping[str, Any] | None) -> frozenset[str]:
    """The identifiers of a claims.other_party_info JSON object (OTHER_PARTY_ID_KEYS), each
    prefixed by its key so a phone never matches a plate. Names are not identifiers."""
    out: set[str] = set()
    for key in OTHER_PARTY_ID_KEYS:
        value = (info or {}).get(key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            norm = normalise_id(str(value))
            if norm:
                out.add(f"{key}:{norm}")
    return frozenset(out)


# --- rules data ---------------------------------------------------------------------------


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DaysParams(_Params):
    days: int = Field(ge=0, le=3650)


class FrequentParams(_Params):
    min_claims: int = Field(ge=1, le=100)
    window_days: int = Field(ge=1, le=3650)


class TheftParams(_Params):
    claim_types: tuple[ClaimType, ...] = Field(min_length=1)


class RatioParams(_Params):
    ratio: Decimal = Field(gt=0, le=10)


class RepeatParams(_Params):
    min_prior_claims: int = Field(ge=1, le=100)
    window_days: int | None = Field(default=None, ge=1, le=36500)


class NightParams(_Params):
    start: time
    end: time

    @model_validator(mode="after")
    def _not_empty(self) -> NightParams:
        if self.start == self.end:
            raise ValueError("start and end must differ")
        return self


PARAMS: dict[str, type[_Params]] = {
    "EARLY_INCIDENT": DaysParams,
    "FREQUENT_CLAIMS": FrequentParams,
    "LATE_REPORTING": DaysParams,
    "THEFT_NO_POLICE_REPORT": TheftParams,
    "AMOUNT_NEAR_SUM_INSURED": RatioParams,
    "REPEAT_OTHER_PARTY": RepeatParams,
    "REPEAT_REPAIR_SHOP": RepeatParams,
    "NIGHT_INCIDENT": NightParams,
}


class FraudRule(BaseModel):
    """One rule of the data file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: RuleCode
    description: str = Field(min_length=1)
    weight: int = Field(ge=0, le=MAX_SCORE)
    enabled: bool = True
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_params(self) -> FraudRule:
        PARAMS[self.code].model_validate(self.params)
        return self

    def typed_params(self) -> Any:
        return PARAMS[self.code].model_validate(self.params)


class FraudRuleSet(BaseModel):
    """The versioned rule set: rules and the default investigation threshold."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str = Field(pattern=r"^\d{4}\.\d+$")
    illustrative: bool = False
    description: str = ""
    investigation_threshold: int = Field(ge=0, le=MAX_SCORE)
    rules: tuple[FraudRule, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique_codes(self) -> FraudRuleSet:
        codes = [r.code for r in self.rules]
        duplicates = sorted({c for c in codes if codes.count(c) > 1})
        if duplicates:
            raise ValueError(f"duplicate rule codes: {', '.join(duplicates)}")
        return self


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"]) or "(root)"
        parts.append(f"{where}: {e['msg']}")
    return "; ".join(parts)


def load_fraud_rules(data: str | bytes | Mapping[str, Any]) -> FraudRuleSet:
    """Parse and validate rules data (JSON text or an already decoded object)."""
    if isinstance(data, str | bytes):
        try:
            data = json.loads(data)
        except ValueError as exc:
            raise FraudRulesError(f"fraud rules: not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise FraudRulesError("fraud rules: the document must be a JSON object")
    try:
        return FraudRuleSet.model_validate(data)
    except ValidationError as exc:
        raise FraudRulesError(f"fraud rules: {_describe(exc)}") from exc


@lru_cache(maxsize=1)
def fraud_rules() -> FraudRuleSet:
    """The rule set shipped with the package (read and validated once)."""
    source = resources.files("polis.motor").joinpath("data", RULES_FILE)
    return load_fraud_rules(source.read_text(encoding="utf-8"))


# --- evaluation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class FraudFlag:
    """One fired rule, as stored in claims.fraud_flags."""

    code: str
    message: str
    weight: int

    def as_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "weight": self.weight}


@dataclass(frozen=True)
class FraudAssessment:
    """The outcome for claims.fraud_score, fraud_flags and requires_investigation."""

    score: int
    flags: tuple[FraudFlag, ...]
    requires_investigation: bool
    threshold: int
    rules_version: str
    codes: tuple[str, ...] = field(default=())

    def flags_json(self) -> list[dict[str, Any]]:
        return [f.as_json() for f in self.flags]


def _in_window(prior: date, incident: date, window_days: int | None) -> bool:
    if window_days is None:
        return prior <= incident
    return incident - timedelta(days=window_days) <= prior <= incident


def _early(f: ClaimFraudFacts, p: DaysParams) -> str | None:
    days = (f.incident_date - f.policy_start_date).days
    if 0 <= days <= p.days:
        return f"incident {days} day(s) after the policy started on {f.policy_start_date}"
    return None


def _frequent(f: ClaimFraudFacts, p: FrequentParams) -> str | None:
    earlier = [
        c for c in f.prior_claims if _in_window(c.incident_date, f.incident_date, p.window_days)
    ]
    count = len(earlier) + 1
    if count >= p.min_claims:
        return f"{count} claims within {p.window_days} days (this one included)"
    return None


def _late(f: ClaimFraudFacts, p: DaysParams) -> str | None:
    days = (f.reported_date - f.incident_date).days
    if days > p.days:
        return f"reported {days} days after the incident (more than {p.days})"
    return None


def _theft(f: ClaimFraudFacts, p: TheftParams) -> str | None:
    if f.claim_type in p.claim_types and not (f.police_report_number or "").strip():
        return f"{f.claim_type} claim without a police report number"
    return None


def _near_sum(f: ClaimFraudFacts, p: RatioParams) -> str | None:
    if f.claimed_amount is None or f.sum_insured is None or f.sum_insured <= 0:
        return None
    ratio = f.claimed_amount / f.sum_insured
    if ratio >= p.ratio:
        return (
            f"claimed {f.claimed_amount} is {ratio:.0%} of the sum insured {f.sum_insured}"
            f" (at least {p.ratio:.0%})"
        )
    return None


def _repeat_party(f: ClaimFraudFacts, p: RepeatParams) -> str | None:
    if not f.other_party_ids:
        return None
    matching = [
        c
        for c in f.prior_claims
        if _in_window(c.incident_date, f.incident_date, p.window_days)
        and c.other_party_ids & f.other_party_ids
    ]
    if len(matching) >= p.min_prior_claims:
        shared = sorted(set().union(*(c.other_party_ids & f.other_party_ids for c in matching)))
        return f"the other party ({', '.join(shared)}) appears in {len(matching)} earlier claim(s)"
    return None


def _repeat_shop(f: ClaimFraudFacts, p: RepeatParams) -> str | None:
    if not f.repair_shop_id:
        return None
    matching = [
        c
        for c in f.prior_claims
        if _in_window(c.incident_date, f.incident_date, p.window_days)
        and c.repair_shop_id == f.repair_shop_id
    ]
    if len(matching) >= p.min_prior_claims:
        return f"repair shop {f.repair_shop_id} handled {len(matching)} earlier claim(s)"
    return None


def _night(f: ClaimFraudFacts, p: NightParams) -> str | None:
    t = f.incident_local_time
    if t is None:
        return None
    t = t.replace(tzinfo=None)
    # a window whose start is after its end wraps midnight
    inside = p.start <= t < p.end if p.start < p.end else (t >= p.start or t < p.end)
    if inside:
        return f"incident at {t:%H:%M}, between {p.start:%H:%M} and {p.end:%H:%M}"
    return None


_EVALUATORS: dict[str, Callable[[ClaimFraudFacts, Any], str | None]] = {
    "EARLY_INCIDENT": _early,
    "FREQUENT_CLAIMS": _frequent,
    "LATE_REPORTING": _late,
    "THEFT_NO_POLICE_REPORT": _theft,
    "AMOUNT_NEAR_SUM_INSURED": _near_sum,
    "REPEAT_OTHER_PARTY": _repeat_party,
    "REPEAT_REPAIR_SHOP": _repeat_shop,
    "NIGHT_INCIDENT": _night,
}


def fired_flags(facts: ClaimFraudFacts, rules: Sequence[FraudRule]) -> tuple[FraudFlag, ...]:
    """The flags of the enabled rules that fire, in the order of the rule set."""
    out = []
    for rule in rules:
        if not rule.enabled:
            continue
        message = _EVALUATORS[rule.code](facts, rule.typed_params())
        if message is not None:
            out.append(FraudFlag(rule.code, message, rule.weight))
    return tuple(out)


def score_claim(
    facts: ClaimFraudFacts,
    rules: FraudRuleSet | None = None,
    threshold: int | None = None,
) -> FraudAssessment:
    """Score a claim: min(100, sum of the weights of the fired enabled rules); investigation
    when the score is at least `threshold` (default: the rule set's investigation_threshold)."""
    rule_set = rules if rules is not None else fraud_rules()
    limit = rule_set.investigation_threshold if threshold is None else threshold
    if not 0 <= limit <= MAX_SCORE:
        raise FraudRulesError(f"investigation threshold must be within 0..{MAX_SCORE}: {limit}")
    flags = fired_flags(facts, rule_set.rules)
    score = min(MAX_SCORE, sum(f.weight for f in flags))
    return FraudAssessment(
        score=score,
        flags=flags,
        requires_investigation=score >= limit,
        threshold=limit,
        rules_version=rule_set.version,
        codes=tuple(f.code for f in flags),
    )
