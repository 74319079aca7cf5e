"""Health: what a pre-authorisation asks for (requested amount and days) (decision 0024).

Revision ID: 0009_authorization_request
Revises: 0008_health_lifecycle
Create Date: 2026-11-23
"""

from alembic import op

revision = "0009_authorization_request"
down_revision = "0008_health_lifecycle"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        ALTER TABLE claims.authorization
            ADD COLUMN requested_amount DECIMAL(15,2),
            ADD COLUMN requested_days INTEGER,
            ADD CONSTRAINT ck_authorization_requested_amount_nonnegative
                CHECK (requested_amount >= 0),
            ADD CONSTRAINT ck_authorization_requested_days_nonnegative
                CHECK (requested_days >= 0);
        COMMENT ON COLUMN claims.authorization.requested_amount IS
            'Amount the provider asked to be guaranteed (IDR)';
        COMMENT ON COLUMN claims.authorization.requested_days IS
            'Inpatient days the provider asked for';
        CREATE INDEX ix_authorization_status_valid_to
            ON claims.authorization(status, valid_to);
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DROP INDEX claims.ix_authorization_status_valid_to;
        ALTER TABLE claims.authorization
            DROP COLUMN requested_days,
            DROP COLUMN requested_amount;
        """
    )
