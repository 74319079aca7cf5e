"""Motor rating: pure rules, no database (decision 0036).

CMI (compulsory) premiums come from the statutory tariff shipped as package data
(`polis/motor/data/cmi_tariff.csv`, THAI_MOTOR.md): a vehicle's facts are classified to an OIC
code and the net premium is the tariff's. Voluntary classes (CLASS_1/2/3, with 2+ and 3+ as the
PLUS coverage option) are priced from an effective-dated rate table (`RateTable`, data held in
motor.rate_tables) by the OIC structure:

    core      = band premium (vehicle code, sum insured)
                x vehicle age x engine x usage x driver x cover factor x period factor
    riders    = rate per 1,000 x sum insured (x persons) x period factor, each
    base      = core + riders                                   (seed: base_premium)
    discounts = voluntary deductible (on core), fleet, NCD, others, each on the running premium
    net       = base - discounts
    stamp     = ceil(net x 0.4%) to a whole baht                 (1 baht per 250 or part)
    VAT       = 7% of (net + stamp), half-up to the satang
    total     = base - discounts + fees, fees = stamp + VAT        (seed CHECK)

Rounding: every money amount that is shown (core premium, each rider, each discount, VAT) is
rounded once, ROUND_HALF_UP to the satang, from the exact Decimal product; stamp duty is rounded
UP to a whole baht. Sums of rounded items are exact, so the seed's identity holds to the satang.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

from polis.platform.money import format_amount, quantize

PolicyType = Literal["CMI", "CLASS_1", "CLASS_2", "CLASS_3"]
CoverageOption = Literal["STANDARD", "PLUS"]
VehicleKind = Literal["CAR", "CAR_EV", "VAN", "BUS", "PICKUP", "TRUCK", "MOTORCYCLE", "TUKTUK"]
UsageType = Literal["PERSONAL", "COMMERCIAL", "TAXI", "RENTAL"]

POLICY_TYPES: tuple[str, ...] = ("CMI", "CLASS_1", "CLASS_2", "CLASS_3")
VOLUNTARY: tuple[str, ...] = ("CLASS_1", "CLASS_2", "CLASS_3")
PERIODS: tuple[int, ...] = (6, 12, 24, 36)
CMI_PERIODS: tuple[int, ...] = (12,)

STAMP_DUTY_RATE = Decimal("0.004")  # 0.4%: 1 baht per 250 baht or part
VAT_RATE = Decimal("0.07")
NCD_LADDER: tuple[int, ...] = (0, 20, 30, 40, 50)  # by claim-free years 0, 1, 2, 3, 4+
BANGKOK_NAMES = frozenset({"กรุงเทพมหานคร", "BANGKOK"})

ONE = Decimal(1)
THOUSAND = Decimal(1000)


# --- errors -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One invalid input: dotted field (as in the request body), message, error type."""

    field: str
    message: str
    type: str


