"""Motor receipts and tax invoices: the gap-free receipt counter, one receipt per payment and
type, the insurer's seller particulars (decision 0049).

Revision ID: 0014_motor_receipts
Revises: 0013_motor_policies
Create Date: 2026-11-23
"""

from alembic import op

revision = "0014_motor_receipts"
down_revision = "0013_motor_policies"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE motor.receipt_number_counters (
            id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
            year INTEGER NOT NULL UNIQUE CHECK (year BETWEEN 2000 AND 9999),
            last_number BIGINT NOT NULL CHECK (last_number BETWEEN 0 AND 9999999),
            updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
        );
        COMMENT ON TABLE motor.receipt_number_counters IS
            'Gap-free serial of receipt / tax invoice numbers RC-YYYY-NNNNNNN per calendar year'
            ' (Asia/Bangkok): the row is locked by UPDATE until the issuing transaction ends,'
            ' so a rolled-back issue gives its number back (decision 0049)';

        SELECT audit.enable_audit('motor.receipt_number_counters');

        CREATE UNIQUE INDEX uq_payment_receipts_payment_type
            ON motor.payment_receipts (payment_id, receipt_type);

        INSERT INTO ref.system_configurations
            (config_key, config_category, config_value, config_type, description)
        VALUES
        ('MOTOR_INSURER_NAME_TH', 'DOCUMENTS', 'บริษัท โพลิส ประกันภัย จำกัด (มหาชน)', 'STRING',
         'Seller name (Thai) on motor receipts and tax invoices; illustrative: set the'
         ' insurer''s registered name'),
        ('MOTOR_INSURER_NAME_EN', 'DOCUMENTS', 'Polis Insurance Public Company Limited',
         'STRING', 'Seller name (English) on motor receipts and tax invoices; illustrative'),
        ('MOTOR_INSURER_ADDRESS_TH', 'DOCUMENTS',
         '999 ถนนพระราม 4 แขวงสีลม เขตบางรัก กรุงเทพมหานคร 10500', 'STRING',
         'Seller address (Thai) on motor tax invoices; illustrative'),
        ('MOTOR_INSURER_ADDRESS_EN', 'DOCUMENTS',
         '999 Rama IV Road, Si Lom, Bang Rak, Bangkok 10500', 'STRING',
         'Seller address (English) on motor tax invoices; illustrative'),
        ('MOTOR_INSURER_TAX_ID', 'DOCUMENTS', '0105550000001', 'STRING',
         'Seller 13-digit tax id on motor tax invoices; illustrative'),
        ('MOTOR_INSURER_BRANCH', 'DOCUMENTS', '00000', 'STRING',
         'Seller branch number on tax invoices (00000 = head office)')
        ON CONFLICT (config_key) DO NOTHING;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM ref.system_configurations WHERE config_key IN (
            'MOTOR_INSURER_NAME_TH', 'MOTOR_INSURER_NAME_EN', 'MOTOR_INSURER_ADDRESS_TH',
            'MOTOR_INSURER_ADDRESS_EN', 'MOTOR_INSURER_TAX_ID', 'MOTOR_INSURER_BRANCH');
        DROP INDEX motor.uq_payment_receipts_payment_type;
        DROP TABLE motor.receipt_number_counters;
        """
    )
