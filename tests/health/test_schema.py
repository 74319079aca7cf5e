"""Health schema (seed 000, migration 0004_health): models agree with the migration, and the
database itself enforces what it promises: CHECKs, keys, partitions, the claim registry,
row-level security, the seed's views, function and procedure, audit and timestamp triggers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db import migrate
from polis.db.base import load_all_models
from polis.health.models import (
    Accumulator,
    Authorization,
    Claim,
    ClaimDocument,
    ClaimItem,
    ClaimRegistry,
    Eob,
    Exclusion,
    Member,
    MemberCoverage,
    Payment,
    Plan,
    PlanBenefit,
    Policy,
    Provider,
    ProviderContract,
)

HEALTH_SCHEMAS = {"claims", "member", "provider", "benefit", "policy", "billing"}
HEALTH_TABLES = {
    "claims.claim",
    "claims.claim_registry",
    "claims.claim_item",
    "claims.claim_document",
    "claims.authorization",
    "member.member",
    "member.member_coverage",
    "member.accumulator",
    "provider.provider",
    "provider.provider_contract",
    "benefit.plan",
    "benefit.plan_benefit",
    "benefit.exclusion",
    "policy.policy",
    "billing.payment",
    "billing.eob",
}
CHECK_VIOLATION = "23514"
UNIQUE_VIOLATION = "23505"
FK_VIOLATION = "23503"


def _n() -> str:
    return uuid.uuid4().hex[:12].upper()


# --- factories ----------------------------------------------------------------------------


@dataclass
class World:
    """A plan, a policy on it, a network hospital and one covered member."""

    plan: Plan
    policy: Policy
    provider: Provider
    member: Member


async def add_member(
    session: AsyncSession,
    w: World | None = None,
    *,
    first_name: str = "Siti",
    status: str = "active",
    coverage: tuple[date, date | None] = (date(2020, 1, 1), None),
) -> Member:
    """A member, covered under the world's policy and plan from coverage[0] to coverage[1]."""
    member = Member(
        member_number=f"MBR-{_n()}",
        first_name=first_name,
        last_name="Rahma",
        birth_date=date(1988, 4, 17),
        gender="female",
        national_id="************0001",
        status=status,
        enrollment_date=date(2020, 1, 1),
    )
    session.add(member)
    await session.flush()
    if w is not None:
        await cover(session, member, w.policy, w.plan, coverage)
    return member


async def cover(
    session: AsyncSession,
    member: Member,
    policy: Policy,
    plan: Plan,
    period: tuple[date, date | None] = (date(2020, 1, 1), None),
) -> None:
    """Cover `member` under `policy` and `plan` for `period` (start, end or None)."""
    session.add(
        MemberCoverage(
            member_id=member.id,
            policy_id=policy.id,
            plan_id=plan.id,
            relationship="employee",
            coverage_start_date=period[0],
            coverage_end_date=period[1],
        )
    )
    await session.flush()


async def make_world(session: AsyncSession) -> World:
    """Insert a consistent set of reference rows and return them."""
    plan = Plan(
        plan_code=f"PLN-{_n()}",
        plan_name="Gold",
        plan_type="premium",
        annual_limit=Decimal("250000000.00"),
        effective_date=date(2020, 1, 1),
    )
    session.add(plan)
    await session.flush()
    policy = Policy(
        policy_number=f"POL-{_n()}",
        company_name="PT Maju Bersama",
        policy_type="group",
        plan_id=plan.id,
        effective_date=date(2020, 1, 1),
        renewal_date=date(2030, 1, 1),
        funding_type="aso",
    )
    provider = Provider(
        provider_code=f"PRV-{_n()}",
        provider_name="RS Medika Jakarta",
        provider_type="hospital",
        provider_class="A",
    )
    session.add_all([policy, provider])
    await session.flush()
    member = await add_member(session)
    await cover(session, member, policy, plan)
    return World(plan=plan, policy=policy, provider=provider, member=member)


def claim_values(w: World, member: Member | None = None, **over: Any) -> dict[str, Any]:
    """Column values of a valid claim of `member` (default: the world's member)."""
    values: dict[str, Any] = {
        "claim_number": f"CLM-{_n()}",
        "member_id": (member or w.member).id,
        "provider_id": w.provider.id,
        "policy_id": w.policy.id,
        "claim_type": "cashless",
        "service_type": "inpatient",
        "admission_date": date(2025, 3, 10),
        "discharge_date": date(2025, 3, 12),
        "service_date": date(2025, 3, 10),
        "total_charged_amount": Decimal("1500000.00"),
    }
    values.update(over)
    return values


