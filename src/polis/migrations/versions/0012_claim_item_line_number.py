"""Health: claim lines keep their submitted order (line_number).

Revision ID: 0012_claim_item_line_number
Revises: 0011_motor_rate_tables
Create Date: 2026-11-23
"""

from alembic import op

revision = "0012_claim_item_line_number"
down_revision = "0011_motor_rate_tables"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE claims.claim_item ADD COLUMN line_number SMALLINT;
        COMMENT ON COLUMN claims.claim_item.line_number IS
            'Position of the line in the submitted claim, from 1: the order lines are read in';
        WITH numbered AS (
            SELECT id, row_number() OVER (PARTITION BY claim_id ORDER BY created_at, id) AS n
            FROM claims.claim_item
        )
        UPDATE claims.claim_item i SET line_number = numbered.n
        FROM numbered WHERE numbered.id = i.id;
        ALTER TABLE claims.claim_item ADD CONSTRAINT ck_claim_item_line_number_positive
            CHECK (line_number > 0);
        CREATE UNIQUE INDEX uq_claim_item_claim_line ON claims.claim_item (claim_id, line_number);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX claims.uq_claim_item_claim_line;
        ALTER TABLE claims.claim_item DROP COLUMN line_number;
        """
    )
