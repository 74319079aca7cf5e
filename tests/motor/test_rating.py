"""Motor rating rules: every CMI tariff class to the satang, classification, voluntary
classes by the OIC structure, fees, NCD ladder, effective-dated rate tables."""

from __future__ import annotations

import csv
import json
from dataclasses import replace
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from polis.motor import rating
from polis.motor.rating import (
    QuoteOptions,
    RateTable,
    RatingError,
    Rider,
    VehicleFacts,
    add_months,
    classify_cmi,
    ncd_for_claim_free_years,
    price_cmi,
    price_voluntary,
    stamp_duty,
)

SHARED_TARIFF = Path(__file__).resolve().parents[2].parent / "shared/reference/cmi_tariff.csv"
FIRST_TABLE = "voluntary_rate_table_2024.1.json"
START = date(2026, 12, 1)


def _rows() -> list[dict[str, str]]:
    text = resources.files("polis.motor").joinpath("data", "cmi_tariff.csv").read_text("utf-8")
    return list(csv.DictReader(text.splitlines()))


def _table_data() -> dict[str, Any]:
    text = resources.files("polis.motor").joinpath("data", FIRST_TABLE).read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


@pytest.fixture(scope="module")
def table() -> RateTable:
    return RateTable.from_data("2024.1", date(2024, 1, 1), _table_data())