async def add_claim(session: AsyncSession, w: World, **over: Any) -> uuid.UUID:
    """Insert a claim; return its id."""
    values = claim_values(w, **over)
    values.setdefault("id", uuid.uuid4())
    await session.execute(insert(Claim).values(**values))
    return uuid.UUID(str(values["id"]))


async def scalar(session: AsyncSession, sql: str, **params: Any) -> Any:
    return (await session.execute(text(sql), params)).scalar_one()


async def refused(session: AsyncSession, stmt: Any, sqlstate: str, name: str) -> None:
    """`stmt` fails with `sqlstate` naming constraint `name`; the test transaction survives."""
    with pytest.raises(IntegrityError) as exc:
        async with session.begin_nested():
            await session.execute(stmt)
    assert exc.value.orig is not None
    assert getattr(exc.value.orig, "sqlstate", None) == sqlstate, exc.value
    assert name in str(exc.value)


# --- models and migration agree ----------------------------------------------------------


def _schema_of(entry: Any) -> str | None:
    """Schema a migrate.diff entry is about (entries are tuples, or lists of tuples)."""
    if isinstance(entry, list):
        return _schema_of(entry[0])
    for part in entry[1:]:
        if isinstance(part, str):
            return part
        if isinstance(part, Table):
            return part.schema
        table = getattr(part, "table", None)
        if isinstance(table, Table):
            return table.schema
    return None


def test_models_declare_every_health_table() -> None:
    metadata = load_all_models()
    declared = {k for k, t in metadata.tables.items() if t.schema in HEALTH_SCHEMAS}
    assert declared >= HEALTH_TABLES
    assert _schema_of(("add_table", metadata.tables["claims.claim"])) == "claims"
    assert _schema_of([("modify_type", "member", "member", "gender")]) == "member"


def test_models_match_migration_in_health_schemas(db_url: str) -> None:
    diffs = [d for d in migrate.diff(db_url) if _schema_of(d) in HEALTH_SCHEMAS]
    assert diffs == []


def test_seed_inventory_columns_exist(db_url: str, shared_dir: Path) -> None:
    import json

    inventory = json.loads((shared_dir / "seed-inventory.json").read_text())
    wanted = {k: v["columns"] for k, v in inventory.items() if v["seed"].startswith("000")}
    assert len(wanted) == 15
    with psycopg.connect(db_url) as conn:
        for table, columns in wanted.items():
            schema, name = table.split(".")
            found = {
                r[0]
                for r in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = %s and table_name = %s",
                    (schema, name),
                )
            }
            assert set(columns) <= found, (table, set(columns) - found)


def test_seed_indexes_keep_their_names(db_url: str) -> None:
    seed = {
        "idx_claim_member",
        "idx_claim_provider",
        "idx_claim_status",
        "idx_claim_service_date",
        "idx_claim_submission_date",
        "idx_member_status",
        "idx_member_coverage_member",
        "idx_accumulator_member",
        "idx_provider_status",
        "idx_provider_type",
        "idx_plan_benefit_plan",
        "idx_plan_benefit_code",
    }
    with psycopg.connect(db_url) as conn:
        names = {
            r[0]
            for r in conn.execute(
                "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace "
                "where c.relkind in ('i', 'I') and n.nspname = any(%s)",
                (list(HEALTH_SCHEMAS),),
            )
        }
    assert seed <= names


def test_every_table_with_an_id_is_audited(db_url: str) -> None:
    with psycopg.connect(db_url) as conn:
        audited = {
            r[0]
            for r in conn.execute(
                "select tgrelid::regclass::text from pg_trigger "
                "where tgname = 'audit_change' and tgparentid = 0"
            )
        }
    expected = {t.replace("claims.authorization", 'claims."authorization"') for t in HEALTH_TABLES}
    assert expected - {"claims.claim_registry"} <= audited
    assert "claims.claim_registry" not in audited


# --- CHECK constraints --------------------------------------------------------------------


