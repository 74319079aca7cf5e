"""Motor policies: bind a quote, read and list, cancel with a short-rate refund, and the
daily jobs that suspend overdue and expire ended policies (decision 0039). Services only
flush; the request's unit of work (or the job's transaction) commits."""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from polis.db import raw
from polis.db.raw import Row, Statement
from polis.db.rows import Prefixed, adopt, columns, flush_pending, returned, sync
from polis.iam.models import User
from polis.motor import payments, policy_rules
from polis.motor.models import MotorPayment, MotorPolicy
from polis.motor.payments import PolicyTransitionRefused, set_status
from polis.motor.policy_schemas import PolicyBind, PolicyCancel
from polis.motor.quotes import today_bangkok
from polis.motor.rating_models import Quote
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.pagination import Keyset, PageParams, paginate
from polis.reference.service import get_config

POLICIES_NEWEST_FIRST = Keyset(
    "motor_policies_created", MotorPolicy.created_at, MotorPolicy.id, descending=True
)


class InvalidPolicyRequest(BusinessRuleError):
    """The request cannot be applied, field by field (422)."""

    type_ = "invalid-policy-request"
    title = "Invalid Policy Request"

    def __init__(self, field: str, message: str, kind: str) -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": kind}]},
        )


class QuoteNotBindable(Conflict):
    """The quote is bound, withdrawn or expired."""

    type_ = "quote-not-bindable"
    title = "Quote Not Bindable"


class VehicleAlreadyCovered(Conflict):
    """Another DRAFT, ACTIVE or SUSPENDED policy covers the vehicle in the period."""

    type_ = "vehicle-already-covered"
    title = "Vehicle Already Covered"


# bind_quote's statements, built once and sent by polis.db.raw (decisions 0072 and 0073).
# The quote, locked; the vehicle, locked (binds of one vehicle are serialised: check-then-insert
# is safe), with its customer when not deleted; then, under the vehicle's lock, a live policy
# covering the vehicle in the period and the next policy number in one round trip (a bind
# refused by the clash spends a number: the sequence has gaps anyway, decision 0072).
_BIND_QUOTE = Statement(
    f"SELECT {columns(Quote)} FROM motor.quotes WHERE quote_number = :quote_number FOR UPDATE"
)
_BIND_VEHICLE = Statement(
    "SELECT v.id, c.id AS customer_id FROM motor.customer_vehicles v"
    " LEFT JOIN motor.customers c ON c.id = :customer_id AND c.deleted_at IS NULL"
    " WHERE v.id = :vehicle_id AND v.deleted_at IS NULL"
    " FOR UPDATE OF v"
)
_LIVE = ", ".join(f"'{s}'" for s in policy_rules.LIVE_STATUSES)
_BIND_CLASH_AND_NUMBER = Statement(
    "SELECT nextval('motor.policy_number_seq') AS seq, clash.policy_number, clash.status"
    " FROM (SELECT 1) AS one LEFT JOIN LATERAL (SELECT p.policy_number, p.status"
    "  FROM motor.policies p WHERE p.vehicle_id = :vehicle_id AND p.deleted_at IS NULL"
    f"  AND p.status IN ({_LIVE}) AND p.start_date < :end_date AND p.end_date > :start_date"
    "  LIMIT 1) AS clash ON true"
)
# The rows as stored (INSERT ... RETURNING: no read-back). JSONB parameters are JSON text.
_POLICY_VALUES = (
    "policy_number",
    "customer_id",
    "vehicle_id",
    "agent_id",
    "policy_type",
    "coverage_details",
    "base_premium",
    "discounts",
    "fees",
    "total_premium",
    "start_date",
    "end_date",
    "policy_period_months",
    "status",
    "no_claim_discount",
    "auto_renewal",
    "renewal_count",
    "payment_plan",
    "payment_frequency",
    "created_by",
    "updated_by",
    "version",
)
_INSERT_POLICY = Statement(
    f"INSERT INTO motor.policies ({', '.join(_POLICY_VALUES)}) VALUES ("
    + ", ".join(
        "CAST(:coverage_details AS jsonb)" if name == "coverage_details" else f":{name}"
        for name in _POLICY_VALUES
    )
    + f") RETURNING {columns(MotorPolicy)}"
)
# The schedule in one statement whatever the number of payments: one array per column
# (payments.schedule_values' keys), one row per element.
_PAYMENT_VALUES = (
    ("policy_id", "uuid"),
    ("customer_id", "uuid"),
    ("payment_type", "varchar"),
    ("payment_direction", "varchar"),
    ("amount", "numeric"),
    ("currency", "varchar"),
    ("fees", "numeric"),
    ("total_amount", "numeric"),
    ("payment_method", "varchar"),
    ("payment_channel", "varchar"),
    ("payment_status", "varchar"),
    ("due_date", "date"),
    ("installment_number", "integer"),
    ("total_installments", "integer"),
    ("created_by", "uuid"),
    ("updated_by", "uuid"),
)
_INSERT_PAYMENTS = raw.unnest_insert("motor.payments", _PAYMENT_VALUES, columns(MotorPayment))
# The quote BOUND to its policy (the columns the ORM's flush of these changes wrote).
_QUOTE_BOUND = Statement(
    "UPDATE motor.quotes SET status = 'BOUND', policy_id = :policy_id, updated_by = :user_id,"
    " version = :version WHERE id = :id"
)


