"""Health claim adjudication (seed 000): a pure function, no database, no I/O.

`adjudicate` takes the facts of a claim, the member's coverage, the plan and its benefits,
exclusions, authorisations, the provider contract and a snapshot of the accumulators, and
returns a result per line with the rule trace that produced it, the claim totals and the
accumulator deltas the caller applies in the same transaction (DESIGN.md, "Health domain
rules"). Lines are adjudicated in the order given, against a running copy of the
accumulators, so two lines of one claim share every limit.

Per line, in order:

1. Eligibility: member, coverage (status and dates), policy, provider contract (status,
   dates, claim type).
2. Benefit: the plan's benefit for `benefit_code`; `not_covered` denies; network rule.
3. Exclusions (diagnosis by ICD-10 code or any ancestor category: exclusion `K35` matches
   `K35.8`; procedure by exact code) and the waiting period from coverage start.
4. Authorisation, where the benefit requires one: approved, valid on the service date, for
   this member, provider and service type. It caps the allowed amount (shared by the lines of
   the claim) and the days of per-day benefits.
5. Allowed = charged - contract discount, capped by the authorisation.
6. Member share on allowed: remaining deductible (individual and family, the smaller), then
   copay, then coinsurance on the rest; the sum is capped by the remaining out-of-pocket
   maximum (individual and family), reducing coinsurance first, then copay, then deductible.
7. Limits cap what the plan pays: inner limits (when `inner_limit_applicable`): visits,
   per incident, per day x days, per year; then the plan's annual limit (when
   `annual_cap_applicable`) and lifetime limit. The excess is the member's.
8. `paid_amount`; `approved_amount` = paid + deductible + copay + coinsurance;
   `member_responsibility` = charged - paid.

Trace: each step's `amount_before` / `amount_after` is the amount still in play for the
plan: charged, then allowed (discount, authorisation cap), then the plan's share (deductible,
copay, coinsurance, out-of-pocket cap), then paid (limits). A denial is a last step from
charged to 0 with the denial reason as its code.

Money: amounts are `Decimal` with 2 places (rupiah sen). Every product (contract discount,
coinsurance, per-day limit x days) is rounded to 2 places with ROUND_HALF_UP, explicitly,
through `polis.platform.money.quantize`; everything else is sums, differences and minima of
2-place amounts, so it stays exact. Inputs are quantised the same way on entry.

Interpretations of the seed (recorded in a decision record):

- `coverage_type = 'limited'` is covered, subject to its limits.
- `limit_type` NULL: no amount inner limit (visits still apply). `per_incident`: the limit
  is per claim (one claim is one incident), shared by the claim's lines of that benefit.
  `per_day`: line quantity is the number of days; days are capped by `limit_days` per claim
  and by the authorised days; the cap is `limit_amount` x covered days.
  `per_year`: the benefit accumulator's used amount for the service year.
- `limit_visits`: visits per benefit per year; one claim counts one visit per benefit. A line
  whose visit limit is reached is denied.
- The lifetime limit always applies; `annual_cap_applicable` switches the annual limit only
  (the seed's column comment: "the plan's annual limit applies").
- No provider contract: a cashless claim is denied; a reimbursement claim proceeds without a
  discount (members may be reimbursed for non-contracted providers, subject to the network
  rule). A contract that exists must be active and allow the claim type.
- A line whose plan share is cut to zero by a limit that is already used up is denied with
  that limit's reason; nothing of it moves the accumulators.
- Accumulators move by what the plan pays (benefit used, annual, lifetime), by the deductible
  (individual and family met) and by deductible + copay + coinsurance (out of pocket). Amounts
  above limits, contract discounts and denied charges do not count towards out of pocket.
- A deductible of 0 is no deductible: with only a family deductible, the family one applies.
  Individual and family accumulators move by the same amounts (the family rows are the
  policy's totals, which the snapshot brings in).
- Exclusions of type `condition` (or no type) match the diagnosis code like `diagnosis`.
- An authorisation matches on member, provider, service type, status and dates; its
  procedure and diagnosis codes are not compared. The admission and discharge dates are
  carried but not used: the days of a per-day line are its quantity.
- The waiting period ends `waiting_period_days` after coverage start: a service on that day
  is covered.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Literal

from polis.platform.money import quantize

ZERO = Decimal("0.00")
COVERAGE_TYPES = ("covered", "not_covered", "limited")  # as polis.health.models
LIMIT_TYPES = (None, "per_incident", "per_day", "per_year")
HUNDRED = Decimal(100)

ClaimType = Literal["cashless", "reimbursement"]
LineStatus = Literal["approved", "partially_approved", "denied"]

# Denial / reduction reasons (stable codes, shown to staff and in the EOB).
MEMBER_INACTIVE = "member_inactive"
COVERAGE_INACTIVE = "coverage_inactive"
POLICY_INACTIVE = "policy_inactive"
NO_PROVIDER_CONTRACT = "no_provider_contract"
CONTRACT_INACTIVE = "contract_inactive"
CLAIM_TYPE_NOT_ALLOWED = "claim_type_not_allowed"
BENEFIT_NOT_IN_PLAN = "benefit_not_in_plan"
NOT_COVERED = "not_covered"
IN_NETWORK_NOT_COVERED = "in_network_not_covered"
OUT_OF_NETWORK_NOT_COVERED = "out_of_network_not_covered"
EXCLUDED = "excluded"
WAITING_PERIOD = "waiting_period"
AUTHORIZATION_MISSING = "authorization_missing"
AUTHORIZATION_NOT_APPROVED = "authorization_not_approved"
AUTHORIZATION_EXPIRED = "authorization_expired"
AUTHORIZATION_OTHER_PROVIDER = "authorization_other_provider"
AUTHORIZATION_EXHAUSTED = "authorization_exhausted"
VISIT_LIMIT = "visit_limit"
PER_INCIDENT_LIMIT = "per_incident_limit"
PER_DAY_LIMIT = "per_day_limit"
PER_YEAR_LIMIT = "per_year_limit"
ANNUAL_LIMIT = "annual_limit"
LIFETIME_LIMIT = "lifetime_limit"


def _money(value: Decimal | int | str | None) -> Decimal | None:
    return None if value is None else quantize(value)


# --- inputs -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClaimLine:
    """One claim item (claims.claim_item)."""

    benefit_code: str
    charged_amount: Decimal
    quantity: int = 1
    diagnosis_code: str | None = None
    procedure_code: str | None = None


@dataclass(frozen=True)
class ClaimFacts:
    """The claim header (claims.claim) and the provider's network status."""

    claim_type: ClaimType
    service_type: str
    service_date: date
    member_id: object = None
    provider_id: object = None
    in_network: bool = True
    admission_date: date | None = None
    discharge_date: date | None = None


