"""Motor renewals (decision 0047): re-rate the next period through the quote service with the
NCD of renewal_rules, bind it as a DRAFT policy linked by previous_policy_id, record a
policy_renewals row; the jobs that renew auto_renewal policies, send renewal notices and
activate paid renewals on their start date. Services only flush; the request's unit of work
(or the job's transaction) commits."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from polis.motor import payments, policies, quotes, renewal_rules
from polis.motor.models import (
    ClaimAssessment,
    MotorClaim,
    MotorPayment,
    MotorPolicy,
    PolicyRenewal,
)
from polis.motor.policy_schemas import PolicyBind
from polis.motor.rating_models import Quote
from polis.motor.rating_schemas import QuoteCreate, QuoteVehicle
from polis.platform.errors import BusinessRuleError, Conflict, PolisError
from polis.reference.service import get_config

log = logging.getLogger(__name__)

TWO_PLACES = Decimal("0.01")


class RenewalRefused(Conflict):
    """The policy cannot be renewed now (status or window)."""

    type_ = "renewal-refused"
    title = "Renewal Refused"


class AlreadyRenewed(Conflict):
    """The policy already has a renewal (not cancelled)."""

    type_ = "policy-already-renewed"
    title = "Policy Already Renewed"


class InvalidRenewal(BusinessRuleError):
    """The renewal request is refused field by field (422)."""

    type_ = "invalid-renewal"
    title = "Invalid Renewal"

    def __init__(self, field: str, message: str, kind: str) -> None:
        super().__init__(
            message,
            extra={"errors": [{"field": f"body.{field}", "message": message, "type": kind}]},
        )


@dataclass(frozen=True)
class Renewal:
    """What a renewal made: the row, both policies, the schedule and the NCD outcome."""

    row: PolicyRenewal
    original: MotorPolicy
    renewed: MotorPolicy
    payments: list[MotorPayment]
    ncd: renewal_rules.NcdOutcome


def moment_of(today: date) -> datetime:
    """`now` for a job run on business date `today`: the real time when today is today in
    Bangkok, else noon in Bangkok of that date (a job replayed or run ahead in tests)."""
    now = datetime.now(UTC)
    if quotes.today_bangkok(now) == today:
        return now
    return datetime.combine(today, time(12), tzinfo=quotes.BANGKOK).astimezone(UTC)


def _live_renewal() -> Select[Any]:
    """policy_renewals rows whose renewed policy is not CANCELLED (a cancelled renewal does
    not block a new one)."""
    renewed = aliased(MotorPolicy)
    return (
        select(PolicyRenewal.id)
        .join(renewed, renewed.id == PolicyRenewal.renewed_policy_id)
        .where(renewed.status != "CANCELLED", renewed.deleted_at.is_(None))
    )


async def current_renewal(session: AsyncSession, policy_id: uuid.UUID) -> MotorPolicy | None:
    """The policy that renews this one (not cancelled), if any."""
    return (
        await session.execute(
            select(MotorPolicy)
            .join(PolicyRenewal, PolicyRenewal.renewed_policy_id == MotorPolicy.id)
            .where(
                PolicyRenewal.original_policy_id == policy_id,
                MotorPolicy.status != "CANCELLED",
                MotorPolicy.deleted_at.is_(None),
            )
            .limit(1)
        )
    ).scalar_one_or_none()


async def claims_of(session: AsyncSession, policy_id: uuid.UUID) -> list[renewal_rules.ClaimFacts]:
    """The NCD facts of a policy's claims (not REJECTED, not deleted). Fault from the latest
    assessment with a liability_percentage, else other_party_info (decision 0047)."""
    latest_liability = (
        select(ClaimAssessment.liability_percentage)
        .where(
            ClaimAssessment.claim_id == MotorClaim.id,
            ClaimAssessment.liability_percentage.is_not(None),
        )
        .order_by(ClaimAssessment.assessment_date.desc(), ClaimAssessment.created_at.desc())
        .limit(1)
        .correlate(MotorClaim)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(MotorClaim.other_party_info, latest_liability, MotorClaim.settled_amount)
        .where(
            MotorClaim.policy_id == policy_id,
            MotorClaim.deleted_at.is_(None),
            or_(MotorClaim.status.is_(None), MotorClaim.status != "REJECTED"),
        )
        .order_by(MotorClaim.incident_date, MotorClaim.id)
    )
    return [renewal_rules.claim_facts(info, liability, paid) for info, liability, paid in rows]


def _snapshot(policy: MotorPolicy) -> dict[str, Any]:
    """The fields a renewal diff compares: coverage_details, then the policy's columns."""
    return {
        **(policy.coverage_details or {}),
        "policy_type": policy.policy_type,
        "policy_period_months": policy.policy_period_months,
        "base_premium": policy.base_premium,
        "discounts": policy.discounts or Decimal("0.00"),
        "fees": policy.fees or Decimal("0.00"),
        "total_premium": policy.total_premium,
        "no_claim_discount": Decimal(policy.no_claim_discount or 0).quantize(TWO_PLACES),
        "payment_plan": policy.payment_plan or "FULL",
    }


