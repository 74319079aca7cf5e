"""Request and response bodies of the motor customer, consent and vehicle endpoints.

Field names are the seed's column names. The national id is accepted in clear, checked with
python-stdnum and only ever returned masked (`*********5636`). Every CHECK of the seed's
tables is repeated here, so bad input is a 422 naming the field before the database (the
backstop) sees it. Decision 0035.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, field_validator

from polis.motor import customer_rules as rules
from polis.platform.money import Quantized
from polis.platform.schemas import RequestSchema, Schema

Gender = Literal["MALE", "FEMALE", "OTHER"]
AccountStatus = Literal["ACTIVE", "INACTIVE", "SUSPENDED", "CLOSED"]
SettableAccountStatus = Literal["ACTIVE", "INACTIVE", "SUSPENDED"]
KycStatus = Literal["PENDING", "IN_PROGRESS", "VERIFIED", "REJECTED"]
Language = Literal["th", "en"]
ConsentType = Literal[
    "MARKETING",
    "SMS",
    "EMAIL",
    "PHONE",
    "DATA_SHARING",
    "PROFILING",
    "SENSITIVE_DATA",
    "CROSS_BORDER_TRANSFER",
    "PRIVACY_NOTICE",
]
Channel = Literal["WEB", "MOBILE", "AGENT", "CALL_CENTER", "PAPER"]
VehicleType = Literal["SEDAN", "HATCHBACK", "SUV", "PICKUP", "VAN", "MOTORCYCLE"]
FuelType = Literal["GASOLINE", "DIESEL", "HYBRID", "ELECTRIC", "LPG", "CNG"]
UsageType = Literal["PERSONAL", "COMMERCIAL", "TAXI", "RENTAL"]
ParkingLocation = Literal["GARAGE", "COVERED", "STREET", "PARKING_LOT"]


Email = Annotated[str, Field(min_length=3, max_length=255), AfterValidator(rules.normalise_email)]
Phone = Annotated[str, Field(min_length=8, max_length=25), AfterValidator(rules.normalise_phone)]
NationalId = Annotated[
    str,
    Field(min_length=13, max_length=17, examples=["1101700230708"]),
    AfterValidator(rules.normalise_national_id),
]
Name = Annotated[str, Field(min_length=1, max_length=100), AfterValidator(rules.check_name)]
NameEn = Annotated[
    str,
    Field(min_length=1, max_length=100),
    AfterValidator(lambda v: rules.check_name(v, latin_only=True)),
]
Registration = Annotated[
    str,
    Field(min_length=1, max_length=30, examples=["1กข 1234"]),
    AfterValidator(rules.normalise_registration),
]
Chassis = Annotated[
    str,
    Field(min_length=6, max_length=60, examples=["MR0FZ29G501234567"]),
    AfterValidator(rules.normalise_chassis),
]
Place = Annotated[str, Field(min_length=1, max_length=100)]
EngineSize = Annotated[Decimal, Quantized(1, gt=0, le=Decimal("999.9"))]
Line = Annotated[str, Field(min_length=1, max_length=200)]


def _check_birth(value: date | None) -> date | None:
    if value is not None and not date(1900, 1, 1) <= value <= date.today():
        raise ValueError("must be between 1900-01-01 and today")
    return value


BirthDate = Annotated[date, AfterValidator(_check_birth)]


# --- address -------------------------------------------------------------------------------


class AddressIn(RequestSchema):
    """A Thai address. `tambon`, `amphoe` and `province` take the Thai or English name (an
    administrative prefix such as ตำบล/แขวง, อำเภอ/เขต, จังหวัด is ignored) or the DOPA code
    (6, 4, 2 digits); the server checks the tambon lies in the amphoe, the amphoe in the
    province and the postal code is the tambon's, and stores names and codes."""

    house_no: str = Field(min_length=1, max_length=50, examples=["99/1"])
    moo: str | None = Field(default=None, max_length=10, examples=["4"])
    village: Line | None = Field(default=None, examples=["หมู่บ้านสวนสน"])
    building: Line | None = None
    soi: Line | None = Field(default=None, examples=["สุขุมวิท 71"])
    road: Line | None = Field(default=None, examples=["สุขุมวิท"])
    tambon: Place = Field(examples=["พระโขนงเหนือ"])
    amphoe: Place = Field(examples=["วัฒนา"])
    province: Place = Field(examples=["กรุงเทพมหานคร"])
    postal_code: str = Field(pattern=r"^[1-9][0-9]{4}$", examples=["10110"])