def _rows(w: World, claim_id: uuid.UUID) -> dict[type, dict[str, Any]]:
    n = _n()
    return {
        Claim: claim_values(w),
        ClaimItem: {
            "claim_id": claim_id,
            "benefit_code": "IP-ROOM",
            "charged_amount": Decimal("750000.00"),
            "quantity": 2,
        },
        ClaimDocument: {
            "claim_id": claim_id,
            "document_type": "invoice",
            "file_name": "inv.pdf",
            "file_path": f"claims/{n}/inv.pdf",
            "file_size": 1024,
        },
        Authorization: {
            "authorization_number": f"AUT-{n}",
            "member_id": w.member.id,
            "provider_id": w.provider.id,
            "service_type": "inpatient",
            "valid_from": date(2025, 3, 1),
            "valid_to": date(2025, 3, 31),
            "approved_amount": Decimal("5000000.00"),
        },
        Member: {
            "member_number": f"MBR-{n}",
            "first_name": "Budi",
            "last_name": "Santoso",
            "birth_date": date(1980, 1, 2),
            "gender": "male",
            "enrollment_date": date(2021, 1, 1),
        },
        MemberCoverage: {
            "member_id": w.member.id,
            "policy_id": w.policy.id,
            "plan_id": w.plan.id,
            "relationship": "spouse",
            "coverage_start_date": date(2021, 1, 1),
        },
        Accumulator: {
            "member_id": w.member.id,
            "plan_id": w.plan.id,
            "benefit_code": f"B-{n}",
            "year": 2025,
            "limit_amount": Decimal("1000000.00"),
        },
        Provider: {
            "provider_code": f"PRV-{n}",
            "provider_name": "Klinik Sehat",
            "provider_type": "clinic",
            "provider_class": "C",
        },
        ProviderContract: {
            "provider_id": w.provider.id,
            "contract_number": f"CTR-{n}",
            "effective_date": date(2024, 1, 1),
            "expiry_date": date(2026, 12, 31),
            "payment_method": "fee_for_service",
            "discount_percentage": Decimal("10.00"),
        },
        Plan: {
            "plan_code": f"PLN-{n}",
            "plan_name": "Silver",
            "plan_type": "standard",
            "effective_date": date(2024, 1, 1),
        },
        PlanBenefit: {
            "plan_id": w.plan.id,
            "benefit_code": f"B-{n}",
            "benefit_name": "Room and board",
            "benefit_category": "inpatient",
            "limit_type": "per_day",
            "coinsurance_percentage": Decimal("20.00"),
        },
        Exclusion: {
            "plan_id": w.plan.id,
            "exclusion_code": f"EX-{n}",
            "exclusion_description": "Cosmetic surgery",
            "exclusion_type": "procedure",
        },
        Policy: {
            "policy_number": f"POL-{n}",
            "policy_type": "individual",
            "plan_id": w.plan.id,
            "effective_date": date(2025, 1, 1),
            "renewal_date": date(2026, 1, 1),
            "funding_type": "full_insured",
        },
        Payment: {
            "payment_number": f"PAY-{n}",
            "claim_id": claim_id,
            "payment_type": "claim",
            "payment_method": "bank_transfer",
            "payment_amount": Decimal("1200000.00"),
            "payee_type": "provider",
            "payee_id": w.provider.id,
        },
        Eob: {
            "eob_number": f"EOB-{n}",
            "claim_id": claim_id,
            "member_id": w.member.id,
            "service_date": date(2025, 3, 10),
            "total_paid": Decimal("1200000.00"),
        },
    }


NEG = Decimal("-0.01")
CHECK_CASES: list[tuple[type, dict[str, Any], str]] = [
    (Claim, {"claim_type": "cash"}, "ck_claim_claim_type"),
    (Claim, {"service_type": "surgery"}, "ck_claim_service_type"),
    (Claim, {"status": "open"}, "ck_claim_status"),
    (Claim, {"discharge_date": date(2025, 3, 9)}, "ck_claim_discharge_after_admission"),
    (Claim, {"total_charged_amount": NEG}, "ck_claim_total_charged_amount_nonnegative"),
    (Claim, {"total_paid_amount": NEG}, "ck_claim_total_paid_amount_nonnegative"),
    (ClaimItem, {"quantity": 0}, "ck_claim_item_quantity_positive"),
    (ClaimItem, {"status": "done"}, "ck_claim_item_status"),
    (ClaimItem, {"copay_amount": NEG}, "ck_claim_item_copay_amount_nonnegative"),
    (ClaimDocument, {"file_size": -1}, "ck_claim_document_file_size_nonnegative"),
    (Authorization, {"status": "granted"}, "ck_authorization_status"),
    (Authorization, {"valid_to": date(2025, 2, 28)}, "ck_authorization_valid_period"),
    (Member, {"gender": "M"}, "ck_member_gender"),
    (Member, {"status": "deleted"}, "ck_member_status"),
    (Member, {"termination_date": date(2020, 12, 31)}, "ck_member_termination_after_enrollment"),
    (MemberCoverage, {"relationship": "cousin"}, "ck_member_coverage_relationship"),
    (MemberCoverage, {"coverage_end_date": date(2020, 1, 1)}, "ck_member_coverage_coverage_period"),
    (Accumulator, {"used_amount": NEG}, "ck_accumulator_used_amount_nonnegative"),
    (Provider, {"provider_type": "spa"}, "ck_provider_provider_type"),
    (Provider, {"provider_class": "E"}, "ck_provider_provider_class"),
    (ProviderContract, {"payment_method": "bundled"}, "ck_provider_contract_payment_method"),
    (
        ProviderContract,
        {"discount_percentage": Decimal("100.01")},
        "ck_provider_contract_discount_percentage_range",
    ),
    (Plan, {"plan_type": "gold"}, "ck_plan_plan_type"),
    (Plan, {"annual_limit": NEG}, "ck_plan_annual_limit_nonnegative"),
    (PlanBenefit, {"coverage_type": "partial"}, "ck_plan_benefit_coverage_type"),
    (PlanBenefit, {"limit_type": "per_month"}, "ck_plan_benefit_limit_type"),
    (
        PlanBenefit,
        {"coinsurance_percentage": Decimal("100.50")},
        "ck_plan_benefit_coinsurance_percentage_range",
    ),
    (
        PlanBenefit,
        {"coinsurance_percentage": Decimal("-1")},
        "ck_plan_benefit_coinsurance_percentage_range",
    ),
    (Exclusion, {"exclusion_type": "drug"}, "ck_exclusion_exclusion_type"),
    (Policy, {"policy_type": "family"}, "ck_policy_policy_type"),
    (Policy, {"funding_type": "self"}, "ck_policy_funding_type"),
    (Policy, {"aso_fund_balance": NEG}, "ck_policy_aso_fund_balance_nonnegative"),
    (Payment, {"payment_method": "cash"}, "ck_payment_payment_method"),
    (Payment, {"payee_type": "broker"}, "ck_payment_payee_type"),
    (Payment, {"payment_status": "done"}, "ck_payment_payment_status"),
    (Payment, {"payment_amount": Decimal("0")}, "ck_payment_payment_amount_positive"),
    (Eob, {"total_paid": NEG}, "ck_eob_total_paid_nonnegative"),
]


