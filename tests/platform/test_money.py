"""Money: Decimal amounts, ROUND_HALF_UP, strings on the wire, floats read through str()."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ValidationError

from polis.platform.money import (
    Money,
    NonNegativeMoney,
    Quantized,
    format_amount,
    from_minor,
    quantize,
    to_minor,
)


class Amounts(BaseModel):
    amount: Money
    fee: NonNegativeMoney = Decimal("0")
    rate: Annotated[Decimal, Quantized(4)] = Decimal("0")


# Amounts as NUMERIC(15,2) holds them.
cents = st.integers(min_value=-(10**15) + 1, max_value=10**15 - 1)
decimals = st.decimals(
    allow_nan=False, allow_infinity=False, places=6, min_value=-(10**12), max_value=10**12
)


@given(cents)
def test_minor_units_round_trip(units: int) -> None:
    amount = from_minor(units)
    assert to_minor(amount) == units
    assert amount.as_tuple().exponent == -2


@given(cents)
def test_wire_form_round_trips(units: int) -> None:
    amount = from_minor(units)
    wire = Amounts(amount=amount).model_dump(mode="json")["amount"]
    assert isinstance(wire, str)
    assert wire == format_amount(amount)
    assert Decimal(wire) == amount
    assert Amounts.model_validate({"amount": wire}).amount == amount


@given(decimals)
def test_quantize_is_idempotent_and_close(value: Decimal) -> None:
    once = quantize(value)
    assert quantize(once) == once
    assert abs(once - value) <= Decimal("0.005")


@given(decimals)
def test_half_up_is_symmetric(value: Decimal) -> None:
    assert quantize(-value) == -quantize(value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2.345", "2.35"),
        ("2.344", "2.34"),
        ("-2.345", "-2.35"),
        ("0.005", "0.01"),
        ("-0.004", "0.00"),
        ("1234.5", "1234.50"),
    ],
)
def test_round_half_up(value: str, expected: str) -> None:
    assert format_amount(quantize(Decimal(value))) == expected


@given(st.integers(min_value=-(10**9), max_value=10**9))
def test_floats_with_two_places_are_read_exactly(units: int) -> None:
    number = units / 100
    assert Amounts(amount=number).amount == Decimal(str(number)).quantize(Decimal("0.01"))


def test_float_artefacts_are_not_smuggled_in() -> None:
    assert Amounts(amount=0.1).amount == Decimal("0.10")
    with pytest.raises(ValidationError):
        Amounts(amount=0.1 + 0.2)  # 0.30000000000000004


@pytest.mark.parametrize(
    "bad", ["1.001", "NaN", "-Infinity", "sNaN", "", "12,50", True, None, [1], float("inf")]
)
def test_rejects(bad: object) -> None:
    with pytest.raises(ValidationError):
        Amounts(amount=bad)


def test_trailing_zeros_beyond_two_places_are_fine() -> None:
    assert Amounts(amount="12.3400").amount == Decimal("12.34")


def test_bounds_and_other_quantisers() -> None:
    with pytest.raises(ValidationError, match="greater than or equal to 0"):
        Amounts(amount=1, fee="-0.01")
    model = Amounts(amount=1, rate="0.1234")
    assert model.model_dump(mode="json")["rate"] == "0.1234"
    with pytest.raises(ValidationError):
        Amounts(amount=1, rate="0.12345")


def test_json_schema_says_string() -> None:
    schema = Amounts.model_json_schema(mode="serialization")
    assert schema["properties"]["amount"]["type"] == "string"
    accepted = Amounts.model_json_schema(mode="validation")["properties"]["amount"]["anyOf"]
    assert {"string", "number"} == {a["type"] for a in accepted}


def test_to_minor_refuses_fractions_of_a_satang() -> None:
    with pytest.raises(ValueError):
        to_minor(Decimal("1.005"))
