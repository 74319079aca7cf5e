"""Motor quotes: resolve the vehicle's facts, pick the rate table in force, price, store
(decision 0036). Services only flush; the request's unit of work commits."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import raw
from polis.db.raw import Row, Statement
from polis.db.rows import adopt, columns, flush_pending, returned
from polis.motor import rating
from polis.motor.models import Customer, CustomerVehicle
from polis.motor.rating import FieldProblem, RateTable, RatingError, VehicleFacts
from polis.motor.rating_models import Quote, RateTableVersion
from polis.motor.rating_schemas import (
    QuoteCreate,
    QuoteOptionsRequest,
    QuoteVehicle,
    RateTableCreate,
)
from polis.platform.errors import BusinessRuleError, NotFound
from polis.platform.ids import random_code
from polis.reference.service import ConfigurationNotFoundError, get_config, parse_config_value

BANGKOK = ZoneInfo("Asia/Bangkok")
VOLUNTARY_TABLE = "VOLUNTARY"
VALIDITY_KEY = "MOTOR_QUOTE_VALIDITY_DAYS"

# customer_vehicles.vehicle_type (seed CHECK) -> the tariff's vehicle kind
_KIND_OF_TYPE = {
    "SEDAN": "CAR",
    "HATCHBACK": "CAR",
    "SUV": "CAR",
    "PICKUP": "PICKUP",
    "VAN": "VAN",
    "MOTORCYCLE": "MOTORCYCLE",
}


class InvalidQuote(BusinessRuleError):
    """The request cannot be quoted; field by field, like a validation error."""

    type_ = "invalid-quote"
    title = "Invalid Quote"

    def __init__(self, problems: tuple[FieldProblem, ...] | list[FieldProblem]) -> None:
        errors = [
            {"field": f"body.{p.field}", "message": p.message, "type": p.type} for p in problems
        ]
        noun = "field is" if len(errors) == 1 else "fields are"
        super().__init__(f"{len(errors)} {noun} invalid.", extra={"errors": errors})


class InvalidRateTable(InvalidQuote):
    """A rate table version that cannot be stored, field by field."""

    type_ = "invalid-rate-table"
    title = "Invalid Rate Table"


def today_bangkok(now: datetime | None = None) -> date:
    """Today's business date in Thailand."""
    return (now or datetime.now(UTC)).astimezone(BANGKOK).date()


def new_quote_number(today: date) -> str:
    """QT-YYYY-XXXXXXXXXXXX: the year and 12 random Crockford base-32 characters (60 bits);
    the UNIQUE quote_number refuses the (improbable) duplicate as a 409."""
    tail = random_code(12)
    return f"QT-{today.year:04d}-{tail}"


def expiry(now: datetime, start_date: date, validity_days: int) -> datetime:
    """A quote can be bound for `validity_days`, and never after its start date has passed
    in Bangkok (cover cannot start in the past)."""
    end_of_start = datetime.combine(start_date + timedelta(days=1), time(0), tzinfo=BANGKOK)
    return min(now + timedelta(days=validity_days), end_of_start.astimezone(UTC))


def engine_cc_of(engine_size: Decimal | None) -> int | None:
    """customer_vehicles.engine_size as cc: below 20 it is litres (1.5 -> 1500), otherwise cc
    (a motorcycle's 125.0); the seed's DECIMAL(4,1) holds both (decision 0036)."""
    if engine_size is None:
        return None
    return int(engine_size * 1000) if engine_size < 20 else int(engine_size)


def facts_of(vehicle: CustomerVehicle | Row | None, given: QuoteVehicle | None) -> VehicleFacts:
    """The vehicle's facts: the record's (when there is one: a CustomerVehicle, or a row with
    its columns), overridden by the request's."""
    base: dict[str, Any] = {}
    if vehicle is not None:
        base = {
            "vehicle_kind": _KIND_OF_TYPE.get(vehicle.vehicle_type, vehicle.vehicle_type),
            "usage_type": vehicle.usage_type or "PERSONAL",
            "engine_cc": engine_cc_of(vehicle.engine_size),
            "fuel_type": vehicle.fuel_type,
            "year_of_manufacture": vehicle.year_of_manufacture,
            "province": vehicle.province,
        }
    if given is not None:
        base.update(given.model_dump(exclude_none=True))
    if base.get("vehicle_kind") is None:
        raise InvalidQuote(
            [FieldProblem("vehicle.vehicle_kind", "give vehicle facts or a vehicle_id", "missing")]
        )
    base.setdefault("usage_type", "PERSONAL")
    return VehicleFacts(**base)


def options_of(body: QuoteOptionsRequest) -> rating.QuoteOptions:
    """The rating options of a request."""
    return rating.QuoteOptions(
        riders=tuple(rating.Rider(r.code, r.sum_insured, r.persons) for r in body.riders),
        voluntary_deductible=body.voluntary_deductible,
        ncd_percent=body.ncd_percent,
        claim_free_years=body.claim_free_years,
        fleet_size=body.fleet_size,
        dash_cam=body.dash_cam,
        driver_age=body.driver_age,
    )