@pytest.mark.parametrize(
    ("model", "bad", "constraint"), CHECK_CASES, ids=[c[2] for c in CHECK_CASES]
)
async def test_check_refuses_bad_value(
    session: AsyncSession, model: type, bad: dict[str, Any], constraint: str
) -> None:
    w = await make_world(session)
    claim_id = await add_claim(session, w)
    table = model.__table__  # type: ignore[attr-defined]
    # Control: the valid row is accepted, so the refusal below is the bad value's doing.
    async with session.begin_nested():
        await session.execute(insert(table).values(**_rows(w, claim_id)[model]))
    before = await scalar(session, f"select count(*) from {table.schema}.{table.name}")
    await refused(
        session,
        insert(table).values(**{**_rows(w, claim_id)[model], **bad}),
        CHECK_VIOLATION,
        constraint,
    )
    assert await scalar(session, f"select count(*) from {table.schema}.{table.name}") == before


async def test_defaults_are_the_seeds(session: AsyncSession) -> None:
    w = await make_world(session)
    claim_id = await add_claim(session, w)
    item = (
        await session.execute(
            insert(ClaimItem)
            .values(claim_id=claim_id, benefit_code="OP-GP", charged_amount=Decimal("1"))
            .returning(ClaimItem)
        )
    ).scalar_one()
    assert (item.quantity, item.status) == (1, "pending")
    assert item.deductible_amount == item.coinsurance_amount == item.copay_amount == Decimal("0")
    claim = (await session.execute(select(Claim).where(Claim.id == claim_id))).scalar_one()
    assert claim.status == "submitted"
    assert claim.submission_date.tzinfo is not None
    benefit = (
        await session.execute(
            insert(PlanBenefit)
            .values(plan_id=w.plan.id, benefit_code="X", benefit_name="X", benefit_category="x")
            .returning(PlanBenefit)
        )
    ).scalar_one()
    assert benefit.coverage_type == "covered"
    assert benefit.coinsurance_percentage == Decimal("0.00")
    assert (benefit.requires_authorization, benefit.in_network_covered) == (False, True)
    assert benefit.out_network_covered is False


# --- keys -----------------------------------------------------------------------------------


async def test_unique_keys_refuse_duplicates(session: AsyncSession) -> None:
    w = await make_world(session)
    rows = _rows(w, uuid.uuid4())
    await refused(
        session,
        insert(Member).values(**{**rows[Member], "member_number": w.member.member_number}),
        UNIQUE_VIOLATION,
        "member_member_number_key",
    )
    await session.execute(insert(PlanBenefit).values(**{**rows[PlanBenefit], "benefit_code": "B1"}))
    await refused(
        session,
        insert(PlanBenefit).values(**{**rows[PlanBenefit], "benefit_code": "B1"}),
        UNIQUE_VIOLATION,
        "plan_benefit_plan_id_benefit_code_key",
    )
    hashed = {"national_id_hash": "ab" * 32}
    await session.execute(insert(Member).values(**{**_rows(w, uuid.uuid4())[Member], **hashed}))
    await refused(
        session,
        insert(Member).values(**{**_rows(w, uuid.uuid4())[Member], **hashed}),
        UNIQUE_VIOLATION,
        "member_national_id_hash_key",
    )


