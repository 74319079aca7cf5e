"""Motor claims service (issue 5, seed 001): the transactions around `motor.claims`.

This module owns the claim row: reading it (with or without a row lock) and moving its status
through `claim_rules`' transition table. First notice of loss, assignment, listing and the
dashboard live here too; assessments (`claim_assessments`), settlement (`claim_settlements`)
and documents (`claim_documents`) have their own service modules and move the claim only
through `transition`.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, or_, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from polis.audit.history import NEW, OLD, status_changes
from polis.audit.models import AuditLog
from polis.iam.models import User
from polis.motor import claim_rules, claim_search, fraud_rules
from polis.motor.claim_schemas import (
    Assignment,
    ClaimCreate,
    ClaimUpdate,
    IncidentLocation,
    OtherParty,
)
from polis.motor.customers import InvalidFields, StaleVersion, field_error, resolve_address
from polis.motor.models import Customer, MotorClaim, MotorPolicy
from polis.motor.quotes import today_bangkok
from polis.motor.schemas import AddressIn
from polis.platform.context import current_context
from polis.platform.crypto import get_keyring, mask
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.ids import random_code
from polis.platform.pagination import Keyset, PageParams, paginate
from polis.reference.service import ConfigurationNotFoundError, get_config


async def get_claim(
    session: AsyncSession, claim_id: uuid.UUID, *, lock: bool = False
) -> MotorClaim:
    """The live claim with this id (locked FOR UPDATE when `lock`); NotFound otherwise."""
    stmt = select(MotorClaim).where(MotorClaim.id == claim_id, MotorClaim.deleted_at.is_(None))
    if lock:
        stmt = stmt.with_for_update()
    claim = (await session.execute(stmt)).scalar_one_or_none()
    if claim is None:
        raise NotFound(f"Claim {claim_id} does not exist.")
    return claim


def transition(
    claim: MotorClaim,
    target: str,
    *,
    actor_id: uuid.UUID | None,
    today: date,
    sub_status: str | None = None,
    now: datetime | None = None,
) -> None:
    """Move `claim` (already locked by the caller) to `target`: 409 `invalid-transition`
    unless the table allows it; sets the date column the move sets (claim_rules.DATE_COLUMN),
    sub_status, updated_at/updated_by and bumps version. The audit trigger records the row
    change with the request's user (decision 0045)."""
    claim_rules.check_transition(claim.status or claim_rules.REPORTED, target, claim.claim_number)
    column = claim_rules.date_column(target)
    if column is not None:
        setattr(claim, column, today)
    claim.status = target
    claim.sub_status = sub_status
    claim.updated_at = now or datetime.now(UTC)
    claim.updated_by = actor_id
    claim.version = (claim.version or 0) + 1


# --- errors ----------------------------------------------------------------------------------

MAX_CLAIM_AMOUNT_KEY = "MAX_CLAIM_AMOUNT"
FRAUD_THRESHOLD_KEY = "MOTOR_FRAUD_INVESTIGATION_THRESHOLD"
FRAUD_REVIEW = "FRAUD_REVIEW"
CLAIM_NUMBER_TRIES = 5


class PolicyNotActive(Conflict):
    """The policy named by a first notice is not ACTIVE (DRAFT, SUSPENDED, EXPIRED, ...)."""

    type_ = "policy-not-active"
    title = "Policy Not Active"


class ClaimNotCovered(BusinessRuleError):
    """No head of loss of the notice is covered by the policy type (claim_rules.coverage)."""

    type_ = "claim-not-covered"
    title = "Claim Not Covered"


class ClaimNotOpen(Conflict):
    """The claim is REJECTED, SETTLED or CLOSED: its people and facts no longer change."""

    type_ = "claim-not-open"
    title = "Claim Not Open"


def _invalid(field: str, message: str, kind: str) -> InvalidFields:
    return InvalidFields([field_error(f"body.{field}", message, kind)])


# --- pure helpers ----------------------------------------------------------------------------


