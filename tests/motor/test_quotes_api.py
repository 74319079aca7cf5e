"""Motor quotes API: CMI and voluntary quotes priced to the satang and stored; effective-dated
rate tables; bad input answers 422 field by field and writes nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from httpx import AsyncClient
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor.models import Customer, CustomerVehicle
from polis.motor.quotes import BANGKOK, today_bangkok
from polis.motor.rating_models import Quote, RateTableVersion
from tests.iam.factories import signed_in

QUOTES = "/api/v1/motor/quotes"


def _start(days: int = 7) -> str:
    return (today_bangkok() + timedelta(days=days)).isoformat()


def cmi_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy_type": "CMI",
        "vehicle": {"vehicle_kind": "CAR", "usage_type": "PERSONAL", "seats": 5},
        "start_date": _start(),
        "policy_period_months": 12,
    }
    body.update(over)
    return body


def class1_body(**over: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "policy_type": "CLASS_1",
        "vehicle": {
            "vehicle_kind": "CAR",
            "usage_type": "PERSONAL",
            "engine_cc": 1500,
            "year_of_manufacture": today_bangkok().year - 4,
        },
        "start_date": _start(),
        "policy_period_months": 12,
        "sum_insured": "650000",
        "options": {
            "riders": [
                {"code": "PERSONAL_ACCIDENT", "sum_insured": "100000", "persons": 5},
                {"code": "BAIL_BOND", "sum_insured": 200000},
            ],
            "voluntary_deductible": "2000",
            "ncd_percent": 30,
            "dash_cam": True,
            "driver_age": 40,
        },
    }
    body.update(over)
    return body


async def _quotes(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(Quote)) or 0)


async def _staff(client: AsyncClient, session: AsyncSession) -> dict[str, str]:
    _, headers = await signed_in(client, session, role="AGENT")
    return headers


async def test_cmi_quote_priced_stored_and_read_back(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await _staff(client, session)
    response = await client.post(QUOTES, json=cmi_body(), headers=headers)
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["quote_number"].startswith("QT-")
    assert quote["status"] == "QUOTED"
    assert quote["vehicle_class"] == "1.10"
    assert quote["base_premium"] == "600.00"
    assert quote["discounts"] == []
    assert quote["discounts_total"] == "0.00"
    assert [(f["code"], f["amount"]) for f in quote["fees"]] == [
        ("stamp_duty", "3.00"),
        ("vat", "42.21"),
    ]
    assert quote["fees_total"] == "45.21"
    assert quote["total_premium"] == "645.21"
    assert quote["rate_table_version"] is None
    assert (
        quote["coverage_details"]["cover"]["after_fault_established"][
            "death_or_disability_per_person"
        ]
        == "500000.00"
    )
    start = datetime.fromisoformat(quote["start_date"]).date()
    assert quote["end_date"] == start.replace(year=start.year + 1).isoformat()
    expires = datetime.fromisoformat(quote["expires_at"])
    assert expires <= datetime.now(UTC) + timedelta(days=30, minutes=1)

    row = (
        await session.execute(select(Quote).where(Quote.quote_number == quote["quote_number"]))
    ).scalar_one()
    assert (row.base_premium, row.discounts, row.fees, row.total_premium) == (
        Decimal("600.00"),
        Decimal("0.00"),
        Decimal("45.21"),
        Decimal("645.21"),
    )
    assert row.rate_table_id is None

    again = await client.get(f"{QUOTES}/{quote['quote_number']}", headers=headers)
    assert again.status_code == 200, again.text
    assert again.json() == quote


async def test_class_1_quote_itemises_discounts_and_fees(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await _staff(client, session)
    response = await client.post(QUOTES, json=class1_body(), headers=headers)
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["rate_table_version"] == "2024.1"
    assert quote["vehicle_class"] == "110"
    assert quote["base_premium"] == "14988.00"
    assert [(d["code"], d["amount"]) for d in quote["discounts"]] == [
        ("VOLUNTARY_DEDUCTIBLE", "1333.80"),
        ("NCD", "4096.26"),
        ("DASH_CAM", "477.90"),
    ]
    assert quote["discounts_total"] == "5907.96"
    assert [(f["code"], f["amount"]) for f in quote["fees"]] == [
        ("stamp_duty", "37.00"),
        ("vat", "638.19"),
    ]
    assert quote["total_premium"] == "9755.23"
    assert quote["no_claim_discount"] == "30.00"
    assert quote["breakdown"]["core_premium"] == "13338.00"
    assert quote["breakdown"]["net_premium"] == "9080.04"
    assert quote["coverage_details"]["illustrative_rates"] is True
    assert quote["sum_insured"] == "650000.00"


async def test_three_plus_quote(client: AsyncClient, session: AsyncSession) -> None:
    headers = await _staff(client, session)
    body = class1_body(policy_type="CLASS_3", coverage_option="PLUS", options={})
    del body["sum_insured"]
    response = await client.post(QUOTES, json=body, headers=headers)
    assert response.status_code == 201, response.text
    quote = response.json()
    assert quote["breakdown"]["core_premium"] == "5335.20"
    assert quote["coverage_details"]["own_damage"]["limit"] == "100000.00"


async def test_new_rate_table_version_takes_effect_on_its_date(
    client: AsyncClient, session: AsyncSession
) -> None:
    headers = await _staff(client, session)
    today = today_bangkok()
    tomorrow = today + timedelta(days=1)
    current = (
        await session.execute(select(RateTableVersion).where(RateTableVersion.version == "2024.1"))
    ).scalar_one()
    data = dict(current.data)
    data["usage_factors"] = {**data["usage_factors"], "PERSONAL": "2.00"}
    session.add(
        RateTableVersion(
            table_code="VOLUNTARY",
            version="TEST-NEXT",
            effective_from=tomorrow,
            data=data,
            description="test version, personal use doubled",
        )
    )
    await session.flush()

    today_quote = await client.post(
        QUOTES, json=class1_body(start_date=today.isoformat(), options={}), headers=headers
    )
    tomorrow_quote = await client.post(
        QUOTES, json=class1_body(start_date=tomorrow.isoformat(), options={}), headers=headers
    )
    assert today_quote.status_code == tomorrow_quote.status_code == 201, today_quote.text
    first, second = today_quote.json(), tomorrow_quote.json()
    assert first["rate_table_version"] == "2024.1"
    assert second["rate_table_version"] == "TEST-NEXT"
    assert first["breakdown"]["core_premium"] == "13338.00"
    assert second["breakdown"]["core_premium"] == "26676.00"
    # a quote for a policy starting today can only be bound today
    expires = datetime.fromisoformat(first["expires_at"])
    assert expires.astimezone(BANGKOK).date() <= tomorrow


async def test_quote_for_a_registered_vehicle(client: AsyncClient, session: AsyncSession) -> None:
    headers = await _staff(client, session)
    customer = Customer(
        email=f"q{uuid.uuid4().hex[:10]}@example.co.th", first_name="สมชาย", last_name="ใจดี"
    )
    session.add(customer)
    await session.flush()
    vehicle = CustomerVehicle(
        customer_id=customer.id,
        registration_number=f"1กข {uuid.uuid4().int % 10000}",
        province="กรุงเทพมหานคร",
        make="Toyota",
        model="Yaris",
        year_of_manufacture=today_bangkok().year - 4,
        engine_size=Decimal("1.5"),
        vehicle_type="HATCHBACK",
        fuel_type="GASOLINE",
        usage_type="PERSONAL",
    )
    session.add(vehicle)
    await session.flush()

    cmi = await client.post(
        QUOTES, json=cmi_body(vehicle=None, vehicle_id=str(vehicle.id)), headers=headers
    )
    assert cmi.status_code == 201, cmi.text
    assert cmi.json()["vehicle_class"] == "1.10"
    assert cmi.json()["customer_id"] == str(customer.id)
    assert cmi.json()["vehicle_id"] == str(vehicle.id)

    body = class1_body(vehicle=None, vehicle_id=str(vehicle.id), customer_id=str(customer.id))
    voluntary = await client.post(QUOTES, json=body, headers=headers)
    assert voluntary.status_code == 201, voluntary.text
    assert voluntary.json()["total_premium"] == "9755.23"  # 1.5 litres read as 1,500 cc
    assert voluntary.json()["vehicle_facts"]["engine_cc"] == 1500

    other = await client.post(
        QUOTES,
        json=cmi_body(vehicle=None, vehicle_id=str(vehicle.id), customer_id=str(uuid.uuid4())),
        headers=headers,
    )
    assert other.status_code == 422
    assert {e["field"] for e in other.json()["errors"]} == {"body.vehicle_id", "body.customer_id"}


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in body.items() if k != key}


@pytest.mark.parametrize(
    ("body", "field", "type_"),
    [
        (
            cmi_body(start_date=_start(10), end_date=_start(5)),
            "body.end_date",
            "value_error",
        ),
        (cmi_body(start_date=_start(10), end_date=_start(400)), "body.end_date", "value_error"),
        (cmi_body(policy_period_months=7), "body.policy_period_months", "literal_error"),
        (class1_body(sum_insured="-1000"), "body.sum_insured", "money_range"),
        (
            cmi_body(vehicle={"vehicle_kind": "TRUCK", "weight_tonnes": "12"}),
            "body.vehicle.vehicle_kind",
            "unsupported_vehicle_class",
        ),
        (
            cmi_body(vehicle={"vehicle_kind": "PICKUP", "weight_tonnes": "3.5"}),
            "body.vehicle",
            "unsupported_vehicle_class",
        ),
        (
            cmi_body(vehicle={"vehicle_kind": "SPACESHIP"}),
            "body.vehicle.vehicle_kind",
            "literal_error",
        ),
        (cmi_body(vehicle=None), "body.vehicle.vehicle_kind", "missing"),
        (cmi_body(start_date=_start(-1)), "body.start_date", "past"),
        (cmi_body(policy_period_months=24), "body.policy_period_months", "unsupported_period"),
        (cmi_body(sum_insured="100000"), "body.sum_insured", "not_allowed"),
        (cmi_body(options={"ncd_percent": 20}), "body.options", "not_allowed"),
        (_without(class1_body(), "sum_insured"), "body.sum_insured", "missing"),
        (class1_body(sum_insured="5000000"), "body.sum_insured", "out_of_range"),
        (
            class1_body(vehicle_id=str(uuid.uuid4()), vehicle=None),
            "body.vehicle_id",
            "unknown_reference",
        ),
        (class1_body(options={"ncd_percent": 25}), "body.options.ncd_percent", "literal_error"),
        (class1_body(surprise=1), "body.surprise", "extra_forbidden"),
    ],
)
async def test_bad_input_is_422_field_by_field_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, body: dict[str, Any], field: str, type_: str
) -> None:
    headers = await _staff(client, session)
    before = await _quotes(session)
    response = await client.post(QUOTES, json=body, headers=headers)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert (field, type_) in {(e["field"], e["type"]) for e in errors}, errors
    assert await _quotes(session) == before


async def test_permissions_and_not_found(client: AsyncClient, session: AsyncSession) -> None:
    _, customer_headers = await signed_in(client, session, role="CUSTOMER")
    before = await _quotes(session)
    refused = await client.post(QUOTES, json=cmi_body(), headers=customer_headers)
    assert refused.status_code == 403
    assert await _quotes(session) == before
    assert (await client.post(QUOTES, json=cmi_body())).status_code == 401
    headers = await _staff(client, session)
    missing = await client.get(f"{QUOTES}/QT-2026-NOSUCHQUOTE0", headers=headers)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")


async def test_expired_quote_reads_expired(client: AsyncClient, session: AsyncSession) -> None:
    headers = await _staff(client, session)
    created = (await client.post(QUOTES, json=cmi_body(), headers=headers)).json()
    await session.execute(
        text(
            "update motor.quotes set expires_at = now() - interval '1 minute'"
            " where quote_number = :n"
        ),
        {"n": created["quote_number"]},
    )
    response = await client.get(f"{QUOTES}/{created['quote_number']}", headers=headers)
    assert response.json()["status"] == "EXPIRED"


# --- rate tables --------------------------------------------------------------------------

RATE_TABLES = "/api/v1/motor/rate-tables"


async def test_rate_table_version_through_the_api(
    client: AsyncClient, session: AsyncSession
) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    agent = await _staff(client, session)
    first = await client.get(f"{RATE_TABLES}/2024.1", headers=agent)
    assert first.status_code == 200, first.text
    data = first.json()["data"]
    data["base_premiums"]["CLASS_3"]["110"] = [{"sum_insured_max": None, "premium": "3000.00"}]
    tomorrow = today_bangkok() + timedelta(days=1)
    body = {"version": "API-2", "effective_from": tomorrow.isoformat(), "data": data}

    assert (await client.post(RATE_TABLES, json=body, headers=agent)).status_code == 403
    created = await client.post(RATE_TABLES, json=body, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["version"] == "API-2"
    duplicate = await client.post(RATE_TABLES, json=body, headers=admin)
    assert duplicate.status_code == 409

    listed = await client.get(RATE_TABLES, headers=agent)
    assert [t["version"] for t in listed.json()][:2] == ["API-2", "2024.1"]

    three = class1_body(policy_type="CLASS_3", options={}, start_date=tomorrow.isoformat())
    del three["sum_insured"]
    quote = await client.post(QUOTES, json=three, headers=agent)
    assert quote.status_code == 201, quote.text
    assert quote.json()["rate_table_version"] == "API-2"
    assert quote.json()["breakdown"]["core_premium"] == "2565.00"  # 3,000 x 0.90 x 0.95


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"effective_from": "2020-01-01"}, "body.effective_from"),
        ({"data": {"base_premiums": {}}}, "body.data"),
        ({"effective_to": "2020-01-01"}, "body.effective_to"),
    ],
)
async def test_bad_rate_table_is_422_and_writes_nothing(
    client: AsyncClient, session: AsyncSession, change: dict[str, Any], field: str
) -> None:
    _, admin = await signed_in(client, session, role="ADMIN")
    data = (await client.get(f"{RATE_TABLES}/2024.1", headers=admin)).json()["data"]
    body = {
        "version": "BAD-1",
        "effective_from": (today_bangkok() + timedelta(days=30)).isoformat(),
        "data": data,
    } | change
    before = await session.scalar(select(func.count()).select_from(RateTableVersion))
    response = await client.post(RATE_TABLES, json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert field in {e["field"] for e in response.json()["errors"]}
    assert await session.scalar(select(func.count()).select_from(RateTableVersion)) == before
