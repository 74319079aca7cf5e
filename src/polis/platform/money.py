"""Money: `decimal.Decimal`, quantised explicitly, ROUND_HALF_UP, strings on the wire.

The seeds store amounts as NUMERIC(15,2) (IDR and THB to 2 places); Python holds them as
Decimal and never as float (decision 0041). In JSON an amount is a string such as "1234.50";
input may be a string or a number, and a float is read through `str(value)` so that 0.1
arrives as Decimal("0.1"), not as its binary artefact 0.1000000000000000055511151231257827.

    class Claim(BaseModel):
        charged: Money                                 # 2 places, may be negative
        paid: NonNegativeMoney
        rate: Annotated[Decimal, Quantized(4, ge=0)]   # another quantiser
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import GetCoreSchemaHandler
from pydantic_core import PydanticCustomError, core_schema

ROUNDING = ROUND_HALF_UP
MINOR_UNITS = 2  # IDR and THB both account in hundredths (sen / satang)


# The quantum of each number of places, built once (quantize runs for every amount of every
# request and response).
_EXPONENTS = tuple(Decimal(1).scaleb(-places) for places in range(9))


def _exponent(places: int) -> Decimal:
    return _EXPONENTS[places] if 0 <= places < len(_EXPONENTS) else Decimal(1).scaleb(-places)


def quantize(amount: Decimal | int | str, places: int = MINOR_UNITS) -> Decimal:
    """Round to `places` decimals, half away from zero (ROUND_HALF_UP): 2.345 -> 2.35,
    -2.345 -> -2.35. This is the rounding the seeds' tariffs and tax rules assume."""
    value = amount if isinstance(amount, Decimal) else Decimal(amount)
    if not value.is_finite():
        raise ValueError("amount must be finite")
    result = value.quantize(_exponent(places), rounding=ROUNDING)
    return result if result != 0 else abs(result)  # never "-0.00"


def to_minor(amount: Decimal, places: int = MINOR_UNITS) -> int:
    """Whole minor units (satang, sen) of an amount that has at most `places` decimals."""
    scaled = amount.scaleb(places)
    if scaled != scaled.to_integral_value():
        raise ValueError(f"{amount} has more than {places} decimal places")
    return int(scaled)


def from_minor(units: int, places: int = MINOR_UNITS) -> Decimal:
    """The amount of `units` minor units, with exactly `places` decimals."""
    return quantize(Decimal(units).scaleb(-places), places)


def format_amount(amount: Decimal, places: int = MINOR_UNITS) -> str:
    """The wire form: fixed point with exactly `places` decimals ("1234.50")."""
    return f"{quantize(amount, places):.{places}f}"


def parse_amount(value: Any, places: int = MINOR_UNITS) -> Decimal:
    """A finite Decimal with at most `places` decimals, from str, int, float or Decimal."""
    if isinstance(value, bool):
        raise PydanticCustomError("money_type", "Amount must be a string or a number")
    if isinstance(value, Decimal):
        number = value
    elif isinstance(value, int):
        number = Decimal(value)
    elif isinstance(value, float):
        number = _decimal(str(value))
    elif isinstance(value, str):
        number = _decimal(value.strip())
    else:
        raise PydanticCustomError("money_type", "Amount must be a string or a number")
    if not number.is_finite():
        raise PydanticCustomError("money_finite", "Amount must be a finite number")
    try:
        result = number.quantize(_exponent(places), rounding=ROUNDING)
    except InvalidOperation:
        # More digits than the decimal context holds (28): no column stores such an amount.
        raise PydanticCustomError("money_range", "Amount is too large") from None
    if result != number:  # rounding changed it: it had more places than allowed
        raise PydanticCustomError(
            "money_places",
            "Amount must have at most {places} decimal places",
            {"places": places},
        )
    return result if result != 0 else abs(result)  # never "-0.00"


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation:
        raise PydanticCustomError("money_parsing", "Amount must be a decimal number") from None


def _out_of_range(word: str, bound: Decimal | int) -> PydanticCustomError:
    return PydanticCustomError(
        "money_range", f"Amount must be {word} {{bound}}", {"bound": str(bound)}
    )


@dataclass(frozen=True)
class Quantized:
    """Pydantic metadata for a Decimal amount: `places` decimals, optional bounds."""

    places: int = MINOR_UNITS
    ge: Decimal | int | None = None
    gt: Decimal | int | None = None
    le: Decimal | int | None = None

    def validate(self, value: Any) -> Decimal:
        """Parse, check the places and the bounds."""
        number = parse_amount(value, self.places)
        if self.ge is not None and not number >= self.ge:
            raise _out_of_range("greater than or equal to", self.ge)
        if self.gt is not None and not number > self.gt:
            raise _out_of_range("greater than", self.gt)
        if self.le is not None and not number <= self.le:
            raise _out_of_range("less than or equal to", self.le)
        return number

    def serialize(self, value: Decimal) -> str:
        """The wire form of an amount."""
        return format_amount(value, self.places)

    def pattern(self, *, exact: bool = False) -> str:
        """The JSON Schema pattern of the wire form (`exact`: as we write it)."""
        sign = "" if (self.ge is not None and self.ge >= 0) or self.gt is not None else "-?"
        if not self.places:
            return rf"^{sign}\d+$"
        decimals = rf"\.\d{{{self.places}}}" if exact else rf"(\.\d{{1,{self.places}}})?"
        return rf"^{sign}\d+{decimals}$"

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        accepted = core_schema.str_schema(pattern=self.pattern())
        written = core_schema.str_schema(pattern=self.pattern(exact=True))
        return core_schema.no_info_plain_validator_function(
            self.validate,
            json_schema_input_schema=core_schema.union_schema(
                [accepted, core_schema.float_schema()]
            ),
            serialization=core_schema.plain_serializer_function_ser_schema(
                self.serialize, return_schema=written, when_used="json"
            ),
        )


Money = Annotated[Decimal, Quantized()]
NonNegativeMoney = Annotated[Decimal, Quantized(ge=0)]
PositiveMoney = Annotated[Decimal, Quantized(gt=0)]
