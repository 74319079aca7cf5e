"""Motor claim settlement (issue 5 item 5; decision 0051): claim_settlements rows per payee,
the OUTGOING CLAIM_SETTLEMENT payment of each positive net, payment recorded, cancellation,
and APPROVED -> SETTLED with settled_amount, deductible_amount, settlement_date and the
claim's effect on the policy's next NCD. Services only flush; the request commits.

Amounts: every row's gross is checked against cover (`claim_rules.coverage`), CMI rows
against the per-person limits (`claim_rules.cmi_payable`, counting what earlier live rows
paid the same person), and the claim's live rows together never exceed approved_amount
(nor the own-damage limit of a 2+/3+ policy or the sum insured). The claim's deductible
(`claim_rules.deductible_for`: the policy's voluntary deductible, plus 2,000 THB on 2+/3+ when
the insured is at fault) is taken once per claim, over its own-damage rows in order
(`claim_settlement_rules.allocate_deductible`); net = gross - deductible
(`claim_rules.settlement`).

Lock order: the claim (FOR UPDATE), then its settlement rows, then a payment.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, select, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncSession

from polis.motor import (
    claim_rules,
    claim_settlement_rules,
    claims,
    payments,
    renewal_rules,
    renewals,
)
from polis.motor.claim_assessment_schemas import ClaimState
from polis.motor.claim_rules import OWN_DAMAGE, ZERO, to_satang
from polis.motor.claim_settlement_rules import CANCELLED, PAID, Row
from polis.motor.claim_settlement_schemas import (
    ClaimSettlements,
    Deductible,
    NcdEffect,
    PayeeCreate,
    Settlement,
    SettlementCreate,
    SettlementPaid,
)
from polis.motor.models import (
    ClaimAssessment,
    ClaimSettlement,
    MotorClaim,
    MotorPayment,
    MotorPolicy,
)
from polis.platform.crypto import get_keyring
from polis.platform.errors import BusinessRuleError, Conflict, NotFound


class SettlementRefused(Conflict):
    """The claim or the settlement's state refuses the request."""

    type_ = "settlement-refused"
    title = "Settlement Refused"


class InvalidSettlement(BusinessRuleError):
    """Amounts or payees the settlement rules refuse, field by field (422)."""

    type_ = "invalid-settlement"
    title = "Invalid Settlement"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors), extra={"errors": errors})


def _error(field: str, message: str, kind: str) -> dict[str, str]:
    return {"field": f"body.{field}", "message": message, "type": kind}


def _today(now: datetime) -> date:
    from polis.motor.quotes import today_bangkok

    return today_bangkok(now)


# --- the columns of migration 0017 (not in the shared models: read and written by SQL) ---------

_SET_EXTRAS = text(
    "update motor.claim_settlements set head_of_loss = :head, loss_details = :details"
    " where id = :id"
).bindparams(bindparam("details", type_=JSONB))
_GET_EXTRAS = text(
    "select id, head_of_loss, loss_details from motor.claim_settlements where claim_id = :claim"
)
_SET_NCD = text("update motor.claims set ncd_effect = :effect where id = :id").bindparams(
    bindparam("effect", type_=JSONB)
)
_GET_NCD = text("select ncd_effect from motor.claims where id = :id")


async def _extras(
    session: AsyncSession, claim_id: uuid.UUID
) -> dict[uuid.UUID, tuple[str | None, dict[str, Any] | None]]:
    rows = await session.execute(_GET_EXTRAS, {"claim": claim_id})
    return {r[0]: (r[1], r[2]) for r in rows}


# --- reading ---------------------------------------------------------------------------------


