"""Sessions: refresh-token rotation with family revocation, idle and absolute timeouts, device details (issue 6 item 4).

Revision ID: 0021_iam_sessions
Revises: 0020_audit_pdpa
Create Date: 2026-11-23
"""

from alembic import op

revision = "0021_iam_sessions"
down_revision = "0020_audit_pdpa"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")


def downgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")
