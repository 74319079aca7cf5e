"""Sessions: refresh-token rotation with family revocation, idle and absolute timeouts, device details (issue 6 item 4).

- iam.user_sessions.access_expires_at: when the current access token stops working
  (ACCESS_TOKEN_MINUTES after it was issued, never past expires_at, which is now the
  session's absolute end: login + SESSION_TIMEOUT_HOURS). NULL (sessions opened before this
  migration, rows written by hand) means expires_at.
- A CHECK on termination_reason (decision 0062).
- iam.refresh_tokens: every refresh token a session was given (SHA-256 only), when it was
  spent and by which token it was replaced; a spent one presented again revokes the session
  (the family). Not audited: rotation shows on the audited iam.user_sessions row.

Revision ID: 0021_iam_sessions
Revises: 0020_audit_pdpa
Create Date: 2026-11-23
"""

from alembic import op

revision = "0021_iam_sessions"
down_revision = "0020_audit_pdpa"
branch_labels = None
depends_on = None

UPGRADE = r"""
ALTER TABLE iam.user_sessions ADD COLUMN access_expires_at TIMESTAMP WITH TIME ZONE;
COMMENT ON COLUMN iam.user_sessions.access_expires_at IS
    'The current access token works until then (ACCESS_TOKEN_MINUTES); NULL: until expires_at';
COMMENT ON COLUMN iam.user_sessions.expires_at IS
    'Absolute end of the session: login + SESSION_TIMEOUT_HOURS; no refresh extends it';
COMMENT ON COLUMN iam.user_sessions.refresh_token_hash IS
    'SHA-256 of the current refresh token (earlier ones: iam.refresh_tokens)';
ALTER TABLE iam.user_sessions
    ADD CONSTRAINT ck_user_sessions_termination_reason
        CHECK (termination_reason IN ('LOGOUT', 'REVOKED_BY_USER', 'REVOKED_BY_ADMIN',
                                      'PASSWORD_CHANGED', 'IDLE_TIMEOUT', 'EXPIRED',
                                      'REFRESH_TOKEN_REUSE'));
-- The idle sweep of the quarter-hourly sessions job.
CREATE INDEX idx_user_sessions_idle ON iam.user_sessions(last_activity_at) WHERE is_active;

CREATE TABLE iam.refresh_tokens (
    token_hash CHAR(64) PRIMARY KEY,
    user_session_id UUID NOT NULL REFERENCES iam.user_sessions(id) ON DELETE CASCADE,
    issued_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    used_at TIMESTAMP WITH TIME ZONE,
    replaced_by CHAR(64),
    CONSTRAINT ck_refresh_tokens_spent CHECK ((used_at IS NULL) = (replaced_by IS NULL))
);
CREATE INDEX idx_refresh_tokens_session ON iam.refresh_tokens(user_session_id);
COMMENT ON TABLE iam.refresh_tokens IS
    'Refresh tokens of a session (its family): spent ones are kept to detect reuse';
COMMENT ON COLUMN iam.refresh_tokens.token_hash IS
    'SHA-256 of the refresh token (the token itself is never stored)';
COMMENT ON COLUMN iam.refresh_tokens.replaced_by IS 'token_hash of the token it was exchanged for';
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS iam.refresh_tokens;
DROP INDEX IF EXISTS iam.idx_user_sessions_idle;
ALTER TABLE iam.user_sessions
    DROP CONSTRAINT IF EXISTS ck_user_sessions_termination_reason,
    DROP COLUMN IF EXISTS access_expires_at;
COMMENT ON COLUMN iam.user_sessions.expires_at IS NULL;
COMMENT ON COLUMN iam.user_sessions.refresh_token_hash IS NULL;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
