"""Pure rules of motor customers and vehicles (no I/O): identifier normalisation, the KYC
transition table, consent flags, and the vocabularies of the seed's CHECKs.

Everything here is deterministic and total: a normaliser returns the canonical form or raises
ValueError with a message that never repeats the input (it may be a national id).
Decision 0035 explains each choice.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime
from typing import Final

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.th import pin

# --- vocabularies of the seed's CHECKs (motor.customers, customer_vehicles, consent_records)

GENDERS: Final = ("MALE", "FEMALE", "OTHER")
ACCOUNT_STATUSES: Final = ("ACTIVE", "INACTIVE", "SUSPENDED", "CLOSED")
KYC_STATUSES: Final = ("PENDING", "IN_PROGRESS", "VERIFIED", "REJECTED")
LANGUAGES: Final = ("th", "en")
VEHICLE_TYPES: Final = ("SEDAN", "HATCHBACK", "SUV", "PICKUP", "VAN", "MOTORCYCLE")
FUEL_TYPES: Final = ("GASOLINE", "DIESEL", "HYBRID", "ELECTRIC", "LPG", "CNG")
USAGE_TYPES: Final = ("PERSONAL", "COMMERCIAL", "TAXI", "RENTAL")
PARKING_LOCATIONS: Final = ("GARAGE", "COVERED", "STREET", "PARKING_LOT")
CONSENT_TYPES: Final = (
    "MARKETING",
    "SMS",
    "EMAIL",
    "PHONE",
    "DATA_SHARING",
    "PROFILING",
    "SENSITIVE_DATA",
    "CROSS_BORDER_TRANSFER",
    "PRIVACY_NOTICE",
)
CONSENT_CHANNELS: Final = ("WEB", "MOBILE", "AGENT", "CALL_CENTER", "PAPER")

# --- national id ---------------------------------------------------------------------------


def normalise_national_id(value: str) -> str:
    """The 13 digits of a valid Thai personal identification number (spaces and dashes
    dropped), checked by python-stdnum (length, digits, first digit, mod-11 check digit)."""
    try:
        return str(pin.validate(value))
    except StdnumError:
        raise ValueError("is not a valid Thai national id (13 digits with a check digit)") from None


# --- contact details -----------------------------------------------------------------------

_EMAIL = re.compile(
    r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$"
)


def normalise_email(value: str) -> str:
    """An address as stored: trimmed, lower case (uniqueness ignores case), shape checked."""
    email = value.strip().lower()
    if len(email) > 255 or not _EMAIL.match(email) or ".." in email:
        raise ValueError("is not a valid email address")
    return email


def normalise_phone(value: str) -> str:
    """A phone number as stored: Thai numbers in national form (0 + 8 or 9 digits, +66 and
    0066 folded in), other countries as + and 8-15 digits; spaces, dots, dashes and
    parentheses dropped."""
    compact = re.sub(r"[\s().-]", "", value)
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    if compact.startswith("+66"):
        compact = "0" + compact[3:].lstrip("0")
    if re.fullmatch(r"0[1-9]\d{7,8}", compact):
        return compact
    if re.fullmatch(r"\+[1-9]\d{7,14}", compact):
        return compact
    raise ValueError("is not a valid phone number (Thai 0XXXXXXXX(X) or +country number)")


# --- names ---------------------------------------------------------------------------------

_NAME_PUNCT = " .'-"


def check_name(value: str, *, latin_only: bool = False) -> str:
    """A person's name: letters (Thai or Latin; Latin only for the *_en fields) with the
    combining marks Thai needs, spaces, dots, apostrophes and hyphens; spaces collapsed."""
    name = " ".join(unicodedata.normalize("NFC", value).split())
    if not name:
        raise ValueError("must not be empty")
    has_letter = False
    for ch in name:
        if ch in _NAME_PUNCT:
            continue
        latin = ch.isalpha() and (ch.isascii() or "\u00c0" <= ch <= "\u024f")
        thai = "\u0e01" <= ch <= "\u0e4e" and ch != "\u0e3f"  # Thai letters and marks, not ฿
        if latin_only and not latin:
            raise ValueError("must be written in Latin letters")
        if not (latin or thai):
            raise ValueError("may hold only letters, spaces, dots, apostrophes and hyphens")
        has_letter = True
    if not has_letter:
        raise ValueError("must contain a letter")
    return name


# --- KYC -----------------------------------------------------------------------------------

# From -> the statuses a request may move it to. VERIFIED is final for the API: a verified
# identity changes only when the national id changes (which resets it to PENDING).
KYC_TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "PENDING": frozenset({"IN_PROGRESS", "VERIFIED", "REJECTED"}),
    "IN_PROGRESS": frozenset({"PENDING", "VERIFIED", "REJECTED"}),
    "REJECTED": frozenset({"PENDING", "IN_PROGRESS"}),
    "VERIFIED": frozenset(),
}


def kyc_transition_allowed(current: str, target: str) -> bool:
    """Whether KYC may move from `current` to `target` (staying put is always allowed)."""
    return current == target or target in KYC_TRANSITIONS.get(current, frozenset())


# Statuses a PATCH may set; CLOSED is what DELETE (soft delete) writes.
SETTABLE_ACCOUNT_STATUSES: Final = ("ACTIVE", "INACTIVE", "SUSPENDED")

# --- consent -------------------------------------------------------------------------------

# The summary flag on motor.customers that follows the latest decision of a consent type.
CONSENT_FLAGS: Final[dict[str, str]] = {
    "MARKETING": "marketing_consent",
    "SMS": "sms_notifications",
    "EMAIL": "email_notifications",
}
FLAG_CONSENTS: Final[dict[str, str]] = {flag: kind for kind, flag in CONSENT_FLAGS.items()}

CONSENT_TEXT_VERSION: Final = "1.0"
CONSENT_PURPOSES: Final[dict[str, str]] = {
    "MARKETING": "Offers and news about insurance products",
    "SMS": "Policy, payment and claim notifications by SMS",
    "EMAIL": "Policy, payment and claim notifications by email",
    "PHONE": "Calls about policies, renewals and offers",
    "DATA_SHARING": "Sharing data with partners named in the privacy notice",
    "PROFILING": "Risk and pricing profiles built from customer data",
    "SENSITIVE_DATA": "Processing sensitive personal data (health, biometrics)",
    "CROSS_BORDER_TRANSFER": "Transferring personal data outside Thailand",
    "PRIVACY_NOTICE": "Acknowledgement of the privacy notice",
}

# --- geography -----------------------------------------------------------------------------

_GEO_PREFIXES: Final = (
    "จังหวัด",
    "จ.",
    "อำเภอ",
    "อ.",
    "เขต",
    "ตำบล",
    "ต.",
    "แขวง",
    "changwat ",
    "amphoe ",
    "khet ",
    "tambon ",
    "khwaeng ",
)


def geo_key(value: str) -> str:
    """A place name as compared with ref names: NFC, case folded, spaces collapsed, an
    administrative prefix (จังหวัด, อำเภอ/อ., เขต, ตำบล/ต., แขวง, Amphoe, Khet, ...) dropped."""
    text = " ".join(unicodedata.normalize("NFC", value).split()).casefold()
    for prefix in _GEO_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :].strip()
            break
    return text


def geo_code(value: str, digits: int) -> str | None:
    """`value` when it is a DOPA code of `digits` digits (2 province, 4 amphoe, 6 tambon)."""
    text = value.strip()
    return text if len(text) == digits and text.isdigit() else None


# Everyday spellings of a province that are not its ref name (keys as geo_key gives them).
PROVINCE_ALIASES: Final[dict[str, str]] = {
    "กรุงเทพฯ": "กรุงเทพมหานคร",
    "กรุงเทพ": "กรุงเทพมหานคร",
    "กทม": "กรุงเทพมหานคร",
    "กทม.": "กรุงเทพมหานคร",
    "bangkok metropolis": "กรุงเทพมหานคร",
    "krung thep maha nakhon": "กรุงเทพมหานคร",
}

# --- vehicles ------------------------------------------------------------------------------

MIN_YEAR_OF_MANUFACTURE: Final = 1950


def max_year_of_manufacture(now: datetime | None = None) -> int:
    """Next calendar year (UTC, as the database's CHECK computes it with now())."""
    return (now or datetime.now(UTC)).astimezone(UTC).year + 1


def check_year_of_manufacture(year: int, now: datetime | None = None) -> int:
    """The seed's range: 1950 .. next year."""
    top = max_year_of_manufacture(now)
    if not MIN_YEAR_OF_MANUFACTURE <= year <= top:
        raise ValueError(f"must be between {MIN_YEAR_OF_MANUFACTURE} and {top}")
    return year


_THAI_PLATE = re.compile(r"^(\d{0,2}[\u0e01-\u0e2e]{1,3})(\d{1,4})$")
_NUMERIC_PLATE = re.compile(r"^(\d{1,3})(\d{4})$")
_PLATE_CHARS = re.compile(r"^[0-9A-Z\u0e01-\u0e2e\u0e30-\u0e4e]+$")


def normalise_registration(value: str) -> str:
    """A registration number as stored, so that one plate has one spelling: spaces and
    dashes dropped, Latin letters upper-cased, then the Thai layout rebuilt -
    letters group, one space, number (`1กข 1234`, `กข 99`) - or, for a numeric plate
    (vans, trucks), `NN-NNNN`. Other shapes keep their characters without separators."""
    text = unicodedata.normalize("NFC", value).upper()
    compact = re.sub(r"[\s\-.]", "", text)
    if not compact or len(compact) > 19:
        raise ValueError("must have 1 to 19 letters and digits")
    if not _PLATE_CHARS.match(compact):
        raise ValueError("may hold only Thai letters, Latin letters and digits")
    if not any(ch.isdigit() for ch in compact):
        raise ValueError("must contain digits")
    thai = _THAI_PLATE.match(compact)
    if thai:
        return f"{thai.group(1)} {thai.group(2)}"
    numeric = _NUMERIC_PLATE.match(compact)
    if numeric:
        return f"{numeric.group(1)}-{numeric.group(2)}"
    return compact


_VIN_CHARS = re.compile(r"^[A-HJ-NPR-Z0-9]{17}$")
_FRAME = re.compile(r"^[A-Z0-9]+(-[A-Z0-9]+)*$")


def normalise_chassis(value: str) -> str:
    """A chassis (frame) number as stored: upper case, spaces dropped. 17 characters without
    a dash must be an ISO 3779 VIN (no I, O or Q); the check digit is not enforced (only North
    American VINs carry one). Shorter Japanese frame numbers (`KDH222-0012345`) keep their dash."""
    text = re.sub(r"\s", "", value).upper()
    if not 6 <= len(text) <= 50:
        raise ValueError("must have 6 to 50 characters")
    if not _FRAME.match(text):
        raise ValueError("may hold only letters, digits and single dashes")
    if len(text) == 17 and "-" not in text and not _VIN_CHARS.match(text):
        raise ValueError("is not a valid 17-character VIN (the letters I, O and Q are not used)")
    return text