class RatingError(ValueError):
    """The request cannot be rated; `problems` says why, field by field."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        super().__init__("; ".join(f"{p.field}: {p.message}" for p in problems))
        self.problems = tuple(problems)


def _fail(field_: str, message: str, type_: str = "value_error") -> RatingError:
    return RatingError([FieldProblem(field_, message, type_)])


def _unsupported(field_: str, message: str) -> RatingError:
    return _fail(field_, message, "unsupported_vehicle_class")


# --- inputs and outputs -------------------------------------------------------------------


@dataclass(frozen=True)
class VehicleFacts:
    """What rating needs to know about a vehicle (from the request or a customer_vehicles row).

    `engine_cc` is in cubic centimetres, `weight_tonnes` the gross weight; `province` is the
    registration province (a tuk-tuk's tariff class is Bangkok's)."""

    vehicle_kind: str
    usage_type: str = "PERSONAL"
    seats: int | None = None
    engine_cc: int | None = None
    weight_tonnes: Decimal | None = None
    fuel_type: str | None = None
    year_of_manufacture: int | None = None
    province: str | None = None

    @property
    def electric(self) -> bool:
        """An electric vehicle (kind CAR_EV, or fuel ELECTRIC)."""
        return self.vehicle_kind == "CAR_EV" or self.fuel_type == "ELECTRIC"


@dataclass(frozen=True)
class Rider:
    """A rider asked for: its code, sum insured, and persons covered (per-person riders)."""

    code: str
    sum_insured: Decimal
    persons: int = 1


@dataclass(frozen=True)
class QuoteOptions:
    """Options of a voluntary quote. NCD comes as a percent or from claim-free years."""

    riders: tuple[Rider, ...] = ()
    voluntary_deductible: Decimal | None = None
    ncd_percent: int | None = None
    claim_free_years: int | None = None
    fleet_size: int | None = None
    dash_cam: bool = False
    driver_age: int | None = None

    @property
    def empty(self) -> bool:
        """No option given at all (CMI takes none)."""
        return self == QuoteOptions()


@dataclass(frozen=True)
class LineItem:
    """One itemised amount: a discount, a fee, a rider."""

    code: str
    description: str
    amount: Decimal

    def as_json(self) -> dict[str, str]:
        """The JSON form (amount as a decimal string)."""
        return {
            "code": self.code,
            "description": self.description,
            "amount": format_amount(self.amount),
        }


@dataclass(frozen=True)
class Factor:
    """One rating factor applied to the core premium, and why."""

    code: str
    basis: str
    value: Decimal

    def as_json(self) -> dict[str, str]:
        """The JSON form (value as a decimal string)."""
        return {"code": self.code, "basis": self.basis, "value": str(self.value)}


@dataclass(frozen=True)
class PricedQuote:
    """A priced quote, itemised as the seed stores a policy's premium."""

    policy_type: str
    coverage_option: str
    vehicle_class: str  # OIC CMI code (1.10) or voluntary vehicle code (110)
    policy_period_months: int
    base_premium: Decimal
    discounts: tuple[LineItem, ...]
    fees: tuple[LineItem, ...]
    coverage_details: dict[str, Any]
    no_claim_discount: Decimal = Decimal("0.00")
    core_premium: Decimal | None = None
    factors: tuple[Factor, ...] = ()
    riders: tuple[LineItem, ...] = ()

    @property
    def discount_total(self) -> Decimal:
        """Sum of the itemised discounts (seed: policies.discounts)."""
        return sum((d.amount for d in self.discounts), Decimal("0.00"))

    @property
    def fee_total(self) -> Decimal:
        """Stamp duty plus VAT (seed: policies.fees)."""
        return sum((f.amount for f in self.fees), Decimal("0.00"))

    @property
    def net_premium(self) -> Decimal:
        """Premium before stamp duty and VAT."""
        return self.base_premium - self.discount_total

    @property
    def total_premium(self) -> Decimal:
        """base - discounts + fees (the seed's chk_policy_premium_calculation)."""
        return self.base_premium - self.discount_total + self.fee_total

    def breakdown(self) -> dict[str, Any]:
        """Everything that produced the total, for motor.quotes.breakdown."""
        return {
            "vehicle_class": self.vehicle_class,
            "core_premium": None if self.core_premium is None else format_amount(self.core_premium),
            "factors": [f.as_json() for f in self.factors],
            "riders": [r.as_json() for r in self.riders],
            "base_premium": format_amount(self.base_premium),
            "discounts": [d.as_json() for d in self.discounts],
            "net_premium": format_amount(self.net_premium),
            "fees": [f.as_json() for f in self.fees],
            "total_premium": format_amount(self.total_premium),
        }


# --- fees ---------------------------------------------------------------------------------


def stamp_duty(net: Decimal) -> Decimal:
    """0.4% of the net premium rounded UP to a whole baht (1 baht per 250 baht or part)."""
    if net <= 0:
        return Decimal("0.00")
    return (
        (net * STAMP_DUTY_RATE).to_integral_value(rounding=ROUND_CEILING).quantize(Decimal("0.01"))
    )


def vat(net: Decimal, stamp: Decimal) -> Decimal:
    """7% of (net premium + stamp duty), ROUND_HALF_UP to the satang."""
    return quantize((net + stamp) * VAT_RATE)


def fees_for(net: Decimal) -> tuple[LineItem, LineItem]:
    """The itemised fees on a net premium: stamp duty, then VAT."""
    stamp = stamp_duty(net)
    return (
        LineItem("stamp_duty", "Stamp duty (0.4%, rounded up to a whole baht)", stamp),
        LineItem("vat", "VAT 7% of net premium and stamp duty", vat(net, stamp)),
    )


# --- NCD ----------------------------------------------------------------------------------