@dataclass(frozen=True)
class CoverageFacts:
    """The member, their coverage (member.member_coverage) and the policy."""

    coverage_start_date: date
    coverage_end_date: date | None = None
    member_status: str = "active"
    coverage_status: str = "active"
    policy_status: str = "active"
    inner_limit_applicable: bool = True
    annual_cap_applicable: bool = False
    waiting_period_start: date | None = None  # continuous cover start, if earlier


@dataclass(frozen=True)
class PlanFacts:
    """Plan-level limits (benefit.plan); None means no limit, deductibles default to 0."""

    annual_limit: Decimal | None = None
    lifetime_limit: Decimal | None = None
    individual_deductible: Decimal = ZERO
    family_deductible: Decimal = ZERO
    individual_oop_max: Decimal | None = None
    family_oop_max: Decimal | None = None


@dataclass(frozen=True)
class BenefitFacts:
    """One benefit of the plan (benefit.plan_benefit)."""

    benefit_code: str
    coverage_type: str = "covered"  # covered | not_covered | limited
    limit_type: str | None = None  # per_incident | per_day | per_year
    limit_amount: Decimal | None = None
    limit_days: int | None = None
    limit_visits: int | None = None
    coinsurance_percentage: Decimal = ZERO
    copay_amount: Decimal = ZERO
    requires_authorization: bool = False
    waiting_period_days: int = 0
    in_network_covered: bool = True
    out_network_covered: bool = False


