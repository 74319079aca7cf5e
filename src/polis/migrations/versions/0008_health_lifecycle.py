"""Health: the claim lifecycle's statuses, payments `sent`, review settings (decision 0018).

Revision ID: 0008_health_lifecycle
Revises: 0007_claim_item_trace
Create Date: 2026-11-23
"""

from alembic import op

revision = "0008_health_lifecycle"
down_revision = "0007_claim_item_trace"
branch_labels = None
depends_on = None

CLAIM_STATUSES_0004 = (
    "'submitted', 'adjudicating', 'pended', 'approved', 'partially_approved', 'denied', "
    "'paid', 'cancelled'"
)
CLAIM_STATUSES = (
    "'submitted', 'adjudicating', 'pended', 'approved', 'partially_approved', 'denied', "
    "'payment_pending', 'paid', 'closed', 'appealed', 'voided', 'cancelled'"
)
ITEM_STATUSES_0004 = "'pending', 'pended', 'approved', 'partially_approved', 'denied', 'cancelled'"
ITEM_STATUSES = (
    "'pending', 'pended', 'approved', 'partially_approved', 'denied', 'voided', 'cancelled'"
)
PAYMENT_STATUSES_0004 = "'pending', 'processing', 'paid', 'failed', 'cancelled', 'reversed'"
PAYMENT_STATUSES = "'pending', 'processing', 'sent', 'paid', 'failed', 'cancelled', 'reversed'"

SETTINGS = """
INSERT INTO ref.system_configurations
    (config_key, config_category, config_value, config_type, description)
VALUES
('HEALTH_CLAIM_REVIEW_AMOUNT', 'HEALTH', '50000000.00', 'DECIMAL',
 'Health claims charging more than this (IDR) are pended for medical review'),
('HEALTH_REIMBURSEMENT_DOCUMENTS', 'HEALTH', '["invoice", "receipt"]', 'JSON',
 'Document types a reimbursement claim needs before it is paid; without them it is pended')
ON CONFLICT (config_key) DO NOTHING;
"""


def _checks(claim: str, item: str, payment: str) -> str:
    return f"""
    ALTER TABLE claims.claim DROP CONSTRAINT ck_claim_status;
    ALTER TABLE claims.claim ADD CONSTRAINT ck_claim_status CHECK (status IN ({claim}));
    ALTER TABLE claims.claim_item DROP CONSTRAINT ck_claim_item_status;
    ALTER TABLE claims.claim_item ADD CONSTRAINT ck_claim_item_status
        CHECK (status IN ({item}));
    ALTER TABLE billing.payment DROP CONSTRAINT ck_payment_payment_status;
    ALTER TABLE billing.payment ADD CONSTRAINT ck_payment_payment_status
        CHECK (payment_status IN ({payment}));
    """


def upgrade() -> None:
    op.execute(_checks(CLAIM_STATUSES, ITEM_STATUSES, PAYMENT_STATUSES))
    op.execute(SETTINGS)


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM ref.system_configurations
        WHERE config_key IN ('HEALTH_CLAIM_REVIEW_AMOUNT', 'HEALTH_REIMBURSEMENT_DOCUMENTS');
        UPDATE claims.claim SET status = 'cancelled' WHERE status = 'voided';
        UPDATE claims.claim SET status = 'paid' WHERE status = 'closed';
        UPDATE claims.claim SET status = 'approved' WHERE status = 'payment_pending';
        UPDATE claims.claim SET status = 'pended' WHERE status = 'appealed';
        UPDATE claims.claim_item SET status = 'cancelled' WHERE status = 'voided';
        UPDATE billing.payment SET payment_status = 'processing' WHERE payment_status = 'sent';
        """
    )
    op.execute(_checks(CLAIM_STATUSES_0004, ITEM_STATUSES_0004, PAYMENT_STATUSES_0004))