def ncd_for_claim_free_years(years: int) -> int:
    """The NCD ladder: 0, 20, 30, 40, 50% after 0, 1, 2, 3, 4+ claim-free years."""
    if years < 0:
        raise ValueError("claim-free years cannot be negative")
    return NCD_LADDER[min(years, len(NCD_LADDER) - 1)]


# --- CMI ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class CmiClass:
    """One row of the statutory CMI tariff."""

    oic_code: str
    description: str
    vehicle_kind: str
    usage: str
    seats_min: int | None
    seats_max: int | None
    cc_min: int | None
    cc_max: int | None
    weight_t_max: Decimal | None
    net_premium: Decimal


def _int(text: str) -> int | None:
    return int(text) if text.strip() else None


def parse_cmi_tariff(text: str) -> tuple[CmiClass, ...]:
    """The tariff rows of a cmi_tariff.csv text."""
    return tuple(
        CmiClass(
            oic_code=row["oic_code"],
            description=row["description"],
            vehicle_kind=row["vehicle_kind"],
            usage=row["usage"],
            seats_min=_int(row["seats_min"]),
            seats_max=_int(row["seats_max"]),
            cc_min=_int(row["cc_min"]),
            cc_max=_int(row["cc_max"]),
            weight_t_max=Decimal(row["weight_t_max"]) if row["weight_t_max"].strip() else None,
            net_premium=quantize(Decimal(row["net_premium_thb"])),
        )
        for row in csv.DictReader(text.splitlines())
    )


@lru_cache(maxsize=1)
def cmi_tariff() -> tuple[CmiClass, ...]:
    """The statutory tariff shipped with the package (read once)."""
    source = resources.files("polis.motor").joinpath("data", "cmi_tariff.csv")
    return parse_cmi_tariff(source.read_text(encoding="utf-8"))


def _kind(facts: VehicleFacts) -> str:
    return (
        "CAR_EV"
        if facts.vehicle_kind == "CAR" and facts.fuel_type == "ELECTRIC"
        else facts.vehicle_kind
    )


def classify_cmi(facts: VehicleFacts, tariff: Sequence[CmiClass] | None = None) -> CmiClass:
    """The tariff class of a vehicle. Seats, engine size and weight bounds are inclusive above
    and exclusive below ("over 75 cc up to 125 cc"); a class whose bound the facts leave open
    needs that fact, except seats of a car (a car has at most 7 seats; more is a VAN or BUS).
    Electric motorcycles are class 1.30B whatever their power. Trucks over 3 tonnes, taxis and
    anything else the tariff does not list are not supported (never guessed)."""
    rows = tariff if tariff is not None else cmi_tariff()
    kind = _kind(facts)
    candidates = [r for r in rows if r.vehicle_kind == kind and r.usage == facts.usage_type]
    if not candidates:
        raise _unsupported(
            "vehicle.vehicle_kind",
            f"CMI for a {kind} in {facts.usage_type} use is not supported: the statutory tariff"
            " class is not verified",
        )
    if kind == "MOTORCYCLE" and facts.electric:
        candidates = [r for r in candidates if r.oic_code == "1.30B"] or candidates
    elif kind == "MOTORCYCLE" and facts.engine_cc is None:
        raise _fail(
            "vehicle.engine_cc", "engine_cc is required to classify a motorcycle", "missing"
        )
    if kind == "TUKTUK":
        if facts.province is None:
            raise _fail("vehicle.province", "province is required for a tuk-tuk", "missing")
        if facts.province.strip().upper() not in BANGKOK_NAMES:
            raise _unsupported(
                "vehicle.province",
                "CMI for a tuk-tuk outside Bangkok is not supported: its tariff is not verified",
            )
    matched: list[CmiClass] = []
    for row in candidates:
        if row.seats_min is not None or row.seats_max is not None:
            if facts.seats is None:
                if kind in ("CAR", "CAR_EV"):
                    matched.append(row)
                    continue
                raise _fail("vehicle.seats", f"seats are required to classify a {kind}", "missing")
            if not (row.seats_min or 0) <= facts.seats <= (row.seats_max or facts.seats):
                continue
        if row.weight_t_max is not None:
            if facts.weight_tonnes is None:
                raise _fail(
                    "vehicle.weight_tonnes",
                    f"weight_tonnes is required to classify a {kind}",
                    "missing",
                )
            if facts.weight_tonnes > row.weight_t_max:
                continue
        if (row.cc_min is not None or row.cc_max is not None) and not (
            kind == "MOTORCYCLE" and facts.electric
        ):
            cc = facts.engine_cc
            assert cc is not None
            low_ok = cc > row.cc_min if row.cc_min else cc > 0
            high_ok = row.cc_max is None or cc <= row.cc_max
            if not (low_ok and high_ok):
                continue
        matched.append(row)
    if not matched:
        raise _unsupported(
            "vehicle",
            f"CMI for this {kind} (seats, engine size or weight) is not supported: no verified"
            " tariff class",
        )
    return matched[0]