async def settlements_of(
    session: AsyncSession, claim_id: uuid.UUID, *, lock: bool = False
) -> list[ClaimSettlement]:
    """A claim's settlement rows, oldest first."""
    stmt = (
        select(ClaimSettlement)
        .where(ClaimSettlement.claim_id == claim_id)
        .order_by(ClaimSettlement.created_at, ClaimSettlement.id)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list((await session.execute(stmt)).scalars())


async def _policy(session: AsyncSession, claim: MotorClaim) -> MotorPolicy:
    return (
        await session.execute(select(MotorPolicy).where(MotorPolicy.id == claim.policy_id))
    ).scalar_one()


async def latest_liability(session: AsyncSession, claim_id: uuid.UUID) -> Decimal | None:
    """The liability_percentage of the claim's latest assessment that gives one."""
    value: Decimal | None = await session.scalar(
        select(ClaimAssessment.liability_percentage)
        .where(
            ClaimAssessment.claim_id == claim_id,
            ClaimAssessment.liability_percentage.is_not(None),
        )
        .order_by(ClaimAssessment.assessment_date.desc(), ClaimAssessment.created_at.desc())
        .limit(1)
    )
    return value


@dataclass(frozen=True)
class DeductibleFacts:
    policy_excess: Decimal
    at_fault_deductible: Decimal
    insured_at_fault: bool
    total: Decimal


def coverage_option(policy: MotorPolicy) -> str:
    option = (policy.coverage_details or {}).get("coverage_option") or "STANDARD"
    return str(option)


def policy_excess(policy: MotorPolicy) -> Decimal:
    """The policy's voluntary deductible (coverage_details.voluntary_deductible, rating)."""
    value = (policy.coverage_details or {}).get("voluntary_deductible")
    return to_satang(Decimal(str(value))) if value else ZERO


async def deductible_facts(
    session: AsyncSession, claim: MotorClaim, policy: MotorPolicy
) -> DeductibleFacts:
    """The claim's own-damage deductible. "At fault" is read as for the NCD (decision 0047):
    the latest assessment's liability_percentage > 0, else other_party_info.insured_at_fault,
    unknown counting as at fault."""
    liability = await latest_liability(session, claim.id)
    facts = renewal_rules.claim_facts(claim.other_party_info, liability, None)
    option = coverage_option(policy)
    excess = policy_excess(policy)
    total = claim_rules.deductible_for(
        head=OWN_DAMAGE,
        coverage_option=option,
        at_fault=facts.insured_at_fault,
        policy_excess=excess,
    )
    return DeductibleFacts(excess, total - excess, facts.insured_at_fault, total)


def _row(r: ClaimSettlement) -> Row:
    return Row(r.status, r.net_amount, r.deductible_amount)


async def view(session: AsyncSession, claim: MotorClaim) -> ClaimSettlements:
    """The claim's settlements with their payments, deductible and NCD effect."""
    rows = await settlements_of(session, claim.id)
    extras = await _extras(session, claim.id)
    pays: dict[uuid.UUID, MotorPayment] = {}
    ids = [r.payment_id for r in rows if r.payment_id is not None]
    if ids:
        result = await session.execute(select(MotorPayment).where(MotorPayment.id.in_(ids)))
        pays = {p.id: p for p in result.scalars()}
    policy = await _policy(session, claim)
    facts = await deductible_facts(session, claim, policy)
    totals = claim_settlement_rules.totals([_row(r) for r in rows])
    effect = await session.scalar(_GET_NCD, {"id": claim.id})
    return ClaimSettlements(
        claim=ClaimState.of(claim),
        approved_amount=claim.approved_amount,
        settled_gross=sum((r.gross_amount for r in rows if r.status != CANCELLED), ZERO),
        deductible=Deductible(
            policy_excess=facts.policy_excess,
            at_fault_deductible=facts.at_fault_deductible,
            insured_at_fault=facts.insured_at_fault,
            total=facts.total,
            applied=totals.deductible_amount,
        ),
        settlements=[
            settlement_out(
                r, extras.get(r.id, (None, None)), pays.get(r.payment_id) if r.payment_id else None
            )
            for r in rows
        ],
        ncd_effect=NcdEffect.model_validate(effect) if effect else None,
    )


def settlement_out(
    row: ClaimSettlement,
    extras: tuple[str | None, dict[str, Any] | None],
    payment: MotorPayment | None,
) -> Settlement:
    """The response of a claim_settlements row."""
    data = {c: getattr(row, c) for c in Settlement.model_fields if hasattr(row, c)}
    data.update(
        head_of_loss=extras[0],
        loss_details=extras[1],
        currency=row.currency or "THB",
        version=row.version or 0,
        payment=payments.payment_out(payment, None) if payment is not None else None,
    )
    return Settlement.model_validate(data)


async def get_settlements(session: AsyncSession, claim_id: uuid.UUID) -> ClaimSettlements:
    """GET /claims/{id}/settlements."""
    return await view(session, await claims.get_claim(session, claim_id))


# --- creating --------------------------------------------------------------------------------


def _cmi_earlier(
    rows: list[ClaimSettlement], extras: dict[uuid.UUID, tuple[str | None, dict[str, Any] | None]]
) -> list[tuple[str, claim_rules.CmiPayment]]:
    out = []
    for r in rows:
        details = extras.get(r.id, (None, None))[1]
        if r.status == CANCELLED or not details or "injured_person" not in details:
            continue
        out.append(
            (
                str(details["injured_person"]),
                claim_rules.CmiPayment(
                    Decimal(str(details.get("medical", "0"))),
                    Decimal(str(details.get("death_or_disability", "0"))),
                    Decimal(str(details.get("inpatient_compensation", "0"))),
                ),
            )
        )
    return out


def _cmi_row(
    index: int,
    payee: PayeeCreate,
    earlier: list[tuple[str, claim_rules.CmiPayment]],
    errors: list[dict[str, str]],
) -> tuple[Decimal, dict[str, Any] | None]:
    """The gross of a CMI row and its loss_details; refusals appended to `errors`."""
    where = f"payees.{index}.cmi"
    cmi = payee.cmi
    if cmi is None:
        errors.append(
            _error(where, "CMI pays bodily injury per person: give cmi details", "missing")
        )
        return ZERO, None
    paid = claim_settlement_rules.cmi_already_paid(earlier, cmi.injured_person)
    payable = claim_rules.cmi_payable(
        cmi.stage,
        medical=cmi.medical,
        death_or_disability=cmi.death_or_disability,
        inpatient_days=cmi.inpatient_days,
        already_paid=paid,
    )
    limits = claim_rules.CMI_LIMITS[cmi.stage]
    inpatient = to_satang(limits.inpatient_daily * min(cmi.inpatient_days, 366))
    for name, asked, can, cap in (
        ("medical", cmi.medical, payable.medical, limits.medical),
        (
            "death_or_disability",
            cmi.death_or_disability,
            payable.death_or_disability,
            limits.death_or_disability,
        ),
    ):
        if asked > can:
            errors.append(
                _error(
                    f"{where}.{name}",
                    f"{name} {asked} is above the CMI {cmi.stage} limit of {cap} per person "
                    f"({can} left for {cmi.injured_person})",
                    "cmi_limit",
                )
            )
    if cmi.inpatient_days and (
        cmi.inpatient_days > limits.inpatient_max_days or inpatient > payable.inpatient_compensation
    ):
        errors.append(
            _error(
                f"{where}.inpatient_days",
                f"inpatient compensation is {limits.inpatient_daily} THB a day for at most "
                f"{limits.inpatient_max_days} days at stage {cmi.stage} "
                f"({payable.inpatient_compensation} left for {cmi.injured_person})",
                "cmi_limit",
            )
        )
    gross = to_satang(cmi.medical + cmi.death_or_disability + inpatient)
    if payee.gross_amount is not None and payee.gross_amount != gross:
        errors.append(
            _error(
                f"payees.{index}.gross_amount",
                f"gross_amount {payee.gross_amount} is not the CMI amounts' sum {gross}",
                "amount_mismatch",
            )
        )
    details = {
        "stage": cmi.stage,
        "injured_person": cmi.injured_person,
        "medical": str(cmi.medical),
        "death_or_disability": str(cmi.death_or_disability),
        "inpatient_days": cmi.inpatient_days,
        "inpatient_compensation": str(inpatient),
    }
    earlier.append(
        (
            cmi.injured_person,
            claim_rules.CmiPayment(cmi.medical, cmi.death_or_disability, inpatient),
        )
    )
    return gross, details


def _own_damage_cap(policy: MotorPolicy, limit: Decimal | None) -> Decimal | None:
    """The most own damage a claim pays: the 2+/3+ limit, else the sum insured."""
    if limit is not None:
        return limit
    details = policy.coverage_details or {}
    for key in ("own_damage", "fire_theft"):
        part = details.get(key)
        if isinstance(part, dict) and part.get("sum_insured"):
            return Decimal(str(part["sum_insured"]))
    return None


async def create_settlements(
    session: AsyncSession,
    claim_id: uuid.UUID,
    body: SettlementCreate,
    *,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> ClaimSettlements:
    """Settle an APPROVED claim (see the module docstring): rows APPROVED by the caller, a
    PENDING OUTGOING CLAIM_SETTLEMENT payment per positive net; a claim whose rows all net 0
    (the deductible swallows them) settles at once at 0."""
    now = now or datetime.now(UTC)
    today = _today(now)
    claim = await claims.get_claim(session, claim_id, lock=True)
    if claim.status != claim_rules.APPROVED:
        raise SettlementRefused(
            f"Claim {claim.claim_number} is {claim.status}: only an APPROVED claim is settled.",
            extra={"claim_status": claim.status},
        )
    policy = await _policy(session, claim)
    rows = await settlements_of(session, claim.id, lock=True)
    extras = await _extras(session, claim.id)
    live = [r for r in rows if r.status != CANCELLED]
    option = coverage_option(policy)
    collision = claim_settlement_rules.collided_with_land_vehicle(claim.other_party_info)

    errors: list[dict[str, str]] = []
    earlier_cmi = _cmi_earlier(rows, extras)
    grosses: list[Decimal] = []
    details: list[dict[str, Any] | None] = []
    od_limit: Decimal | None = None
    for i, payee in enumerate(body.payees):
        cover = claim_rules.coverage(
            policy.policy_type,
            claim.claim_type,
            payee.head_of_loss,
            coverage_option=option,
            collision_with_land_vehicle=collision,
        )
        if not cover.covered:
            errors.append(_error(f"payees.{i}.head_of_loss", cover.reason, "not_covered"))
        if payee.head_of_loss == OWN_DAMAGE and cover.limit is not None:
            od_limit = cover.limit
        if policy.policy_type == "CMI":
            gross, detail = _cmi_row(i, payee, earlier_cmi, errors)
        else:
            if payee.cmi is not None:
                errors.append(
                    _error(f"payees.{i}.cmi", "cmi details go on CMI policies only", "not_cmi")
                )
            gross, detail = payee.gross_amount or ZERO, None
        grosses.append(gross)
        details.append(detail)
    if errors:
        raise InvalidSettlement(errors)

    approved = claim.approved_amount or ZERO
    before = sum((r.gross_amount for r in live), ZERO)
    asked = sum(grosses, ZERO)
    if before + asked > approved:
        raise InvalidSettlement(
            [
                _error(
                    "payees",
                    f"the claim's settlements would total {before + asked}, above the approved "
                    f"amount {approved} ({before} already settled)",
                    "above_approved",
                )
            ]
        )
    cap = _own_damage_cap(policy, od_limit)
    od_before = sum(
        (r.gross_amount for r in live if extras.get(r.id, (None, None))[0] == OWN_DAMAGE), ZERO
    )
    od_new = sum(
        (g for g, p in zip(grosses, body.payees, strict=True) if p.head_of_loss == OWN_DAMAGE),
        ZERO,
    )
    if cap is not None and od_new and od_before + od_new > cap:
        raise InvalidSettlement(
            [
                _error(
                    "payees",
                    f"own damage would total {od_before + od_new}, above the policy's own-damage "
                    f"limit {cap}",
                    "above_cover_limit",
                )
            ]
        )

    facts = await deductible_facts(session, claim, policy)
    applied_before = sum((r.deductible_amount for r in live), ZERO)
    od_index = [i for i, p in enumerate(body.payees) if p.head_of_loss == OWN_DAMAGE]
    allocation = claim_settlement_rules.allocate_deductible(
        facts.total, applied_before, [grosses[i] for i in od_index]
    )
    deductibles = [ZERO] * len(body.payees)
    for i, amount in zip(od_index, allocation, strict=True):
        deductibles[i] = amount

    keyring = get_keyring() if any(p.bank_account_number for p in body.payees) else None
    created: list[ClaimSettlement] = []
    for i, payee in enumerate(body.payees):
        figures = claim_rules.settlement(grosses[i], deductibles[i])
        sealed = (
            keyring.seal("".join(ch for ch in payee.bank_account_number if ch.isdigit()))
            if keyring is not None and payee.bank_account_number
            else None
        )
        payment: MotorPayment | None = None
        if figures.net_amount > 0:
            payment = payments.claim_settlement_row(
                policy,
                claim.id,
                figures.net_amount,
                claim_settlement_rules.payment_method_for(payee.settlement_method),
                today,
                user_id,
                bank_code=payee.bank_code,
                bank_account_number=sealed.masked if sealed else None,
            )
            if sealed is not None:
                payment.bank_account_number_encrypted = sealed.ciphertext
            session.add(payment)
            await session.flush()  # the registry row (trigger) before the settlement's FK
        row = ClaimSettlement(
            settlement_number=claim_settlement_rules.new_settlement_number(today),
            claim_id=claim.id,
            payee_type=payee.payee_type,
            payee_name=payee.payee_name,
            payee_id=payee.payee_id,
            gross_amount=figures.gross_amount,
            deductible_amount=figures.deductible_amount,
            net_amount=figures.net_amount,
            currency="THB",
            settlement_method=payee.settlement_method,
            payment_id=payment.id if payment is not None else None,
            status=claim_settlement_rules.APPROVED,
            approved_by=user_id,
            approved_at=now,
            bank_code=payee.bank_code,
            bank_account_name=payee.bank_account_name,
            bank_account_number=sealed.masked if sealed else None,
            bank_account_number_encrypted=sealed.ciphertext if sealed else None,
            notes=payee.notes,
            created_by=user_id,
            updated_by=user_id,
            version=0,
            # rows of one request share the transaction's now(): keep the payees' order
            created_at=now + timedelta(microseconds=i),
            updated_at=now,
        )
        session.add(row)
        await session.flush()
        await session.execute(
            _SET_EXTRAS, {"head": payee.head_of_loss, "details": details[i], "id": row.id}
        )
        created.append(row)

    all_rows = live + created + [r for r in rows if r.status == CANCELLED]
    claim.deductible_amount = claim_settlement_rules.totals(
        [_row(r) for r in all_rows]
    ).deductible_amount
    await _settle_if_done(session, claim, policy, all_rows, user_id=user_id, now=now)
    await session.flush()
    await session.refresh(claim)
    return await view(session, claim)


# --- paying, cancelling, settling ------------------------------------------------------------


async def _settlement(
    session: AsyncSession, claim: MotorClaim, settlement_id: uuid.UUID
) -> ClaimSettlement:
    row = (
        await session.execute(
            select(ClaimSettlement)
            .where(ClaimSettlement.id == settlement_id, ClaimSettlement.claim_id == claim.id)
            .with_for_update()
        )
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"Claim {claim.claim_number} has no settlement {settlement_id}.")
    return row


async def mark_paid(
    session: AsyncSession,
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    body: SettlementPaid,
    *,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> tuple[ClaimSettlements, bool]:
    """Record that a settlement's payment went out: payment SUCCESS, settlement PAID; when
    every row is done the claim is SETTLED. Same reference again: nothing changes (False)."""
    now = now or datetime.now(UTC)
    claim = await claims.get_claim(session, claim_id, lock=True)
    row = await _settlement(session, claim, settlement_id)
    if row.status == CANCELLED:
        raise SettlementRefused(f"Settlement {row.settlement_number} is CANCELLED.")
    if row.payment_id is None:
        raise SettlementRefused(
            f"Settlement {row.settlement_number} nets 0 after the deductible: nothing to pay."
        )
    payment, _ = await payments.get_payment(session, row.payment_id, lock=True)
    if row.status == PAID:
        if payment.transaction_reference == body.transaction_reference:
            return await view(session, claim), False
        raise SettlementRefused(
            f"Settlement {row.settlement_number} was already paid with another reference.",
            extra={"transaction_reference": payment.transaction_reference},
        )
    if claim.status != claim_rules.APPROVED:
        raise SettlementRefused(
            f"Claim {claim.claim_number} is {claim.status}: its settlements are not payable.",
            extra={"claim_status": claim.status},
        )
    if body.paid_at > now:
        raise InvalidSettlement([_error("paid_at", "paid_at must not be in the future", "future")])
    await payments.record_outgoing_paid(
        session, payment, body.transaction_reference, body.paid_at, user_id=user_id, now=now
    )
    row.status = PAID
    row.paid_at = body.paid_at
    row.updated_by = user_id
    row.version = (row.version or 0) + 1
    await session.flush()
    policy = await _policy(session, claim)
    await _settle_if_done(
        session, claim, policy, await settlements_of(session, claim.id), user_id=user_id, now=now
    )
    await session.flush()
    await session.refresh(claim)
    return await view(session, claim), True


async def cancel(
    session: AsyncSession,
    claim_id: uuid.UUID,
    settlement_id: uuid.UUID,
    reason: str,
    *,
    user_id: uuid.UUID,
    now: datetime | None = None,
) -> ClaimSettlements:
    """Cancel an unpaid settlement and its payment. When the rows left are all done (and at
    least one is live) the claim settles: create a replacement before cancelling."""
    now = now or datetime.now(UTC)
    claim = await claims.get_claim(session, claim_id, lock=True)
    row = await _settlement(session, claim, settlement_id)
    if row.status in (PAID, CANCELLED):
        raise SettlementRefused(
            f"Settlement {row.settlement_number} is {row.status}: only an unpaid one is cancelled.",
            extra={"settlement_status": row.status},
        )
    if claim.status != claim_rules.APPROVED:
        raise SettlementRefused(
            f"Claim {claim.claim_number} is {claim.status}: its settlements are final.",
            extra={"claim_status": claim.status},
        )
    if row.payment_id is not None:
        payment, _ = await payments.get_payment(session, row.payment_id, lock=True)
        if payment.payment_status not in ("PENDING", "FAILED"):
            raise SettlementRefused(
                f"The payment of settlement {row.settlement_number} is "
                f"{payment.payment_status}: it cannot be cancelled.",
                extra={"payment_status": payment.payment_status},
            )
        payment.payment_status = "CANCELLED"
        payment.updated_by = user_id
        payment.version = (payment.version or 0) + 1
    row.status = CANCELLED
    row.cancelled_at = now
    row.cancellation_reason = reason
    row.updated_by = user_id
    row.version = (row.version or 0) + 1
    await session.flush()
    rows = await settlements_of(session, claim.id)
    claim.deductible_amount = claim_settlement_rules.totals(
        [_row(r) for r in rows]
    ).deductible_amount
    policy = await _policy(session, claim)
    await _settle_if_done(session, claim, policy, rows, user_id=user_id, now=now)
    await session.flush()
    await session.refresh(claim)
    return await view(session, claim)


async def _settle_if_done(
    session: AsyncSession,
    claim: MotorClaim,
    policy: MotorPolicy,
    rows: list[ClaimSettlement],
    *,
    user_id: uuid.UUID,
    now: datetime,
) -> bool:
    """APPROVED -> SETTLED when every row is done (claim_settlement_rules.claim_settles):
    settled_amount = net paid, deductible_amount, settlement_date; then the NCD effect."""
    facts = [_row(r) for r in rows]
    if not claim_settlement_rules.claim_settles(facts):
        return False
    totals = claim_settlement_rules.totals(facts)
    claims.transition(
        claim, claim_rules.SETTLED, actor_id=user_id, today=_today(now), now=now, sub_status=None
    )
    claim.settled_amount = totals.settled_amount
    claim.deductible_amount = totals.deductible_amount
    await session.flush()
    effect = await ncd_effect(session, claim, policy, _today(now))
    await session.execute(_SET_NCD, {"effect": effect.model_dump(mode="json"), "id": claim.id})
    return True


async def ncd_effect(
    session: AsyncSession, claim: MotorClaim, policy: MotorPolicy, today: date
) -> NcdEffect:
    """What the policy's next NCD would be with its claims as they stand (this one settled),
    and without this claim (renewals.claims_of + renewal_rules.next_ncd, decision 0047)."""
    everything = await renewals.claims_of(session, policy.id)
    this = renewal_rules.claim_facts(
        claim.other_party_info, await latest_liability(session, claim.id), claim.settled_amount
    )
    others = list(everything)
    if this in others:
        others.remove(this)
    premium = policy.total_premium
    with_claim = renewal_rules.next_ncd(policy.no_claim_discount, everything, premium)
    without = renewal_rules.next_ncd(policy.no_claim_discount, others, premium)
    return NcdEffect(
        policy_id=policy.id,
        policy_number=policy.policy_number,
        current_ncd=with_claim.previous,
        next_ncd=with_claim.ncd,
        steps=with_claim.steps,
        next_ncd_without_this_claim=without.ncd,
        counts_against_ncd=this.counts_against_ncd,
        insured_at_fault=this.insured_at_fault,
        counted_claims=with_claim.counted_claims,
        claims_paid=with_claim.claims_paid,
        reason=with_claim.reason,
        computed_on=today,
    )