def _json_facts(facts: VehicleFacts) -> dict[str, Any]:
    return {k: (str(v) if isinstance(v, Decimal) else v) for k, v in asdict(facts).items()}


async def rate_table_in_force(
    session: AsyncSession, on: date
) -> tuple[RateTableVersion, RateTable] | None:
    """The voluntary rate table version that rates policies starting on `on`."""
    row = (
        await session.execute(
            select(RateTableVersion)
            .where(
                RateTableVersion.table_code == VOLUNTARY_TABLE,
                RateTableVersion.effective_from <= on,
                or_(RateTableVersion.effective_to.is_(None), RateTableVersion.effective_to > on),
            )
            .order_by(RateTableVersion.effective_from.desc())
            .limit(1)
        )
    ).scalar_one_or_none()
    if row is None:
        return None
    return row, RateTable.from_data(row.version, row.effective_from, row.data)


# create_quote's statements, built once and sent by polis.db.raw (decisions 0072 and 0073).
# The quote validity setting and the request's vehicle (live) in one round trip (get_config's
# query, joined): the vehicle's columns that facts_of and the customer check read.
_VALIDITY_AND_VEHICLE = Statement(
    "SELECT s.config_value, s.config_type, v.id, v.customer_id, v.vehicle_type, v.usage_type,"
    " v.engine_size, v.fuel_type, v.year_of_manufacture, v.province"
    " FROM ref.system_configurations s"
    " LEFT JOIN motor.customer_vehicles v ON v.id = :vehicle_id AND v.deleted_at IS NULL"
    f" WHERE s.config_key = '{VALIDITY_KEY}'"
)
# The quote as stored (INSERT ... RETURNING: no read-back). JSONB parameters are JSON text.
_QUOTE_VALUES = (
    "quote_number",
    "customer_id",
    "vehicle_id",
    "policy_type",
    "coverage_option",
    "vehicle_class",
    "vehicle_facts",
    "start_date",
    "end_date",
    "policy_period_months",
    "sum_insured",
    "options",
    "no_claim_discount",
    "base_premium",
    "discounts",
    "fees",
    "total_premium",
    "breakdown",
    "coverage_details",
    "rate_table_id",
    "rate_table_version",
    "status",
    "expires_at",
    "created_by",
    "updated_by",
)
_QUOTE_JSON = ("vehicle_facts", "options", "breakdown", "coverage_details")
_INSERT_QUOTE = Statement(
    f"INSERT INTO motor.quotes ({', '.join(_QUOTE_VALUES)}) VALUES ("
    + ", ".join(
        f"CAST(:{name} AS jsonb)" if name in _QUOTE_JSON else f":{name}" for name in _QUOTE_VALUES
    )
    + f") RETURNING {columns(Quote)}"
)


async def _validity_and_vehicle(
    session: AsyncSession, body: QuoteCreate, problems: list[FieldProblem]
) -> tuple[int, Row | None]:
    """MOTOR_QUOTE_VALIDITY_DAYS and the request's vehicle (None without a vehicle_id):
    with a vehicle, both in one statement."""
    if body.vehicle_id is None:
        return int(await get_config(session, VALIDITY_KEY)), None
    await flush_pending(session)
    row = await raw.fetchrow(session, _VALIDITY_AND_VEHICLE, {"vehicle_id": body.vehicle_id})
    if row is None:
        raise ConfigurationNotFoundError(VALIDITY_KEY)
    vehicle = row if row.id is not None else None
    if vehicle is None:
        problems.append(FieldProblem("vehicle_id", "no such vehicle", "unknown_reference"))
    elif body.customer_id is not None and vehicle.customer_id != body.customer_id:
        problems.append(
            FieldProblem("vehicle_id", "the vehicle belongs to another customer", "mismatch")
        )
    return int(parse_config_value(row.config_value, row.config_type)), vehicle


async def _check_customer(
    session: AsyncSession, customer_id: uuid.UUID, problems: list[FieldProblem]
) -> None:
    found = await session.scalar(
        select(Customer.id).where(Customer.id == customer_id, Customer.deleted_at.is_(None))
    )
    if found is None:
        problems.append(FieldProblem("customer_id", "no such customer", "unknown_reference"))


def _cmi_problems(body: QuoteCreate) -> list[FieldProblem]:
    problems = []
    if body.coverage_option != "STANDARD":
        problems.append(
            FieldProblem("coverage_option", "CMI has no coverage options", "not_allowed")
        )
    if body.sum_insured is not None:
        problems.append(
            FieldProblem("sum_insured", "CMI has no sum insured: leave it out", "not_allowed")
        )
    if not options_of(body.options).empty:
        problems.append(
            FieldProblem(
                "options",
                "CMI premiums are statutory: no riders, deductibles or discounts",
                "not_allowed",
            )
        )
    return problems