@dataclass(frozen=True)
class ExclusionFacts:
    """An exclusion (benefit.exclusion) of the plan or of every plan."""

    exclusion_code: str
    exclusion_type: str | None = "diagnosis"  # diagnosis | procedure | condition
    icd_code: str | None = None
    effective_date: date | None = None
    termination_date: date | None = None

    @property
    def code(self) -> str:
        return self.icd_code or self.exclusion_code


@dataclass(frozen=True)
class AuthorizationFacts:
    """A pre-authorisation (claims.authorization)."""

    authorization_number: str
    member_id: object
    provider_id: object
    service_type: str
    valid_from: date
    valid_to: date
    status: str = "approved"
    approved_amount: Decimal | None = None
    approved_days: int | None = None


@dataclass(frozen=True)
class ProviderContractFacts:
    """The provider's contract (provider.provider_contract)."""

    effective_date: date
    expiry_date: date
    status: str = "active"
    discount_percentage: Decimal = ZERO
    cashless_enabled: bool = True
    reimbursement_enabled: bool = True


@dataclass(frozen=True)
class BenefitUsage:
    """Used amount and visits of one benefit in the service year (or a delta of them)."""

    used_amount: Decimal = ZERO
    visit_count: int = 0


@dataclass(frozen=True)
class Accumulators:
    """The member's accumulators for the service year, and lifetime use (or deltas)."""

    benefits: Mapping[str, BenefitUsage] = field(default_factory=dict)
    annual_used: Decimal = ZERO
    lifetime_used: Decimal = ZERO
    deductible_met_individual: Decimal = ZERO
    deductible_met_family: Decimal = ZERO
    oop_individual: Decimal = ZERO
    oop_family: Decimal = ZERO

    def benefit(self, code: str) -> BenefitUsage:
        return self.benefits.get(code, BenefitUsage())

    def plus(self, delta: Accumulators) -> Accumulators:
        """These accumulators with `delta` applied."""
        codes = set(self.benefits) | set(delta.benefits)
        return Accumulators(
            benefits={
                c: BenefitUsage(
                    self.benefit(c).used_amount + delta.benefit(c).used_amount,
                    self.benefit(c).visit_count + delta.benefit(c).visit_count,
                )
                for c in sorted(codes)
            },
            annual_used=self.annual_used + delta.annual_used,
            lifetime_used=self.lifetime_used + delta.lifetime_used,
            deductible_met_individual=self.deductible_met_individual
            + delta.deductible_met_individual,
            deductible_met_family=self.deductible_met_family + delta.deductible_met_family,
            oop_individual=self.oop_individual + delta.oop_individual,
            oop_family=self.oop_family + delta.oop_family,
        )


# --- outputs ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TraceStep:
    """One rule applied to a line: its code, a message, and the amount before and after."""

    code: str
    message: str
    amount_before: Decimal
    amount_after: Decimal


@dataclass(frozen=True)
class LineResult:
    """The adjudication of one line. `denial_reason` is the reason of a denial, or for a
    partially approved line the first cap that reduced it (authorisation or a limit)."""

    line: ClaimLine
    status: LineStatus
    denial_reason: str | None
    allowed: Decimal
    deductible_amount: Decimal
    copay_amount: Decimal
    coinsurance_amount: Decimal
    paid_amount: Decimal
    approved_amount: Decimal
    member_responsibility: Decimal
    trace: tuple[TraceStep, ...]


@dataclass(frozen=True)
class ClaimTotals:
    """Sums over the claim's lines."""

    charged: Decimal
    allowed: Decimal
    deductible: Decimal
    copay: Decimal
    coinsurance: Decimal
    paid: Decimal
    approved: Decimal
    member_responsibility: Decimal


@dataclass(frozen=True)
class AdjudicationResult:
    """Lines in input order, totals, and the accumulator deltas to apply (service year)."""

    lines: tuple[LineResult, ...]
    totals: ClaimTotals
    deltas: Accumulators


# --- helpers ------------------------------------------------------------------------------


def _normalise_code(code: str) -> str:
    return code.replace(".", "").replace(" ", "").upper()


def icd_matches(code: str, excluded: str) -> bool:
    """True when ICD-10 `code` is `excluded` or lies under it (its category or an ancestor):
    `icd_matches("K35.8", "K35")`. Excluded codes shorter than a category never match."""
    c, e = _normalise_code(code), _normalise_code(excluded)
    return c == e or (len(e) >= 3 and c.startswith(e))


