"""The submission hot path's SQL, built once at import, and the row shapes it returns
(decision 0038)."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, cast

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncSession

from polis.db.raw import Row, Statement, arrays, unnest_insert
from polis.db.rows import columns, sync
from polis.health import rules
from polis.health.models import (
    Accumulator,
    Claim,
)
from polis.reference.icd10 import is_valid_icd10, normalise_icd10

# --- the hot path's statements (decisions 0038 and 0073) -----------------------------------
# Built once at import: SQL with named parameters compiled for asyncpg, sent by
# `polis.db.raw` on the session's connection and in its transaction, so a claim costs no
# expression building, no cache-key generation and none of the ORM's execution path, and
# asyncpg reuses its prepared statements. Each returns plain rows; the ORM identity map is
# kept in step by hand where a caller may hold the rows (`_sync_accumulators`).

_FACTS = Statement(
    """
    SELECT m.id AS member_id, m.status AS member_status,
           p.id AS provider_id, p.is_network,
           c.policy_id, c.plan_id, c.coverage_start_date, c.coverage_end_date,
           c.status AS coverage_status, c.inner_limit_applicable, c.annual_cap_applicable,
           po.status AS policy_status, po.funding_type,
           pl.annual_limit, pl.lifetime_limit, pl.individual_deductible, pl.family_deductible,
           pl.individual_oop_max, pl.family_oop_max,
           k.id AS contract_id, k.effective_date AS contract_effective_date,
           k.expiry_date AS contract_expiry_date, k.status AS contract_status,
           k.discount_percentage, k.cashless_enabled, k.reimbursement_enabled,
           ARRAY(SELECT DISTINCT b.benefit_code FROM benefit.plan_benefit b
                 WHERE b.benefit_code = ANY(:codes)) AS known_codes,
           (SELECT jsonb_agg(jsonb_build_array(
                b.benefit_code, b.coverage_type, b.limit_type, b.limit_amount::text,
                b.limit_days, b.limit_visits, b.coinsurance_percentage::text,
                b.copay_amount::text, b.requires_authorization, b.waiting_period_days,
                b.in_network_covered, b.out_network_covered))
            FROM benefit.plan_benefit b WHERE b.plan_id = c.plan_id)::text AS benefits,
           (SELECT jsonb_agg(jsonb_build_array(
                e.exclusion_code, e.exclusion_type, e.icd_code, e.effective_date,
                e.termination_date))
            FROM benefit.exclusion e
            WHERE e.plan_id = c.plan_id OR e.plan_id IS NULL)::text AS exclusions,
           EXISTS (SELECT 1 FROM claims."authorization" a
                   WHERE a.member_id = m.id AND a.service_type = :service_type)
               AS has_authorizations,
           (SELECT jsonb_agg(jsonb_build_array(s.config_key, s.config_value, s.config_type))
            FROM ref.system_configurations s WHERE s.config_key = ANY(:settings))::text
               AS settings,
           CASE WHEN pl.family_deductible > 0 OR pl.family_oop_max IS NOT NULL THEN
               ARRAY(SELECT DISTINCT f.member_id FROM member.member_coverage f
                     WHERE f.policy_id = c.policy_id AND f.plan_id = c.plan_id)
           END AS family_ids
    FROM (SELECT 1) AS one
    LEFT JOIN member.member m ON m.member_number = :member_number
    LEFT JOIN provider.provider p ON p.provider_code = :provider_code
    LEFT JOIN LATERAL (
        SELECT * FROM member.member_coverage mc
        WHERE mc.member_id = m.id AND mc.coverage_start_date <= :day
          AND (mc.coverage_end_date IS NULL OR mc.coverage_end_date >= :day)
        ORDER BY (mc.status = 'active') DESC, mc.coverage_start_date DESC
        LIMIT 1
    ) c ON true
    LEFT JOIN policy.policy po ON po.id = c.policy_id
    LEFT JOIN benefit.plan pl ON pl.id = c.plan_id
    LEFT JOIN LATERAL (
        SELECT * FROM provider.provider_contract pc
        WHERE pc.provider_id = p.id AND pc.effective_date <= :day AND pc.expiry_date >= :day
        ORDER BY (pc.status = 'active') DESC, pc.effective_date DESC
        LIMIT 1
    ) k ON true
    """
)

# Accumulator rows: create the missing ones (in lock order), then lock them all in the
# fixed order (member_id, benefit_code NULLS FIRST in "C" collation).
_CREATE_ACCUMULATORS = Statement(
    """
    INSERT INTO member.accumulator (member_id, plan_id, benefit_code, year, limit_amount,
        remaining_amount, visit_limit, remaining_visits, deductible_limit)
    SELECT k.member_id, :plan_id, k.benefit_code, :year, k.limit_amount, k.limit_amount,
           k.visit_limit, k.visit_limit, k.deductible_limit
    FROM unnest(CAST(:member_ids AS uuid[]), CAST(:codes AS varchar[]),
                CAST(:limits AS numeric[]), CAST(:visits AS integer[]),
                CAST(:deductibles AS numeric[]))
         WITH ORDINALITY AS k(member_id, benefit_code, limit_amount, visit_limit,
                              deductible_limit, n)
    ORDER BY k.n
    ON CONFLICT DO NOTHING
    """
)
_LOCK_ACCUMULATORS = Statement(
    f"""
    SELECT {columns(Accumulator, "a")}
    FROM member.accumulator a
    JOIN unnest(CAST(:member_ids AS uuid[]), CAST(:codes AS varchar[]))
         AS k(member_id, benefit_code)
      ON a.member_id = k.member_id AND a.benefit_code IS NOT DISTINCT FROM k.benefit_code
    WHERE a.plan_id = :plan_id AND a.year = :year
    ORDER BY a.member_id, a.benefit_code COLLATE "C" NULLS FIRST
    FOR UPDATE OF a
    """
)
# All of a claim's accumulator moves in one statement: benefit rows move used amount and
# visits, the plan-level row used amount and deductible met.
_MOVE_ACCUMULATORS = Statement(
    f"""
    UPDATE member.accumulator a SET
        used_amount = a.used_amount + d.used,
        remaining_amount = a.limit_amount - (a.used_amount + d.used),
        visit_count = CASE WHEN d.plan_level THEN a.visit_count
                           ELSE a.visit_count + d.visits END,
        remaining_visits = CASE WHEN d.plan_level THEN a.remaining_visits
                                ELSE a.visit_limit - (a.visit_count + d.visits) END,
        deductible_met = CASE WHEN d.plan_level THEN a.deductible_met + d.deductible
                              ELSE a.deductible_met END,
        last_updated = now()
    FROM unnest(CAST(:ids AS uuid[]), CAST(:used AS numeric[]), CAST(:visits AS integer[]),
                CAST(:deductible AS numeric[]), CAST(:plan_level AS boolean[]))
         AS d(id, used, visits, deductible, plan_level)
    WHERE a.id = d.id
    RETURNING {columns(Accumulator, "a")}
    """
)
_LOCK_POLICY_FUNDS = Statement(
    "SELECT aso_fund_balance, buffer_fund_balance FROM policy.policy WHERE id = :id FOR UPDATE"
)
_CLAIM_TABLE = cast(Table, Claim.__table__)
_CLAIM_COLUMNS = (
    "id, claim_number, member_id, provider_id, policy_id, claim_type, service_type,"
    " admission_date, discharge_date, service_date, status, total_charged_amount,"
    " total_approved_amount, total_paid_amount, member_responsibility, created_by, updated_by"
)
_INSERT_CLAIM = Statement(
    f"INSERT INTO claims.claim ({_CLAIM_COLUMNS})"
    f" VALUES ({', '.join(':' + c.strip() for c in _CLAIM_COLUMNS.split(','))})"
    " RETURNING submission_date"
)
# A claim's lines in one INSERT of one row per array element: one statement whatever the
# number of lines (an executemany ran the INSERT, and its audit trigger's setup, per line).
_ITEM_COLUMNS = (
    ("id", "uuid"),
    ("claim_id", "uuid"),
    ("line_number", "smallint"),
    ("benefit_code", "text"),
    ("service_code", "text"),
    ("diagnosis_code", "text"),
    ("procedure_code", "text"),
    ("quantity", "integer"),
    ("unit_price", "numeric"),
    ("charged_amount", "numeric"),
    ("approved_amount", "numeric"),
    ("paid_amount", "numeric"),
    ("deductible_amount", "numeric"),
    ("coinsurance_amount", "numeric"),
    ("copay_amount", "numeric"),
    ("status", "text"),
    ("denial_reason", "text"),
    ("adjudication_trace", "jsonb"),
)
_INSERT_ITEMS = unnest_insert("claims.claim_item", _ITEM_COLUMNS)


def _item_arrays(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """The parameters of `_INSERT_ITEMS`: one array per column (traces as JSON text)."""
    params = arrays(_ITEM_COLUMNS, items)
    params["adjudication_trace"] = [json.dumps(t) for t in params["adjudication_trace"]]
    return params


@dataclass(frozen=True)
class _PlanKey:
    """What the accumulator helpers read of a plan (an ORM Plan has the same attributes)."""

    id: uuid.UUID
    annual_limit: Decimal | None
    individual_deductible: Decimal | None
    family_deductible: Decimal | None
    family_oop_max: Decimal | None


@dataclass(frozen=True)
class _BenefitRow:
    """A plan benefit as the hot path reads it (the attributes of PlanBenefit it uses)."""

    benefit_code: str
    coverage_type: str | None
    limit_type: str | None
    limit_amount: Decimal | None
    limit_days: int | None
    limit_visits: int | None
    coinsurance_percentage: Decimal | None
    copay_amount: Decimal | None
    requires_authorization: bool | None
    waiting_period_days: int | None
    in_network_covered: bool | None
    out_network_covered: bool | None


def _dec(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _day(value: str | None) -> date | None:
    return None if value is None else date.fromisoformat(value)


def _benefit_rows(raw: str | None) -> list[_BenefitRow]:
    return [
        _BenefitRow(
            benefit_code=r[0],
            coverage_type=r[1],
            limit_type=r[2],
            limit_amount=_dec(r[3]),
            limit_days=r[4],
            limit_visits=r[5],
            coinsurance_percentage=_dec(r[6]),
            copay_amount=_dec(r[7]),
            requires_authorization=r[8],
            waiting_period_days=r[9],
            in_network_covered=r[10],
            out_network_covered=r[11],
        )
        for r in (json.loads(raw) if raw else [])
    ]


def _exclusion_facts(raw: str | None) -> list[rules.ExclusionFacts]:
    return [
        rules.ExclusionFacts(
            exclusion_code=r[0],
            exclusion_type=r[1],
            icd_code=r[2],
            effective_date=_day(r[3]),
            termination_date=_day(r[4]),
        )
        for r in (json.loads(raw) if raw else [])
    ]


@functools.lru_cache(maxsize=4096)
def _diagnosis(code: str) -> str | None:
    """The normalised ICD-10 code, None when invalid (pure: cached across claims)."""
    return normalise_icd10(code) if is_valid_icd10(code) else None


def _sync_accumulators(session: AsyncSession, rows: Sequence[Row]) -> None:
    """Keep Accumulator objects the session already holds in step with rows read or written
    by the raw statements above (what populate_existing / synchronize_session did)."""
    for row in rows:
        sync(session, Accumulator, row)
