"""Request and response bodies of the motor payment endpoints (decision 0039). Field names
are seed 001's column names; amounts are decimal strings in responses."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from polis.platform.money import Money, PositiveMoney
from polis.platform.schemas import RequestSchema, Schema

PaymentMethod = Literal[
    "CREDIT_CARD",
    "DEBIT_CARD",
    "BANK_TRANSFER",
    "PROMPTPAY",
    "TRUEMONEY",
    "RABBIT_LINE_PAY",
    "K_PLUS",
    "CASH",
]
Channel = Literal["WEB", "MOBILE", "AGENT", "CALL_CENTER", "BANK", "ATM"]


class PaymentConfirm(RequestSchema):
    """A payment received, recorded by staff: the amount must be the amount due."""

    method: PaymentMethod
    reference: str = Field(
        min_length=1, max_length=100, description="Bank or gateway reference of the money"
    )
    paid_at: datetime = Field(description="When the money was received (not in the future)")
    amount: PositiveMoney = Field(description="Amount received; must equal the amount due")
    payment_channel: Channel | None = None


class Payment(Schema):
    """One motor.payments row, with its bill-payment reference when it is a premium."""

    id: uuid.UUID
    policy_id: uuid.UUID | None
    customer_id: uuid.UUID
    payment_type: str
    payment_direction: str
    amount: Money
    currency: str
    fees: Money
    total_amount: Money
    payment_method: str
    payment_channel: str | None
    payment_status: str
    transaction_reference: str | None
    payment_date: datetime | None
    due_date: date | None
    processed_at: datetime | None
    installment_number: int | None
    total_installments: int | None
    reconciliation_status: str | None
    reference: str | None = Field(
        default=None,
        description="Bill-payment reference (PromptPay ref1) of a premium or instalment",
        examples=["MTR20260000004201"],
    )
    created_at: datetime
    updated_at: datetime | None
    version: int


class PromptPayQR(Schema):
    """A dynamic PromptPay bill-payment payload for the amount due."""

    payload: str
    amount: Money
    reference: str
    biller_id: str