FK_CASES: list[tuple[type, str, str]] = [
    (Claim, "member_id", "claim_member_id_fkey"),
    (Claim, "provider_id", "claim_provider_id_fkey"),
    (Claim, "policy_id", "claim_policy_id_fkey"),
    (ClaimItem, "claim_id", "claim_item_claim_id_fkey"),
    (ClaimDocument, "claim_id", "claim_document_claim_id_fkey"),
    (Authorization, "claim_id", "authorization_claim_id_fkey"),
    (Authorization, "member_id", "authorization_member_id_fkey"),
    (Authorization, "provider_id", "authorization_provider_id_fkey"),
    (MemberCoverage, "member_id", "member_coverage_member_id_fkey"),
    (MemberCoverage, "policy_id", "member_coverage_policy_id_fkey"),
    (MemberCoverage, "plan_id", "member_coverage_plan_id_fkey"),
    (Accumulator, "plan_id", "accumulator_plan_id_fkey"),
    (ProviderContract, "provider_id", "provider_contract_provider_id_fkey"),
    (PlanBenefit, "plan_id", "plan_benefit_plan_id_fkey"),
    (Exclusion, "plan_id", "exclusion_plan_id_fkey"),
    (Policy, "plan_id", "policy_plan_id_fkey"),
    (Payment, "claim_id", "payment_claim_id_fkey"),
    (Eob, "claim_id", "eob_claim_id_fkey"),
    (Eob, "member_id", "eob_member_id_fkey"),
]


@pytest.mark.parametrize(("model", "column", "constraint"), FK_CASES, ids=[c[2] for c in FK_CASES])
async def test_foreign_key_refuses_unknown_parent(
    session: AsyncSession, model: type, column: str, constraint: str
) -> None:
    """Seed FKs and the ones it leaves implicit; claim references go to claim_registry."""
    w = await make_world(session)
    claim_id = await add_claim(session, w)
    table = model.__table__  # type: ignore[attr-defined]
    async with session.begin_nested():
        await session.execute(insert(table).values(**_rows(w, claim_id)[model]))
    await refused(
        session,
        insert(table).values(**{**_rows(w, claim_id)[model], column: uuid.uuid4()}),
        FK_VIOLATION,
        constraint,
    )


async def test_accumulator_has_one_plan_level_row_per_member_plan_year(
    session: AsyncSession,
) -> None:
    w = await make_world(session)
    key = {"member_id": w.member.id, "plan_id": w.plan.id, "year": 2025}
    await session.execute(insert(Accumulator).values(**key, benefit_code=None))
    await session.execute(insert(Accumulator).values(**key, benefit_code="IP-ROOM"))
    await session.execute(insert(Accumulator).values(**{**key, "year": 2026}, benefit_code=None))
    await refused(
        session,
        insert(Accumulator).values(**key, benefit_code=None),
        UNIQUE_VIOLATION,
        "accumulator_member_id_plan_id_benefit_code_year_key",
    )
    await refused(
        session,
        insert(Accumulator).values(**key, benefit_code="IP-ROOM"),
        UNIQUE_VIOLATION,
        "accumulator_member_id_plan_id_benefit_code_year_key",
    )
    count = await scalar(
        session, "select count(*) from member.accumulator where member_id = :m", m=w.member.id
    )
    assert count == 3


# --- partitions and the claim registry ----------------------------------------------------


def _partition_for(year: int) -> str:
    return f"claims.claim_{year}" if year <= date.today().year + 2 else "claims.claim_default"


async def test_claims_land_in_yearly_partitions_and_default(session: AsyncSession) -> None:
    w = await make_world(session)
    ids = {}
    for year in (2024, 2027, 2031):
        ids[year] = await add_claim(session, w, service_date=date(year, 6, 15))
    rows = (
        await session.execute(
            text(
                "select c.id, c.tableoid::regclass::text, r.claim_number = c.claim_number, "
                "r.service_date = c.service_date from claims.claim c "
                "join claims.claim_registry r on r.claim_id = c.id where c.member_id = :m"
            ),
            {"m": w.member.id},
        )
    ).all()
    where = {row[0]: row[1] for row in rows}
    assert where == {ids[y]: _partition_for(y) for y in ids}
    assert where[ids[2031]] == "claims.claim_default"  # true until 2029
    assert all(row[2] and row[3] for row in rows)