def _coverage(quote: Quote | Row) -> dict[str, Any]:
    breakdown = quote.breakdown or {}
    return {
        **quote.coverage_details,
        "quote_number": quote.quote_number,
        "coverage_option": quote.coverage_option,
        "vehicle_class": quote.vehicle_class,
        "sum_insured": None if quote.sum_insured is None else str(quote.sum_insured),
        "rate_table_version": quote.rate_table_version,
        "premium_breakdown": {
            "discounts": breakdown.get("discounts", []),
            "fees": breakdown.get("fees", []),
        },
    }


async def bind_quote(
    session: AsyncSession,
    body: PolicyBind,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> tuple[MotorPolicy, list[MotorPayment]]:
    """A DRAFT policy from a QUOTED, unexpired quote, with its payment schedule; the quote
    becomes BOUND. 409 when the quote cannot be bound or the vehicle is covered."""
    now = now or datetime.now(UTC)
    today = today_bangkok(now)
    await flush_pending(session)
    quote = await raw.fetchrow(session, _BIND_QUOTE, {"quote_number": body.quote_number})
    if quote is None:
        raise InvalidPolicyRequest("quote_number", "no such quote", "unknown_reference")
    held = sync(session, Quote, quote)  # a Quote the session holds reads the locked row
    if quote.status != "QUOTED":
        raise QuoteNotBindable(
            f"Quote {quote.quote_number} is {quote.status}.", extra={"quote_status": quote.status}
        )
    if quote.expires_at <= now:
        raise QuoteNotBindable(
            f"Quote {quote.quote_number} expired at {quote.expires_at.isoformat()}.",
            extra={"quote_status": "EXPIRED"},
        )
    if quote.vehicle_id is None or quote.customer_id is None:
        raise InvalidPolicyRequest(
            "quote_number",
            "the quote names no registered vehicle: quote again with vehicle_id",
            "quote_without_vehicle",
        )
    plan_months = policy_rules.INSTALMENTS[body.payment_plan]
    if plan_months > quote.policy_period_months:
        raise InvalidPolicyRequest(
            "payment_plan",
            f"{body.payment_plan} needs a term of at least {plan_months} months",
            "plan_longer_than_term",
        )
    if body.agent_id is not None and await session.get(User, body.agent_id) is None:
        raise InvalidPolicyRequest("agent_id", "no such user", "unknown_reference")
    # Serialise binds per vehicle: the row lock makes check-then-insert safe.
    found = await raw.fetchrow(
        session, _BIND_VEHICLE, {"vehicle_id": quote.vehicle_id, "customer_id": quote.customer_id}
    )
    if found is None or found.customer_id is None:
        raise InvalidPolicyRequest(
            "quote_number", "the quote's customer or vehicle was deleted", "deleted_reference"
        )
    numbered = await returned(
        session,
        _BIND_CLASH_AND_NUMBER,
        {
            "vehicle_id": quote.vehicle_id,
            "start_date": quote.start_date,
            "end_date": quote.end_date,
        },
    )
    if numbered.policy_number is not None:
        raise VehicleAlreadyCovered(
            f"Policy {numbered.policy_number} ({numbered.status}) already covers this vehicle"
            " in the period.",
            extra={"policy_number": numbered.policy_number, "status": numbered.status},
        )

    policy = adopt(
        session,
        MotorPolicy,
        await returned(
            session,
            _INSERT_POLICY,
            {
                "policy_number": policy_rules.policy_number(today.year, int(numbered.seq)),
                "customer_id": quote.customer_id,
                "vehicle_id": quote.vehicle_id,
                "agent_id": body.agent_id,
                "policy_type": quote.policy_type,
                "coverage_details": json.dumps(_coverage(quote)),
                "base_premium": quote.base_premium,
                "discounts": quote.discounts,
                "fees": quote.fees,
                "total_premium": quote.total_premium,
                "start_date": quote.start_date,
                "end_date": quote.end_date,
                "policy_period_months": quote.policy_period_months,
                "status": "DRAFT",
                "no_claim_discount": quote.no_claim_discount,
                "auto_renewal": body.auto_renewal,
                "renewal_count": 0,
                "payment_plan": body.payment_plan,
                "payment_frequency": policy_rules.FREQUENCY[body.payment_plan],
                "created_by": user_id,
                "updated_by": user_id,
                "version": 0,
            },
        ),
    )
    schedule = payments.schedule_values(
        policy, method=body.payment_method, channel=body.payment_channel, user_id=user_id
    )
    inserted = await raw.fetch(
        session,
        _INSERT_PAYMENTS,
        raw.arrays(_PAYMENT_VALUES, schedule),
    )
    # in schedule order (by instalment; FULL has one payment)
    inserted.sort(key=lambda r: r.installment_number or 0)
    rows = [adopt(session, MotorPayment, r) for r in inserted]
    bound = {
        "status": "BOUND",
        "policy_id": policy.id,
        "updated_by": user_id,
        "version": (quote.version or 0) + 1,
    }
    await raw.execute(session, _QUOTE_BOUND, {**bound, "id": quote.id, "user_id": user_id})
    if held is not None:  # as the ORM's flush of these changes left it
        for name, value in bound.items():
            set_committed_value(held, name, value)
    await flush_pending(session)
    return policy, rows


async def get_policy(
    session: AsyncSession, policy_number: str, *, lock: bool = False
) -> MotorPolicy:
    """The live policy with this number; NotFound when there is none."""
    stmt = select(MotorPolicy).where(
        MotorPolicy.policy_number == policy_number, MotorPolicy.deleted_at.is_(None)
    )
    if lock:
        stmt = stmt.with_for_update()
    policy = (await session.execute(stmt)).scalar_one_or_none()
    if policy is None:
        raise NotFound(f"Policy {policy_number} does not exist.")
    return policy


# The policy's columns, then each payment's under `m_` (payments.PAYMENT_ORDER).
_POLICY_WITH_PAYMENTS = Statement(
    f"SELECT {columns(MotorPolicy, 'p')}, {columns(MotorPayment, 'm', prefix='m_')}"
    " FROM motor.policies p LEFT JOIN motor.payments m ON m.policy_id = p.id"
    " WHERE p.policy_number = :number AND p.deleted_at IS NULL"
    " ORDER BY m.payment_direction, coalesce(m.installment_number, 0), m.created_at, m.id"
)


async def get_policy_with_payments(
    session: AsyncSession, policy_number: str
) -> tuple[Row, list[Prefixed]]:
    """The live policy with this number and its payments (payments.policy_payments' order),
    in one statement, as rows (read only: their columns as attributes); NotFound when there
    is none."""
    await flush_pending(session)
    rows = await raw.fetch(session, _POLICY_WITH_PAYMENTS, {"number": policy_number})
    if not rows:
        raise NotFound(f"Policy {policy_number} does not exist.")
    return rows[0], [Prefixed(r, "m_") for r in rows if r["m_id"] is not None]


async def list_policies(
    session: AsyncSession,
    params: PageParams,
    *,
    customer_id: uuid.UUID | None = None,
    vehicle_id: uuid.UUID | None = None,
    status: str | None = None,
) -> tuple[list[MotorPolicy], str | None]:
    """Live policies, newest first (keyset), filtered."""
    stmt = select(MotorPolicy).where(MotorPolicy.deleted_at.is_(None))
    if customer_id is not None:
        stmt = stmt.where(MotorPolicy.customer_id == customer_id)
    if vehicle_id is not None:
        stmt = stmt.where(MotorPolicy.vehicle_id == vehicle_id)
    if status is not None:
        stmt = stmt.where(MotorPolicy.status == status)
    return await paginate(session, stmt, POLICIES_NEWEST_FIRST, params)


async def cancel_policy(
    session: AsyncSession,
    policy_number: str,
    body: PolicyCancel,
    *,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> tuple[MotorPolicy, policy_rules.Refund, MotorPayment | None]:
    """Cancel from `effective_date`: unpaid instalments CANCELLED, and what was paid beyond
    the earned premium (short-rate scale) becomes a PENDING OUTGOING REFUND payment."""
    now = now or datetime.now(UTC)
    policy = await get_policy(session, policy_number, lock=True)
    current = policy.status or "ACTIVE"
    if not policy_rules.can_transition(current, "CANCELLED"):
        raise PolicyTransitionRefused(policy.policy_number, current, "CANCELLED")
    if body.effective_date >= policy.end_date:
        raise InvalidPolicyRequest(
            "effective_date",
            f"effective_date must be before the end date {policy.end_date}",
            "after_end",
        )
    paid, method = await payments.paid_total(session, policy.id)
    refund = policy_rules.cancellation_refund(
        total_premium=policy.total_premium,
        paid=paid,
        start=policy.start_date,
        end=policy.end_date,
        effective=body.effective_date,
        period_months=policy.policy_period_months,
    )
    set_status(policy, "CANCELLED", user_id)
    await payments.cancel_pending(session, policy.id, user_id)
    row = None
    if refund.amount > 0:
        row = payments.refund_row(
            policy, refund.amount, method or "BANK_TRANSFER", today_bangkok(now), user_id
        )
        session.add(row)
        await session.flush()
    record = {k: str(v) for k, v in asdict(refund).items()}
    policy.coverage_details = {
        **policy.coverage_details,
        "cancellation": {
            "reason": body.reason,
            "effective_date": body.effective_date.isoformat(),
            "cancelled_at": now.isoformat(),
            "cancelled_by": None if user_id is None else str(user_id),
            "refund": record,
            "short_rate_table": policy_rules.short_rate_table().name,
            "refund_payment_id": None if row is None else str(row.id),
        },
    }
    await session.flush()
    await session.refresh(policy)
    return policy, refund, row


async def suspend_overdue(session: AsyncSession, today: date) -> list[str]:
    """ACTIVE policies with an instalment unpaid past POLICY_GRACE_PERIOD_DAYS become
    SUSPENDED; the numbers suspended (a second run the same day finds none)."""
    grace = int(await get_config(session, payments.GRACE_KEY))
    candidates = (
        await session.execute(
            select(MotorPolicy)
            .where(
                MotorPolicy.status == "ACTIVE",
                MotorPolicy.deleted_at.is_(None),
                MotorPolicy.id.in_(
                    select(MotorPayment.policy_id).where(
                        MotorPayment.payment_direction == "INCOMING",
                        MotorPayment.payment_type.in_(payments.PREMIUM_TYPES),
                        MotorPayment.payment_status == "PENDING",
                        MotorPayment.due_date < today - timedelta(days=grace),
                    )
                ),
            )
            .order_by(MotorPolicy.id)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    done = []
    for policy in candidates:
        if await payments.overdue_instalments(session, policy.id, today, grace):
            set_status(policy, "SUSPENDED", None)
            done.append(policy.policy_number)
    await session.flush()
    return done


async def expire_policies(session: AsyncSession, today: date) -> list[str]:
    """ACTIVE and SUSPENDED policies whose end date has come (cover runs [start, end))
    become EXPIRED; the numbers expired (a second run finds none)."""
    rows = (
        await session.execute(
            select(MotorPolicy)
            .where(
                MotorPolicy.status.in_(("ACTIVE", "SUSPENDED")),
                MotorPolicy.deleted_at.is_(None),
                MotorPolicy.end_date <= today,
            )
            .order_by(MotorPolicy.id)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    done = []
    for policy in rows:
        set_status(policy, "EXPIRED", None)
        done.append(policy.policy_number)
    await session.flush()
    # Paid renewals take over from the policies they renew (decision 0047).
    from polis.motor.renewals import activate_due_renewals  # renewals imports this module

    await activate_due_renewals(session, today)
    return done


async def activate_paid_renewal(
    session: AsyncSession, policy: MotorPolicy, today: date, user_id: uuid.UUID | None
) -> bool:
    """A paid DRAFT renewal (previous_policy_id set) whose start date has come becomes
    ACTIVE; the policy it renews, if still ACTIVE or SUSPENDED and ended, becomes EXPIRED
    first, in the caller's transaction (one ACTIVE policy per vehicle always holds: the
    unique index is checked per statement, so the old row is flushed first). False, and
    nothing changed, when it is not due (decision 0047). The caller holds the renewal's lock
    and has checked that it is paid; the predecessor is locked here (renewal, then old)."""
    if policy.status != "DRAFT" or policy.previous_policy_id is None:
        return False
    if policy.start_date > today:
        return False
    previous = (
        await session.execute(
            select(MotorPolicy).where(MotorPolicy.id == policy.previous_policy_id).with_for_update()
        )
    ).scalar_one_or_none()
    if previous is not None and previous.status in ("ACTIVE", "SUSPENDED"):
        if previous.end_date > today:
            return False
        set_status(previous, "EXPIRED", user_id)
        await session.flush()
    other = await session.scalar(
        select(MotorPolicy.id).where(
            MotorPolicy.vehicle_id == policy.vehicle_id,
            MotorPolicy.id != policy.id,
            MotorPolicy.status == "ACTIVE",
            MotorPolicy.deleted_at.is_(None),
        )
    )
    if other is not None:
        return False
    set_status(policy, "ACTIVE", user_id)
    await session.flush()  # its documents are rendered on first request (decision 0049)
    return True