def _min_remaining(*pairs: tuple[Decimal | None, Decimal]) -> Decimal | None:
    """The smallest `limit - used` over pairs whose limit is set (never below 0)."""
    found = [max(quantize(limit - used), ZERO) for limit, used in pairs if limit is not None]
    return min(found) if found else None


class _Denied(Exception):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class _Running:
    """Mutable accumulators for one claim: the snapshot plus what earlier lines used."""

    snapshot: Accumulators
    used: dict[str, Decimal] = field(default_factory=dict)
    visits: dict[str, int] = field(default_factory=dict)
    claim_paid: dict[str, Decimal] = field(default_factory=dict)  # per-incident
    claim_days: dict[str, int] = field(default_factory=dict)  # per-day, limit_days
    auth_amount: dict[str, Decimal] = field(default_factory=dict)
    auth_days: dict[str, int] = field(default_factory=dict)
    annual: Decimal = ZERO
    lifetime: Decimal = ZERO
    deductible: Decimal = ZERO
    oop: Decimal = ZERO

    def benefit_used(self, code: str) -> Decimal:
        return self.snapshot.benefit(code).used_amount + self.used.get(code, ZERO)

    def benefit_visits(self, code: str) -> int:
        return self.snapshot.benefit(code).visit_count + self.visits.get(code, 0)

    def deltas(self) -> Accumulators:
        codes = sorted(set(self.used) | set(self.visits))
        return Accumulators(
            benefits={
                c: BenefitUsage(self.used.get(c, ZERO), self.visits.get(c, 0)) for c in codes
            },
            annual_used=self.annual,
            lifetime_used=self.lifetime,
            deductible_met_individual=self.deductible,
            deductible_met_family=self.deductible,
            oop_individual=self.oop,
            oop_family=self.oop,
        )


# --- the engine ---------------------------------------------------------------------------


def eligibility_reasons(
    day: date,
    coverage: CoverageFacts,
    *,
    claim_type: ClaimType | None = None,
    contract: ProviderContractFacts | None = None,
) -> list[tuple[str, str]]:
    """Every (reason code, message) for which the eligibility step (step 1) denies a claim
    on `day`, in the order the engine checks them: it denies a line with the first. Empty
    means eligible. Without `claim_type` only the member, coverage and policy are checked;
    with it, the provider contract too (`contract` None: no contract for that day)."""
    reasons: list[tuple[str, str]] = []
    if coverage.member_status != "active":
        reasons.append((MEMBER_INACTIVE, f"member status is {coverage.member_status}"))
    if coverage.coverage_status != "active":
        reasons.append((COVERAGE_INACTIVE, f"coverage status is {coverage.coverage_status}"))
    if day < coverage.coverage_start_date or (
        coverage.coverage_end_date is not None and day > coverage.coverage_end_date
    ):
        reasons.append((COVERAGE_INACTIVE, f"no coverage on {day.isoformat()}"))
    if coverage.policy_status != "active":
        reasons.append((POLICY_INACTIVE, f"policy status is {coverage.policy_status}"))
    if claim_type is None:
        return reasons
    if contract is None:
        if claim_type == "cashless":
            reasons.append((NO_PROVIDER_CONTRACT, "cashless claim without a provider contract"))
        return reasons
    if contract.status != "active" or not (contract.effective_date <= day <= contract.expiry_date):
        reasons.append((CONTRACT_INACTIVE, f"provider contract not active on {day.isoformat()}"))
    enabled = (
        contract.cashless_enabled if claim_type == "cashless" else contract.reimbursement_enabled
    )
    if not enabled:
        reasons.append((CLAIM_TYPE_NOT_ALLOWED, f"contract does not allow {claim_type}"))
    return reasons


def _eligibility(
    claim: ClaimFacts, coverage: CoverageFacts, contract: ProviderContractFacts | None
) -> None:
    reasons = eligibility_reasons(
        claim.service_date, coverage, claim_type=claim.claim_type, contract=contract
    )
    if reasons:
        raise _Denied(*reasons[0])