CMI_COVER: dict[str, Any] = {
    "initial_payment": {
        "medical_per_person": "30000.00",
        "death_or_disability_per_person": "35000.00",
        "combined_per_person": "65000.00",
        "paid_within_days": 7,
    },
    "after_fault_established": {
        "medical_per_person": "80000.00",
        "death_or_disability_per_person": "500000.00",
        "inpatient_daily_compensation": "200.00",
        "inpatient_days_max": 20,
    },
}


def price_cmi(
    facts: VehicleFacts,
    policy_period_months: int = 12,
    tariff: Sequence[CmiClass] | None = None,
) -> PricedQuote:
    """The statutory CMI premium: the tariff's net premium, no discounts, stamp duty and VAT.

    Only 12-month CMI is quoted: the tariff is annual and the statutory premiums of other
    periods are not verified (decision 0036)."""
    if policy_period_months not in CMI_PERIODS:
        raise _fail(
            "policy_period_months",
            "CMI is quoted for 12 months only (the statutory tariff is annual)",
            "unsupported_period",
        )
    row = classify_cmi(facts, tariff)
    net = row.net_premium
    return PricedQuote(
        policy_type="CMI",
        coverage_option="STANDARD",
        vehicle_class=row.oic_code,
        policy_period_months=policy_period_months,
        base_premium=net,
        discounts=(),
        fees=fees_for(net),
        coverage_details={
            "policy_type": "CMI",
            "oic_code": row.oic_code,
            "tariff_description": row.description,
            "tariff": "OIC statutory CMI tariff",
            "cover": CMI_COVER,
        },
    )


# --- voluntary rate tables ----------------------------------------------------------------


def _dec(value: Any, where: str) -> Decimal:
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{where}: not a decimal: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise ValueError(f"{where}: must be a finite, non-negative decimal")
    return number


@dataclass(frozen=True)
class Band:
    """A sum-insured band: premium for sums insured up to `sum_insured_max` (None: any)."""

    sum_insured_max: Decimal | None
    premium: Decimal


@dataclass(frozen=True)
class RiderRate:
    """How a rider is priced."""

    description: str
    rate_per_thousand: Decimal
    max_sum_insured: Decimal
    per_person: bool


