"""Health: keep each claim line's adjudication trace (decision 0017).

Revision ID: 0007_claim_item_trace
Revises: 0006_ops
Create Date: 2026-11-23
"""

from alembic import op

revision = "0007_claim_item_trace"
down_revision = "0006_ops"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE claims.claim_item ADD COLUMN adjudication_trace JSONB;
        COMMENT ON COLUMN claims.claim_item.adjudication_trace IS
            'Ordered rule steps of adjudication: [{code, message, amount_before, amount_after}]';
        """
    )


def downgrade() -> None:
    op.execute("ALTER TABLE claims.claim_item DROP COLUMN adjudication_trace")