def _benefit(
    line: ClaimLine, benefits: Mapping[str, BenefitFacts], claim: ClaimFacts
) -> BenefitFacts:
    benefit = benefits.get(line.benefit_code)
    if benefit is None:
        raise _Denied(BENEFIT_NOT_IN_PLAN, f"benefit {line.benefit_code} is not in the plan")
    if benefit.coverage_type not in COVERAGE_TYPES or benefit.limit_type not in LIMIT_TYPES:
        raise ValueError(
            f"benefit {benefit.benefit_code}: unknown coverage_type {benefit.coverage_type!r}"
            f" or limit_type {benefit.limit_type!r}"
        )
    if benefit.coverage_type == "not_covered":
        raise _Denied(NOT_COVERED, f"benefit {benefit.benefit_code} is not covered")
    if claim.in_network and not benefit.in_network_covered:
        raise _Denied(IN_NETWORK_NOT_COVERED, "not covered in network")
    if not claim.in_network and not benefit.out_network_covered:
        raise _Denied(OUT_OF_NETWORK_NOT_COVERED, "not covered out of network")
    return benefit


def _exclusions(
    line: ClaimLine,
    benefit: BenefitFacts,
    exclusions: Sequence[ExclusionFacts],
    claim: ClaimFacts,
    coverage: CoverageFacts,
) -> None:
    day = claim.service_date
    for exclusion in exclusions:
        if exclusion.effective_date is not None and day < exclusion.effective_date:
            continue
        if exclusion.termination_date is not None and day > exclusion.termination_date:
            continue
        if exclusion.exclusion_type == "procedure":
            hit = line.procedure_code is not None and _normalise_code(
                line.procedure_code
            ) == _normalise_code(exclusion.code)
        else:
            hit = line.diagnosis_code is not None and icd_matches(
                line.diagnosis_code, exclusion.code
            )
        if hit:
            raise _Denied(EXCLUDED, f"excluded by {exclusion.exclusion_code} ({exclusion.code})")
    start = coverage.waiting_period_start or coverage.coverage_start_date
    ends = start + timedelta(days=benefit.waiting_period_days)
    if day < ends:
        raise _Denied(WAITING_PERIOD, f"waiting period until {ends.isoformat()}")


def _authorization(
    claim: ClaimFacts, authorizations: Sequence[AuthorizationFacts]
) -> AuthorizationFacts:
    """The authorisation that covers this claim, or the most specific reason there is none."""
    reason, message = AUTHORIZATION_MISSING, "no authorisation for this member"
    rank = 0
    for auth in authorizations:
        if auth.member_id != claim.member_id or auth.service_type != claim.service_type:
            continue
        if auth.provider_id != claim.provider_id:
            found = (
                1,
                AUTHORIZATION_OTHER_PROVIDER,
                f"{auth.authorization_number}: other provider",
            )
        elif auth.status != "approved":
            found = (2, AUTHORIZATION_NOT_APPROVED, f"{auth.authorization_number}: {auth.status}")
        elif not auth.valid_from <= claim.service_date <= auth.valid_to:
            found = (3, AUTHORIZATION_EXPIRED, f"{auth.authorization_number}: not valid that day")
        else:
            return auth
        if found[0] > rank:
            rank, reason, message = found
    raise _Denied(reason, message)


def _deny(line: ClaimLine, reason: str, trace: list[TraceStep], message: str) -> LineResult:
    charged = quantize(line.charged_amount)
    trace.append(TraceStep(reason, message, charged, ZERO))
    return LineResult(
        line, "denied", reason, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, charged, tuple(trace)
    )


