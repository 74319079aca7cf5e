"""Motor claim settlement: what settling a claim records beyond the seed (issue 5; decision 0051).

- claim_settlements.head_of_loss: the head of loss a row pays (OWN_DAMAGE,
  THIRD_PARTY_PROPERTY, BODILY_INJURY): the deductible falls on own damage only, and the CMI
  limits on bodily injury.
- claim_settlements.loss_details: the CMI breakdown of a bodily-injury row (stage, injured
  person, medical, death or disability, inpatient days and compensation), so later rows are
  capped by what earlier rows paid the same person.
- claims.ncd_effect: the claim's effect on the policy's next no-claim discount, recorded when
  the claim settles.

Revision ID: 0017_motor_claim_settlement
Revises: 0016_motor_claim_search
Create Date: 2026-11-23
"""

from alembic import op

revision = "0017_motor_claim_settlement"
down_revision = "0016_motor_claim_search"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
ALTER TABLE motor.claim_settlements
    ADD COLUMN head_of_loss VARCHAR(30)
        CONSTRAINT claim_settlements_head_of_loss_check
        CHECK (head_of_loss IN ('OWN_DAMAGE', 'THIRD_PARTY_PROPERTY', 'BODILY_INJURY')),
    ADD COLUMN loss_details JSONB;
COMMENT ON COLUMN motor.claim_settlements.head_of_loss IS
    'Head of loss the row pays: the deductible falls on OWN_DAMAGE, the CMI limits on BODILY_INJURY';
COMMENT ON COLUMN motor.claim_settlements.loss_details IS
    'CMI breakdown of a bodily-injury row: stage, injured person, medical, death or disability, inpatient days';
ALTER TABLE motor.claims ADD COLUMN ncd_effect JSONB;
COMMENT ON COLUMN motor.claims.ncd_effect IS
    'The claim''s effect on the policy''s next no-claim discount, recorded at settlement';
"""
    )


def downgrade() -> None:
    op.execute(
        """
ALTER TABLE motor.claims DROP COLUMN IF EXISTS ncd_effect;
ALTER TABLE motor.claim_settlements DROP COLUMN IF EXISTS loss_details;
ALTER TABLE motor.claim_settlements DROP COLUMN IF EXISTS head_of_loss;
"""
    )
