"""PDPA (Thailand, motor customers) and UU PDP (Indonesia, health members): export of one
person's data and anonymisation that keeps the financial records (decision 0059).

The work is done by the database functions of migrations 0005/0020
(`motor.export_customer_data`, `motor.anonymize_customer_data`, `member.export_member_data`,
`member.anonymize_member_data`), which also write the EXPORT / ANONYMIZE audit row with the
transaction's audit context (who, role, ip, request id). This module adds what SQL cannot:
the decrypted identifiers of the person's own export, the refusals (409 while a policy is
live or a claim is open, 404 for an unknown person) and idempotency (a second anonymisation
changes nothing and answers with the first one's time).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.audit.models import AuditLog
from polis.health.models import Claim, Member
from polis.health.models import Payment as HealthPayment
from polis.motor.customers import LIVE_POLICY_STATUSES
from polis.motor.models import Customer, MotorClaim, MotorPolicy
from polis.platform.crypto import CryptoError, get_keyring
from polis.platform.errors import Conflict, NotFound

MOTOR_SUBJECT = "motor.customers"
HEALTH_SUBJECT = "member.member"

# Motor claims still being worked (the seed's idx_claims_active).
OPEN_MOTOR_CLAIM = ("REPORTED", "ASSIGNED", "INVESTIGATING", "ASSESSED", "APPROVED")
# Health claims not yet at an end state (decision 0018's lifecycle), and payments in flight.
OPEN_HEALTH_CLAIM = (
    "submitted",
    "adjudicating",
    "pended",
    "approved",
    "partially_approved",
    "payment_pending",
    "appealed",
)
OPEN_HEALTH_PAYMENT = ("pending", "processing", "sent")
COVERED_MEMBER = ("pending", "active", "suspended")


@dataclass(frozen=True)
class Anonymized:
    """When the subject was anonymised, and whether this request found it already done."""

    subject: str
    id: uuid.UUID
    anonymized_at: datetime
    already_anonymized: bool


def _loads(raw: Any) -> dict[str, Any]:
    """The function's JSON; numbers with a fraction (amounts) stay exact decimal strings
    (decision 0041)."""
    if isinstance(raw, dict):
        return raw
    data: dict[str, Any] = json.loads(raw, parse_float=str)
    return data


def _open(blob: bytes | None) -> str | None:
    if blob is None:
        return None
    try:
        return get_keyring().decrypt(blob)
    except CryptoError:
        return None  # a key no longer held: the masked value stays in the export


async def _close_login(session: AsyncSession, user_id: uuid.UUID | None) -> None:
    """The person's self-service login goes with their data (migration 0025,
    iam.anonymize_login): TERMINATED, its name, email, phone and second factor erased, its
    sessions ended (the tokens stop working at once) and those values scrubbed from its audit
    rows. The row stays: audit rows and sessions name its id. The caller unlinked it."""
    if user_id is not None:
        await session.execute(text("select iam.anonymize_login(:u)"), {"u": user_id})


async def _anonymized_at(session: AsyncSession, subject: str, record: uuid.UUID) -> datetime | None:
    stmt = select(func.min(AuditLog.timestamp)).where(
        AuditLog.table_name == subject,
        AuditLog.record_id == record,
        AuditLog.operation == "ANONYMIZE",
    )
    found: datetime | None = await session.scalar(stmt)
    return found


# --- motor (PDPA) -----------------------------------------------------------------------


async def _customer(session: AsyncSession, customer_id: uuid.UUID, *, lock: bool) -> Customer:
    """Any customer, deleted ones included (the right of access outlives the account)."""
    stmt = select(Customer).where(Customer.id == customer_id)
    if lock:
        stmt = stmt.with_for_update()
    customer = (await session.execute(stmt)).scalar_one_or_none()
    if customer is None:
        raise NotFound(f"Customer {customer_id} does not exist.", type_="customer-not-found")
    return customer


async def export_customer(session: AsyncSession, customer_id: uuid.UUID) -> dict[str, Any]:
    """Everything held about one motor customer, their national id decrypted."""
    customer = await _customer(session, customer_id, lock=False)
    raw = await session.scalar(
        text("select motor.export_customer_data(:c)::text"), {"c": customer_id}
    )
    data = _loads(raw)
    national_id = _open(customer.national_id_encrypted)
    if national_id is not None:
        data["customer"]["national_id"] = national_id
    return data


async def anonymize_customer(session: AsyncSession, customer_id: uuid.UUID) -> Anonymized:
    """Anonymise a motor customer: 404 unknown, 409 with a live policy or an open claim,
    the earlier outcome when already done."""
    await _customer(session, customer_id, lock=True)
    done = await _anonymized_at(session, MOTOR_SUBJECT, customer_id)
    if done is not None:
        return Anonymized(MOTOR_SUBJECT, customer_id, done, already_anonymized=True)
    live = await session.scalar(
        select(func.count())
        .select_from(MotorPolicy)
        .where(
            MotorPolicy.customer_id == customer_id,
            MotorPolicy.status.in_(LIVE_POLICY_STATUSES),
            MotorPolicy.deleted_at.is_(None),
        )
    )
    if live:
        raise Conflict(
            f"Customer {customer_id} has {live} active or suspended policies; the data of a"
            " live contract cannot be erased.",
            type_="customer-has-active-policy",
        )
    open_claims = await session.scalar(
        select(func.count())
        .select_from(MotorClaim)
        .join(MotorPolicy, MotorPolicy.id == MotorClaim.policy_id)
        .where(
            MotorPolicy.customer_id == customer_id,
            MotorClaim.status.in_(OPEN_MOTOR_CLAIM),
            MotorClaim.deleted_at.is_(None),
        )
    )
    if open_claims:
        raise Conflict(
            f"Customer {customer_id} has {open_claims} open claims; settle or close them first.",
            type_="customer-has-open-claims",
        )
    login = await session.scalar(select(Customer.user_id).where(Customer.id == customer_id))
    if login is not None:
        await session.execute(
            update(Customer).where(Customer.id == customer_id).values(user_id=None)
        )
        await _close_login(session, login)
    await session.execute(text("select motor.anonymize_customer_data(:c)"), {"c": customer_id})
    session.expire_all()
    done = await _anonymized_at(session, MOTOR_SUBJECT, customer_id)
    assert done is not None  # written by the function in this transaction
    return Anonymized(MOTOR_SUBJECT, customer_id, done, already_anonymized=False)


# --- health (UU PDP) --------------------------------------------------------------------


async def _member(session: AsyncSession, member_ref: str, *, lock: bool) -> Member:
    """A member by id (UUID) or member number."""
    try:
        where = Member.id == uuid.UUID(member_ref)
    except ValueError:
        where = Member.member_number == member_ref
    stmt = select(Member).where(where)
    if lock:
        stmt = stmt.with_for_update()
    member = (await session.execute(stmt)).scalar_one_or_none()
    if member is None:
        raise NotFound(f"Member {member_ref} does not exist.", type_="member-not-found")
    return member


async def export_member(session: AsyncSession, member_ref: str) -> dict[str, Any]:
    """Everything held about one health member, their NIK and passport number decrypted."""
    member = await _member(session, member_ref, lock=False)
    raw = await session.scalar(text("select member.export_member_data(:m)::text"), {"m": member.id})
    data = _loads(raw)
    for column in ("national_id", "passport_number"):
        value = _open(getattr(member, f"{column}_encrypted"))
        if value is not None:
            data["member"][column] = value
    return data


async def anonymize_member(session: AsyncSession, member_ref: str) -> Anonymized:
    """Anonymise a health member: 404 unknown, 409 while covered or with an open claim or
    payment, the earlier outcome when already done."""
    member = await _member(session, member_ref, lock=True)
    member_id = member.id
    done = await _anonymized_at(session, HEALTH_SUBJECT, member_id)
    if done is not None:
        return Anonymized(HEALTH_SUBJECT, member_id, done, already_anonymized=True)
    if member.status in COVERED_MEMBER:
        raise Conflict(
            f"Member {member_ref} is {member.status}; terminate the membership first.",
            type_="member-is-covered",
        )
    open_claims = await session.scalar(
        select(func.count())
        .select_from(Claim)
        .where(Claim.member_id == member_id, Claim.status.in_(OPEN_HEALTH_CLAIM))
    )
    open_payments = await session.scalar(
        select(func.count())
        .select_from(HealthPayment)
        .where(
            HealthPayment.payee_type == "member",
            HealthPayment.payee_id == member_id,
            HealthPayment.payment_status.in_(OPEN_HEALTH_PAYMENT),
        )
    )
    if open_claims or open_payments:
        raise Conflict(
            f"Member {member_ref} has {open_claims} open claims and {open_payments} payments in"
            " flight; finish them first.",
            type_="member-has-open-claims",
        )
    login = member.user_id
    if login is not None:
        await session.execute(update(Member).where(Member.id == member_id).values(user_id=None))
        await _close_login(session, login)
    await session.execute(text("select member.anonymize_member_data(:m)"), {"m": member_id})
    session.expire_all()
    done = await _anonymized_at(session, HEALTH_SUBJECT, member_id)
    assert done is not None
    return Anonymized(HEALTH_SUBJECT, member_id, done, already_anonymized=False)