def _adjudicate_line(
    line: ClaimLine,
    *,
    claim: ClaimFacts,
    coverage: CoverageFacts,
    plan: PlanFacts,
    benefits: Mapping[str, BenefitFacts],
    exclusions: Sequence[ExclusionFacts],
    authorizations: Sequence[AuthorizationFacts],
    contract: ProviderContractFacts | None,
    run: _Running,
) -> LineResult:
    charged = quantize(line.charged_amount)
    trace: list[TraceStep] = []

    def step(code: str, message: str, before: Decimal, after: Decimal) -> None:
        trace.append(TraceStep(code, message, before, after))

    if charged < 0 or line.quantity < 1:
        raise ValueError("charged_amount must be >= 0 and quantity >= 1")
    try:
        _eligibility(claim, coverage, contract)
        step("eligibility", "member, coverage, policy and contract active", charged, charged)
        benefit = _benefit(line, benefits, claim)
        step("benefit", f"benefit {benefit.benefit_code} covered", charged, charged)
        _exclusions(line, benefit, exclusions, claim, coverage)
        step("exclusions", "no exclusion, waiting period served", charged, charged)
        auth = _authorization(claim, authorizations) if benefit.requires_authorization else None
    except _Denied as denied:
        return _deny(line, denied.reason, trace, denied.message)
    if auth is not None:
        step("authorization", f"authorised by {auth.authorization_number}", charged, charged)

    # 5. Allowed.
    discounted = charged
    if contract is not None and contract.discount_percentage:
        discounted = charged - quantize(charged * contract.discount_percentage / HUNDRED)
        step("contract_discount", f"{contract.discount_percentage}% discount", charged, discounted)
    allowed = discounted
    reduced_by: str | None = None
    auth_days: int | None = None
    if auth is not None:
        key = auth.authorization_number
        if auth.approved_amount is not None:
            left = run.auth_amount.get(key, quantize(auth.approved_amount))
            if left <= 0:
                return _deny(line, AUTHORIZATION_EXHAUSTED, trace, f"{key}: amount used up")
            if allowed > left:
                step("authorization_cap", f"{key}: approved amount", allowed, left)
                allowed, reduced_by = left, "authorization_cap"
        if auth.approved_days is not None:
            auth_days = run.auth_days.get(key, auth.approved_days)

    # 7a. Visit limit (a gate: a line beyond it is denied).
    code = benefit.benefit_code
    inner = coverage.inner_limit_applicable
    new_visit = code not in run.visits
    visit_limit = benefit.limit_visits if inner else None
    if visit_limit is not None and new_visit and run.benefit_visits(code) >= visit_limit:
        return _deny(line, VISIT_LIMIT, trace, f"{benefit.limit_visits} visits used")

    # 6. Member share.
    share_base = allowed
    deductible_left = _min_remaining(
        (
            plan.individual_deductible or None,
            run.snapshot.deductible_met_individual + run.deductible,
        ),
        (plan.family_deductible or None, run.snapshot.deductible_met_family + run.deductible),
    )
    deductible = min(allowed, deductible_left) if deductible_left is not None else ZERO
    if deductible:
        step("deductible", "remaining deductible", share_base, share_base - deductible)
    rest = allowed - deductible
    copay = min(quantize(benefit.copay_amount), rest)
    if copay:
        step("copay", f"copay {benefit.copay_amount}", rest, rest - copay)
    rest -= copay
    coinsurance = quantize(rest * benefit.coinsurance_percentage / HUNDRED)
    if coinsurance:
        step(
            "coinsurance",
            f"{benefit.coinsurance_percentage}% coinsurance",
            rest,
            rest - coinsurance,
        )
    oop_left = _min_remaining(
        (plan.individual_oop_max, run.snapshot.oop_individual + run.oop),
        (plan.family_oop_max, run.snapshot.oop_family + run.oop),
    )
    member_share = deductible + copay + coinsurance
    if oop_left is not None and member_share > oop_left:
        excess = member_share - oop_left
        for_coins = min(excess, coinsurance)
        coinsurance -= for_coins
        excess -= for_coins
        for_copay = min(excess, copay)
        copay -= for_copay
        excess -= for_copay
        deductible -= excess
        step("oop_max", "out-of-pocket maximum reached", allowed - member_share, allowed - oop_left)
        member_share = oop_left
    plan_share = allowed - member_share

    # 7b. Amount limits.
    days = 0
    per_day = False
    caps: list[tuple[str, Decimal, str]] = []
    if inner and benefit.limit_amount is not None and benefit.limit_type is not None:
        limit = quantize(benefit.limit_amount)
        if benefit.limit_type == "per_incident":
            caps.append(
                (PER_INCIDENT_LIMIT, limit - run.claim_paid.get(code, ZERO), "per incident")
            )
        elif benefit.limit_type == "per_day":
            per_day, days = True, line.quantity
            if benefit.limit_days is not None:
                days = min(days, max(benefit.limit_days - run.claim_days.get(code, 0), 0))
            if auth_days is not None:
                days = min(days, max(auth_days, 0))
            caps.append((PER_DAY_LIMIT, quantize(limit * days), f"{limit} x {days} days"))
        elif benefit.limit_type == "per_year":
            caps.append((PER_YEAR_LIMIT, limit - run.benefit_used(code), "per year"))
    if coverage.annual_cap_applicable and plan.annual_limit is not None:
        used = run.snapshot.annual_used + run.annual
        caps.append((ANNUAL_LIMIT, quantize(plan.annual_limit) - used, "plan annual limit"))
    if plan.lifetime_limit is not None:
        used = run.snapshot.lifetime_used + run.lifetime
        caps.append((LIFETIME_LIMIT, quantize(plan.lifetime_limit) - used, "lifetime limit"))
    paid = plan_share
    for cap_code, remaining, message in caps:
        remaining = max(quantize(remaining), ZERO)
        if paid > remaining:
            if remaining == 0:
                return _deny(line, cap_code, trace, f"{message} used up")
            step(cap_code, message, paid, remaining)
            paid = remaining
            reduced_by = reduced_by or cap_code

    # 8. Result; move the running accumulators.
    approved = paid + deductible + copay + coinsurance
    step("paid", "plan pays", plan_share, paid)
    run.used[code] = run.used.get(code, ZERO) + paid
    run.visits[code] = run.visits.get(code, 0) + (1 if new_visit else 0)
    run.claim_paid[code] = run.claim_paid.get(code, ZERO) + paid
    covered_days = days if per_day else line.quantity
    run.claim_days[code] = run.claim_days.get(code, 0) + covered_days
    if auth is not None:
        if auth.approved_amount is not None:
            key = auth.authorization_number
            run.auth_amount[key] = (
                run.auth_amount.get(key, quantize(auth.approved_amount)) - allowed
            )
        if auth_days is not None:
            run.auth_days[auth.authorization_number] = auth_days - covered_days
    run.annual += paid
    run.lifetime += paid
    run.deductible += deductible
    run.oop += deductible + copay + coinsurance
    status: LineStatus = "partially_approved" if approved < discounted else "approved"
    return LineResult(
        line=line,
        status=status,
        denial_reason=reduced_by if status == "partially_approved" else None,
        allowed=allowed,
        deductible_amount=deductible,
        copay_amount=copay,
        coinsurance_amount=coinsurance,
        paid_amount=paid,
        approved_amount=approved,
        member_responsibility=charged - paid,
        trace=tuple(trace),
    )


