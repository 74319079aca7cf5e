"""Pre-authorisations (guarantee letters, claims.authorization): request, decision, expiry,
and their use by claims.

A provider asks for a letter (`create`): member, provider, service type, procedure and
ICD-10 diagnosis, validity and the amount and days it wants guaranteed; it starts `pending`.
A reviewer approves it with an amount (at most the one requested) and, for inpatient care, a
number of days, or denies it with a reason (`decide`; only a pending letter, else 409).
`expire_authorizations` (the `polis health expire-authorizations` command) stores `expired`
on pending and approved letters whose valid_to has passed; reads show them expired from the
day after valid_to whether or not the job has run (`effective_status`).

Claims (polis.health.adjudication.submit_claim) use a letter through `claim_authorizations`
(the one the claim names, which must be the member's, or the member's letters for the service
type), `engine_inputs` (after the accumulator locks: the letter's row lock, then what earlier
claims used of it, so the engine gets the remaining amount and days) and `use_steps` (a trace
step per line that used it, from which later claims sum the use). A letter is judged for the
claim's service date: one approved and later expired still covers services inside its
validity; one that expired while pending was never approved.

Services flush, never commit. Decision 0024 records the choices.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, or_, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from polis.health import rules
from polis.health.authorization_schemas import AuthorizationCreate, AuthorizationDecision
from polis.health.models import Authorization, Member, MemberCoverage, PlanBenefit, Provider
from polis.platform.errors import BusinessRuleError, Conflict, NotFound
from polis.platform.ids import random_code
from polis.platform.money import quantize

ZERO = Decimal("0.00")
JAKARTA = ZoneInfo("Asia/Jakarta")

PENDING = "pending"
APPROVED = "approved"
DENIED = "denied"
EXPIRED = "expired"
EXPIRING = (PENDING, APPROVED)  # the statuses that lapse after valid_to
USE_STEP = "authorization_use"
# Claims whose lines do not (or no longer) use a letter: withdrawn, voided, waiting (a pended
# claim moved nothing and is re-adjudicated as a new claim when released or decided), or
# not yet adjudicated.
NOT_USING = ("voided", "cancelled", "pended", "denied", "submitted", "adjudicating")
USING_LINES = ("approved", "partially_approved")


def today_jakarta() -> date:
    """Today's business date (Asia/Jakarta)."""
    return datetime.now(JAKARTA).date()


def new_authorization_number(valid_from: date) -> str:
    """GL-YYYY-XXXXXXXXXXXX: the year of valid_from and 12 random Crockford base-32
    characters (60 bits), like claim numbers; the UNIQUE authorization_number refuses the
    (improbable) duplicate as a 409."""
    tail = random_code(12)
    return f"GL-{valid_from.year:04d}-{tail}"


def effective_status(auth: Authorization, today: date) -> str:
    """The status as of `today`: pending or approved past valid_to reads `expired`."""
    if auth.status in EXPIRING and auth.valid_to < today:
        return EXPIRED
    return auth.status


def was_approved(auth: Authorization) -> bool:
    """Approved, or approved and since expired (only approved letters get a decision date
    and can then expire; a letter that lapsed while pending has none)."""
    return auth.status == APPROVED or (auth.status == EXPIRED and auth.decision_date is not None)


class InvalidAuthorization(BusinessRuleError):
    """Field-by-field errors that need the database (coverage, the letter, the request)."""

    type_ = "invalid-authorization"
    title = "Invalid Authorization"

    def __init__(self, errors: list[dict[str, str]], type_: str | None = None) -> None:
        noun = "field is" if len(errors) == 1 else "fields are"
        super().__init__(f"{len(errors)} {noun} invalid.", type_=type_, extra={"errors": errors})


def _error(field: str, message: str, type_: str) -> dict[str, str]:
    return {"field": f"body.{field}", "message": message, "type": type_}


# --- reads --------------------------------------------------------------------------------