@dataclass(frozen=True)
class RateTable:
    """One effective-dated version of the voluntary rate table, parsed and checked."""

    version: str
    effective_from: date
    vehicle_codes: Mapping[str, tuple[str, str]]
    max_seats: Mapping[str, int]
    max_weight_tonnes: Mapping[str, Decimal]
    sum_insured_min: Mapping[str, Decimal]
    base_premiums: Mapping[str, Mapping[str, tuple[Band, ...]]]
    vehicle_age_factors: tuple[tuple[int, Decimal], ...]
    engine_factors: tuple[tuple[int | None, Decimal], ...]
    electric_engine_factor: Decimal
    usage_factors: Mapping[str, Decimal]
    driver_age_factors: tuple[tuple[int, int | None, Decimal], ...]
    unnamed_driver_factor: Decimal
    cover_factors: Mapping[str, Mapping[str, Decimal]]
    plus_cover: Mapping[str, Decimal]
    third_party: Mapping[str, Decimal]
    riders: Mapping[str, RiderRate]
    voluntary_deductibles: Mapping[Decimal, Decimal]
    fleet_min_vehicles: int
    fleet_rate: Decimal
    other_discounts: Mapping[str, tuple[str, Decimal]]
    period_factors: Mapping[int, Decimal]
    quote_validity_days: int
    illustrative: bool = True
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_data(cls, version: str, effective_from: date, data: Mapping[str, Any]) -> RateTable:
        """Parse a rate table's JSON data; ValueError (naming the place) when malformed."""
        try:
            return cls._parse(version, effective_from, data)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ValueError(f"malformed rate table {version}: {exc!r}") from None

    @classmethod
    def _parse(cls, version: str, effective_from: date, d: Mapping[str, Any]) -> RateTable:
        base: dict[str, dict[str, tuple[Band, ...]]] = {}
        for ptype, codes in d["base_premiums"].items():
            if ptype not in VOLUNTARY:
                raise ValueError(f"base_premiums: unknown policy type {ptype}")
            base[ptype] = {}
            for code, bands in codes.items():
                parsed = tuple(
                    Band(
                        None
                        if b["sum_insured_max"] is None
                        else _dec(b["sum_insured_max"], f"{ptype}.{code}"),
                        _dec(b["premium"], f"{ptype}.{code}"),
                    )
                    for b in bands
                )
                maxima = [b.sum_insured_max for b in parsed]
                if not parsed or any(m is None for m in maxima[:-1]):
                    raise ValueError(f"base_premiums.{ptype}.{code}: bands must be bounded")
                bounded = [m for m in maxima if m is not None]
                if bounded != sorted(set(bounded)):
                    raise ValueError(f"base_premiums.{ptype}.{code}: bands must ascend")
                base[ptype][code] = parsed
        deductibles = {
            _dec(k, "voluntary_deductibles"): _dec(v, "voluntary_deductibles")
            for k, v in d["voluntary_deductibles"].items()
        }
        periods = {int(k): _dec(v, "period_factors") for k, v in d["period_factors"].items()}
        if set(periods) - set(PERIODS):
            raise ValueError("period_factors: periods must be among 6, 12, 24, 36")
        return cls(
            version=version,
            effective_from=effective_from,
            vehicle_codes={
                kind: (str(v["code"]), str(v["description"]))
                for kind, v in d["vehicle_codes"].items()
            },
            max_seats={k: int(v) for k, v in d.get("max_seats", {}).items()},
            max_weight_tonnes={
                k: _dec(v, "max_weight_tonnes") for k, v in d.get("max_weight_tonnes", {}).items()
            },
            sum_insured_min={
                k: _dec(v, "sum_insured_min") for k, v in d["sum_insured_min"].items()
            },
            base_premiums=base,
            vehicle_age_factors=tuple(
                (int(r["max_years"]), _dec(r["factor"], "vehicle_age_factors"))
                for r in d["vehicle_age_factors"]
            ),
            engine_factors=tuple(
                (
                    None if r["max_cc"] is None else int(r["max_cc"]),
                    _dec(r["factor"], "engine_factors"),
                )
                for r in d["engine_factors"]
            ),
            electric_engine_factor=_dec(d["electric_engine_factor"], "electric_engine_factor"),
            usage_factors={k: _dec(v, "usage_factors") for k, v in d["usage_factors"].items()},
            driver_age_factors=tuple(
                (
                    int(r["min_age"]),
                    None if r["max_age"] is None else int(r["max_age"]),
                    _dec(r["factor"], "driver_age_factors"),
                )
                for r in d["driver_age_factors"]
            ),
            unnamed_driver_factor=_dec(d["unnamed_driver_factor"], "unnamed_driver_factor"),
            cover_factors={
                p: {o: _dec(f, "cover_factors") for o, f in opts.items()}
                for p, opts in d["cover_factors"].items()
            },
            plus_cover={k: _dec(v, "plus_cover") for k, v in d["plus_cover"].items()},
            third_party={k: _dec(v, "third_party") for k, v in d["third_party"].items()},
            riders={
                code: RiderRate(
                    description=str(r["description"]),
                    rate_per_thousand=_dec(r["rate_per_thousand"], f"riders.{code}"),
                    max_sum_insured=_dec(r["max_sum_insured"], f"riders.{code}"),
                    per_person=bool(r["per_person"]),
                )
                for code, r in d["riders"].items()
            },
            voluntary_deductibles=deductibles,
            fleet_min_vehicles=int(d["fleet_discount"]["min_vehicles"]),
            fleet_rate=_dec(d["fleet_discount"]["rate"], "fleet_discount"),
            other_discounts={
                code: (str(v["description"]), _dec(v["rate"], f"other_discounts.{code}"))
                for code, v in d.get("other_discounts", {}).items()
            },
            period_factors=periods,
            quote_validity_days=int(d.get("quote_validity_days", 30)),
            illustrative=bool(d.get("illustrative", False)),
            raw=d,
        )