def adjudicate(
    *,
    claim: ClaimFacts,
    lines: Sequence[ClaimLine],
    coverage: CoverageFacts,
    plan: PlanFacts,
    benefits: Sequence[BenefitFacts] | Mapping[str, BenefitFacts],
    accumulators: Accumulators | None = None,
    exclusions: Sequence[ExclusionFacts] = (),
    authorizations: Sequence[AuthorizationFacts] = (),
    contract: ProviderContractFacts | None = None,
) -> AdjudicationResult:
    """Adjudicate every line of a claim, in order; see the module docstring for the rules."""
    by_code = (
        dict(benefits) if isinstance(benefits, Mapping) else {b.benefit_code: b for b in benefits}
    )
    run = _Running(accumulators or Accumulators())
    results = tuple(
        _adjudicate_line(
            line,
            claim=claim,
            coverage=coverage,
            plan=plan,
            benefits=by_code,
            exclusions=exclusions,
            authorizations=authorizations,
            contract=contract,
            run=run,
        )
        for line in lines
    )

    def total(attr: str) -> Decimal:
        return sum((getattr(r, attr) for r in results), ZERO)

    totals = ClaimTotals(
        charged=sum((quantize(r.line.charged_amount) for r in results), ZERO),
        allowed=total("allowed"),
        deductible=total("deductible_amount"),
        copay=total("copay_amount"),
        coinsurance=total("coinsurance_amount"),
        paid=total("paid_amount"),
        approved=total("approved_amount"),
        member_responsibility=total("member_responsibility"),
    )
    return AdjudicationResult(results, totals, run.deltas())
