"""Motor claims: configuration keys and number series of first notice of loss, assessments and settlement (issue 5; decision 0050/0051).

Revision ID: 0015_motor_claims
Revises: 0014_motor_receipts
Create Date: 2026-11-23
"""

from alembic import op

revision = "0015_motor_claims"
down_revision = "0014_motor_receipts"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Claim numbers are MCL-YYYYMMDD-XXXXXXXX (random Crockford base-32, decision 0050): no
    # sequence is needed; the seed's UNIQUE claim_number guards them.
    op.execute(
        """
        INSERT INTO ref.system_configurations
            (config_key, config_category, config_value, config_type, description)
        VALUES
        ('MOTOR_FRAUD_INVESTIGATION_THRESHOLD', 'CLAIMS', '50', 'INTEGER',
         'Fraud score (0-100) from which a motor claim requires investigation and moves to'
         ' INVESTIGATING (decision 0050; the rules and weights are motor/data/fraud_rules.json)')
        ON CONFLICT (config_key) DO NOTHING;
        """
    )


def downgrade() -> None:
    op.execute(
        """
        DELETE FROM ref.system_configurations
         WHERE config_key = 'MOTOR_FRAUD_INVESTIGATION_THRESHOLD';
        """
    )