def _published_total(net_satang: int) -> tuple[int, int, int]:
    """Stamp, VAT and total in satang by the published rules, in integer arithmetic:
    stamp = 1 baht per 250 baht or part; VAT = 7% of (net + stamp), half-up."""
    stamp = -(-net_satang // 25000) * 100
    vat_x100 = (net_satang + stamp) * 7
    vat = (vat_x100 + 50) // 100
    return stamp, vat, net_satang + stamp + vat


def _facts_for(row: dict[str, str]) -> VehicleFacts:
    cc = (
        int(row["cc_max"]) if row["cc_max"] else (int(row["cc_min"]) + 1 if row["cc_min"] else None)
    )
    return VehicleFacts(
        vehicle_kind=row["vehicle_kind"],
        usage_type=row["usage"],
        seats=int(row["seats_max"]) if row["seats_max"] else None,
        engine_cc=cc,
        weight_tonnes=Decimal(row["weight_t_max"]) if row["weight_t_max"] else None,
        province="กรุงเทพมหานคร" if row["vehicle_kind"] == "TUKTUK" else None,
    )


# --- CMI ----------------------------------------------------------------------------------


def test_package_tariff_is_the_shared_reference() -> None:
    if not SHARED_TARIFF.exists():
        pytest.skip("../shared is not beside the checkout")
    assert _rows() == list(csv.DictReader(SHARED_TARIFF.read_text("utf-8").splitlines()))
    assert len(_rows()) == 13


@pytest.mark.parametrize("row", _rows(), ids=lambda r: r["oic_code"])
def test_every_cmi_class_priced_to_the_satang(row: dict[str, str]) -> None:
    quote = price_cmi(_facts_for(row))
    net = Decimal(row["net_premium_thb"])
    stamp, vat, total = _published_total(int(net * 100))
    assert quote.vehicle_class == row["oic_code"]
    assert quote.base_premium == net
    assert quote.discounts == ()
    assert [f.code for f in quote.fees] == ["stamp_duty", "vat"]
    assert quote.fees[0].amount == Decimal(stamp) / 100
    assert quote.fees[1].amount == Decimal(vat) / 100
    assert quote.total_premium == Decimal(total) / 100
    assert quote.total_premium == quote.base_premium - quote.discount_total + quote.fee_total


@pytest.mark.parametrize(
    ("oic_code", "net", "stamp", "vat", "total"),
    [
        ("1.10", "600.00", "3.00", "42.21", "645.21"),
        ("1.10E", "600.00", "3.00", "42.21", "645.21"),
        ("2.10", "1900.00", "8.00", "133.56", "2041.56"),
        ("1.20A", "1100.00", "5.00", "77.35", "1182.35"),
        ("1.20B", "2050.00", "9.00", "144.13", "2203.13"),
        ("1.20C", "3200.00", "13.00", "224.91", "3437.91"),
        ("1.40A", "900.00", "4.00", "63.28", "967.28"),
        ("1.30A", "150.00", "1.00", "10.57", "161.57"),
        ("1.30B", "300.00", "2.00", "21.14", "323.14"),
        ("1.30C", "400.00", "2.00", "28.14", "430.14"),
        ("1.30D", "600.00", "3.00", "42.21", "645.21"),
        ("2.30B", "350.00", "2.00", "24.64", "376.64"),
        ("1.70A", "720.00", "3.00", "50.61", "773.61"),
    ],
)
def test_cmi_published_totals(oic_code: str, net: str, stamp: str, vat: str, total: str) -> None:
    row = next(r for r in _rows() if r["oic_code"] == oic_code)
    quote = price_cmi(_facts_for(row))
    assert (quote.base_premium, quote.fees[0].amount, quote.fees[1].amount) == (
        Decimal(net),
        Decimal(stamp),
        Decimal(vat),
    )
    assert quote.total_premium == Decimal(total)


@pytest.mark.parametrize(
    ("facts", "code"),
    [
        (VehicleFacts("CAR"), "1.10"),
        (VehicleFacts("CAR", seats=5, fuel_type="ELECTRIC"), "1.10E"),
        (VehicleFacts("CAR_EV"), "1.10E"),
        (VehicleFacts("CAR", usage_type="RENTAL", seats=7), "2.10"),
        (VehicleFacts("VAN", seats=8), "1.20A"),
        (VehicleFacts("VAN", seats=15), "1.20A"),
        (VehicleFacts("VAN", seats=16), "1.20B"),
        (VehicleFacts("BUS", seats=40), "1.20C"),
        (VehicleFacts("PICKUP", weight_tonnes=Decimal("2.75")), "1.40A"),
        (VehicleFacts("PICKUP", weight_tonnes=Decimal("3")), "1.40A"),
        (VehicleFacts("MOTORCYCLE", engine_cc=50), "1.30A"),
        (VehicleFacts("MOTORCYCLE", engine_cc=75), "1.30A"),
        (VehicleFacts("MOTORCYCLE", engine_cc=76), "1.30B"),
        (VehicleFacts("MOTORCYCLE", engine_cc=125), "1.30B"),
        (VehicleFacts("MOTORCYCLE", engine_cc=126), "1.30C"),
        (VehicleFacts("MOTORCYCLE", engine_cc=150), "1.30C"),
        (VehicleFacts("MOTORCYCLE", engine_cc=151), "1.30D"),
        (VehicleFacts("MOTORCYCLE", engine_cc=1200), "1.30D"),
        (VehicleFacts("MOTORCYCLE", fuel_type="ELECTRIC"), "1.30B"),
        (VehicleFacts("MOTORCYCLE", usage_type="COMMERCIAL", engine_cc=110), "2.30B"),
        (VehicleFacts("TUKTUK", usage_type="COMMERCIAL", province="Bangkok"), "1.70A"),
    ],
)
def test_classification(facts: VehicleFacts, code: str) -> None:
    assert classify_cmi(facts).oic_code == code


@pytest.mark.parametrize(
    ("facts", "field", "type_"),
    [
        (VehicleFacts("TRUCK", weight_tonnes=Decimal("10")), "vehicle.vehicle_kind", "unsupported"),
        (VehicleFacts("PICKUP", weight_tonnes=Decimal("3.5")), "vehicle", "unsupported"),
        (VehicleFacts("CAR", usage_type="TAXI"), "vehicle.vehicle_kind", "unsupported"),
        (VehicleFacts("CAR", seats=9), "vehicle", "unsupported"),
        (VehicleFacts("VAN", seats=5), "vehicle", "unsupported"),
        (VehicleFacts("BUS", seats=41), "vehicle", "unsupported"),
        (
            VehicleFacts("MOTORCYCLE", usage_type="COMMERCIAL", engine_cc=200),
            "vehicle",
            "unsupported",
        ),
        (
            VehicleFacts("TUKTUK", usage_type="COMMERCIAL", province="เชียงใหม่"),
            "vehicle.province",
            "unsupported",
        ),
        (VehicleFacts("TUKTUK", usage_type="COMMERCIAL"), "vehicle.province", "missing"),
        (VehicleFacts("VAN"), "vehicle.seats", "missing"),
        (VehicleFacts("PICKUP"), "vehicle.weight_tonnes", "missing"),
        (VehicleFacts("MOTORCYCLE"), "vehicle.engine_cc", "missing"),
    ],
)
def test_unverified_or_incomplete_classes_are_refused(
    facts: VehicleFacts, field: str, type_: str
) -> None:
    with pytest.raises(RatingError) as err:
        classify_cmi(facts)
    (problem,) = err.value.problems
    assert problem.field == field
    assert problem.type == ("unsupported_vehicle_class" if type_ == "unsupported" else type_)


@pytest.mark.parametrize("months", [6, 24, 36])
def test_cmi_is_quoted_for_twelve_months_only(months: int) -> None:
    with pytest.raises(RatingError) as err:
        price_cmi(VehicleFacts("CAR"), months)
    assert err.value.problems[0].field == "policy_period_months"


# --- fees ---------------------------------------------------------------------------------


@given(st.integers(min_value=1, max_value=10**10))
def test_stamp_duty_is_one_baht_per_250_or_part(net_satang: int) -> None:
    net = Decimal(net_satang) / 100
    stamp = stamp_duty(net)
    assert stamp == Decimal(-(-net_satang // 25000))
    assert net * Decimal("0.004") <= stamp < net * Decimal("0.004") + 1
    assert stamp == stamp.to_integral_value()
    assert str(stamp).endswith(".00")


@given(st.integers(min_value=1, max_value=10**10))
def test_vat_is_seven_percent_half_up(net_satang: int) -> None:
    net = Decimal(net_satang) / 100
    stamp = stamp_duty(net)
    vat = rating.vat(net, stamp)
    assert vat == Decimal((int((net + stamp) * 100) * 7 + 50) // 100) / 100
    assert abs(vat - (net + stamp) * Decimal("0.07")) <= Decimal("0.005")


# --- NCD ----------------------------------------------------------------------------------


def test_ncd_ladder() -> None:
    assert [ncd_for_claim_free_years(n) for n in range(7)] == [0, 20, 30, 40, 50, 50, 50]
    with pytest.raises(ValueError):
        ncd_for_claim_free_years(-1)


# --- voluntary ----------------------------------------------------------------------------

CAR = VehicleFacts("CAR", engine_cc=1500, year_of_manufacture=2022)


def _price(table: RateTable, **kw: Any) -> rating.PricedQuote:
    args: dict[str, Any] = {
        "policy_type": "CLASS_1",
        "coverage_option": "STANDARD",
        "facts": CAR,
        "start_date": START,
        "policy_period_months": 12,
        "sum_insured": Decimal("650000"),
        "options": QuoteOptions(),
    }
    args.update(kw)
    return price_voluntary(table, **args)


def test_first_table_is_illustrative_and_parses(table: RateTable) -> None:
    assert table.illustrative is True
    assert "Illustrative" in _table_data()["note"]
    assert set(table.base_premiums) == {"CLASS_1", "CLASS_2", "CLASS_3"}
    assert table.period_factors == {
        6: Decimal("0.70"),
        12: Decimal("1.00"),
        24: Decimal("2.00"),
        36: Decimal("3.00"),
    }


def test_class_1_worked_example_to_the_satang(table: RateTable) -> None:
    quote = _price(
        table,
        options=QuoteOptions(
            riders=(
                Rider("PERSONAL_ACCIDENT", Decimal("100000"), 5),
                Rider("BAIL_BOND", Decimal("200000")),
            ),
            voluntary_deductible=Decimal("2000"),
            ncd_percent=30,
            dash_cam=True,
            driver_age=40,
        ),
    )
    # band 800,000 -> 15,600 x age 4y 0.90 x 1,500 cc 0.95 x personal x driver 40 x class 1
    assert quote.core_premium == Decimal("13338.00")
    assert [r.amount for r in quote.riders] == [Decimal("250.00"), Decimal("1400.00")]
    assert quote.base_premium == Decimal("14988.00")
    assert [(d.code, d.amount) for d in quote.discounts] == [
        ("VOLUNTARY_DEDUCTIBLE", Decimal("1333.80")),  # 10% of the core premium
        ("NCD", Decimal("4096.26")),  # 30% of 13,654.20
        ("DASH_CAM", Decimal("477.90")),  # 5% of 9,557.94 = 477.897
    ]
    assert quote.net_premium == Decimal("9080.04")
    assert [(f.code, f.amount) for f in quote.fees] == [
        ("stamp_duty", Decimal("37.00")),  # 36.32 rounded up
        ("vat", Decimal("638.19")),  # 7% of 9,117.04 = 638.1928
    ]
    assert quote.total_premium == Decimal("9755.23")
    assert quote.no_claim_discount == Decimal("30.00")
    assert quote.coverage_details["own_damage"]["sum_insured"] == "650000.00"


def test_class_2_plus_and_class_3_plus(table: RateTable) -> None:
    two_plus = _price(table, policy_type="CLASS_2", coverage_option="PLUS")
    # CLASS_2 band 800,000 -> 5,500 x 0.90 x 0.95 x 1.55 (2+ cover factor)
    assert two_plus.core_premium == Decimal("7288.88")  # 7,288.875 half-up
    assert two_plus.coverage_details["own_damage"]["limit"] == "100000.00"
    assert two_plus.coverage_details["own_damage"]["at_fault_deductible"] == "2000.00"
    assert two_plus.coverage_details["fire_theft"] == {"sum_insured": "650000.00"}
    three_plus = _price(table, policy_type="CLASS_3", coverage_option="PLUS", sum_insured=None)
    assert three_plus.core_premium == Decimal("5335.20")  # 2,400 x 0.90 x 0.95 x 2.60
    three = _price(table, policy_type="CLASS_3", sum_insured=None)
    assert three.core_premium == Decimal("2052.00")
    assert three.coverage_details["own_damage"] is None
    assert three.total_premium == Decimal("2205.27")  # 2052 + 9 + 144.27 (7% of 2,061)


def test_period_factors(table: RateTable) -> None:
    annual = _price(table)
    half = _price(table, policy_period_months=6)
    two_years = _price(table, policy_period_months=24)
    assert half.core_premium == (annual.core_premium or 0) * Decimal("0.70")
    assert two_years.core_premium == (annual.core_premium or 0) * 2


def test_driver_age_and_usage_factors(table: RateTable) -> None:
    young = _price(table, options=QuoteOptions(driver_age=20))
    unnamed = _price(table)
    assert young.core_premium == (unnamed.core_premium or 0) * Decimal("1.20")
    rental = _price(table, facts=replace(CAR, usage_type="RENTAL"))
    assert rental.core_premium == (unnamed.core_premium or 0) * Decimal("1.50")


def test_claim_free_years_give_the_ncd(table: RateTable) -> None:
    by_years = _price(table, options=QuoteOptions(claim_free_years=6))
    by_percent = _price(table, options=QuoteOptions(ncd_percent=50))
    assert by_years.discounts == by_percent.discounts
    assert by_years.discounts[0].amount == Decimal("6669.00")  # 50% of 13,338.00


@pytest.mark.parametrize(
    ("kw", "field", "type_"),
    [
        ({"sum_insured": None}, "sum_insured", "missing"),
        ({"policy_type": "CLASS_2", "sum_insured": None}, "sum_insured", "missing"),
        ({"policy_type": "CLASS_3"}, "sum_insured", "not_allowed"),
        ({"sum_insured": Decimal("3000001")}, "sum_insured", "out_of_range"),
        ({"sum_insured": Decimal("99999")}, "sum_insured", "out_of_range"),
        ({"coverage_option": "PLUS"}, "coverage_option", "unsupported_option"),
        (
            {"facts": VehicleFacts("MOTORCYCLE", engine_cc=125, year_of_manufacture=2020)},
            "vehicle.vehicle_kind",
            "unsupported_vehicle_class",
        ),
        (
            {"facts": replace(CAR, usage_type="TAXI")},
            "vehicle.usage_type",
            "unsupported_vehicle_class",
        ),
        (
            {"facts": replace(CAR, year_of_manufacture=1990)},
            "vehicle.year_of_manufacture",
            "unsupported_vehicle_class",
        ),
        (
            {"facts": replace(CAR, year_of_manufacture=None)},
            "vehicle.year_of_manufacture",
            "missing",
        ),
        ({"facts": replace(CAR, engine_cc=None)}, "vehicle.engine_cc", "missing"),
        (
            {
                "policy_type": "CLASS_3",
                "sum_insured": None,
                "options": QuoteOptions(voluntary_deductible=Decimal("2000")),
            },
            "options.voluntary_deductible",
            "not_allowed",
        ),
        (
            {"options": QuoteOptions(voluntary_deductible=Decimal("2500"))},
            "options.voluntary_deductible",
            "not_offered",
        ),
        (
            {"options": QuoteOptions(ncd_percent=30, claim_free_years=1)},
            "options.ncd_percent",
            "inconsistent",
        ),
        ({"options": QuoteOptions(ncd_percent=25)}, "options.ncd_percent", "ladder"),
        (
            {"options": QuoteOptions(riders=(Rider("MEDICAL", Decimal("200001")),))},
            "options.riders.0.sum_insured",
            "out_of_range",
        ),
    ],
)
def test_voluntary_refusals(table: RateTable, kw: dict[str, Any], field: str, type_: str) -> None:
    with pytest.raises(RatingError) as err:
        _price(table, **kw)
    assert (err.value.problems[0].field, err.value.problems[0].type) == (field, type_)


def test_choose_rate_table(table: RateTable) -> None:
    later = replace(table, version="2027.1", effective_from=date(2027, 1, 1))
    assert rating.choose_rate_table([table, later], date(2026, 12, 31)) is table
    assert rating.choose_rate_table([table, later], date(2027, 1, 1)) is later
    assert rating.choose_rate_table([table, later], date(2023, 12, 31)) is None


def test_malformed_rate_table_is_refused() -> None:
    data = _table_data()
    del data["usage_factors"]
    with pytest.raises(ValueError, match="malformed"):
        RateTable.from_data("bad", date(2026, 1, 1), data)
    data = _table_data()
    data["base_premiums"]["CLASS_1"]["110"].reverse()
    with pytest.raises(ValueError, match="ascend"):
        RateTable.from_data("bad", date(2026, 1, 1), data)


def test_add_months() -> None:
    assert add_months(date(2026, 1, 15), 12) == date(2027, 1, 15)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2026, 11, 30), 36) == date(2029, 11, 30)


# --- properties ---------------------------------------------------------------------------

_riders = st.lists(
    st.builds(
        Rider,
        st.sampled_from(["PERSONAL_ACCIDENT", "MEDICAL", "BAIL_BOND"]),
        st.integers(min_value=1, max_value=200).map(lambda n: Decimal(n * 1000)),
        st.integers(min_value=1, max_value=7),
    ),
    max_size=3,
    unique_by=lambda r: r.code,
)


@settings(max_examples=300, deadline=None)
@given(
    policy=st.sampled_from(
        [
            ("CLASS_1", "STANDARD"),
            ("CLASS_2", "STANDARD"),
            ("CLASS_2", "PLUS"),
            ("CLASS_3", "STANDARD"),
            ("CLASS_3", "PLUS"),
        ]
    ),
    kind=st.sampled_from(["CAR", "CAR_EV", "VAN", "PICKUP"]),
    usage=st.sampled_from(["PERSONAL", "COMMERCIAL", "RENTAL"]),
    cc=st.integers(min_value=600, max_value=6000),
    year=st.integers(min_value=2007, max_value=2027),
    si=st.integers(min_value=100, max_value=1200).map(lambda n: Decimal(n * 1000)),
    months=st.sampled_from([6, 12, 24, 36]),
    riders=_riders,
    deductible=st.sampled_from([None, Decimal(1000), Decimal(2000), Decimal(3000), Decimal(5000)]),
    years=st.integers(min_value=0, max_value=10),
    fleet=st.none() | st.integers(min_value=1, max_value=50),
    dash_cam=st.booleans(),
    driver_age=st.none() | st.integers(min_value=18, max_value=90),
)
def test_voluntary_identity_and_bounds(
    table: RateTable,
    policy: tuple[str, str],
    kind: str,
    usage: str,
    cc: int,
    year: int,
    si: Decimal,
    months: int,
    riders: list[Rider],
    deductible: Decimal | None,
    years: int,
    fleet: int | None,
    dash_cam: bool,
    driver_age: int | None,
) -> None:
    policy_type, option = policy
    own_damage = policy_type == "CLASS_1" or option == "PLUS"
    quote = price_voluntary(
        table,
        policy_type=policy_type,
        coverage_option=option,
        facts=VehicleFacts(
            kind,
            usage,
            seats=5,
            engine_cc=cc,
            weight_tonnes=Decimal("2.5"),
            year_of_manufacture=year,
        ),
        start_date=START,
        policy_period_months=months,
        sum_insured=None if policy_type == "CLASS_3" else si,
        options=QuoteOptions(
            riders=tuple(riders),
            voluntary_deductible=deductible if own_damage else None,
            claim_free_years=years,
            fleet_size=fleet,
            dash_cam=dash_cam,
            driver_age=driver_age,
        ),
    )
    assert quote.total_premium == quote.base_premium - quote.discount_total + quote.fee_total
    assert quote.base_premium > 0
    assert all(f.amount >= 0 for f in quote.fees)
    assert all(d.amount > 0 for d in quote.discounts)
    assert quote.net_premium > 0
    assert quote.total_premium > quote.net_premium
    for amount in [quote.base_premium, quote.total_premium, *(d.amount for d in quote.discounts)]:
        assert amount == amount.quantize(Decimal("0.01"))
    ncd = ncd_for_claim_free_years(years)
    assert quote.no_claim_discount == ncd
    assert ("NCD" in [d.code for d in quote.discounts]) is (ncd > 0)
    stamp, vat, total = _published_total(int(quote.net_premium * 100))
    assert quote.fee_total == Decimal(stamp + vat) / 100
    assert quote.total_premium == Decimal(total) / 100
