"""PromptPay QR payloads: the published vectors, CRC-16/CCITT-FALSE, parse-back, PNG."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from polis.motor import promptpay
from polis.motor.promptpay import (
    PromptPayError,
    bill_payment,
    crc16_ccitt_false,
    credit_transfer,
    parse,
    render_png,
    verify_crc,
)

PHONE_VECTOR = "00020101021129370016A000000677010111011300668012345675802TH530376463046197"
NATIONAL_ID_VECTOR = "00020101021129370016A000000677010111021311111111111115802TH530376463047B5A"


def test_crc_check_value() -> None:
    assert crc16_ccitt_false(b"123456789") == 0x29B1
    assert promptpay.crc_hex("123456789") == "29B1"


def test_published_phone_vector() -> None:
    assert credit_transfer(phone="0801234567") == PHONE_VECTOR
    assert credit_transfer(phone="080-123-4567") == PHONE_VECTOR
    parsed = parse(PHONE_VECTOR)
    assert parsed.kind == "credit_transfer"
    assert parsed.proxy_type == "phone"
    assert parsed.proxy == "0066801234567"
    assert parsed.dynamic is False
    assert parsed.amount is None
    assert (parsed.country, parsed.currency, parsed.crc) == ("TH", "764", "6197")


def test_published_national_id_vector() -> None:
    assert credit_transfer(national_id="1111111111111") == NATIONAL_ID_VECTOR
    parsed = parse(NATIONAL_ID_VECTOR)
    assert (parsed.proxy_type, parsed.proxy, parsed.crc) == ("national_id", "1111111111111", "7B5A")


def test_dynamic_bill_payment_carries_references_and_amount() -> None:
    payload = bill_payment("010753600031501", ref1="qt2026abc", ref2="P1", amount=Decimal("645.21"))
    assert payload.startswith("000201010212")
    assert "30580016A00000067701011201150107536000315010209QT2026ABC0302P1" in payload
    assert "5406645.21" in payload
    parsed = parse(payload)
    assert parsed.kind == "bill_payment"
    assert (parsed.biller_id, parsed.ref1, parsed.ref2) == ("010753600031501", "QT2026ABC", "P1")
    assert parsed.amount == Decimal("645.21")
    assert parsed.dynamic is True


def test_amount_always_has_two_decimals() -> None:
    payload = credit_transfer(phone="0801234567", amount=Decimal("500"))
    assert "5406500.00" in payload
    assert parse(payload).amount == Decimal("500.00")


def test_ewallet_proxy() -> None:
    payload = credit_transfer(ewallet="123456789012345", amount=Decimal("1.5"))
    parsed = parse(payload)
    assert (parsed.proxy_type, parsed.proxy, parsed.amount) == (
        "ewallet",
        "123456789012345",
        Decimal("1.50"),
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "exactly one"),
        ({"phone": "0801234567", "national_id": "1111111111111"}, "exactly one"),
        ({"national_id": "12345"}, "13 digits"),
        ({"ewallet": "12345"}, "15 digits"),
        ({"phone": "12"}, "9 to 13"),
        ({"phone": "0801234567", "amount": Decimal("0")}, "positive"),
        ({"phone": "0801234567", "amount": Decimal("-1")}, "positive"),
        ({"phone": "0801234567", "amount": Decimal("1.005")}, "two decimal"),
    ],
)
def test_bad_credit_transfer_input(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(PromptPayError, match=message):
        credit_transfer(**kwargs)  # type: ignore[arg-type]


def test_bad_bill_payment_input() -> None:
    with pytest.raises(PromptPayError, match="biller_id"):
        bill_payment("123", ref1="A")
    with pytest.raises(PromptPayError, match="ref1"):
        bill_payment("010753600031501", ref1="has space")
    with pytest.raises(PromptPayError, match="ref2"):
        bill_payment("010753600031501", ref1="A", ref2="X" * 21)


@pytest.mark.parametrize(
    "payload",
    [
        PHONE_VECTOR[:-1] + "8",  # CRC digit changed
        PHONE_VECTOR.replace("0066801234567", "0066801234568"),  # tampered proxy, old CRC
        NATIONAL_ID_VECTOR[:-4] + "7b5a",  # CRC hex must be upper case
        PHONE_VECTOR[:20],  # truncated
        "",
        "hello world",
    ],
)
def test_tampered_or_malformed_payloads_are_refused(payload: str) -> None:
    with pytest.raises(PromptPayError):
        parse(payload)


def test_tampered_amount_fails_the_crc() -> None:
    payload = credit_transfer(phone="0801234567", amount=Decimal("645.21"))
    tampered = payload.replace("645.21", "045.21")
    assert verify_crc(payload)
    assert not verify_crc(tampered)
    with pytest.raises(PromptPayError, match="CRC"):
        parse(tampered)


def test_png_is_a_png_of_the_payload() -> None:
    png = render_png(PHONE_VECTOR)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(png) > 200


# --- properties ---------------------------------------------------------------------------

amounts = st.none() | st.decimals(
    min_value=Decimal("0.01"), max_value=Decimal("9999999.99"), places=2
)
refs = st.text(alphabet="0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ", min_size=1, max_size=20)
proxies = st.one_of(
    st.builds(lambda d: {"phone": "0" + d}, st.from_regex(r"[1-9][0-9]{8}", fullmatch=True)),
    st.builds(lambda d: {"national_id": d}, st.from_regex(r"[0-9]{13}", fullmatch=True)),
    st.builds(lambda d: {"ewallet": d}, st.from_regex(r"[0-9]{15}", fullmatch=True)),
)


@given(proxy=proxies, amount=amounts)
def test_every_credit_transfer_parses_back_and_verifies(
    proxy: dict[str, str], amount: Decimal | None
) -> None:
    payload = credit_transfer(**proxy, amount=amount)
    assert verify_crc(payload)
    parsed = parse(payload)
    assert parsed.dynamic is (amount is not None)
    assert parsed.amount == amount
    if amount is not None:
        assert f"54{len(f'{amount:.2f}'):02d}{amount:.2f}" in payload
    ((kind, value),) = proxy.items()
    expected = promptpay.normalise_phone(value) if kind == "phone" else value
    assert (parsed.proxy_type, parsed.proxy) == (kind, expected)


@given(
    biller=st.from_regex(r"[0-9]{15}", fullmatch=True),
    ref1=refs,
    ref2=st.none() | refs,
    amount=amounts,
)
def test_every_bill_payment_parses_back_and_verifies(
    biller: str, ref1: str, ref2: str | None, amount: Decimal | None
) -> None:
    payload = bill_payment(biller, ref1=ref1, ref2=ref2, amount=amount)
    assert verify_crc(payload)
    parsed = parse(payload)
    assert (parsed.biller_id, parsed.ref1, parsed.ref2, parsed.amount) == (
        biller,
        ref1,
        ref2,
        amount,
    )
    assert promptpay.crc_hex(payload[:-4]) == parsed.crc