@dataclass(frozen=True)
class AuthorizationView:
    """A letter with its member number, provider code, status as of today and use."""

    authorization: Authorization
    member_number: str
    provider_code: str
    status: str
    used_amount: Decimal = ZERO
    used_days: int = 0

    def fields(self) -> dict[str, Any]:
        """The response fields (polis.health.authorization_schemas.Authorization)."""
        a = self.authorization
        return {
            "id": a.id,
            "authorization_number": a.authorization_number,
            "claim_id": a.claim_id,
            "member_number": self.member_number,
            "provider_code": self.provider_code,
            "service_type": a.service_type,
            "procedure_code": a.procedure_code,
            "diagnosis_code": a.diagnosis_code,
            "valid_from": a.valid_from,
            "valid_to": a.valid_to,
            "status": self.status,
            "requested_amount": a.requested_amount,
            "requested_days": a.requested_days,
            "approved_amount": a.approved_amount,
            "approved_days": a.approved_days,
            "used_amount": self.used_amount,
            "used_days": self.used_days,
            "decision_date": a.decision_date,
            "decision_by": a.decision_by,
            "decision_notes": a.decision_notes,
            "created_at": a.created_at,
        }


@dataclass(frozen=True)
class AuthorizationFilter:
    """Filters of the list (None: not filtered); `status` is the status as of today."""

    status: str | None = None
    member_number: str | None = None
    provider_code: str | None = None


def statement(where: AuthorizationFilter, today: date) -> Select[Any]:
    """The letters matching the filter (to be paged)."""
    stmt = select(Authorization)
    if where.status == EXPIRED:
        stmt = stmt.where(
            or_(
                Authorization.status == EXPIRED,
                and_(Authorization.status.in_(EXPIRING), Authorization.valid_to < today),
            )
        )
    elif where.status in EXPIRING:
        stmt = stmt.where(Authorization.status == where.status, Authorization.valid_to >= today)
    elif where.status is not None:
        stmt = stmt.where(Authorization.status == where.status)
    if where.member_number is not None:
        stmt = stmt.where(
            Authorization.member_id.in_(
                select(Member.id).where(Member.member_number == where.member_number)
            )
        )
    if where.provider_code is not None:
        stmt = stmt.where(
            Authorization.provider_id.in_(
                select(Provider.id).where(Provider.provider_code == where.provider_code)
            )
        )
    return stmt


async def usage(
    session: AsyncSession, auths: Sequence[Authorization]
) -> dict[str, tuple[Decimal, int]]:
    """(allowed amount, per-day days) that claim lines used of each letter, from the
    `authorization_use` trace steps of the members' claims that count (NOT_USING excluded)."""
    if not auths:
        return {}
    rows = await session.execute(
        text(
            """
            SELECT s.step ->> 'authorization_number' AS number,
                   COALESCE(SUM((s.step ->> 'amount_after')::numeric), 0) AS amount,
                   COALESCE(SUM((s.step ->> 'days')::integer), 0) AS days
            FROM claims.claim c
            JOIN claims.claim_item i ON i.claim_id = c.id
            CROSS JOIN LATERAL jsonb_array_elements(
                CASE WHEN jsonb_typeof(i.adjudication_trace) = 'array'
                     THEN i.adjudication_trace ELSE '[]'::jsonb END
            ) AS s(step)
            WHERE c.member_id = ANY(:members)
              AND c.status <> ALL(:not_using)
              AND i.status = ANY(:using_lines)
              AND s.step ->> 'code' = :code
              AND s.step ->> 'authorization_number' = ANY(:numbers)
            GROUP BY 1
            """
        ),
        {
            "members": sorted({a.member_id for a in auths}, key=str),
            "not_using": list(NOT_USING),
            "using_lines": list(USING_LINES),
            "code": USE_STEP,
            "numbers": sorted({a.authorization_number for a in auths}),
        },
    )
    return {r.number: (quantize(r.amount), int(r.days)) for r in rows}