class Address(Schema):
    """A stored address: the parts given, the place names (Thai and English) and codes."""

    house_no: str
    moo: str | None = None
    village: str | None = None
    building: str | None = None
    soi: str | None = None
    road: str | None = None
    tambon: str
    tambon_en: str | None = None
    tambon_code: str | None = None
    amphoe: str
    amphoe_en: str | None = None
    amphoe_code: str | None = None
    province: str
    province_en: str | None = None
    province_code: str | None = None
    postal_code: str


# --- customers -----------------------------------------------------------------------------


class CustomerCreate(RequestSchema):
    """A new customer. The three consent flags, when given, are recorded as consent decisions
    made through `consent_channel`."""

    email: Email = Field(examples=["somchai.j@example.co.th"])
    phone_number: Phone | None = Field(default=None, examples=["0812345678"])
    national_id: NationalId | None = None
    first_name: Name = Field(examples=["สมชาย"])
    last_name: Name = Field(examples=["ใจดี"])
    first_name_en: NameEn | None = Field(default=None, examples=["Somchai"])
    last_name_en: NameEn | None = Field(default=None, examples=["Jaidee"])
    date_of_birth: BirthDate | None = Field(default=None, examples=["1985-04-12"])
    gender: Gender | None = None
    address: AddressIn | None = None
    kyc_status: KycStatus = "PENDING"
    preferred_language: Language = "th"
    marketing_consent: bool | None = None
    sms_notifications: bool | None = None
    email_notifications: bool | None = None
    consent_channel: Channel = Field(
        default="AGENT", description="Channel the consent flags above were given through"
    )


_CONSENT_FLAG_MESSAGE = "is changed with POST /customers/{id}/consents, which records the decision"


