"""Motor receipts and tax invoices (issue 4 item 9, decision 0049).

A premium payment that succeeds gets one `payment_receipts` row of type TAX_INVOICE (one
document serves as receipt and full tax invoice: "ใบเสร็จรับเงิน/ใบกำกับภาษี"), numbered
RC-YYYY-NNNNNNN from a gap-free counter per calendar year (Asia/Bangkok), its PDF stored and
recorded as a RECEIPT policy document. `issue_receipt` is idempotent: a second call for the
same payment (a duplicated gateway callback, a repeated confirmation) returns the existing row.

Amounts on the receipt (pure rules at the top of this module):
- the policy's premium = net premium (base - discounts) + stamp duty + VAT (THAI_MOTOR.md);
- a FULL payment carries the policy's stamp duty and VAT as they are;
- instalment k of n carries a share of each by *cumulative rounding*: with P the premium,
  C(k) the sum of instalments 1..k and X the policy's stamp duty or VAT,
  share(k) = round(X x C(k) / P) - round(X x C(k-1) / P) (ROUND_HALF_UP to the satang), so
  the shares of all instalments add up to X exactly (the sum telescopes to round(X x P / P));
- net premium = amount - stamp share - VAT share; amount before VAT = amount - VAT share.

Services only flush; the request's unit of work commits.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from pythainlp.util import bahttext
from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import raw
from polis.db.raw import Statement
from polis.db.rows import adopt, columns, flush_pending
from polis.documents import pdf
from polis.documents.storage import sha256_of_path
from polis.motor import documents
from polis.motor.document_schemas import Party, ReceiptOut
from polis.motor.models import Customer, MotorPayment, MotorPolicy, PaymentReceipt
from polis.platform.errors import NotFound
from polis.platform.money import quantize
from polis.reference.service import get_config

BANGKOK = ZoneInfo("Asia/Bangkok")
RECEIPT_TYPE = "TAX_INVOICE"
PREMIUM_TYPES = ("PREMIUM", "INSTALLMENT")
ZERO = Decimal("0.00")

# --- pure rules ------------------------------------------------------------------------------


def receipt_number(year: int, serial: int) -> str:
    """RC-YYYY-NNNNNNN (7 digits; at most 9,999,999 receipts a year)."""
    if not 1 <= serial <= 9_999_999:
        raise ValueError("receipt serial out of range")
    return f"RC-{year:04d}-{serial:07d}"


def share(part: Decimal, premium: Decimal, paid_before: Decimal, amount: Decimal) -> Decimal:
    """The satang of `part` (the policy's stamp duty or VAT) carried by a payment of `amount`
    after `paid_before` of `premium` was scheduled before it (cumulative rounding)."""
    if premium <= 0:
        raise ValueError("premium must be positive")
    after = quantize(part * (paid_before + amount) / premium)
    before = quantize(part * paid_before / premium)
    return after - before


@dataclass(frozen=True)
class ReceiptAmounts:
    """One payment's amount split as a tax invoice shows it (the parts sum exactly)."""

    amount: Decimal
    net_premium: Decimal
    stamp_duty: Decimal
    vat: Decimal

    @property
    def amount_before_vat(self) -> Decimal:
        """Net premium plus stamp duty: the value VAT is charged on."""
        return self.net_premium + self.stamp_duty


def split_amount(
    *,
    amount: Decimal,
    premium: Decimal,
    stamp_duty: Decimal,
    vat: Decimal,
    paid_before: Decimal = ZERO,
) -> ReceiptAmounts:
    """A payment's net premium, stamp duty and VAT: the whole of the policy's for a FULL
    payment (amount == premium, nothing before), a cumulative-rounding share otherwise."""
    stamp_part = share(stamp_duty, premium, paid_before, amount)
    vat_part = share(vat, premium, paid_before, amount)
    return ReceiptAmounts(
        amount=amount,
        net_premium=amount - stamp_part - vat_part,
        stamp_duty=stamp_part,
        vat=vat_part,
    )


def policy_fees(policy: MotorPolicy) -> tuple[Decimal, Decimal]:
    """(stamp duty, VAT) from the policy's itemised fees (coverage_details.premium_breakdown,
    written at bind from the quote); a policy without them counts its fees as VAT."""
    fees = ((policy.coverage_details or {}).get("premium_breakdown") or {}).get("fees") or []
    by_code = {str(f.get("code")): Decimal(str(f.get("amount"))) for f in fees}
    if "vat" in by_code:
        return by_code.get("stamp_duty", ZERO), by_code["vat"]
    return ZERO, policy.fees or ZERO


_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def _words_below_thousand(n: int) -> list[str]:
    out: list[str] = []
    if n >= 100:
        out += [_ONES[n // 100], "hundred"]
        n %= 100
    if n >= 20:
        out.append(_TENS[n // 10] + (f"-{_ONES[n % 10]}" if n % 10 else ""))
    elif n or not out:
        out.append(_ONES[n])
    return out


def english_words(n: int) -> str:
    """A whole number in English words: 1234 -> 'one thousand two hundred thirty-four'."""
    if n == 0:
        return "zero"
    parts: list[str] = []
    for value, name in ((10**9, "billion"), (10**6, "million"), (1000, "thousand"), (1, "")):
        if n >= value:
            parts += _words_below_thousand(n // value) + ([name] if name else [])
            n %= value
    return " ".join(parts)


def amount_in_words(amount: Decimal, lang: str) -> str:
    """Thai: pythainlp's bahttext (645.21 -> 'หกร้อยสี่สิบห้าบาทยี่สิบเอ็ดสตางค์'). bahttext takes
    a float, not a Decimal: the amount is rounded to the satang first and converted with
    float(); every amount of 2 decimals below 10^12 survives the round trip (15 significant
    digits). English: 'Six hundred forty-five baht and twenty-one satang'."""
    value = quantize(amount)
    if lang == "th":
        return str(bahttext(float(value)))
    baht = int(value)
    satang = int((value - baht) * 100)
    text_ = f"{english_words(baht)} baht"
    text_ += f" and {english_words(satang)} satang" if satang else " only"
    return text_[0].upper() + text_[1:]


def buddhist_date(value: date, lang: str) -> str:
    """The date as printed: Thai with the Buddhist-era year (2026 -> 2569), else English."""
    return pdf.long_date(value, lang)


# --- numbering -------------------------------------------------------------------------------

_NEXT_NUMBER = text(
    "INSERT INTO motor.receipt_number_counters AS c (year, last_number) VALUES (:y, 1)"
    " ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + 1,"
    " updated_at = now() RETURNING last_number"
)


async def next_receipt_number(session: AsyncSession, year: int) -> str:
    """The next number of `year` from motor.receipt_number_counters. The upsert locks the
    year's row until the transaction ends, so numbers are handed out in commit order and a
    rolled-back issue gives its number back: no gaps (decision 0049). `issue_receipt` does
    not call this: it takes the number in the statement that inserts the receipt."""
    serial = await session.scalar(_NEXT_NUMBER, {"y": year})
    return receipt_number(year, int(serial or 0))


# The receipt row and its number in one statement, the last one of the confirming
# transaction (decision 0072): the counter upsert locks the year's row until commit, so
# nothing but the commit follows it. The counter moves only when the payment has no receipt
# of the type yet (the caller holds the payment's row lock, so no other issue of the same
# payment runs meanwhile); then nothing is inserted and the caller reads the existing row.
# The number is formatted as receipt_number() does: :prefix is 'RC-YYYY-', the serial 7
# digits (the counter's CHECK stops at 9,999,999, so lpad never truncates). Sent by
# polis.db.raw (decision 0073); the parameters of INSERT ... SELECT carry their types.
_ISSUE = Statement(
    "WITH n AS ("
    " INSERT INTO motor.receipt_number_counters AS c (year, last_number)"
    " SELECT CAST(:year AS integer), 1 WHERE NOT EXISTS (SELECT 1 FROM motor.payment_receipts r"
    "  WHERE r.payment_id = CAST(:payment_id AS uuid)"
    "  AND r.receipt_type = CAST(:receipt_type AS varchar))"
    " ON CONFLICT (year) DO UPDATE SET last_number = c.last_number + 1, updated_at = now()"
    " RETURNING CAST(:prefix AS varchar) || lpad(last_number::text, 7, '0') AS number)"
    " INSERT INTO motor.payment_receipts (payment_id, receipt_number, receipt_type,"
    " file_format, tax_invoice_number, vat_amount, withholding_tax, issued_date, issued_by,"
    " language, delivery_method, created_by)"
    " SELECT CAST(:payment_id AS uuid), n.number, CAST(:receipt_type AS varchar), 'PDF',"
    " n.number, CAST(:vat AS numeric(12, 2)), NULL, CAST(:issued_date AS date),"
    " CAST(:user_id AS uuid), CAST(:language AS varchar), 'DOWNLOAD', CAST(:user_id AS uuid)"
    f" FROM n RETURNING {columns(PaymentReceipt)}"
)
_EXISTING = select(PaymentReceipt).where(
    PaymentReceipt.payment_id == bindparam("payment_id"),
    PaymentReceipt.receipt_type == RECEIPT_TYPE,
)
_POLICY = select(MotorPolicy).where(MotorPolicy.id == bindparam("policy_id"))
_LANGUAGE = select(Customer.preferred_language).where(Customer.id == bindparam("customer_id"))


# --- services --------------------------------------------------------------------------------


async def _paid_before(session: AsyncSession, payment: MotorPayment) -> Decimal:
    """The scheduled instalments before this one (their amounts, whatever their status: the
    shares are fixed by the schedule)."""
    if payment.installment_number in (None, 1) or payment.policy_id is None:
        return ZERO
    total = await session.scalar(
        select(func.coalesce(func.sum(MotorPayment.total_amount), 0)).where(
            MotorPayment.policy_id == payment.policy_id,
            MotorPayment.payment_direction == "INCOMING",
            MotorPayment.payment_type.in_(PREMIUM_TYPES),
            MotorPayment.installment_number < payment.installment_number,
        )
    )
    return Decimal(total or 0)


async def amounts_for(
    session: AsyncSession, payment: MotorPayment, policy: MotorPolicy
) -> ReceiptAmounts:
    """The payment's split by the policy's breakdown."""
    stamp, vat = policy_fees(policy)
    return split_amount(
        amount=payment.total_amount,
        premium=policy.total_premium,
        stamp_duty=stamp,
        vat=vat,
        paid_before=await _paid_before(session, payment),
    )


async def issue_receipt(
    session: AsyncSession,
    payment: MotorPayment,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
    policy: MotorPolicy | None = None,
    language: str | None = None,
) -> PaymentReceipt | None:
    """The payment's receipt / tax invoice, issued once: None for anything but a successful
    incoming premium payment of a policy; the existing row when there is one. Only the row:
    its PDF and the policy's schedule and certificate are rendered on first request
    (documents.ensure_documents). The caller holds the payment's row lock (confirm_payment),
    which serialises two issues, and calls this last: the statement that numbers the receipt
    locks the year's counter row until commit (decision 0072). `policy` (the payment's) and
    `language` (its customer's preferred language) save their reads when the caller has
    them."""
    if (
        payment.payment_status != "SUCCESS"
        or payment.payment_direction != "INCOMING"
        or payment.payment_type not in PREMIUM_TYPES
        or payment.policy_id is None
    ):
        return None
    now = now or datetime.now(UTC)
    issued = now.astimezone(BANGKOK).date()
    if policy is None or policy.id != payment.policy_id:
        policy = (await session.execute(_POLICY, {"policy_id": payment.policy_id})).scalar_one()
    if language is None:
        language = await session.scalar(_LANGUAGE, {"customer_id": policy.customer_id})
    amounts = await amounts_for(session, payment, policy)
    await flush_pending(session)
    # Everything slow is done: the number is taken by the last statement before commit.
    issued_row = await raw.fetchrow(
        session,
        _ISSUE,
        {
            "year": issued.year,
            "payment_id": payment.id,
            "receipt_type": RECEIPT_TYPE,
            "prefix": f"RC-{issued.year:04d}-",
            "vat": amounts.vat,
            "issued_date": issued,
            "user_id": user_id,
            # premiums are paid by individuals: no withholding tax (decision 0049)
            "language": language if language in ("th", "en") else "th",
        },
    )
    if issued_row is None:  # issued before (a repeated confirmation, a duplicated callback)
        return (await session.execute(_EXISTING, {"payment_id": payment.id})).scalar_one()
    return adopt(session, PaymentReceipt, issued_row)


async def store_receipt_pdf(
    session: AsyncSession,
    policy: MotorPolicy,
    row: PaymentReceipt,
    *,
    user_id: uuid.UUID | None = None,
) -> Any:
    """Render the receipt row's PDF in its language, store it as a RECEIPT document version
    and point the row's file_path at it (the caller holds the policy's row lock)."""
    payment = (
        await session.execute(select(MotorPayment).where(MotorPayment.id == row.payment_id))
    ).scalar_one()
    customer = await session.get(Customer, policy.customer_id)
    view = await _view(session, row, payment, policy, customer, row.language or "th")
    doc = await documents.store_receipt(session, policy, view, user_id=user_id)
    row.file_path = doc.file_path
    await session.flush()
    return doc


async def _seller(session: AsyncSession, lang: str) -> Party:
    suffix = "TH" if lang == "th" else "EN"
    branch = str(await get_config(session, "MOTOR_INSURER_BRANCH"))
    if lang == "th":
        branch_text = "สำนักงานใหญ่" if branch == "00000" else f"สาขาที่ {branch}"
    else:
        branch_text = "Head office" if branch == "00000" else f"Branch {branch}"
    return Party(
        name=str(await get_config(session, f"MOTOR_INSURER_NAME_{suffix}")),
        address=str(await get_config(session, f"MOTOR_INSURER_ADDRESS_{suffix}")),
        tax_id=str(await get_config(session, "MOTOR_INSURER_TAX_ID")),
        branch=branch_text,
    )


async def _view(
    session: AsyncSession,
    row: PaymentReceipt,
    payment: MotorPayment,
    policy: MotorPolicy,
    customer: Customer | None,
    lang: str,
) -> ReceiptOut:
    amounts = await amounts_for(session, payment, policy)
    buyer = Party(
        name=documents.customer_name(customer, lang),
        address=documents.format_address(customer.address if customer else None, lang),
    )
    return ReceiptOut(
        id=row.id,
        payment_id=row.payment_id,
        receipt_number=row.receipt_number,
        receipt_type=row.receipt_type,
        file_format=row.file_format,
        tax_invoice_number=row.tax_invoice_number,
        vat_amount=row.vat_amount,
        withholding_tax=row.withholding_tax,
        issued_date=row.issued_date,
        issued_by=row.issued_by,
        language=row.language,
        delivery_method=row.delivery_method,
        delivered_at=row.delivered_at,
        created_at=row.created_at,
        created_by=row.created_by,
        sha256=sha256_of_path(row.file_path) if row.file_path else None,
        policy_number=policy.policy_number,
        installment_number=payment.installment_number,
        total_installments=payment.total_installments,
        payment_date=payment.payment_date,
        payment_method=payment.payment_method,
        transaction_reference=payment.transaction_reference,
        description=documents.premium_description(policy, payment, lang),
        amount=amounts.amount,
        net_premium=amounts.net_premium,
        stamp_duty=amounts.stamp_duty,
        amount_before_vat=amounts.amount_before_vat,
        amount_in_words=amount_in_words(amounts.amount, lang),
        issued_date_text=buddhist_date(row.issued_date, lang),
        display_language="th" if lang == "th" else "en",
        seller=await _seller(session, lang),
        buyer=buyer,
    )


async def _load(
    session: AsyncSession, payment_id: uuid.UUID
) -> tuple[PaymentReceipt, MotorPayment, MotorPolicy, Customer | None]:
    found = (
        await session.execute(
            select(PaymentReceipt, MotorPayment)
            .join(MotorPayment, MotorPayment.id == PaymentReceipt.payment_id)
            .where(
                PaymentReceipt.payment_id == payment_id,
                PaymentReceipt.receipt_type == RECEIPT_TYPE,
            )
        )
    ).one_or_none()
    if found is None:
        exists = await session.scalar(select(MotorPayment.id).where(MotorPayment.id == payment_id))
        if exists is None:
            raise NotFound(f"Payment {payment_id} does not exist.")
        raise NotFound(
            f"Payment {payment_id} has no receipt (it is not a paid premium payment).",
            type_="receipt-not-found",
        )
    row, payment = found[0], found[1]
    policy = (
        await session.execute(select(MotorPolicy).where(MotorPolicy.id == payment.policy_id))
    ).scalar_one()
    return row, payment, policy, await session.get(Customer, policy.customer_id)


async def get_receipt(session: AsyncSession, payment_id: uuid.UUID, lang: str) -> ReceiptOut:
    """The payment's receipt as JSON, worded in `lang`."""
    row, payment, policy, customer = await _load(session, payment_id)
    return await _view(session, row, payment, policy, customer, lang)


async def receipt_pdf(
    session: AsyncSession,
    payment_id: uuid.UUID,
    lang: str,
    *,
    now: datetime | None = None,
) -> tuple[bytes, str]:
    """The receipt's PDF in `lang` and its file name. The first PDF handed out sets
    delivered_at (delivery_method DOWNLOAD); the stored file of the row's language is
    returned as it was issued (rendered and stored on the first request, decision 0049
    "Amended"), another language is rendered now."""
    row, payment, policy, customer = await _load(session, payment_id)
    if row.file_path is None:
        await documents.ensure_documents(session, policy)
        await session.refresh(row)
    view = await _view(session, row, payment, policy, customer, lang)
    if row.delivered_at is None:
        row.delivered_at = now or datetime.now(UTC)
        await session.flush()
    data = documents.read_or_render_receipt(row.file_path, row.language, view)
    return data, documents.receipt_file_name(row.receipt_number, lang)


async def regenerate_receipt(
    session: AsyncSession,
    policy: MotorPolicy,
    payment_id: uuid.UUID,
    lang: str,
    *,
    user_id: uuid.UUID | None,
) -> Any:
    """A new RECEIPT document version of a payment of `policy` (NotFound otherwise)."""
    row, payment, owner, customer = await _load(session, payment_id)
    if owner.id != policy.id:
        raise NotFound(
            f"Payment {payment_id} is not a payment of policy {policy.policy_number}.",
            type_="receipt-not-found",
        )
    view = await _view(session, row, payment, policy, customer, lang)
    return await documents.store_receipt(session, policy, view, user_id=user_id)