async def create_quote(
    session: AsyncSession,
    body: QuoteCreate,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Quote:
    """Price and store a quote; InvalidQuote (422, field by field) when it cannot be rated."""
    now = now or datetime.now(UTC)
    today = today_bangkok(now)
    problems: list[FieldProblem] = []
    if body.start_date < today:
        problems.append(
            FieldProblem("start_date", f"start_date must not be before today ({today})", "past")
        )
    validity, vehicle = await _validity_and_vehicle(session, body, problems)
    customer_id = body.customer_id or (vehicle.customer_id if vehicle is not None else None)
    if body.customer_id is not None:
        await _check_customer(session, body.customer_id, problems)
    if body.policy_type == "CMI":
        problems.extend(_cmi_problems(body))
    if problems:
        raise InvalidQuote(problems)
    facts = facts_of(vehicle, body.vehicle)

    table_row: RateTableVersion | None = None
    try:
        if body.policy_type == "CMI":
            priced = rating.price_cmi(facts, body.policy_period_months)
        else:
            in_force = await rate_table_in_force(session, body.start_date)
            if in_force is None:
                raise InvalidQuote(
                    [
                        FieldProblem(
                            "start_date",
                            f"no voluntary rate table is in force on {body.start_date}",
                            "no_rate_table",
                        )
                    ]
                )
            table_row, table = in_force
            priced = rating.price_voluntary(
                table,
                policy_type=body.policy_type,
                coverage_option=body.coverage_option,
                facts=facts,
                start_date=body.start_date,
                policy_period_months=body.policy_period_months,
                sum_insured=body.sum_insured,
                options=options_of(body.options),
            )
    except RatingError as exc:
        raise InvalidQuote(exc.problems) from None

    values = {
        "quote_number": new_quote_number(today),
        "customer_id": customer_id,
        "vehicle_id": body.vehicle_id,
        "policy_type": body.policy_type,
        "coverage_option": body.coverage_option,
        "vehicle_class": priced.vehicle_class,
        "vehicle_facts": _json_facts(facts),
        "start_date": body.start_date,
        "end_date": rating.add_months(body.start_date, body.policy_period_months),
        "policy_period_months": body.policy_period_months,
        "sum_insured": body.sum_insured,
        "options": body.options.model_dump(mode="json", exclude_defaults=True),
        "no_claim_discount": priced.no_claim_discount,
        "base_premium": priced.base_premium,
        "discounts": priced.discount_total,
        "fees": priced.fee_total,
        "total_premium": priced.total_premium,
        "breakdown": priced.breakdown(),
        "coverage_details": priced.coverage_details,
        "rate_table_id": None if table_row is None else table_row.id,
        "rate_table_version": None if table_row is None else table_row.version,
        "status": "QUOTED",
        "expires_at": expiry(now, body.start_date, validity),
        "created_by": user_id,
        "updated_by": user_id,
    }
    for name in _QUOTE_JSON:
        values[name] = json.dumps(values[name])
    return adopt(session, Quote, await returned(session, _INSERT_QUOTE, values))


async def get_quote(session: AsyncSession, quote_number: str) -> Quote:
    """The quote with this number; NotFound when there is none."""
    quote = (
        await session.execute(select(Quote).where(Quote.quote_number == quote_number))
    ).scalar_one_or_none()
    if quote is None:
        raise NotFound(f"Quote {quote_number} does not exist.")
    return quote


def effective_status(quote: Quote, now: datetime | None = None) -> str:
    """QUOTED past expires_at reads EXPIRED (the row is not rewritten by a read)."""
    if quote.status == "QUOTED" and quote.expires_at <= (now or datetime.now(UTC)):
        return "EXPIRED"
    return quote.status


# --- rate tables --------------------------------------------------------------------------


async def create_rate_table(
    session: AsyncSession,
    body: RateTableCreate,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> RateTableVersion:
    """Store a new voluntary rate table version once its data parses (RateTable.from_data);
    a duplicate version or effective_from is a 409 (UNIQUE)."""
    problems: list[FieldProblem] = []
    today = today_bangkok(now)
    if body.effective_from <= today:
        problems.append(
            FieldProblem(
                "effective_from", f"effective_from must be after today ({today})", "not_future"
            )
        )
    try:
        RateTable.from_data(body.version, body.effective_from, body.data)
    except ValueError as exc:
        problems.append(FieldProblem("data", str(exc), "malformed_rate_table"))
    if problems:
        raise InvalidRateTable(problems)
    row = RateTableVersion(
        table_code=VOLUNTARY_TABLE,
        version=body.version,
        effective_from=body.effective_from,
        effective_to=body.effective_to,
        description=body.description,
        data=body.data,
        created_by=user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    return row


async def list_rate_tables(session: AsyncSession) -> list[RateTableVersion]:
    """Every voluntary rate table version, newest effective_from first."""
    result = await session.execute(
        select(RateTableVersion)
        .where(RateTableVersion.table_code == VOLUNTARY_TABLE)
        .order_by(RateTableVersion.effective_from.desc())
    )
    return list(result.scalars())


async def get_rate_table(session: AsyncSession, version: str) -> RateTableVersion:
    """One version; NotFound when there is none."""
    row = (
        await session.execute(
            select(RateTableVersion).where(
                RateTableVersion.table_code == VOLUNTARY_TABLE, RateTableVersion.version == version
            )
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Rate table version {version} does not exist.")
    return row
