"""Two factors: TOTP with recovery codes, SMS one-time passwords (issue 6 item 3).

- iam.user_sessions.two_factor_pending: a session of a user whose role requires a second
  factor and who has not enrolled yet; every route but enrolment, me, logout and the password
  change answers 403 two-factor-enrolment-required (decision 0063).
- iam.recovery_codes: the keyed hashes (HMAC-SHA256, the blind-index key) of a user's ten
  single-use recovery codes.
- iam.login_challenges: the half-done sign-ins (a password accepted, a TOTP or recovery code
  expected; or an SMS one-time password sent). Only SHA-256 of the challenge token and a keyed
  hash of the SMS code are stored. Not audited: per-login bookkeeping like
  iam.login_rate_limits.
- iam.totp_steps: the last TOTP time step each user spent, so a code is never taken twice.
  Not audited, for the same reason.

Sessions opened by an SMS one-time password use the seed's login_method 'TOKEN' (a one-time
token sent by SMS); the seed's CHECK stays as it is.

Revision ID: 0022_iam_two_factor
Revises: 0021_iam_sessions
Create Date: 2026-11-23
"""

from alembic import op

revision = "0022_iam_two_factor"
down_revision = "0021_iam_sessions"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE iam.user_sessions
    ADD COLUMN two_factor_pending BOOLEAN NOT NULL DEFAULT FALSE;
COMMENT ON COLUMN iam.user_sessions.two_factor_pending IS
    'Opened without a second factor by a user whose role requires one: enrolment routes only';

CREATE TABLE iam.recovery_codes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES iam.users(id) ON DELETE CASCADE,
    code_hash CHAR(64) NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    used_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT uq_recovery_codes_user_code UNIQUE (user_id, code_hash)
);
CREATE INDEX idx_recovery_codes_unused ON iam.recovery_codes(user_id) WHERE used_at IS NULL;
COMMENT ON TABLE iam.recovery_codes IS 'Single-use 2FA recovery codes (keyed hashes only)';
COMMENT ON COLUMN iam.recovery_codes.code_hash IS
    'HMAC-SHA256 of the normalised code under the blind-index key, never the code';
SELECT audit.enable_audit('iam.recovery_codes');

CREATE TABLE iam.login_challenges (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    challenge_hash CHAR(64) NOT NULL UNIQUE,
    kind VARCHAR(20) NOT NULL
        CONSTRAINT ck_login_challenges_kind CHECK (kind IN ('TWO_FACTOR', 'SMS_OTP')),
    user_id UUID NOT NULL REFERENCES iam.users(id) ON DELETE CASCADE,
    code_hash CHAR(64),
    attempts INTEGER NOT NULL DEFAULT 0
        CONSTRAINT ck_login_challenges_attempts CHECK (attempts >= 0),
    ip_address INET,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at TIMESTAMP WITH TIME ZONE,
    CONSTRAINT ck_login_challenges_code CHECK ((kind = 'SMS_OTP') = (code_hash IS NOT NULL))
);
CREATE INDEX idx_login_challenges_user ON iam.login_challenges(user_id, created_at);
CREATE INDEX idx_login_challenges_expires ON iam.login_challenges(expires_at);
COMMENT ON TABLE iam.login_challenges IS
    'Sign-ins waiting for a second factor or an SMS one-time password (hashes only)';
COMMENT ON COLUMN iam.login_challenges.challenge_hash IS 'SHA-256 of the challenge token';
COMMENT ON COLUMN iam.login_challenges.code_hash IS
    'SMS_OTP: HMAC-SHA256 of the code under the blind-index key, never the code';

CREATE TABLE iam.totp_steps (
    user_id UUID PRIMARY KEY REFERENCES iam.users(id) ON DELETE CASCADE,
    last_step BIGINT NOT NULL,
    used_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW()
);
COMMENT ON TABLE iam.totp_steps IS 'Last TOTP time step spent per user (no code is taken twice)';
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS iam.totp_steps;
DROP TABLE IF EXISTS iam.login_challenges;
DROP TABLE IF EXISTS iam.recovery_codes;
ALTER TABLE iam.user_sessions DROP COLUMN IF EXISTS two_factor_pending;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
