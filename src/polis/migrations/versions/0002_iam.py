"""Identity: iam.users and iam.user_sessions.

Revision ID: 0002_iam
Revises: 0001_platform
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002_iam"
down_revision = "0001_platform"
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