class CustomerUpdate(RequestSchema):
    """Customer fields to change (send the version read as If-Match); absent fields stay.
    Consent flags are changed through /consents, closing an account through DELETE."""

    email: Email | None = None
    phone_number: Phone | None = None
    national_id: NationalId | None = None
    first_name: Name | None = None
    last_name: Name | None = None
    first_name_en: NameEn | None = None
    last_name_en: NameEn | None = None
    date_of_birth: BirthDate | None = None
    gender: Gender | None = None
    address: AddressIn | None = None
    kyc_status: KycStatus | None = None
    account_status: SettableAccountStatus | None = None
    preferred_language: Language | None = None
    marketing_consent: bool | None = Field(default=None, description=_CONSENT_FLAG_MESSAGE)
    sms_notifications: bool | None = Field(default=None, description=_CONSENT_FLAG_MESSAGE)
    email_notifications: bool | None = Field(default=None, description=_CONSENT_FLAG_MESSAGE)

    @field_validator("marketing_consent", "sms_notifications", "email_notifications")
    @classmethod
    def _consent_elsewhere(cls, value: Any) -> Any:
        raise ValueError(_CONSENT_FLAG_MESSAGE)

    @field_validator(
        "email",
        "first_name",
        "last_name",
        "kyc_status",
        "account_status",
        "preferred_language",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class Customer(Schema):
    """A customer; national_id is the masked display value, never the number."""

    id: uuid.UUID
    email: str
    phone_number: str | None
    national_id: str | None = Field(examples=["*********0708"])
    first_name: str
    last_name: str
    first_name_en: str | None
    last_name_en: str | None
    date_of_birth: date | None
    gender: str | None
    address: Address | None
    account_status: str | None
    kyc_status: str | None
    preferred_language: str | None
    marketing_consent: bool | None
    sms_notifications: bool | None
    email_notifications: bool | None
    created_at: datetime | None
    updated_at: datetime | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
    version: int | None


# --- consents ------------------------------------------------------------------------------


class ConsentCreate(RequestSchema):
    """A consent decision: granted true records a grant; false withdraws the open grant of
    that type (or, without one, records a refusal)."""

    consent_type: ConsentType
    granted: bool
    channel: Channel
    purpose: str | None = Field(default=None, min_length=1, max_length=2000)
    consent_text_version: str | None = Field(
        default=None, min_length=1, max_length=20, examples=["1.0"]
    )
    evidence: dict[str, Any] | None = Field(
        default=None, examples=[{"form_id": "WEB-CONSENT-2026-01"}]
    )


class ConsentRecord(Schema):
    """One consent decision (motor.consent_records)."""

    id: uuid.UUID
    customer_id: uuid.UUID
    consent_type: str
    purpose: str
    granted: bool
    channel: str
    consent_text_version: str
    granted_at: datetime
    withdrawn_at: datetime | None
    withdrawal_channel: str | None
    ip_address: str | None
    user_agent: str | None
    evidence: dict[str, Any] | None
    recorded_by: uuid.UUID | None
    created_at: datetime | None
    updated_at: datetime | None

    @field_validator("ip_address", mode="before")
    @classmethod
    def _ip(cls, value: Any) -> Any:
        return None if value is None else str(value)


# --- vehicles ------------------------------------------------------------------------------


def _check_year(value: int) -> int:
    return rules.check_year_of_manufacture(value)


Year = Annotated[int, Field(examples=[2022]), AfterValidator(_check_year)]


class VehicleCreate(RequestSchema):
    """A vehicle of a customer. `province` takes the Thai or English name or the 2-digit
    code and is stored as the Thai name, as on the plate; engine_size is in litres."""

    registration_number: Registration
    province: Place = Field(examples=["กรุงเทพมหานคร"])
    make: str = Field(min_length=1, max_length=50, examples=["TOYOTA"])
    model: str = Field(min_length=1, max_length=100, examples=["Corolla Cross"])
    year_of_manufacture: Year
    engine_size: EngineSize | None = Field(default=None, examples=["1.8"])
    vehicle_type: VehicleType
    fuel_type: FuelType
    color: str | None = Field(default=None, min_length=1, max_length=30, examples=["WHITE"])
    chassis_number: Chassis | None = None
    usage_type: UsageType = "PERSONAL"
    annual_mileage: int | None = Field(default=None, gt=0, le=1_000_000, examples=[15000])
    parking_location: ParkingLocation | None = None
    is_active: bool = True


class VehicleUpdate(RequestSchema):
    """Vehicle fields to change; absent fields stay. The owner is not changed here (a sold
    vehicle is deleted and registered under its new owner)."""

    registration_number: Registration | None = None
    province: Place | None = None
    make: str | None = Field(default=None, min_length=1, max_length=50)
    model: str | None = Field(default=None, min_length=1, max_length=100)
    year_of_manufacture: Year | None = None
    engine_size: EngineSize | None = None
    vehicle_type: VehicleType | None = None
    fuel_type: FuelType | None = None
    color: str | None = Field(default=None, min_length=1, max_length=30)
    chassis_number: Chassis | None = None
    usage_type: UsageType | None = None
    annual_mileage: int | None = Field(default=None, gt=0, le=1_000_000)
    parking_location: ParkingLocation | None = None
    is_active: bool | None = None

    @field_validator(
        "registration_number",
        "province",
        "make",
        "model",
        "year_of_manufacture",
        "vehicle_type",
        "fuel_type",
        "usage_type",
        "is_active",
    )
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class Vehicle(Schema):
    """A customer's vehicle."""

    id: uuid.UUID
    customer_id: uuid.UUID
    registration_number: str
    province: str
    make: str
    model: str
    year_of_manufacture: int
    engine_size: EngineSize | None
    vehicle_type: str
    fuel_type: str
    color: str | None
    chassis_number: str | None
    usage_type: str | None
    annual_mileage: int | None
    parking_location: str | None
    is_active: bool | None
    created_at: datetime | None
    updated_at: datetime | None
    created_by: uuid.UUID | None
    updated_by: uuid.UUID | None