def new_claim_number(day: date) -> str:
    """MCL-YYYYMMDD-XXXXXXXX: the Bangkok date of the notice and 8 random Crockford base-32
    characters (40 bits) from the CSPRNG (decision 0050)."""
    return f"MCL-{day:%Y%m%d}-{random_code(8)}"


def claimed_heads(
    claim_type: str,
    *,
    damage_description: str | None,
    injury_description: str | None,
    other_party_info: Mapping[str, Any] | None,
) -> list[str]:
    """The heads of loss (claim_rules.HEADS) a first notice claims, from its facts
    (decision 0050):

    - BODILY_INJURY: an injury_description, or the other party reported injured;
    - THIRD_PARTY_PROPERTY: an ACCIDENT with an other party (their vehicle or property);
    - OWN_DAMAGE: a damage_description, or any claim type but ACCIDENT (theft, fire, flood,
      vandalism and natural disaster are losses of the insured vehicle itself).
    """
    heads = []
    if injury_description or (other_party_info or {}).get("injured") is True:
        heads.append(claim_rules.BODILY_INJURY)
    if claim_type == "ACCIDENT" and other_party_info:
        heads.append(claim_rules.THIRD_PARTY_PROPERTY)
    if damage_description or claim_type != "ACCIDENT":
        heads.append(claim_rules.OWN_DAMAGE)
    return heads


def coverage_option(policy: MotorPolicy) -> str:
    """STANDARD, or PLUS for a 2+/3+ policy (its coverage_details.coverage_option)."""
    option = str((policy.coverage_details or {}).get("coverage_option") or "STANDARD")
    if option == "PLUS" and policy.policy_type in ("CLASS_2", "CLASS_3"):
        return "PLUS"
    return "STANDARD"


def heads_of_loss(
    policy: MotorPolicy,
    claim_type: str,
    *,
    damage_description: str | None,
    injury_description: str | None,
    other_party_info: Mapping[str, Any] | None,
) -> list[dict[str, Any]]:
    """Each claimed head of loss with claim_rules.coverage's verdict for the policy."""
    collision = claim_type == "ACCIDENT" and bool(
        (other_party_info or {}).get("registration_number")
    )
    out = []
    for head in claimed_heads(
        claim_type,
        damage_description=damage_description,
        injury_description=injury_description,
        other_party_info=other_party_info,
    ):
        verdict = claim_rules.coverage(
            policy.policy_type,
            claim_type,
            head,
            coverage_option=coverage_option(policy),
            collision_with_land_vehicle=collision,
        )
        out.append(
            {
                "head": head,
                "covered": verdict.covered,
                "reason": verdict.reason,
                "limit": verdict.limit,
            }
        )
    return out


def claim_heads(claim: MotorClaim, policy: MotorPolicy) -> list[dict[str, Any]]:
    """heads_of_loss of a stored claim."""
    return heads_of_loss(
        policy,
        claim.claim_type,
        damage_description=claim.damage_description,
        injury_description=claim.injury_description,
        other_party_info=claim.other_party_info,
    )


def _check_covered(policy: MotorPolicy, heads: list[dict[str, Any]], claim_type: str) -> None:
    if not heads:
        raise InvalidFields(
            [
                field_error(
                    "body.damage_description",
                    "describe the damage to the vehicle or the injury (injury_description):"
                    " an ACCIDENT notice claims nothing without one of them",
                    "nothing_claimed",
                )
            ]
        )
    if not any(h["covered"] for h in heads):
        reasons = "; ".join(f"{h['head']}: {h['reason']}" for h in heads)
        raise ClaimNotCovered(
            f"Policy {policy.policy_number} ({policy.policy_type}) does not cover this"
            f" {claim_type} claim ({reasons}).",
            extra={
                "errors": [field_error("body.claim_type", reasons, "not_covered")],
                "heads_of_loss": [
                    {**h, "limit": None if h["limit"] is None else str(h["limit"])} for h in heads
                ],
            },
        )