def choose_rate_table(tables: Sequence[RateTable], on: date) -> RateTable | None:
    """The version in force on `on`: the latest effective_from on or before it."""
    in_force = [t for t in tables if t.effective_from <= on]
    return max(in_force, key=lambda t: t.effective_from) if in_force else None


def _band_premium(table: RateTable, policy_type: str, code: str, si: Decimal | None) -> Decimal:
    bands = table.base_premiums.get(policy_type, {}).get(code)
    if not bands:
        raise _unsupported(
            "vehicle.vehicle_kind",
            f"{policy_type} for vehicle code {code} is not in rate table {table.version}",
        )
    if policy_type == "CLASS_3":
        return bands[0].premium
    assert si is not None
    minimum = table.sum_insured_min.get(policy_type, Decimal(0))
    if si < minimum:
        raise _fail(
            "sum_insured",
            f"sum_insured must be at least {format_amount(minimum)} for {policy_type}",
            "out_of_range",
        )
    for band in bands:
        if band.sum_insured_max is None or si <= band.sum_insured_max:
            return band.premium
    top = bands[-1].sum_insured_max
    assert top is not None
    raise _fail(
        "sum_insured",
        f"sum_insured above {format_amount(top)} is not rated for vehicle code {code}",
        "out_of_range",
    )


def _vehicle_code(table: RateTable, facts: VehicleFacts) -> tuple[str, str]:
    kind = _kind(facts)
    if kind not in table.vehicle_codes:
        raise _unsupported(
            "vehicle.vehicle_kind",
            f"voluntary insurance for a {kind} is not supported by rate table {table.version}",
        )
    code, description = table.vehicle_codes[kind]
    seats_max = table.max_seats.get(code)
    if seats_max is not None and facts.seats is not None and facts.seats > seats_max:
        raise _unsupported("vehicle.seats", f"vehicle code {code} covers at most {seats_max} seats")
    weight_max = table.max_weight_tonnes.get(code)
    if weight_max is not None:
        if facts.weight_tonnes is None:
            raise _fail(
                "vehicle.weight_tonnes", f"weight_tonnes is required for a {kind}", "missing"
            )
        if facts.weight_tonnes > weight_max:
            raise _unsupported(
                "vehicle.weight_tonnes",
                f"vehicles over {weight_max} tonnes are not supported (tariff not verified)",
            )
    return code, description


def _factors(
    table: RateTable, facts: VehicleFacts, start: date, opts: QuoteOptions
) -> list[Factor]:
    problems: list[FieldProblem] = []
    factors: list[Factor] = []
    # vehicle age
    if facts.year_of_manufacture is None:
        problems.append(
            FieldProblem(
                "vehicle.year_of_manufacture",
                "year_of_manufacture is required for voluntary classes",
                "missing",
            )
        )
    else:
        age = max(0, start.year - facts.year_of_manufacture)
        age_factor = next((f for limit, f in table.vehicle_age_factors if age <= limit), None)
        if age_factor is None:
            problems.append(
                FieldProblem(
                    "vehicle.year_of_manufacture",
                    f"a vehicle {age} years old is older than rate table {table.version} covers",
                    "unsupported_vehicle_class",
                )
            )
        else:
            factors.append(Factor("vehicle_age", f"{age} years", age_factor))
    # engine size
    if facts.electric:
        factors.append(Factor("engine", "electric", table.electric_engine_factor))
    elif facts.engine_cc is None:
        problems.append(
            FieldProblem(
                "vehicle.engine_cc", "engine_cc is required for voluntary classes", "missing"
            )
        )
    else:
        cc = facts.engine_cc
        engine = next(f for limit, f in table.engine_factors if limit is None or cc <= limit)
        factors.append(Factor("engine", f"{cc} cc", engine))
    # usage
    usage = table.usage_factors.get(facts.usage_type)
    if usage is None:
        problems.append(
            FieldProblem(
                "vehicle.usage_type",
                f"voluntary insurance for {facts.usage_type} use is not supported",
                "unsupported_vehicle_class",
            )
        )
    else:
        factors.append(Factor("usage", facts.usage_type, usage))
    # driver
    if opts.driver_age is None:
        factors.append(Factor("driver", "unnamed", table.unnamed_driver_factor))
    else:
        a = opts.driver_age
        driver = next(
            (f for lo, hi, f in table.driver_age_factors if lo <= a and (hi is None or a <= hi)),
            None,
        )
        if driver is None:
            problems.append(
                FieldProblem("options.driver_age", f"driver age {a} is not rated", "out_of_range")
            )
        else:
            factors.append(Factor("driver", f"age {a}", driver))
    if problems:
        raise RatingError(problems)
    return factors


