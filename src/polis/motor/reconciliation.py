"""Bank statement reconciliation of motor payments (decision 0048).

The statement is a UTF-8 CSV (a BOM is allowed) with the header
`date,amount,reference,bank_transaction_id` and one credit per line: `date` YYYY-MM-DD,
`amount` a positive decimal with at most 2 places (no thousands separators), `reference` the
bill-payment reference (PromptPay ref1, e.g. MTR20260000004201) or the payment's
`transaction_reference`, `bank_transaction_id` the bank's unique id of the credit.

Each line is matched to an INCOMING payment by reference, then compared by amount:

- MATCHED: the amount is the payment's `total_amount` -> `reconciliation_status` MATCHED and
  `reconciled_at` (kept from the first match);
- DISPUTED: the reference names a payment but the amount differs (or the payment was already
  matched by another bank transaction) -> `reconciliation_status` DISPUTED unless MATCHED;
  `reconciled_at` stays empty;
- UNMATCHED: no payment has the reference. The seed has no table for statement lines, so
  these are answered only.

Each MATCHED or DISPUTED line is kept as a payment_transactions row (CONFIRM, provider
BANK_STATEMENT, `gateway_reference` = `bank_transaction_id`, SUCCESS for matched, FAILED for
disputed), which makes a re-upload idempotent: a bank transaction seen before answers its
earlier verdict with `already_reconciled` and writes nothing.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor.gateway import payment_by_reference
from polis.motor.gateway_schemas import ReconciliationLine, ReconciliationResult
from polis.motor.models import MotorPayment, PaymentTransaction
from polis.platform.errors import BusinessRuleError

PROVIDER = "BANK_STATEMENT"
COLUMNS = ("date", "amount", "reference", "bank_transaction_id")
MAX_LINES = 10_000


class InvalidStatement(BusinessRuleError):
    """A statement file that cannot be read, line by line."""

    type_ = "invalid-statement"
    title = "Invalid Bank Statement"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__(
            f"The bank statement has {len(errors)} error(s); nothing was reconciled.",
            extra={"errors": errors},
        )


@dataclass(frozen=True)
class StatementLine:
    line: int
    date: date
    amount: Decimal
    reference: str
    bank_transaction_id: str


def _err(line: int, column: str, message: str, kind: str) -> dict[str, str]:
    return {"field": f"file.line{line}.{column}", "message": message, "type": kind}


def parse_statement(data: bytes) -> list[StatementLine]:
    """The lines of a statement CSV (pure); InvalidStatement lists every bad field."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidStatement([_err(0, "file", "the file is not UTF-8", "encoding")]) from None
    reader = csv.reader(io.StringIO(text))
    rows = list(reader)
    if not rows:
        raise InvalidStatement([_err(1, "header", "the file is empty", "empty")])
    header = tuple(h.strip().lower() for h in rows[0])
    if header != COLUMNS:
        raise InvalidStatement(
            [_err(1, "header", "the header must be " + ",".join(COLUMNS), "header")]
        )
    if len(rows) - 1 > MAX_LINES:
        raise InvalidStatement([_err(0, "file", f"at most {MAX_LINES} lines", "too_long")])
    errors: list[dict[str, str]] = []
    lines: list[StatementLine] = []
    seen: dict[str, int] = {}
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(COLUMNS):
            errors.append(_err(number, "row", f"expected {len(COLUMNS)} columns", "columns"))
            continue
        raw_date, raw_amount, reference, bank_id = (cell.strip() for cell in row)
        ok = True
        try:
            day = date.fromisoformat(raw_date)
        except ValueError:
            errors.append(_err(number, "date", "expected YYYY-MM-DD", "date"))
            ok = False
        try:
            amount = Decimal(raw_amount)
            if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal("0.01")):
                raise InvalidOperation
        except InvalidOperation:
            errors.append(
                _err(number, "amount", "a positive amount with at most 2 decimals", "amount")
            )
            ok = False
        if not reference or len(reference) > 100:
            errors.append(_err(number, "reference", "1 to 100 characters", "reference"))
            ok = False
        if not bank_id or len(bank_id) > 100:
            errors.append(_err(number, "bank_transaction_id", "1 to 100 characters", "id"))
            ok = False
        elif bank_id in seen:
            errors.append(
                _err(number, "bank_transaction_id", f"repeats line {seen[bank_id]}", "duplicate")
            )
            ok = False
        if ok:
            seen[bank_id] = number
            lines.append(
                StatementLine(number, day, amount.quantize(Decimal("0.01")), reference, bank_id)
            )
    if errors:
        raise InvalidStatement(errors)
    return lines