def _party_keys(info: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """The identifying keys of a stored other_party_info as fraud_rules.other_party_ids reads
    them: the national id is compared by its keyed hash (the clear value is never stored)."""
    info = info or {}
    return {
        "registration_number": info.get("registration_number"),
        "national_id": info.get("national_id_hash"),
        "driver_license_number": info.get("driver_license_number"),
        "phone": info.get("phone"),
    }


def stored_other_party(body: OtherParty | None) -> dict[str, Any] | None:
    """claims.other_party_info of a request: the national id masked and blind-indexed."""
    if body is None:
        return None
    data = body.model_dump(exclude_none=True)
    national_id = data.pop("national_id", None)
    if national_id is not None:
        data["national_id_masked"] = mask(national_id)
        data["national_id_hash"] = get_keyring().blind_index(national_id)
    return data


async def stored_location(
    session: AsyncSession, body: IncidentLocation | None
) -> dict[str, Any] | None:
    """claims.incident_location of a request: lat/lng and the address checked against ref
    geography by the customers' resolve_address (names and DOPA codes stored)."""
    if body is None:
        return None
    out: dict[str, Any] = {}
    if body.lat is not None and body.lng is not None:
        out["lat"] = body.lat
        out["lng"] = body.lng
    if body.address is not None:
        given = body.address
        as_customer_address = AddressIn.model_construct(
            **given.model_dump(exclude={"text"}, exclude_none=True)
        )
        resolved = await resolve_address(
            session, as_customer_address, "body.incident_location.address"
        )
        if given.text is not None:
            resolved["text"] = given.text
        out["address"] = resolved
    return out


# --- configuration ---------------------------------------------------------------------------


async def max_claim_amount(session: AsyncSession) -> Decimal:
    return Decimal(str(await get_config(session, MAX_CLAIM_AMOUNT_KEY)))


async def fraud_threshold(session: AsyncSession) -> int:
    """MOTOR_FRAUD_INVESTIGATION_THRESHOLD, or the rule set's own threshold when unset."""
    try:
        return int(await get_config(session, FRAUD_THRESHOLD_KEY))
    except ConfigurationNotFoundError:
        return fraud_rules.fraud_rules().investigation_threshold


async def _check_amount(session: AsyncSession, amount: Decimal | None) -> None:
    if amount is None:
        return
    limit = await max_claim_amount(session)
    if amount > limit:
        raise _invalid(
            "estimated_amount",
            f"estimated_amount is above MAX_CLAIM_AMOUNT ({limit} THB)",
            "above_max_claim_amount",
        )


# --- fraud -----------------------------------------------------------------------------------


async def _inception(session: AsyncSession, policy: MotorPolicy) -> date:
    """The start of continuous cover: the first policy of the renewal chain."""
    first = await session.scalar(
        text(
            "WITH RECURSIVE chain AS ("
            " SELECT id, previous_policy_id, start_date, 1 AS depth FROM motor.policies"
            " WHERE id = :id"
            " UNION ALL"
            " SELECT p.id, p.previous_policy_id, p.start_date, c.depth + 1"
            " FROM motor.policies p JOIN chain c ON p.id = c.previous_policy_id"
            " WHERE c.depth < 100)"
            " SELECT min(start_date) FROM chain"
        ),
        {"id": policy.id},
    )
    return first or policy.start_date


async def fraud_facts(
    session: AsyncSession, claim: MotorClaim, policy: MotorPolicy
) -> fraud_rules.ClaimFraudFacts:
    """What fraud_rules needs to score `claim`, read from the database: the inception of
    cover, the earlier claims of the policy's customer or vehicle (with their other-party ids
    and repair shops), the sum insured of coverage_details and the notice's own facts."""
    rows = (
        await session.execute(
            select(MotorClaim.incident_date, MotorClaim.other_party_info, MotorClaim.repair_shop_id)
            .join(MotorPolicy, MotorPolicy.id == MotorClaim.policy_id)
            .where(
                MotorClaim.deleted_at.is_(None),
                MotorClaim.id != claim.id,
                or_(
                    MotorPolicy.customer_id == policy.customer_id,
                    MotorPolicy.vehicle_id == policy.vehicle_id,
                ),
            )
        )
    ).all()
    prior = tuple(
        fraud_rules.PriorClaim(
            incident_date=fraud_rules.local_date_time(incident)[0],
            other_party_ids=fraud_rules.other_party_ids(_party_keys(info)),
            repair_shop_id=None if shop is None else str(shop),
        )
        for incident, info, shop in rows
    )
    incident_day, incident_time = fraud_rules.local_date_time(claim.incident_date)
    reported = claim.reported_date or datetime.now(UTC)
    raw_sum = (policy.coverage_details or {}).get("sum_insured")
    try:
        sum_insured = None if raw_sum in (None, "") else Decimal(str(raw_sum))
    except InvalidOperation:
        sum_insured = None
    return fraud_rules.ClaimFraudFacts(
        claim_type=claim.claim_type,
        incident_date=incident_day,
        reported_date=fraud_rules.local_date_time(reported)[0],
        policy_start_date=await _inception(session, policy),
        claimed_amount=claim.estimated_amount,
        sum_insured=sum_insured,
        police_report_number=claim.police_report_number,
        other_party_ids=fraud_rules.other_party_ids(_party_keys(claim.other_party_info)),
        repair_shop_id=None if claim.repair_shop_id is None else str(claim.repair_shop_id),
        prior_claims=prior,
        # Exactly midnight is read as "the date only" (no time given): decision 0050.
        incident_local_time=None if incident_time == time(0) else incident_time,
    )


async def score_fraud(
    session: AsyncSession,
    claim: MotorClaim,
    policy: MotorPolicy,
    *,
    actor_id: uuid.UUID | None,
    today: date,
    now: datetime,
) -> fraud_rules.FraudAssessment:
    """Score `claim` (locked), store fraud_score and fraud_flags; at or above the threshold
    set requires_investigation (never cleared by a re-score) and, where the transition
    table allows, move the claim to INVESTIGATING with sub_status FRAUD_REVIEW."""
    result = fraud_rules.score_claim(
        await fraud_facts(session, claim, policy), threshold=await fraud_threshold(session)
    )
    claim.fraud_score = Decimal(result.score)
    claim.fraud_flags = result.flags_json()
    claim.requires_investigation = (
        bool(claim.requires_investigation) or result.requires_investigation
    )
    status = claim.status or claim_rules.REPORTED
    if result.requires_investigation and claim_rules.can_transition(
        status, claim_rules.INVESTIGATING
    ):
        await session.flush()  # the score first, then the move: two audit rows
        transition(
            claim,
            claim_rules.INVESTIGATING,
            actor_id=actor_id,
            today=today,
            sub_status=FRAUD_REVIEW,
            now=now,
        )
    await session.flush()
    return result


# --- first notice of loss --------------------------------------------------------------------


async def _policy_for(session: AsyncSession, body: ClaimCreate) -> MotorPolicy:
    stmt = select(MotorPolicy).where(MotorPolicy.deleted_at.is_(None))
    if body.policy_id is not None:
        stmt, field = stmt.where(MotorPolicy.id == body.policy_id), "policy_id"
    else:
        stmt, field = stmt.where(MotorPolicy.policy_number == body.policy_number), "policy_number"
    policy = (await session.execute(stmt.with_for_update())).scalar_one_or_none()
    if policy is None:
        raise _invalid(field, "no such policy", "unknown_reference")
    return policy


async def _claim_number(session: AsyncSession, day: date) -> str:
    for _ in range(CLAIM_NUMBER_TRIES):
        number = new_claim_number(day)
        taken = await session.scalar(select(MotorClaim.id).where(MotorClaim.claim_number == number))
        if taken is None:
            return number
    raise Conflict("Could not draw a free claim number; retry.", type_="claim-number-exhausted")


async def report_claim(
    session: AsyncSession,
    body: ClaimCreate,
    *,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> tuple[MotorClaim, MotorPolicy]:
    """First notice of loss (issue 5 items 1 and 7): checks the policy (ACTIVE, its period
    covering the incident's Bangkok date), the dates (no incident in the future), the amount
    (<= MAX_CLAIM_AMOUNT) and the cover (claim_rules.coverage of the claimed heads of loss);
    writes the REPORTED claim, scores it for fraud (INVESTIGATING at or above the
    threshold) and indexes it for search. A refusal raises before anything is written."""
    now = now or datetime.now(UTC)
    today = today_bangkok(now)
    policy = await _policy_for(session, body)
    if (policy.status or "ACTIVE") != "ACTIVE":
        raise PolicyNotActive(
            f"Policy {policy.policy_number} is {policy.status}: a claim needs an ACTIVE policy.",
            extra={"policy_number": policy.policy_number, "policy_status": policy.status},
        )
    if body.incident_date > now:
        raise _invalid(
            "incident_date", "incident_date cannot be in the future", "incident_in_future"
        )
    incident_day = fraud_rules.local_date_time(body.incident_date)[0]
    if not policy.start_date <= incident_day < policy.end_date:
        raise _invalid(
            "incident_date",
            f"the incident ({incident_day}, Asia/Bangkok) is outside the policy period"
            f" {policy.start_date} to {policy.end_date} (end exclusive)",
            "incident_outside_period",
        )
    await _check_amount(session, body.estimated_amount)
    other_party = stored_other_party(body.other_party_info)
    heads = heads_of_loss(
        policy,
        body.claim_type,
        damage_description=body.damage_description,
        injury_description=body.injury_description,
        other_party_info=other_party,
    )
    _check_covered(policy, heads, body.claim_type)
    location = await stored_location(session, body.incident_location)

    claim = MotorClaim(
        claim_number=await _claim_number(session, today),
        policy_id=policy.id,
        incident_date=body.incident_date,
        reported_date=now,
        claim_type=body.claim_type,
        status=claim_rules.REPORTED,
        incident_description=body.incident_description,
        damage_description=body.damage_description,
        injury_description=body.injury_description,
        incident_location=location,
        estimated_amount=body.estimated_amount,
        police_report_number=body.police_report_number,
        other_party_info=other_party,
        fraud_score=Decimal(0),
        fraud_flags=[],
        requires_investigation=False,
        repair_shop_id=body.repair_shop_id,
        hospital_id=body.hospital_id,
        created_at=now,
        updated_at=now,
        created_by=user_id,
        updated_by=user_id,
        version=0,
    )
    session.add(claim)
    await session.flush()
    await score_fraud(session, claim, policy, actor_id=user_id, today=today, now=now)
    await claim_search.index_claim(session, claim)
    await session.flush()
    await session.refresh(claim)
    return claim, policy


async def rescore_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    *,
    user_id: uuid.UUID | None,
    now: datetime | None = None,
) -> tuple[MotorClaim, MotorPolicy, fraud_rules.FraudAssessment]:
    """Score an open claim again (e.g. after its repair shop is named): 409 when closed."""
    now = now or datetime.now(UTC)
    claim = await get_claim(session, claim_id, lock=True)
    _check_open(claim)
    policy = await _policy_of(session, claim)
    result = await score_fraud(
        session, claim, policy, actor_id=user_id, today=today_bangkok(now), now=now
    )
    await session.refresh(claim)
    return claim, policy, result


# --- reading ---------------------------------------------------------------------------------


async def _policy_of(session: AsyncSession, claim: MotorClaim) -> MotorPolicy:
    policy = await session.get(MotorPolicy, claim.policy_id)
    assert policy is not None  # claims.policy_id is a NOT NULL foreign key
    return policy


async def claim_with_policy(
    session: AsyncSession, claim_id: uuid.UUID
) -> tuple[MotorClaim, MotorPolicy]:
    claim = await get_claim(session, claim_id)
    return claim, await _policy_of(session, claim)


CLAIMS_NEWEST_FIRST = Keyset(
    "motor_claims_reported", MotorClaim.reported_date, MotorClaim.id, descending=True
)


@dataclass(frozen=True)
class ClaimFilter:
    """Filters of the claim list (None: not filtered); reported_from/to are Bangkok dates,
    both inclusive."""

    status: str | None = None
    policy_number: str | None = None
    customer_id: uuid.UUID | None = None
    adjuster_id: uuid.UUID | None = None
    surveyor_id: uuid.UUID | None = None
    claim_type: str | None = None
    requires_investigation: bool | None = None
    reported_from: date | None = None
    reported_to: date | None = None


def _bangkok_midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=fraud_rules.LOCAL_TZ)


