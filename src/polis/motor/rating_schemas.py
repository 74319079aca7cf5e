"""Request and response bodies of the motor quote endpoints (decision 0036).

Amounts are Decimal: strings in responses, strings or numbers in requests
(polis.platform.money). Checks that need one field are here (field by field); checks that need
the rate table or the database (vehicle class, sum insured bands, riders) are in the rating
rules and the quote service, reported the same way.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from polis.motor.rating import add_months
from polis.platform.money import Money, NonNegativeMoney, PositiveMoney, Quantized
from polis.platform.schemas import RequestSchema, Schema

PolicyType = Literal["CMI", "CLASS_1", "CLASS_2", "CLASS_3"]
CoverageOption = Literal["STANDARD", "PLUS"]
VehicleKind = Literal["CAR", "CAR_EV", "VAN", "BUS", "PICKUP", "TRUCK", "MOTORCYCLE", "TUKTUK"]
UsageType = Literal["PERSONAL", "COMMERCIAL", "TAXI", "RENTAL"]
FuelType = Literal["GASOLINE", "DIESEL", "HYBRID", "ELECTRIC", "LPG", "CNG"]
RiderCode = Literal["PERSONAL_ACCIDENT", "MEDICAL", "BAIL_BOND"]
Tonnes = Annotated[Decimal, Quantized(2, gt=0, le=100)]


class QuoteVehicle(RequestSchema):
    """The facts rating needs. With `vehicle_id`, they default to the vehicle's record and
    any given here override it (seats and weight are not in the record)."""

    vehicle_kind: VehicleKind | None = Field(
        default=None,
        description="Tariff kind: CAR (incl. SUV and 4-door pickup), CAR_EV, VAN, BUS, "
        "PICKUP (2-door, by weight), TRUCK, MOTORCYCLE, TUKTUK",
    )
    usage_type: UsageType | None = None
    seats: int | None = Field(default=None, ge=1, le=100)
    engine_cc: int | None = Field(default=None, gt=0, le=20000, examples=[1500])
    weight_tonnes: Tonnes | None = None
    fuel_type: FuelType | None = None
    year_of_manufacture: int | None = Field(default=None, ge=1950, examples=[2022])
    province: str | None = Field(default=None, min_length=1, max_length=100)

    @field_validator("year_of_manufacture")
    @classmethod
    def _not_future(cls, value: int | None) -> int | None:
        if value is not None and value > date.today().year + 1:
            raise ValueError("year_of_manufacture cannot be later than next year")
        return value


class RiderRequest(RequestSchema):
    """A rider: personal accident and medical per person, bail bond for the driver."""

    code: RiderCode
    sum_insured: PositiveMoney = Field(examples=["100000.00"])
    persons: int = Field(default=1, ge=1, le=100)


class QuoteOptionsRequest(RequestSchema):
    """Options of a voluntary quote (CMI takes none). NCD is `ncd_percent` or derived from
    `claim_free_years` by the ladder 0/20/30/40/50."""

    riders: list[RiderRequest] = Field(default_factory=list, max_length=3)
    voluntary_deductible: NonNegativeMoney | None = Field(default=None, examples=["2000.00"])
    ncd_percent: Literal[0, 20, 30, 40, 50] | None = None
    claim_free_years: int | None = Field(default=None, ge=0, le=100)
    fleet_size: int | None = Field(default=None, ge=1, le=100000)
    dash_cam: bool = False
    driver_age: int | None = Field(default=None, ge=17, le=100)


class QuoteCreate(RequestSchema):
    """A quote request: the policy wanted and the vehicle (facts, or a registered vehicle)."""

    policy_type: PolicyType
    coverage_option: CoverageOption = "STANDARD"
    customer_id: uuid.UUID | None = None
    vehicle_id: uuid.UUID | None = None
    vehicle: QuoteVehicle | None = None
    start_date: date
    policy_period_months: Literal[6, 12, 24, 36] = 12
    end_date: date | None = Field(
        default=None, description="Optional; must be start_date + policy_period_months"
    )
    sum_insured: PositiveMoney | None = Field(
        default=None, description="Required for CLASS_1 and CLASS_2; none for CMI and CLASS_3"
    )
    options: QuoteOptionsRequest = Field(default_factory=QuoteOptionsRequest)

    @field_validator("end_date")
    @classmethod
    def _end_after_start(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("start_date")
        if value is None or start is None:
            return value
        if value <= start:
            raise ValueError("end_date must be after start_date")
        months = info.data.get("policy_period_months")
        if months is not None and value != add_months(start, months):
            raise ValueError(
                f"end_date must be start_date + {months} months ({add_months(start, months)})"
            )
        return value


class QuoteLine(Schema):
    """An itemised discount or fee."""

    code: str = Field(examples=["NCD"])
    description: str
    amount: Money


class QuoteFactor(Schema):
    """A rating factor applied to the core premium."""

    code: str = Field(examples=["vehicle_age"])
    basis: str = Field(examples=["4 years"])
    value: Decimal


class QuoteBreakdown(Schema):
    """How the premium was reached (voluntary: core premium, factors, riders)."""

    core_premium: Money | None = None
    factors: list[QuoteFactor] = Field(default_factory=list)
    riders: list[QuoteLine] = Field(default_factory=list)
    net_premium: Money


class Quote(Schema):
    """A priced quote: base_premium - sum(discounts) + sum(fees) = total_premium."""

    id: uuid.UUID
    quote_number: str = Field(examples=["QT-2026-7K3M9Q2X4ZP1"])
    status: str = Field(examples=["QUOTED"])
    policy_type: PolicyType
    coverage_option: CoverageOption
    customer_id: uuid.UUID | None
    vehicle_id: uuid.UUID | None
    vehicle_class: str = Field(examples=["1.10"])
    vehicle_facts: dict[str, Any]
    start_date: date
    end_date: date
    policy_period_months: int
    sum_insured: Money | None
    no_claim_discount: Annotated[Decimal, Quantized(2)]
    base_premium: Money
    discounts: list[QuoteLine]
    discounts_total: Money
    fees: list[QuoteLine]
    fees_total: Money
    total_premium: Money
    breakdown: QuoteBreakdown
    coverage_details: dict[str, Any]
    rate_table_version: str | None
    expires_at: datetime
    created_at: datetime | None


def quote_out(row: Any, status: str | None = None) -> Quote:
    """The response of a motor.quotes row (status as of now when given)."""
    breakdown = row.breakdown
    return Quote(
        id=row.id,
        quote_number=row.quote_number,
        status=status or row.status,
        policy_type=row.policy_type,
        coverage_option=row.coverage_option,
        customer_id=row.customer_id,
        vehicle_id=row.vehicle_id,
        vehicle_class=row.vehicle_class,
        vehicle_facts=row.vehicle_facts,
        start_date=row.start_date,
        end_date=row.end_date,
        policy_period_months=row.policy_period_months,
        sum_insured=row.sum_insured,
        no_claim_discount=row.no_claim_discount,
        base_premium=row.base_premium,
        discounts=[QuoteLine(**d) for d in breakdown["discounts"]],
        discounts_total=row.discounts,
        fees=[QuoteLine(**f) for f in breakdown["fees"]],
        fees_total=row.fees,
        total_premium=row.total_premium,
        breakdown=QuoteBreakdown(
            core_premium=breakdown.get("core_premium"),
            factors=[QuoteFactor(**f) for f in breakdown.get("factors", [])],
            riders=[QuoteLine(**r) for r in breakdown.get("riders", [])],
            net_premium=breakdown["net_premium"],
        ),
        coverage_details=row.coverage_details,
        rate_table_version=row.rate_table_version,
        expires_at=row.expires_at,
        created_at=row.created_at,
    )


# --- rate tables --------------------------------------------------------------------------


class RateTableCreate(RequestSchema):
    """A new version of the voluntary rate table; it rates policies starting on or after
    effective_from (never today or earlier: quotes already given keep their version)."""

    version: str = Field(
        min_length=1, max_length=20, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$", examples=["2027.1"]
    )
    effective_from: date
    effective_to: date | None = None
    description: str | None = Field(default=None, max_length=2000)
    data: dict[str, Any] = Field(
        description="Bands, factors, riders, discounts and period factors, in the shape of "
        "polis/motor/data/voluntary_rate_table_2024.1.json"
    )

    @field_validator("effective_to")
    @classmethod
    def _to_after_from(cls, value: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if value is not None and start is not None and value <= start:
            raise ValueError("effective_to must be after effective_from")
        return value


class RateTableOut(Schema):
    """A rate table version (without its data unless asked for one version)."""

    id: uuid.UUID
    table_code: str
    version: str
    effective_from: date
    effective_to: date | None
    description: str | None
    created_at: datetime | None
    created_by: uuid.UUID | None


class RateTableDetail(RateTableOut):
    """A rate table version with its data."""

    data: dict[str, Any]