def _riders(table: RateTable, opts: QuoteOptions, period_factor: Decimal) -> tuple[LineItem, ...]:
    items: list[LineItem] = []
    problems: list[FieldProblem] = []
    for i, rider in enumerate(opts.riders):
        rate = table.riders.get(rider.code)
        where = f"options.riders.{i}"
        if rate is None:
            problems.append(
                FieldProblem(f"{where}.code", f"unknown rider {rider.code}", "unknown_rider")
            )
            continue
        if rider.sum_insured > rate.max_sum_insured:
            problems.append(
                FieldProblem(
                    f"{where}.sum_insured",
                    f"{rider.code} sum_insured must not exceed"
                    f" {format_amount(rate.max_sum_insured)}",
                    "out_of_range",
                )
            )
            continue
        persons = rider.persons if rate.per_person else 1
        amount = quantize(
            rate.rate_per_thousand * rider.sum_insured / THOUSAND * persons * period_factor
        )
        items.append(LineItem(rider.code, rate.description, amount))
    if len({r.code for r in opts.riders}) != len(opts.riders):
        problems.append(
            FieldProblem("options.riders", "each rider may be given once", "duplicate_rider")
        )
    if problems:
        raise RatingError(problems)
    return tuple(items)


def _ncd_percent(opts: QuoteOptions) -> int:
    if opts.ncd_percent is not None and opts.claim_free_years is not None:
        expected = ncd_for_claim_free_years(opts.claim_free_years)
        if expected != opts.ncd_percent:
            raise _fail(
                "options.ncd_percent",
                f"ncd_percent {opts.ncd_percent} disagrees with {opts.claim_free_years}"
                f" claim-free years ({expected}%)",
                "inconsistent",
            )
    if opts.ncd_percent is not None:
        if opts.ncd_percent not in NCD_LADDER:
            raise _fail(
                "options.ncd_percent", "ncd_percent must be one of 0, 20, 30, 40, 50", "ladder"
            )
        return opts.ncd_percent
    if opts.claim_free_years is not None:
        return ncd_for_claim_free_years(opts.claim_free_years)
    return 0


