"""Motor policies: the policy number sequence and the PromptPay biller id setting.

Revision ID: 0013_motor_policies
Revises: 0012_claim_item_line_number
Create Date: 2026-11-23
"""

from alembic import op

revision = "0013_motor_policies"
down_revision = "0012_claim_item_line_number"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE SEQUENCE motor.policy_number_seq AS BIGINT MINVALUE 1 MAXVALUE 99999999 NO CYCLE;
        COMMENT ON SEQUENCE motor.policy_number_seq IS
            'Serial part of motor policy numbers MTR-YYYY-NNNNNNNN (decision 0039); gaps allowed';

        INSERT INTO ref.system_configurations
            (config_key, config_category, config_value, config_type, description)
        VALUES
        ('MOTOR_PROMPTPAY_BILLER_ID', 'PAYMENT', '010555000000101', 'STRING',
         'PromptPay bill-payment biller id (tax id + 2-digit suffix, 15 digits) on motor'
         ' premium QR codes; the default is a placeholder: set the insurer''s own')
        ON CONFLICT (config_key) DO NOTHING;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM ref.system_configurations WHERE config_key = 'MOTOR_PROMPTPAY_BILLER_ID';
        DROP SEQUENCE motor.policy_number_seq;
        """
    )
