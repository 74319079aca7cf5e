"""PromptPay QR: the EMVCo merchant-presented payload Thai banks scan (decision 0037).

Pure functions: build a payload, parse and verify one, render it as a PNG (segno).

    credit_transfer(phone="0801234567")                       # static, no amount
    credit_transfer(national_id="1111111111111", amount=Decimal("645.21"))
    bill_payment("010753600031501", ref1="QT2026ABC", ref2="P1", amount=Decimal("645.21"))

Layout (THAI_MOTOR.md): `00` "01", `01` "11" static / "12" dynamic (amount present), `29`
credit transfer {`00` AID A000000677010111, `01` phone | `02` national or tax id | `03`
e-wallet} or `30` bill payment {`00` AID A000000677010112, `01` biller id, `02` ref1,
`03` ref2}, `58` "TH", `53` "764", `54` amount with two decimals, `63` CRC-16/CCITT-FALSE over
everything before it including "6304", 4 uppercase hex digits. Fields are written in that
order (the published vectors' order); the parser accepts any order.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Literal

import segno

AID_CREDIT_TRANSFER = "A000000677010111"
AID_BILL_PAYMENT = "A000000677010112"
COUNTRY = "TH"
CURRENCY_THB = "764"
MAX_AMOUNT = Decimal("9999999999.99")  # 13 characters, the tag's practical limit

ProxyType = Literal["phone", "national_id", "ewallet"]
_PROXY_TAG: dict[ProxyType, str] = {"phone": "01", "national_id": "02", "ewallet": "03"}
_TAG_PROXY: dict[str, ProxyType] = {v: k for k, v in _PROXY_TAG.items()}
_REF = re.compile(r"^[0-9A-Z]{1,20}$")


class PromptPayError(ValueError):
    """A value cannot go into a payload, or a payload does not parse or verify."""


# --- CRC ----------------------------------------------------------------------------------


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final xor
    (check value of b"123456789" is 0x29B1)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021) if crc & 0x8000 else (crc << 1)
            crc &= 0xFFFF
    return crc


def crc_hex(payload_without_crc_value: str) -> str:
    """The 4 uppercase hex digits of the CRC over the text (which ends with "6304")."""
    return f"{crc16_ccitt_false(payload_without_crc_value.encode('ascii')):04X}"


# --- building -----------------------------------------------------------------------------


def tlv(tag: str, value: str) -> str:
    """One field: 2-digit tag, 2-digit length, value (at most 99 characters)."""
    if len(tag) != 2 or not tag.isdigit():
        raise PromptPayError(f"bad tag {tag!r}")
    if not value or len(value) > 99:
        raise PromptPayError(f"tag {tag}: value length must be 1..99, got {len(value)}")
    if not value.isascii():
        raise PromptPayError(f"tag {tag}: value must be ASCII")
    return f"{tag}{len(value):02d}{value}"


def format_amount(amount: Decimal) -> str:
    """Tag 54: the amount with exactly two decimals; refuses more places, zero or negative."""
    if not amount.is_finite() or amount <= 0:
        raise PromptPayError("amount must be positive")
    if amount != amount.quantize(Decimal("0.01")):
        raise PromptPayError("amount must have at most two decimal places")
    if amount > MAX_AMOUNT:
        raise PromptPayError("amount is too large for a PromptPay QR")
    return f"{amount:.2f}"


def normalise_phone(phone: str) -> str:
    """Digits only; a leading 0 becomes 66; left-padded with zeros to 13 (0801234567 ->
    0066801234567)."""
    digits = re.sub(r"\D", "", phone)
    if digits.startswith("0"):
        digits = "66" + digits[1:]
    if not 9 <= len(digits) <= 13:
        raise PromptPayError("phone number must have 9 to 13 digits")
    return digits.rjust(13, "0")


def _digits(value: str, length: int, what: str) -> str:
    digits = re.sub(r"[\s-]", "", value)
    if len(digits) != length or not digits.isdigit():
        raise PromptPayError(f"{what} must be {length} digits")
    return digits


def _finish(fields: list[str], amount: Decimal | None) -> str:
    head = [tlv("00", "01"), tlv("01", "11" if amount is None else "12")]
    tail = [tlv("58", COUNTRY), tlv("53", CURRENCY_THB)]
    if amount is not None:
        tail.append(tlv("54", format_amount(amount)))
    body = "".join(head + fields + tail) + "6304"
    return body + crc_hex(body)


def credit_transfer(
    *,
    phone: str | None = None,
    national_id: str | None = None,
    ewallet: str | None = None,
    amount: Decimal | None = None,
) -> str:
    """A credit-transfer payload (tag 29) to one proxy: a phone, a national or tax id (13
    digits), or an e-wallet id (15 digits). Static without an amount, dynamic with one."""
    given = [(t, v) for t, v in (("01", phone), ("02", national_id), ("03", ewallet)) if v]
    if len(given) != 1:
        raise PromptPayError("give exactly one of phone, national_id, ewallet")
    tag, value = given[0]
    if tag == "01":
        value = normalise_phone(value)
    elif tag == "02":
        value = _digits(value, 13, "national_id")
    else:
        value = _digits(value, 15, "ewallet")
    merchant = tlv("00", AID_CREDIT_TRANSFER) + tlv(tag, value)
    return _finish([tlv("29", merchant)], amount)


def bill_payment(
    biller_id: str, *, ref1: str, ref2: str | None = None, amount: Decimal | None = None
) -> str:
    """A bill-payment payload (tag 30): biller id (15 digits: tax id + 2-digit suffix), ref1
    and optional ref2 (1..20 of 0-9 A-Z, upper-cased) carrying the policy or payment
    reference."""
    merchant = tlv("00", AID_BILL_PAYMENT) + tlv("01", _digits(biller_id, 15, "biller_id"))
    for tag, ref, name in (("02", ref1, "ref1"), ("03", ref2, "ref2")):
        if ref is None:
            continue
        ref = ref.strip().upper()
        if not _REF.match(ref):
            raise PromptPayError(f"{name} must be 1 to 20 characters of 0-9 and A-Z")
        merchant += tlv(tag, ref)
    return _finish([tlv("30", merchant)], amount)


# --- parsing ------------------------------------------------------------------------------


def parse_tlv(text: str) -> list[tuple[str, str]]:
    """The (tag, value) fields of a TLV string, in order; PromptPayError when malformed."""
    fields: list[tuple[str, str]] = []
    i = 0
    while i < len(text):
        head = text[i : i + 4]
        if len(head) < 4 or not head.isdigit():
            raise PromptPayError(f"malformed field header at {i}")
        length = int(head[2:])
        value = text[i + 4 : i + 4 + length]
        if len(value) != length:
            raise PromptPayError(f"field {head[:2]} at {i} is truncated")
        fields.append((head[:2], value))
        i += 4 + length
    return fields


@dataclass(frozen=True)
class Payload:
    """A parsed, CRC-verified PromptPay payload."""

    dynamic: bool
    kind: Literal["credit_transfer", "bill_payment"]
    proxy_type: ProxyType | None
    proxy: str | None
    biller_id: str | None
    ref1: str | None
    ref2: str | None
    amount: Decimal | None
    currency: str
    country: str
    crc: str


def verify_crc(payload: str) -> bool:
    """Does the payload end with "6304" + the CRC of everything up to it?"""
    return (
        len(payload) > 8
        and payload[-8:-4] == "6304"
        and payload[-4:].upper() == payload[-4:]
        and crc_hex(payload[:-4]) == payload[-4:]
    )


def parse(payload: str) -> Payload:
    """Parse and verify a payload; PromptPayError when it does not parse, its CRC does not
    verify, or it is not a PromptPay credit transfer or bill payment."""
    payload = payload.strip()
    if not payload.isascii():
        raise PromptPayError("payload must be ASCII")
    fields = parse_tlv(payload)
    if not fields or fields[-1][0] != "63" or len(fields[-1][1]) != 4:
        raise PromptPayError("payload must end with the CRC field 63")
    if not verify_crc(payload):
        raise PromptPayError("CRC does not verify")
    tags = [t for t, _ in fields]
    if len(set(tags)) != len(tags):
        raise PromptPayError("a field occurs twice")
    top = dict(fields)
    if top.get("00") != "01":
        raise PromptPayError("payload format indicator must be 01")
    if top.get("01") not in ("11", "12"):
        raise PromptPayError("point of initiation must be 11 (static) or 12 (dynamic)")
    if ("29" in top) == ("30" in top):
        raise PromptPayError("payload must carry exactly one of tag 29 and tag 30")
    amount: Decimal | None = None
    if "54" in top:
        try:
            amount = Decimal(top["54"])
        except InvalidOperation:
            raise PromptPayError("amount does not parse") from None
        if not amount.is_finite() or amount <= 0:
            raise PromptPayError("amount must be positive")
    dynamic = top["01"] == "12"
    if "29" in top:
        sub = dict(parse_tlv(top["29"]))
        if sub.get("00") != AID_CREDIT_TRANSFER:
            raise PromptPayError("tag 29 is not a PromptPay credit transfer")
        proxies = [(t, v) for t, v in sub.items() if t in _TAG_PROXY]
        if len(proxies) != 1:
            raise PromptPayError("tag 29 must name exactly one proxy")
        tag, proxy = proxies[0]
        return Payload(
            dynamic, "credit_transfer", _TAG_PROXY[tag], proxy, None, None, None, amount,
            top.get("53", ""), top.get("58", ""), payload[-4:],
        )  # fmt: skip
    sub = dict(parse_tlv(top["30"]))
    if sub.get("00") != AID_BILL_PAYMENT:
        raise PromptPayError("tag 30 is not a PromptPay bill payment")
    if "01" not in sub or "02" not in sub:
        raise PromptPayError("tag 30 needs a biller id and ref1")
    return Payload(
        dynamic, "bill_payment", None, None, sub["01"], sub["02"], sub.get("03"), amount,
        top.get("53", ""), top.get("58", ""), payload[-4:],
    )  # fmt: skip


# --- rendering ----------------------------------------------------------------------------


def render_png(payload: str, *, scale: int = 8, border: int = 4) -> bytes:
    """The QR code of a payload as PNG bytes (error correction M, as banking apps print)."""
    qr = segno.make_qr(payload, error="m")
    buffer = io.BytesIO()
    qr.save(buffer, kind="png", scale=scale, border=border)
    return buffer.getvalue()