def price_voluntary(
    table: RateTable,
    *,
    policy_type: str,
    coverage_option: str,
    facts: VehicleFacts,
    start_date: date,
    policy_period_months: int,
    sum_insured: Decimal | None,
    options: QuoteOptions,
) -> PricedQuote:
    """A voluntary quote priced by `table` (the version in force on the start date)."""
    if policy_type not in VOLUNTARY:
        raise _fail("policy_type", f"{policy_type} is not a voluntary class")
    cover_factor = table.cover_factors.get(policy_type, {}).get(coverage_option)
    if cover_factor is None:
        raise _fail(
            "coverage_option",
            f"{policy_type} has no {coverage_option} coverage option",
            "unsupported_option",
        )
    own_damage_collision = policy_type == "CLASS_1" or coverage_option == "PLUS"
    if policy_type in ("CLASS_1", "CLASS_2") and sum_insured is None:
        raise _fail("sum_insured", f"sum_insured is required for {policy_type}", "missing")
    if policy_type == "CLASS_3" and sum_insured is not None:
        raise _fail(
            "sum_insured", "CLASS_3 covers no own damage: leave sum_insured out", "not_allowed"
        )
    period_factor = table.period_factors.get(policy_period_months)
    if period_factor is None:
        raise _fail(
            "policy_period_months",
            f"rate table {table.version} has no {policy_period_months}-month period",
            "unsupported_period",
        )
    code, code_description = _vehicle_code(table, facts)
    band = _band_premium(table, policy_type, code, sum_insured)
    factors = _factors(table, facts, start_date, options)
    factors.append(Factor("cover", f"{policy_type} {coverage_option}", cover_factor))
    factors.append(Factor("period", f"{policy_period_months} months", period_factor))
    product = band
    for f in factors:
        product *= f.value
    core = quantize(product)
    riders = _riders(table, options, period_factor)
    base = core + sum((r.amount for r in riders), Decimal("0.00"))

    discounts: list[LineItem] = []
    running = base
    if options.voluntary_deductible is not None and options.voluntary_deductible > 0:
        if not own_damage_collision:
            raise _fail(
                "options.voluntary_deductible",
                "a voluntary deductible needs own-damage cover (CLASS_1, 2+ or 3+)",
                "not_allowed",
            )
        rate = table.voluntary_deductibles.get(options.voluntary_deductible)
        if rate is None:
            allowed = ", ".join(format_amount(k) for k in sorted(table.voluntary_deductibles))
            raise _fail(
                "options.voluntary_deductible",
                f"voluntary_deductible must be one of {allowed}",
                "not_offered",
            )
        amount = quantize(core * rate)
        discounts.append(
            LineItem(
                "VOLUNTARY_DEDUCTIBLE",
                f"Voluntary deductible {format_amount(options.voluntary_deductible)}"
                f" ({rate * 100:.0f}% of the core premium)",
                amount,
            )
        )
        running -= amount
    if options.fleet_size is not None and options.fleet_size >= table.fleet_min_vehicles:
        amount = quantize(running * table.fleet_rate)
        discounts.append(
            LineItem(
                "FLEET",
                f"Fleet of {options.fleet_size} vehicles ({table.fleet_rate * 100:.0f}%)",
                amount,
            )
        )
        running -= amount
    ncd = _ncd_percent(options)
    if ncd:
        amount = quantize(running * Decimal(ncd) / 100)
        discounts.append(LineItem("NCD", f"No-claim discount {ncd}%", amount))
        running -= amount
    if options.dash_cam and "DASH_CAM" in table.other_discounts:
        description, rate = table.other_discounts["DASH_CAM"]
        amount = quantize(running * rate)
        discounts.append(LineItem("DASH_CAM", f"{description} ({rate * 100:.0f}%)", amount))
        running -= amount
    discounts = [d for d in discounts if d.amount > 0]

    coverage: dict[str, Any] = {
        "policy_type": policy_type,
        "coverage_option": coverage_option,
        "vehicle_code": code,
        "vehicle_code_description": code_description,
        "rate_table_version": table.version,
        "illustrative_rates": table.illustrative,
        "third_party": {k: format_amount(v) for k, v in table.third_party.items()},
        "own_damage": None,
        "fire_theft": None,
        "riders": [
            {
                "code": r.code,
                "sum_insured": format_amount(r.sum_insured),
                "persons": r.persons if table.riders[r.code].per_person else 1,
            }
            for r in options.riders
        ],
        "voluntary_deductible": None
        if not options.voluntary_deductible
        else format_amount(options.voluntary_deductible),
        "no_claim_discount": ncd,
    }
    if policy_type == "CLASS_1":
        assert sum_insured is not None
        coverage["own_damage"] = {"sum_insured": format_amount(sum_insured), "collision": True}
        coverage["fire_theft"] = {"sum_insured": format_amount(sum_insured)}
    elif policy_type == "CLASS_2":
        assert sum_insured is not None
        coverage["fire_theft"] = {"sum_insured": format_amount(sum_insured)}
    if coverage_option == "PLUS":
        coverage["own_damage"] = {
            "collision_with_land_vehicle_only": True,
            "limit": format_amount(table.plus_cover["own_damage_limit"]),
            "at_fault_deductible": format_amount(table.plus_cover["at_fault_deductible"]),
        }
    return PricedQuote(
        policy_type=policy_type,
        coverage_option=coverage_option,
        vehicle_class=code,
        policy_period_months=policy_period_months,
        base_premium=base,
        discounts=tuple(discounts),
        fees=fees_for(base - sum((d.amount for d in discounts), Decimal("0.00"))),
        coverage_details=coverage,
        no_claim_discount=Decimal(ncd).quantize(Decimal("0.01")),
        core_premium=core,
        factors=tuple(factors),
        riders=riders,
    )


# --- periods ------------------------------------------------------------------------------


def add_months(start: date, months: int) -> date:
    """`start` plus whole months, the day clamped to the month's last (Aug 31 + 6 = Feb 28)."""
    index = start.month - 1 + months
    year, month = start.year + index // 12, index % 12 + 1
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
    return date(year, month, min(start.day, last))