async def list_claims(
    session: AsyncSession, where: ClaimFilter, params: PageParams
) -> tuple[list[tuple[MotorClaim, MotorPolicy]], str | None]:
    """Live claims, most recently reported first (keyset), filtered; each with its policy."""
    stmt = select(MotorClaim).where(MotorClaim.deleted_at.is_(None))
    if where.status is not None:
        stmt = stmt.where(MotorClaim.status == where.status)
    if where.claim_type is not None:
        stmt = stmt.where(MotorClaim.claim_type == where.claim_type)
    if where.adjuster_id is not None:
        stmt = stmt.where(MotorClaim.adjuster_id == where.adjuster_id)
    if where.surveyor_id is not None:
        stmt = stmt.where(MotorClaim.surveyor_id == where.surveyor_id)
    if where.requires_investigation is not None:
        stmt = stmt.where(
            func.coalesce(MotorClaim.requires_investigation, False) == where.requires_investigation
        )
    if where.policy_number is not None or where.customer_id is not None:
        policies = select(MotorPolicy.id)
        if where.policy_number is not None:
            policies = policies.where(MotorPolicy.policy_number == where.policy_number)
        if where.customer_id is not None:
            policies = policies.where(MotorPolicy.customer_id == where.customer_id)
        stmt = stmt.where(MotorClaim.policy_id.in_(policies))
    if where.reported_from is not None:
        stmt = stmt.where(MotorClaim.reported_date >= _bangkok_midnight(where.reported_from))
    if where.reported_to is not None:
        stmt = stmt.where(
            MotorClaim.reported_date < _bangkok_midnight(where.reported_to + timedelta(days=1))
        )
    items, cursor = await paginate(session, stmt, CLAIMS_NEWEST_FIRST, params)
    ids = {c.policy_id for c in items}
    by_id = (
        {
            p.id: p
            for p in (
                await session.scalars(select(MotorPolicy).where(MotorPolicy.id.in_(ids)))
            ).all()
        }
        if ids
        else {}
    )
    return [(c, by_id[c.policy_id]) for c in items], cursor


