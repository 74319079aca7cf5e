"""Reference data: Thai geography, system configurations.

Revision ID: 0003_reference
Revises: 0002_iam
Create Date: 2026-11-23
"""

from alembic import op

revision = "0003_reference"
down_revision = "0002_iam"
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