async def _find_payment(session: AsyncSession, reference: str) -> MotorPayment | None:
    payment = await payment_by_reference(session, reference, lock=True)
    if payment is not None:
        return payment
    result = await session.execute(
        select(MotorPayment)
        .where(
            MotorPayment.transaction_reference == reference,
            MotorPayment.payment_direction == "INCOMING",
        )
        .order_by(MotorPayment.created_at)
        .limit(1)
        .with_for_update()
    )
    return result.scalar_one_or_none()


async def reconcile(
    session: AsyncSession,
    lines: list[StatementLine],
    *,
    user_id: Any = None,
    now: datetime | None = None,
) -> ReconciliationResult:
    """Match each statement line (see the module docstring)."""
    now = now or datetime.now(UTC)
    out: list[ReconciliationLine] = []
    for item in lines:
        payment = await _find_payment(session, item.reference)
        if payment is None:
            out.append(_line(item, "UNMATCHED", None, False, "no payment has this reference"))
            continue
        earlier = await session.scalar(
            select(PaymentTransaction).where(
                PaymentTransaction.gateway_provider == PROVIDER,
                PaymentTransaction.gateway_reference == item.bank_transaction_id,
            )
        )
        if earlier is not None:
            status = "MATCHED" if earlier.status == "SUCCESS" else "DISPUTED"
            out.append(_line(item, status, payment, True, earlier.response_message))
            continue
        message = None
        if item.amount != payment.total_amount:
            status = "DISPUTED"
            message = f"the payment's amount is {payment.total_amount}, the bank's {item.amount}"
        elif payment.reconciliation_status == "MATCHED":
            status = "DISPUTED"
            message = "the payment was already matched by another bank transaction"
        else:
            status = "MATCHED"
        if status == "MATCHED":
            payment.reconciliation_status = "MATCHED"
            payment.reconciled_at = payment.reconciled_at or now
        elif payment.reconciliation_status != "MATCHED":
            payment.reconciliation_status = "DISPUTED"
        payment.updated_by = user_id
        session.add(
            PaymentTransaction(
                payment_id=payment.id,
                transaction_type="CONFIRM",
                amount=item.amount,
                currency="THB",
                status="SUCCESS" if status == "MATCHED" else "FAILED",
                gateway_provider=PROVIDER,
                gateway_reference=item.bank_transaction_id,
                request_payload={
                    "date": item.date.isoformat(),
                    "amount": str(item.amount),
                    "reference": item.reference,
                    "bank_transaction_id": item.bank_transaction_id,
                },
                response_code=status,
                response_message=message,
                occurred_at=datetime.combine(item.date, time(0), tzinfo=UTC),
                created_by=user_id,
                updated_by=user_id,
            )
        )
        await session.flush()
        out.append(_line(item, status, payment, False, message))
    return ReconciliationResult(
        statement_lines=len(out),
        matched=sum(1 for x in out if x.status == "MATCHED"),
        unmatched=sum(1 for x in out if x.status == "UNMATCHED"),
        disputed=sum(1 for x in out if x.status == "DISPUTED"),
        already_reconciled=sum(1 for x in out if x.already_reconciled),
        lines=out,
    )


def _line(
    item: StatementLine,
    status: str,
    payment: MotorPayment | None,
    already: bool,
    message: str | None,
) -> ReconciliationLine:
    return ReconciliationLine(
        line=item.line,
        date=item.date,
        amount=item.amount,
        reference=item.reference,
        bank_transaction_id=item.bank_transaction_id,
        status=status,
        payment_id=payment.id if payment else None,
        expected_amount=payment.total_amount if payment else None,
        reconciled_at=payment.reconciled_at if payment else None,
        already_reconciled=already,
        message=message,
    )