async def _quote_request(
    session: AsyncSession, old: MotorPolicy, start: date, ncd: int
) -> QuoteCreate:
    """The quote of the next period: same vehicle (the original quote's facts), cover, sum
    insured, term and options; the new NCD; rated on the new start date."""
    cover = old.coverage_details or {}
    original = None
    if cover.get("quote_number"):
        original = (
            await session.execute(select(Quote).where(Quote.quote_number == cover["quote_number"]))
        ).scalar_one_or_none()
    vehicle: dict[str, Any] | None = None
    options: dict[str, Any] = {}
    if original is not None:
        vehicle = {
            k: v
            for k, v in (original.vehicle_facts or {}).items()
            if k in QuoteVehicle.model_fields and v is not None
        }
        options = dict(original.options or {})
    if old.policy_type == "CMI":
        options = {}  # CMI renews at the statutory tariff: no options, no NCD
    else:
        options.pop("claim_free_years", None)
        options["ncd_percent"] = ncd
    return QuoteCreate.model_validate(
        {
            "policy_type": old.policy_type,
            "coverage_option": cover.get("coverage_option") or "STANDARD",
            "customer_id": old.customer_id,
            "vehicle_id": old.vehicle_id,
            "vehicle": vehicle or None,
            "start_date": start,
            "policy_period_months": old.policy_period_months,
            "sum_insured": cover.get("sum_insured"),
            "options": options,
        }
    )


