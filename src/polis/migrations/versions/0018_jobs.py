"""Background jobs: procrastinate's schema in `jobs`, and jobs.job_errors (issue 7; decision 0056).

The schema is procrastinate's own `schema.sql`, read from the installed package (pinned in
constraints.txt) and applied with `search_path` set to `jobs`; the version applied is kept as
the schema's comment. A later procrastinate is followed by a new revision that calls
`polis.ops.jobs.upgrade_schema` (its migration files newer than the recorded version).

Revision ID: 0018_jobs
Revises: 0017_motor_claim_settlement
Create Date: 2026-11-23
"""

from alembic import op

revision = "0018_jobs"
down_revision = "0017_motor_claim_settlement"
branch_labels = None
depends_on = None


def upgrade() -> None:
    from polis.ops.jobs import install_schema

    install_schema(op.get_bind())


def downgrade() -> None:
    op.execute("DROP SCHEMA IF EXISTS jobs CASCADE")