@dataclass(frozen=True)
class StatusChangeRow:
    """One status change of a claim as the audit trigger recorded it."""

    changed_at: datetime
    operation: str
    from_status: str | None
    to_status: str | None
    sub_status: str | None
    user_id: uuid.UUID | None
    username: str | None
    user_role: str | None
    request_id: uuid.UUID | None
    business_context: str | None


async def claim_history(session: AsyncSession, claim_id: uuid.UUID) -> list[StatusChangeRow]:
    """The claim's status changes from audit.audit_log (its INSERT and every UPDATE that
    changed `status`), oldest first, as polis.health.claims.lifecycle builds its history."""
    await get_claim(session, claim_id)
    rows = await session.execute(
        status_changes(
            AUDIT_TABLE,
            claim_id,
            AuditLog.timestamp,
            AuditLog.operation,
            OLD["status"].astext,
            NEW["status"].astext,
            NEW["sub_status"].astext,
            AuditLog.user_id,
            User.username,
            AuditLog.user_role,
            AuditLog.request_id,
            AuditLog.business_context,
        )
    )
    return [StatusChangeRow(*row) for row in rows]


AUDIT_TABLE = "motor.claims"


# --- workflow --------------------------------------------------------------------------------


def _check_open(claim: MotorClaim) -> None:
    status = claim.status or claim_rules.REPORTED
    if status not in claim_rules.OPEN_STATUSES:
        raise ClaimNotOpen(
            f"Claim {claim.claim_number} is {status}: it no longer changes.",
            extra={"status": status},
        )


