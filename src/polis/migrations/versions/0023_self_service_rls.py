"""Self-service under row-level security: user links, a non-owner role, RLS policies (issue 6 item 6).

Revision ID: 0023_self_service_rls
Revises: 0022_iam_two_factor
Create Date: 2026-11-23
"""

from alembic import op

revision = "0023_self_service_rls"
down_revision = "0022_iam_two_factor"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")


def downgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")