async def test_claim_number_and_id_are_unique_across_partitions(session: AsyncSession) -> None:
    w = await make_world(session)
    first = await add_claim(session, w, claim_number="CLM-DUP-1", service_date=date(2024, 5, 1))
    await refused(
        session,
        insert(Claim).values(
            **claim_values(w, claim_number="CLM-DUP-1", service_date=date(2027, 5, 1))
        ),
        UNIQUE_VIOLATION,
        "claim_registry_claim_number_key",
    )
    await refused(
        session,
        insert(Claim).values(**claim_values(w, id=first, service_date=date(2027, 5, 1))),
        UNIQUE_VIOLATION,
        "claim_registry_pkey",
    )
    count = await scalar(
        session, "select count(*) from claims.claim where member_id = :m", m=w.member.id
    )
    assert count == 1


async def test_registry_follows_updates_moves_and_deletes(session: AsyncSession) -> None:
    w = await make_world(session)
    claim_id = await add_claim(session, w, service_date=date(2024, 2, 1))
    await session.execute(insert(ClaimItem).values(**_rows(w, claim_id)[ClaimItem]))

    async def registry() -> tuple[str, date]:
        row = (
            await session.execute(
                select(ClaimRegistry.claim_number, ClaimRegistry.service_date).where(
                    ClaimRegistry.claim_id == claim_id
                )
            )
        ).one()
        return row[0], row[1]

    # Same partition: AFTER UPDATE keeps the registry in step.
    await session.execute(
        text("update claims.claim set claim_number = 'CLM-RENAMED-1' where id = :c"),
        {"c": claim_id},
    )
    assert await registry() == ("CLM-RENAMED-1", date(2024, 2, 1))
    # Another partition: PostgreSQL moves the row as DELETE + INSERT; the line item survives.
    await session.execute(
        text(
            "update claims.claim set service_date = '2027-08-01', claim_number = 'CLM-MOVED-1' "
            "where id = :c"
        ),
        {"c": claim_id},
    )
    assert await registry() == ("CLM-MOVED-1", date(2027, 8, 1))
    assert (
        await scalar(
            session, "select tableoid::regclass::text from claims.claim where id = :c", c=claim_id
        )
        == "claims.claim_2027"
    )
    # A move that would take another claim's number is refused.
    await add_claim(session, w, claim_number="CLM-TAKEN-1")
    await refused(
        session,
        text(
            "update claims.claim set service_date = '2024-03-01', claim_number = 'CLM-TAKEN-1' "
            "where id = :c"
        ).bindparams(c=claim_id),
        UNIQUE_VIOLATION,
        "claim_registry_claim_number_key",
    )
    # A claim with lines cannot be deleted; without them its registry row goes with it.
    await refused(
        session,
        text("delete from claims.claim where id = :c").bindparams(c=claim_id),
        FK_VIOLATION,
        "claim_item_claim_id_fkey",
    )
    await session.execute(
        text("delete from claims.claim_item where claim_id = :c"), {"c": claim_id}
    )
    await session.execute(text("delete from claims.claim where id = :c"), {"c": claim_id})
    assert (
        await scalar(
            session, "select count(*) from claims.claim_registry where claim_id = :c", c=claim_id
        )
        == 0
    )


async def test_new_partition_takes_strays_from_default(session: AsyncSession) -> None:
    w = await make_world(session)
    year = date.today().year + 5
    claim_id = await add_claim(session, w, service_date=date(year, 1, 20))
    await session.execute(insert(ClaimItem).values(**_rows(w, claim_id)[ClaimItem]))
    where = "select tableoid::regclass::text from claims.claim where id = :c"
    assert await scalar(session, where, c=claim_id) == "claims.claim_default"
    await session.execute(
        text("select public.create_yearly_partition('claims.claim', :d)"), {"d": date(year, 1, 1)}
    )
    assert await scalar(session, where, c=claim_id) == f"claims.claim_{year}"
    assert await scalar(
        session, "select service_date from claims.claim_registry where claim_id = :c", c=claim_id
    ) == date(year, 1, 20)
    assert (
        await scalar(
            session, "select count(*) from claims.claim_item where claim_id = :c", c=claim_id
        )
        == 1
    )
    ops = (
        (
            await session.execute(
                text("select operation from audit.audit_log where record_id = :c order by id"),
                {"c": claim_id},
            )
        )
        .scalars()
        .all()
    )
    assert ops == ["INSERT"]  # moving a row between partitions is not a business change


async def test_orm_writes_claim_with_items_through_relationship(session: AsyncSession) -> None:
    w = await make_world(session)
    claim = Claim(**claim_values(w))
    claim.items = [
        ClaimItem(benefit_code="IP-ROOM", charged_amount=Decimal("1000000.00")),
        ClaimItem(benefit_code="IP-DRUG", charged_amount=Decimal("500000.00")),
    ]
    session.add(claim)
    await session.flush()
    total = await scalar(
        session, "select sum(charged_amount) from claims.claim_item where claim_id = :c", c=claim.id
    )
    assert total == Decimal("1500000.00")