async def views(
    session: AsyncSession, auths: Sequence[Authorization], today: date
) -> list[AuthorizationView]:
    """Letters with their member numbers, provider codes, status as of today and use."""
    if not auths:
        return []
    members = {
        r[0]: r[1]
        for r in await session.execute(
            select(Member.id, Member.member_number).where(
                Member.id.in_({a.member_id for a in auths})
            )
        )
    }
    providers = {
        r[0]: r[1]
        for r in await session.execute(
            select(Provider.id, Provider.provider_code).where(
                Provider.id.in_({a.provider_id for a in auths})
            )
        )
    }
    used = await usage(session, auths)
    return [
        AuthorizationView(
            a,
            members[a.member_id],
            providers[a.provider_id],
            effective_status(a, today),
            *used.get(a.authorization_number, (ZERO, 0)),
        )
        for a in auths
    ]


async def _find(session: AsyncSession, number: str, *, lock: bool = False) -> Authorization:
    stmt = select(Authorization).where(Authorization.authorization_number == number)
    if lock:
        stmt = stmt.with_for_update()
    auth = await session.scalar(stmt.execution_options(populate_existing=True))
    if auth is None:
        raise NotFound(f"Authorization {number} not found.", type_="authorization-not-found")
    return auth


async def get(session: AsyncSession, number: str, today: date) -> AuthorizationView:
    """One letter; NotFound (404) otherwise."""
    (view,) = await views(session, [await _find(session, number)], today)
    return view


# --- request, decision, expiry ------------------------------------------------------------


async def create(
    session: AsyncSession, body: AuthorizationCreate, today: date
) -> AuthorizationView:
    """Record a provider's request as `pending`. Unknown member or provider: NotFound;
    no active coverage of an active member on valid_from, or valid_to already past: 422
    field by field. Nothing is written on error."""
    member = await session.scalar(select(Member).where(Member.member_number == body.member_number))
    if member is None:
        raise NotFound(f"Member {body.member_number} not found.", type_="member-not-found")
    provider = await session.scalar(
        select(Provider).where(Provider.provider_code == body.provider_code)
    )
    if provider is None:
        raise NotFound(f"Provider {body.provider_code} not found.", type_="provider-not-found")
    errors: list[dict[str, str]] = []
    if member.status != "active":
        errors.append(
            _error("member_number", f"Member status is {member.status}", "member_inactive")
        )
    covered = await session.scalar(
        select(MemberCoverage.id).where(
            MemberCoverage.member_id == member.id,
            MemberCoverage.status == "active",
            MemberCoverage.coverage_start_date <= body.valid_from,
            or_(
                MemberCoverage.coverage_end_date.is_(None),
                MemberCoverage.coverage_end_date >= body.valid_from,
            ),
        )
    )
    if covered is None:
        errors.append(
            _error(
                "valid_from",
                f"Member {body.member_number} has no active coverage on "
                f"{body.valid_from.isoformat()}",
                "no_coverage",
            )
        )
    if body.valid_to < today:
        errors.append(
            _error("valid_to", f"valid_to must not be before today ({today})", "in_the_past")
        )
    if errors:
        raise InvalidAuthorization(errors)
    auth = Authorization(
        authorization_number=new_authorization_number(body.valid_from),
        member_id=member.id,
        provider_id=provider.id,
        service_type=body.service_type,
        procedure_code=body.procedure_code,
        diagnosis_code=body.diagnosis_code,
        valid_from=body.valid_from,
        valid_to=body.valid_to,
        status=PENDING,
        requested_amount=body.requested_amount,
        requested_days=body.requested_days,
    )
    session.add(auth)
    await session.flush()
    return await get(session, auth.authorization_number, today)