async def renew_policy(
    session: AsyncSession,
    policy_number: str,
    *,
    renewal_type: str,
    start_date: date | None = None,
    initiated_by: str = "AGENT",
    renewal_channel: str | None = None,
    user_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> Renewal:
    """Renew a policy: a new DRAFT policy for the next period with its payment schedule,
    linked by previous_policy_id, and a policy_renewals row. 409 when the policy is not
    renewable now or already renewed; 422 for a refused start_date or an unratable quote."""
    now = now or datetime.now(UTC)
    today = quotes.today_bangkok(now)
    old = await policies.get_policy(session, policy_number, lock=True)
    existing = await current_renewal(session, old.id)
    if existing is not None:
        raise AlreadyRenewed(
            f"Policy {old.policy_number} is already renewed by {existing.policy_number}.",
            extra={
                "renewed_policy_number": existing.policy_number,
                "renewed_policy_status": existing.status,
            },
        )
    grace = int(await get_config(session, payments.GRACE_KEY))
    status = old.status or "ACTIVE"
    refusal = renewal_rules.renewal_refusal(renewal_type, status, old.end_date, today, grace)
    if refusal is not None:
        raise RenewalRefused(
            f"Policy {old.policy_number} cannot be renewed: {refusal.detail}.",
            extra={
                "policy_status": status,
                "end_date": old.end_date.isoformat(),
                "opens_on": None if refusal.opens_on is None else refusal.opens_on.isoformat(),
            },
        )
    start, problem = renewal_rules.renewal_start(renewal_type, old.end_date, today, start_date)
    if start is None:
        raise InvalidRenewal("start_date", problem or "refused", "start_date")

    claims = await claims_of(session, old.id)
    outcome = renewal_rules.next_ncd(old.no_claim_discount, claims, old.total_premium)
    ncd = 0 if old.policy_type == "CMI" else outcome.ncd
    request = await _quote_request(session, old, start, ncd)
    quote = await quotes.create_quote(session, request, user_id=user_id, now=now)
    _, method = await payments.paid_total(session, old.id)
    new, _ = await policies.bind_quote(
        session,
        PolicyBind(
            quote_number=quote.quote_number,
            payment_plan=old.payment_plan or "FULL",
            auto_renewal=bool(old.auto_renewal),
            agent_id=old.agent_id,
            payment_method=method or "PROMPTPAY",
        ),
        user_id=user_id,
        now=now,
    )
    new.previous_policy_id = old.id
    new.renewal_count = (old.renewal_count or 0) + 1
    new.coverage_details = {
        **new.coverage_details,
        "renewal": {
            "previous_policy_number": old.policy_number,
            "renewal_type": renewal_type,
            "ncd_previous": outcome.previous,
            "ncd_steps": outcome.steps,
            "ncd_reason": outcome.reason,
            "claims_counted": outcome.counted_claims,
            "claims_paid": str(outcome.claims_paid),
        },
    }
    await session.flush()
    row = PolicyRenewal(
        original_policy_id=old.id,
        renewed_policy_id=new.id,
        renewal_type=renewal_type,
        renewal_date=now,
        premium_change=new.total_premium - old.total_premium,
        coverage_changes=renewal_rules.coverage_changes(_snapshot(old), _snapshot(new)),
        discount_change=(
            Decimal(new.no_claim_discount or 0) - Decimal(old.no_claim_discount or 0)
        ).quantize(TWO_PLACES),
        initiated_by=initiated_by,
        renewal_channel=renewal_channel,
        created_by=user_id,
    )
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await session.refresh(new)
    return Renewal(row, old, new, await payments.policy_payments(session, new.id), outcome)


async def renewal_history(
    session: AsyncSession, policy_number: str
) -> list[tuple[PolicyRenewal, MotorPolicy, MotorPolicy]]:
    """Every renewal in the policy's chain (its predecessors and successors), oldest first:
    (row, original policy, renewed policy)."""
    policy = await policies.get_policy(session, policy_number)
    chain = {policy.id}
    cursor: uuid.UUID | None = policy.previous_policy_id
    while cursor is not None and cursor not in chain:  # walk back
        chain.add(cursor)
        cursor = await session.scalar(
            select(MotorPolicy.previous_policy_id).where(MotorPolicy.id == cursor)
        )
    frontier = {policy.id}
    while frontier:  # walk forward
        found = set(
            (
                await session.scalars(
                    select(PolicyRenewal.renewed_policy_id).where(
                        PolicyRenewal.original_policy_id.in_(frontier)
                    )
                )
            ).all()
        )
        frontier = found - chain
        chain |= found
    original = aliased(MotorPolicy)
    renewed = aliased(MotorPolicy)
    rows = await session.execute(
        select(PolicyRenewal, original, renewed)
        .join(original, original.id == PolicyRenewal.original_policy_id)
        .join(renewed, renewed.id == PolicyRenewal.renewed_policy_id)
        .where(PolicyRenewal.original_policy_id.in_(chain))
        .order_by(PolicyRenewal.renewal_date, PolicyRenewal.created_at, PolicyRenewal.id)
    )
    return [(r, o, n) for r, o, n in rows.all()]


# --- jobs ---------------------------------------------------------------------------------


def _paid_first_premium() -> Select[Any]:
    return select(MotorPayment.policy_id).where(
        MotorPayment.payment_direction == "INCOMING",
        MotorPayment.payment_type.in_(payments.PREMIUM_TYPES),
        MotorPayment.payment_status == "SUCCESS",
        func.coalesce(MotorPayment.installment_number, 1) == 1,
    )


async def activate_due_renewals(session: AsyncSession, today: date) -> list[str]:
    """Paid DRAFT renewals whose start date has come become ACTIVE, and the policy each
    renews (ACTIVE or SUSPENDED, ended) EXPIRED, in this transaction; the numbers activated
    (a second run finds none). Locks the renewal, then its predecessor (as confirmation)."""
    candidates = (
        await session.execute(
            select(MotorPolicy)
            .where(
                MotorPolicy.status == "DRAFT",
                MotorPolicy.previous_policy_id.is_not(None),
                MotorPolicy.deleted_at.is_(None),
                MotorPolicy.start_date <= today,
                MotorPolicy.end_date > today,
                MotorPolicy.id.in_(_paid_first_premium()),
            )
            .order_by(MotorPolicy.start_date, MotorPolicy.id)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    done = []
    for policy in list(candidates):
        if await policies.activate_paid_renewal(session, policy, today, None):
            done.append(policy.policy_number)
    await session.flush()
    return done


async def auto_renew(session: AsyncSession, today: date) -> list[str]:
    """Renew (AUTOMATIC, initiated by SYSTEM) every ACTIVE auto_renewal policy ending within
    AUTO_RENEWAL_LEAD_DAYS and not yet renewed; "OLD -> NEW" per renewal. Idempotent: a
    renewed policy is skipped. A policy that cannot be renewed (no rate table, vehicle
    covered) is logged and skipped in a savepoint; the others go on."""
    horizon = today + timedelta(days=renewal_rules.AUTO_RENEWAL_LEAD_DAYS)
    live = _live_renewal().where(PolicyRenewal.original_policy_id == MotorPolicy.id)
    numbers = (
        await session.scalars(
            select(MotorPolicy.policy_number)
            .where(
                MotorPolicy.status == "ACTIVE",
                MotorPolicy.auto_renewal.is_(True),
                MotorPolicy.deleted_at.is_(None),
                MotorPolicy.end_date > today,
                MotorPolicy.end_date <= horizon,
                ~exists(live),
            )
            .order_by(MotorPolicy.end_date, MotorPolicy.id)
        )
    ).all()
    now = moment_of(today)
    done = []
    for number in numbers:
        try:
            async with session.begin_nested():
                made = await renew_policy(
                    session,
                    number,
                    renewal_type="AUTOMATIC",
                    initiated_by="SYSTEM",
                    now=now,
                )
        except PolisError as exc:
            log.warning("auto-renewal of %s refused: %s", number, exc)
            continue
        done.append(f"{number} -> {made.renewed.policy_number}")
    return done


async def renewal_notices(session: AsyncSession, today: date) -> list[str]:
    """Record the renewal notice due today (30, 15 or 7 days before the end date) for each
    ACTIVE or SUSPENDED policy whose renewal is not yet paid; "NUMBER: N days" per notice.
    Recorded under coverage_details.renewal_notices (decision 0047), so a second run the same
    day records nothing. Sending (SMS, e-mail by the customer's consent) is the notifier's."""
    horizon = today + timedelta(days=max(renewal_rules.NOTICE_STAGES))
    renewed = aliased(MotorPolicy)
    paid_renewal = (
        select(PolicyRenewal.id)
        .join(renewed, renewed.id == PolicyRenewal.renewed_policy_id)
        .where(
            PolicyRenewal.original_policy_id == MotorPolicy.id,
            renewed.status != "CANCELLED",
            or_(
                renewed.status == "ACTIVE",
                renewed.id.in_(_paid_first_premium()),
            ),
        )
    )
    rows = (
        await session.execute(
            select(MotorPolicy)
            .where(
                MotorPolicy.status.in_(("ACTIVE", "SUSPENDED")),
                MotorPolicy.deleted_at.is_(None),
                and_(MotorPolicy.end_date > today, MotorPolicy.end_date <= horizon),
                ~exists(paid_renewal),
            )
            .order_by(MotorPolicy.end_date, MotorPolicy.id)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    done = []
    for policy in list(rows):
        cover = policy.coverage_details or {}
        sent = [int(n["stage"]) for n in cover.get("renewal_notices", [])]
        stage = renewal_rules.notice_due(policy.end_date, today, sent)
        if stage is None:
            continue
        successor = await current_renewal(session, policy.id)
        notice = {
            "stage": stage,
            "notified_on": today.isoformat(),
            "days_before_expiry": (policy.end_date - today).days,
            "renewed_policy_number": None if successor is None else successor.policy_number,
        }
        policy.coverage_details = {
            **cover,
            "renewal_notices": [*cover.get("renewal_notices", []), notice],
        }
        done.append(f"{policy.policy_number}: {stage} days")
    await session.flush()
    return done