def _check_version(claim: MotorClaim, expected: int | None) -> None:
    current = claim.version or 0
    if expected is not None and expected != current:
        raise StaleVersion(
            f"Claim {claim.claim_number} is at version {current}, not {expected};"
            " read it again and retry.",
            extra={"current_version": current},
        )


_SET_CONTEXT = text("select set_config('app.business_context', :c, true)")


async def _set_reason(session: AsyncSession, reason: str | None) -> None:
    """Make `reason` the business_context of the audit rows flushed next (set before the
    change: executing a statement autoflushes pending changes)."""
    await session.execute(_SET_CONTEXT, {"c": (reason or "")[:100]})


async def _restore_context(session: AsyncSession) -> None:
    """Give the request's own business context back."""
    ctx = current_context()
    await session.execute(_SET_CONTEXT, {"c": (ctx.business_context if ctx else None) or ""})


async def _staff(session: AsyncSession, user_id: uuid.UUID, role: str, field: str) -> User:
    user = await session.get(User, user_id)
    if user is None or user.deleted_at is not None:
        raise _invalid(field, "no such user", "unknown_reference")
    if user.role != role:
        raise _invalid(field, f"the user is a {user.role}, not a {role}", "wrong_role")
    if (user.account_status or "ACTIVE") != "ACTIVE":
        raise _invalid(field, f"the user is {user.account_status}, not ACTIVE", "user_not_active")
    return user