async def decide(
    session: AsyncSession,
    number: str,
    body: AuthorizationDecision,
    user_id: uuid.UUID | str,
    today: date,
) -> AuthorizationView:
    """Approve or deny a pending letter (row locked). Anything but pending as of today
    (expired included) is a Conflict. Approval needs approved_amount, at most the requested
    amount, and for inpatient care approved_days, at most the requested days; a denial needs
    decision_notes and carries no amount or days."""
    auth = await _find(session, number, lock=True)
    status = effective_status(auth, today)
    if status != PENDING:
        raise Conflict(
            f"Authorization {number} is {status}; only a pending one can be decided.",
            type_="authorization-not-pending",
        )
    errors: list[dict[str, str]] = []
    if body.decision == APPROVED:
        if body.approved_amount is None:
            errors.append(_error("approved_amount", "Required to approve", "missing"))
        elif auth.requested_amount is not None and body.approved_amount > auth.requested_amount:
            errors.append(
                _error(
                    "approved_amount",
                    f"Must not exceed requested_amount {auth.requested_amount}",
                    "above_requested",
                )
            )
        if body.approved_days is None and auth.service_type == "inpatient":
            errors.append(_error("approved_days", "Required to approve inpatient care", "missing"))
        elif (
            body.approved_days is not None
            and auth.requested_days is not None
            and body.approved_days > auth.requested_days
        ):
            errors.append(
                _error(
                    "approved_days",
                    f"Must not exceed requested_days {auth.requested_days}",
                    "above_requested",
                )
            )
    else:
        for name in ("approved_amount", "approved_days"):
            if getattr(body, name) is not None:
                errors.append(_error(name, "A denial carries no approved amount or days", "extra"))
        if not body.decision_notes:
            errors.append(_error("decision_notes", "Required to deny (the reason)", "missing"))
    if errors:
        raise InvalidAuthorization(errors)
    auth.status = body.decision
    auth.approved_amount = body.approved_amount
    auth.approved_days = body.approved_days
    auth.decision_notes = body.decision_notes
    auth.decision_by = str(user_id)
    auth.decision_date = func.now()
    await session.flush()
    return await get(session, number, today)


async def expire_authorizations(session: AsyncSession, today: date) -> int:
    """Store `expired` on pending and approved letters whose valid_to is before `today`;
    returns how many changed (a second run the same day changes none)."""
    result = await session.execute(
        update(Authorization)
        .where(Authorization.status.in_(EXPIRING), Authorization.valid_to < today)
        .values(status=EXPIRED)
        .execution_options(synchronize_session=False)
    )
    return int(getattr(result, "rowcount", 0) or 0)


# --- use by claims ------------------------------------------------------------------------


async def claim_authorizations(
    session: AsyncSession,
    member: Member,
    service_type: str,
    number: str | None,
) -> list[Authorization]:
    """The letters a claim's adjudication considers: the one it names (which must be the
    member's, for the claim's service type: else 422 on authorization_number), or the
    member's letters for the service type, oldest first."""
    if number is None:
        return list(
            (
                await session.scalars(
                    select(Authorization)
                    .where(
                        Authorization.member_id == member.id,
                        Authorization.service_type == service_type,
                    )
                    .order_by(Authorization.created_at, Authorization.authorization_number)
                )
            ).all()
        )
    auth = await session.scalar(
        select(Authorization).where(Authorization.authorization_number == number)
    )
    if auth is None or auth.member_id != member.id:
        raise InvalidAuthorization(
            [
                _error(
                    "authorization_number",
                    f"{number} is not an authorization of member {member.member_number}",
                    "not_found",
                )
            ]
        )
    if auth.service_type != service_type:
        raise InvalidAuthorization(
            [
                _error(
                    "authorization_number",
                    f"{number} is for {auth.service_type}, not {service_type}",
                    "service_type_mismatch",
                )
            ]
        )
    return [auth]


@dataclass(frozen=True)
class EngineInputs:
    """What the engine gets (remaining amount and days after earlier claims), the letter a
    covered line will use (None: none applies) and its remaining days."""

    facts: list[rules.AuthorizationFacts]
    chosen: Authorization | None
    remaining_days: int | None


def _applies(auth: Authorization, provider_id: uuid.UUID, day: date) -> bool:
    """The engine's choice: this provider, approved, valid on the service day."""
    return (
        auth.provider_id == provider_id
        and was_approved(auth)
        and auth.valid_from <= day <= auth.valid_to
    )


