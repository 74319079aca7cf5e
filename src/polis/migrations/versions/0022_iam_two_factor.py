"""Two factors: TOTP with recovery codes, SMS one-time passwords (issue 6 item 3).

Revision ID: 0022_iam_two_factor
Revises: 0021_iam_sessions
Create Date: 2026-11-23
"""

from alembic import op

revision = "0022_iam_two_factor"
down_revision = "0021_iam_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")


def downgrade() -> None:
    """Placeholder until the work lands."""
    op.execute("SELECT 1")