async def assign_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    body: Assignment,
    *,
    user_id: uuid.UUID | None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> MotorClaim:
    """Assign the adjuster and/or surveyor (ACTIVE users of those roles, 422 otherwise). A
    REPORTED claim moves to ASSIGNED (it must then have an adjuster); in the other open
    statuses only the people change; a REJECTED, SETTLED or CLOSED claim is a 409."""
    now = now or datetime.now(UTC)
    claim = await get_claim(session, claim_id, lock=True)
    _check_version(claim, expected_version)
    _check_open(claim)
    if body.adjuster_id is not None:
        await _staff(session, body.adjuster_id, "ADJUSTER", "adjuster_id")
    if body.surveyor_id is not None:
        await _staff(session, body.surveyor_id, "SURVEYOR", "surveyor_id")
    adjuster = body.adjuster_id or claim.adjuster_id
    if (claim.status or claim_rules.REPORTED) == claim_rules.REPORTED:
        if adjuster is None:
            raise _invalid("adjuster_id", "a REPORTED claim is assigned to an adjuster", "missing")
        claim.adjuster_id = adjuster
        claim.surveyor_id = body.surveyor_id or claim.surveyor_id
        transition(
            claim,
            claim_rules.ASSIGNED,
            actor_id=user_id,
            today=today_bangkok(now),
            sub_status=body.sub_status,
            now=now,
        )
    else:
        claim.adjuster_id = adjuster
        claim.surveyor_id = body.surveyor_id or claim.surveyor_id
        if body.sub_status is not None:
            claim.sub_status = body.sub_status
        claim.updated_at = now
        claim.updated_by = user_id
        claim.version = (claim.version or 0) + 1
    await session.flush()
    await session.refresh(claim)
    return claim


async def move_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    target: str,
    *,
    user_id: uuid.UUID | None,
    reason: str | None = None,
    sub_status: str | None = None,
    expected_version: int | None = None,
    now: datetime | None = None,
) -> MotorClaim:
    """Move a claim to `target` through `transition` (409 invalid-transition when the table
    refuses; its date column set), the reason kept as the audit row's business_context."""
    now = now or datetime.now(UTC)
    claim = await get_claim(session, claim_id, lock=True)
    _check_version(claim, expected_version)
    claim_rules.check_transition(claim.status or claim_rules.REPORTED, target, claim.claim_number)
    if reason:
        await _set_reason(session, reason)
    transition(
        claim, target, actor_id=user_id, today=today_bangkok(now), sub_status=sub_status, now=now
    )
    await session.flush()
    if reason:
        await _restore_context(session)
    await session.refresh(claim)
    return claim