# --- seed views, function, procedure -------------------------------------------------------


async def test_calculate_remaining_benefit_and_update_accumulator_are_exact(
    session: AsyncSession,
) -> None:
    w = await make_world(session)
    m = w.member.id
    await session.execute(
        insert(Accumulator).values(
            member_id=m,
            plan_id=w.plan.id,
            benefit_code="IP-ROOM",
            year=2025,
            limit_amount=Decimal("10000000.00"),
            used_amount=Decimal("2500000.50"),
        )
    )
    await session.execute(
        insert(Accumulator).values(
            member_id=m,
            plan_id=w.plan.id,
            benefit_code=None,
            year=2025,
            limit_amount=Decimal("250000000.00"),
            used_amount=Decimal("0"),
        )
    )
    remaining = "select benefit.calculate_remaining_benefit(:m, :b, :y)"
    assert await scalar(session, remaining, m=m, b="IP-ROOM", y=2025) == Decimal("7499999.50")
    assert await scalar(session, remaining, m=m, b="DENTAL", y=2025) == Decimal("0")
    assert await scalar(session, remaining, m=m, b="IP-ROOM", y=2024) == Decimal("0")

    await session.execute(
        text("call member.update_accumulator(:m, :b, :a, :y)"),
        {"m": m, "b": "IP-ROOM", "a": Decimal("1234567.25"), "y": 2025},
    )
    row = (
        await session.execute(
            select(Accumulator.used_amount, Accumulator.remaining_amount).where(
                Accumulator.member_id == m, Accumulator.benefit_code == "IP-ROOM"
            )
        )
    ).one()
    assert tuple(row) == (Decimal("3734567.75"), Decimal("6265432.25"))
    assert await scalar(session, remaining, m=m, b="IP-ROOM", y=2025) == Decimal("6265432.25")
    plan_level = await scalar(
        session,
        "select used_amount from member.accumulator where member_id = :m and benefit_code is null",
        m=m,
    )
    assert plan_level == Decimal("0.00")  # the seed procedure touches only the benefit row


async def test_active_members_view(session: AsyncSession) -> None:
    w = await make_world(session)
    today = await scalar(session, "select current_date")
    ended = await add_member(
        session, w, first_name="Ended", coverage=(date(2020, 1, 1), today - timedelta(days=1))
    )
    future = await add_member(
        session, w, first_name="Future", coverage=(today + timedelta(days=1), None)
    )
    suspended = await add_member(session, w, first_name="Susp", status="suspended")
    last_day = await add_member(session, w, first_name="Last", coverage=(date(2020, 1, 1), today))
    ids = [w.member.id, ended.id, future.id, suspended.id, last_day.id]
    rows = (
        await session.execute(
            text(
                "select id, full_name, policy_id, plan_id, coverage_end_date "
                "from member.active_members_view where id = any(:ids) order by full_name"
            ),
            {"ids": ids},
        )
    ).all()
    assert [tuple(r) for r in rows] == [
        (last_day.id, "Last Rahma", w.policy.id, w.plan.id, today),
        (w.member.id, "Siti Rahma", w.policy.id, w.plan.id, None),
    ]


async def test_claim_summary_view(session: AsyncSession) -> None:
    w = await make_world(session)
    claim_id = await add_claim(
        session,
        w,
        total_approved_amount=Decimal("1350000.00"),
        total_paid_amount=Decimal("1215000.10"),
    )
    row = (
        await session.execute(
            text(
                "select claim_number, member_number, member_name, provider_name, "
                "service_date, status, total_charged_amount, total_approved_amount, "
                "total_paid_amount "
                "from claims.claim_summary_view where id = :c"
            ),
            {"c": claim_id},
        )
    ).one()
    assert row[1:] == (
        w.member.member_number,
        "Siti Rahma",
        "RS Medika Jakarta",
        date(2025, 3, 10),
        "submitted",
        Decimal("1500000.00"),
        Decimal("1350000.00"),
        Decimal("1215000.10"),
    )
    assert row[0].startswith("CLM-")


# --- triggers, audit, row-level security --------------------------------------------------


async def test_updated_at_triggers(session: AsyncSession) -> None:
    w = await make_world(session)
    claim_id = await add_claim(session, w)
    now = await scalar(session, "select now()")
    await session.execute(
        text(
            "update member.member set updated_at = '2000-01-01', first_name = 'Sri' where id = :m"
        ),
        {"m": w.member.id},
    )
    await session.execute(
        text(
            "update claims.claim set updated_at = '2000-01-01', status = 'adjudicating' "
            "where id = :c"
        ),
        {"c": claim_id},
    )
    assert (
        await scalar(session, "select updated_at from member.member where id = :m", m=w.member.id)
        == now
    )
    assert (
        await scalar(session, "select updated_at from claims.claim where id = :c", c=claim_id)
        == now
    )


