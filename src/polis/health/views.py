"""Seed 000's views, mapped read-only for the list endpoints (decision 0019).

Migration 0004 creates `claims.claim_summary_view` and `member.active_members_view` as the
seed writes them. They are declared here as plain `Table` objects on their own `MetaData`,
not on `polis.db.base.Base.metadata`: the models-vs-migrations comparison (tests/db) and
Alembic autogenerate only see the models' metadata, so these never look like missing
tables, and nothing ever emits DDL for them (`VIEWS.create_all` must never be called).
Columns and types are the views' own (tests/health/test_views.py compares them with
PostgreSQL's catalogue).
"""

from __future__ import annotations

from sqlalchemy import Column, Date, MetaData, Numeric, String, Table, Text, Uuid

VIEWS = MetaData()

claim_summary_view = Table(
    "claim_summary_view",
    VIEWS,
    Column("id", Uuid, primary_key=True),
    Column("claim_number", String(50)),
    Column("member_number", String(50)),
    Column("member_name", Text, comment="first_name || ' ' || last_name"),
    Column("provider_name", String(255)),
    Column("service_date", Date),
    Column("status", String(30)),
    Column("total_charged_amount", Numeric(15, 2)),
    Column("total_approved_amount", Numeric(15, 2)),
    Column("total_paid_amount", Numeric(15, 2)),
    schema="claims",
    comment="Seed view: a claim with its member's number and name and its provider's name",
    info={"is_view": True},
)

active_members_view = Table(
    "active_members_view",
    VIEWS,
    Column("id", Uuid, comment="member.member.id (one row per active coverage)"),
    Column("member_number", String(50)),
    Column("full_name", Text, comment="first_name || ' ' || last_name"),
    Column("policy_id", Uuid),
    Column("plan_id", Uuid),
    Column("coverage_start_date", Date),
    Column("coverage_end_date", Date),
    schema="member",
    comment="Seed view: active members with an active coverage holding the Jakarta date",
    info={"is_view": True},
)