async def engine_inputs(
    session: AsyncSession,
    auths: Sequence[Authorization],
    *,
    provider_id: uuid.UUID,
    service_date: date,
    named: bool,
) -> EngineInputs:
    """Call after the accumulator locks. Locks one letter row (the named one, else the one
    that applies), then deducts what earlier claims used of each letter from its approved
    amount and days. A letter approved and since expired is given to the engine as approved:
    its validity dates, not the job, decide (the service date is what counts)."""
    target = auths[0] if named and auths else None
    if target is None:
        target = next((a for a in auths if _applies(a, provider_id, service_date)), None)
    if target is not None:
        await _find(session, target.authorization_number, lock=True)  # refreshes `target`
    used = await usage(session, auths)
    facts: list[rules.AuthorizationFacts] = []
    for a in auths:
        amount, days = used.get(a.authorization_number, (ZERO, 0))
        facts.append(
            rules.AuthorizationFacts(
                authorization_number=a.authorization_number,
                member_id=a.member_id,
                provider_id=a.provider_id,
                service_type=a.service_type,
                valid_from=a.valid_from,
                valid_to=a.valid_to,
                status=APPROVED if was_approved(a) else a.status,
                approved_amount=None
                if a.approved_amount is None
                else max(quantize(a.approved_amount - amount), ZERO),
                approved_days=None if a.approved_days is None else max(a.approved_days - days, 0),
            )
        )
    chosen = next((a for a in auths if _applies(a, provider_id, service_date)), None)
    remaining = None
    if chosen is not None:
        remaining = next(
            f.approved_days for f in facts if f.authorization_number == chosen.authorization_number
        )
    return EngineInputs(facts, chosen, remaining)


def use_steps(
    result: rules.AdjudicationResult,
    inputs: EngineInputs,
    benefits: Mapping[str, PlanBenefit],
    *,
    inner_limit_applicable: bool,
) -> list[list[dict[str, str]]]:
    """Per line, the `authorization_use` trace step of a line that used the letter: its
    allowed amount and, for a per-day benefit, the days covered (the engine's own count,
    replayed: days are capped by limit_days and by the letter's days left, and every line
    using the letter draws on those days as the engine does). Later claims sum these."""
    steps: list[list[dict[str, str]]] = []
    chosen = inputs.chosen
    days_left = inputs.remaining_days
    claim_days: dict[str, int] = {}
    for line in result.lines:
        if line.status == "denied":  # a denied line moved nothing in the engine
            steps.append([])
            continue
        code = line.line.benefit_code
        benefit = benefits.get(code)
        uses = chosen is not None and any(s.code == "authorization" for s in line.trace)
        per_day = (
            benefit is not None
            and inner_limit_applicable
            and benefit.limit_type == "per_day"
            and benefit.limit_amount is not None
        )
        days = line.line.quantity
        if per_day and benefit is not None:
            if benefit.limit_days is not None:
                days = min(days, max(benefit.limit_days - claim_days.get(code, 0), 0))
            if uses and days_left is not None:
                days = min(days, max(days_left, 0))
        covered = days if per_day else line.line.quantity
        claim_days[code] = claim_days.get(code, 0) + covered
        if not uses or chosen is None:
            steps.append([])
            continue
        if days_left is not None:
            days_left -= covered
        counted = covered if per_day else 0
        steps.append(
            [
                {
                    "code": USE_STEP,
                    "message": (
                        f"{chosen.authorization_number}: {line.allowed} and {counted} day(s)"
                        " of the authorisation used"
                    ),
                    "amount_before": str(line.allowed),
                    "amount_after": str(line.allowed),
                    "authorization_number": chosen.authorization_number,
                    "days": str(counted),
                }
            ]
        )
    return steps


async def link_claim(
    session: AsyncSession,
    auths: Sequence[Authorization],
    inputs: EngineInputs,
    steps: Sequence[Sequence[dict[str, str]]],
    claim_id: uuid.UUID,
    *,
    named: bool,
) -> None:
    """authorization.claim_id = the claim, for the letter the claim names, or else the one
    its lines used (the column holds the latest claim; the use of each claim is in its
    lines' `authorization_use` steps)."""
    target = auths[0] if named and auths else (inputs.chosen if any(steps) else None)
    if target is None:
        return
    await session.execute(
        update(Authorization)
        .where(Authorization.id == target.id)
        .values(claim_id=claim_id)
        .execution_options(synchronize_session=False)
    )
