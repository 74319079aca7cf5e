"""Motor (seed 001): customers, vehicles, policies, claims, payments.

Revision ID: 0005_motor
Revises: 0004_health
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005_motor"
down_revision = "0004_health"
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