_TEXTS = ("incident_description", "damage_description", "injury_description")


async def update_claim(
    session: AsyncSession,
    claim_id: uuid.UUID,
    body: ClaimUpdate,
    *,
    user_id: uuid.UUID | None,
    expected_version: int,
    now: datetime | None = None,
) -> tuple[MotorClaim, MotorPolicy]:
    """Correct the facts of an open claim when `expected_version` is current (409
    stale-version otherwise). The claim must still be covered and within
    MAX_CLAIM_AMOUNT; a change of its texts re-indexes it for search. Re-scoring for fraud
    is its own request (POST /claims/{id}/fraud-score)."""
    now = now or datetime.now(UTC)
    claim = await get_claim(session, claim_id, lock=True)
    _check_version(claim, expected_version)
    _check_open(claim)
    policy = await _policy_of(session, claim)
    changes = body.model_dump(exclude_unset=True)
    if "estimated_amount" in changes:
        await _check_amount(session, body.estimated_amount)
    if "other_party_info" in changes:
        changes["other_party_info"] = stored_other_party(body.other_party_info)
    if "incident_location" in changes:
        changes["incident_location"] = await stored_location(session, body.incident_location)
    merged = {
        name: changes.get(name, getattr(claim, name))
        for name in ("damage_description", "injury_description", "other_party_info")
    }
    _check_covered(policy, heads_of_loss(policy, claim.claim_type, **merged), claim.claim_type)
    texts_changed = any(
        name in changes and changes[name] != getattr(claim, name) for name in _TEXTS
    )
    for name, value in changes.items():
        setattr(claim, name, value)
    claim.updated_at = now
    claim.updated_by = user_id
    claim.version = (claim.version or 0) + 1
    await session.flush()
    if texts_changed:
        await claim_search.index_claim(session, claim)
        await session.flush()
    await session.refresh(claim)
    return claim, policy


# --- customer dashboard (seed 001 section 5.1) -----------------------------------------------

# The seed's query, as written (its $1 a bound parameter), with two deviations (decision
# 0050): total_claims_settled counts CLOSED claims that were settled too (a settled claim is
# closed afterwards and its money stays paid), and is 0 rather than NULL when there is none.
# The policies are found through idx_policies_customer_start_date (customer_id,
# start_date DESC) WHERE deleted_at IS NULL, and each sub-query through idx_claims_policy.
DASHBOARD_SQL = text(
    """
    SELECT
        p.id,
        p.policy_number,
        p.policy_type,
        p.status,
        p.start_date,
        p.end_date,
        p.total_premium,
        cv.registration_number,
        cv.make,
        cv.model,
        (
            SELECT COUNT(*)
            FROM motor.claims c
            WHERE c.policy_id = p.id
            AND c.deleted_at IS NULL
        ) AS claim_count,
        COALESCE((
            SELECT SUM(settled_amount)
            FROM motor.claims c
            WHERE c.policy_id = p.id
            AND c.status IN ('SETTLED', 'CLOSED')
            AND c.deleted_at IS NULL
        ), 0) AS total_claims_settled
    FROM motor.policies p
    JOIN motor.customer_vehicles cv ON p.vehicle_id = cv.id
    WHERE p.customer_id = :customer_id
        AND p.deleted_at IS NULL
        AND cv.deleted_at IS NULL
    ORDER BY p.start_date DESC
    """
)


async def customer_dashboard(session: AsyncSession, customer_id: uuid.UUID) -> list[dict[str, Any]]:
    """The seed's customer policy dashboard: each live policy of the customer (newest start
    first) with its vehicle, claim_count and total_claims_settled; 404 for no customer."""
    found = await session.scalar(
        select(Customer.id).where(Customer.id == customer_id, Customer.deleted_at.is_(None))
    )
    if found is None:
        raise NotFound(f"Customer {customer_id} does not exist.")
    rows = await session.execute(DASHBOARD_SQL, {"customer_id": customer_id})
    return [dict(row._mapping) for row in rows]
