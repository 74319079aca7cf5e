"""Request and response bodies of the gateway, refund and reconciliation routes (decision
0048). Field names are seed 001's column names where a column exists; amounts are decimal
strings in responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field, model_validator

from polis.motor.payment_schemas import Channel, Payment
from polis.platform.money import Money, PositiveMoney
from polis.platform.schemas import RequestSchema, Schema


class CardDetails(RequestSchema):
    """A card to tokenise at the gateway (never stored: only the token, sealed, and the last
    four digits are kept)."""

    number: str = Field(min_length=12, max_length=23, pattern=r"^[0-9 -]+$")
    exp_month: int = Field(ge=1, le=12)
    exp_year: int = Field(ge=2000, le=2100)
    cvc: str = Field(pattern=r"^\d{3,4}$")
    holder_name: str | None = Field(default=None, max_length=100)


class ChargeRequest(RequestSchema):
    """Charge a payment's amount due to a card: a gateway token, or the card's details."""

    card_token: str | None = Field(default=None, min_length=1, max_length=100)
    card: CardDetails | None = None
    payment_channel: Channel | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ChargeRequest:
        if (self.card_token is None) == (self.card is None):
            raise ValueError("give exactly one of card_token and card")
        return self


class ChargeResult(Schema):
    """The payment after a charge attempt, and the attempt's outcome."""

    payment: Payment
    gateway_provider: str
    gateway_transaction_id: str
    status: Literal["SUCCESS", "FAILED", "PENDING"]
    authorization_code: str | None
    response_code: str | None
    response_message: str | None
    card_last_four: str | None
    card_type: str | None


class CallbackResult(Schema):
    """What a gateway callback did: processed, or a duplicate that changed nothing."""

    result: Literal["processed", "duplicate"]
    gateway_transaction_id: str
    payment_id: uuid.UUID | None
    payment_status: str | None


class RefundRequest(RequestSchema):
    """Pay money back for a payment (or execute a PENDING cancellation refund)."""

    amount: PositiveMoney
    reason: str = Field(min_length=1, max_length=500)


class ExpiredAttempt(Schema):
    gateway_transaction_id: str
    payment_id: uuid.UUID


class ReconciliationLine(Schema):
    """One statement line and its verdict."""

    line: int = Field(description="Line number in the file (the header is line 1)")
    date: date
    amount: Money
    reference: str
    bank_transaction_id: str
    status: Literal["MATCHED", "UNMATCHED", "DISPUTED"]
    payment_id: uuid.UUID | None
    expected_amount: Money | None = Field(description="The payment's total_amount")
    reconciled_at: datetime | None
    already_reconciled: bool = Field(
        description="This bank transaction was reconciled by an earlier upload: nothing changed"
    )
    message: str | None


class ReconciliationResult(Schema):
    """Summary and per-line results of a bank statement upload."""

    statement_lines: int
    matched: int
    unmatched: int
    disputed: int
    already_reconciled: int
    lines: list[ReconciliationLine]
