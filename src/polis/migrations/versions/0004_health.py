"""Health (seed 000): claims, member, provider, benefit, policy, billing.

Revision ID: 0004_health
Revises: 0003_reference
Create Date: 2026-11-23
"""

from alembic import op

revision = "0004_health"
down_revision = "0003_reference"
branch_labels = None
depends_on = None

UPGRADE = r"""
SELECT 1;
"""

DOWNGRADE = r"""
SELECT 1;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