async def test_insert_writes_audit_row(session: AsyncSession) -> None:
    await session.execute(
        text("select set_config('app.user_id', :u, true)"), {"u": str(uuid.uuid4())}
    )
    w = await make_world(session)
    row = (
        await session.execute(
            text(
                "select table_name, operation, new_values ->> 'member_number', user_id "
                "from audit.audit_log where record_id = :m"
            ),
            {"m": w.member.id},
        )
    ).one()
    assert row[:3] == ("member.member", "INSERT", w.member.member_number)
    assert row[3] is not None
    claim_id = await add_claim(session, w)
    ops = (
        (
            await session.execute(
                text("select operation from audit.audit_log where record_id = :c"), {"c": claim_id}
            )
        )
        .scalars()
        .all()
    )
    assert ops == ["INSERT"]


async def test_member_role_sees_only_its_own_claims(session: AsyncSession) -> None:
    w = await make_world(session)
    other = await add_member(session, w, first_name="Other")
    mine = {
        await add_claim(session, w),
        await add_claim(session, w, service_date=date(2024, 1, 5)),
    }
    theirs = await add_claim(session, w, member=other)
    await session.execute(text("set local role member_role"))
    # Fails closed: without app.current_member_id the policy raises instead of matching.
    with pytest.raises(DBAPIError, match=r"current_member_id|uuid"):
        async with session.begin_nested():
            await session.execute(text("select id from claims.claim"))
    await session.execute(
        text("select set_config('app.current_member_id', :m, true)"), {"m": str(w.member.id)}
    )
    rows = (await session.execute(text("select id, member_id from claims.claim"))).all()
    assert {r[0] for r in rows} == mine
    assert {r[1] for r in rows} == {w.member.id}
    assert await scalar(session, "select count(*) from claims.claim where id = :c", c=theirs) == 0
    with pytest.raises(DBAPIError, match="permission denied"):
        async with session.begin_nested():
            await session.execute(text("select * from claims.claim_registry"))
    await session.execute(text("reset role"))
    assert await scalar(session, "select count(*) from claims.claim where id = :c", c=theirs) == 1


# --- migration round trip -------------------------------------------------------------------


def test_downgrade_and_upgrade_with_health_data(create_database: Callable[[], str]) -> None:
    url = create_database()
    migrate.upgrade(url)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            """
            with p as (insert into benefit.plan (plan_code, plan_name, plan_type, effective_date)
                       values ('P1', 'Gold', 'premium', '2024-01-01') returning id),
                 pol as (insert into policy.policy (policy_number, policy_type, plan_id,
                                                    effective_date, renewal_date)
                         select 'POL1', 'group', id, '2024-01-01', '2025-01-01' from p
                         returning id),
                 pr as (insert into provider.provider (provider_code, provider_name, provider_type)
                        values ('PR1', 'RS A', 'hospital') returning id),
                 m as (insert into member.member (member_number, first_name, last_name, birth_date,
                                                  gender, enrollment_date)
                       values ('M1', 'A', 'B', '1990-01-01', 'male', '2024-01-01') returning id)
            insert into claims.claim (claim_number, member_id, provider_id, policy_id, claim_type,
                                      service_type, service_date)
            select 'C1', m.id, pr.id, pol.id, 'cashless', 'outpatient', '2024-03-01'
              from m, pr, pol
            """
        )
        conn.execute(
            "insert into claims.claim_item (claim_id, benefit_code, charged_amount) "
            "select id, 'OP', 100 from claims.claim"
        )
    migrate.downgrade(url, "0003_reference")
    with psycopg.connect(url) as conn:
        left = conn.execute(
            "select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace "
            "where n.nspname = any(%s) and c.relkind in ('r', 'p', 'v')",
            (list(HEALTH_SCHEMAS),),
        ).fetchone()
        assert left == (0,)
        granted = conn.execute(
            "select has_schema_privilege('member_role', 'claims', 'USAGE')"
        ).fetchone()
        assert granted == (False,)
        procs = conn.execute(
            "select count(*) from pg_proc p join pg_namespace n on n.oid = p.pronamespace "
            "where n.nspname = any(%s)",
            (list(HEALTH_SCHEMAS),),
        ).fetchone()
        assert procs == (0,)
    migrate.upgrade(url)
    with psycopg.connect(url) as conn:
        parts = conn.execute(
            "select count(*) from pg_inherits where inhparent = 'claims.claim'::regclass"
        ).fetchone()
        assert parts is not None
        assert parts[0] == (date.today().year + 2 - 2024 + 1) + 1
        assert conn.execute(
            "select has_table_privilege('member_role', 'claims.claim', 'SELECT')"
        ).fetchone() == (True,)
