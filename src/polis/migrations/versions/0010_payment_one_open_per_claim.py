"""Health: at most one open payment per claim (decision 0028).

A payment that failed, was cancelled or was reversed no longer holds its claim, so the claim
can be paid again by a later run; any other payment (pending, processing, sent, paid) does.
The partial unique index makes a second open payment for a claim impossible whatever the
code path (the payment run also locks its claims, FOR UPDATE SKIP LOCKED).

Revision ID: 0010_payment_one_open_per_claim
Revises: 0009_authorization_request
Create Date: 2026-11-23
"""

from alembic import op

revision = "0010_payment_one_open_per_claim"
down_revision = "0009_authorization_request"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE UNIQUE INDEX uq_payment_claim_open ON billing.payment (claim_id)
            WHERE payment_status NOT IN ('failed', 'cancelled', 'reversed');
        COMMENT ON INDEX billing.uq_payment_claim_open IS
            'At most one payment per claim that is not failed, cancelled or reversed';
        """
    )


def downgrade() -> None:
    op.execute("DROP INDEX billing.uq_payment_claim_open")
