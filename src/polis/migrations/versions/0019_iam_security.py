"""Passwords and lockout (issue 6): users.must_change_password and iam.login_rate_limits.

Revision ID: 0019_iam_security
Revises: 0018_jobs
Create Date: 2026-11-23
"""

from alembic import op

revision = "0019_iam_security"
down_revision = "0018_jobs"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Beyond the seed (decision 0058): a password set by someone else (an administrator creating
-- a staff account) must be replaced by its owner before any other route answers.
ALTER TABLE iam.users
    ADD COLUMN must_change_password BOOLEAN NOT NULL DEFAULT FALSE;
COMMENT ON COLUMN iam.users.must_change_password IS
    'The password was set by someone else: every route but the password change answers 403';

-- Failed logins per client address in a fixed window (decision 0058): held in PostgreSQL so
-- that every server process shares the count. Not audited: it is request bookkeeping, like
-- iam.idempotency_keys, and the failed logins themselves show on iam.users.
CREATE TABLE iam.login_rate_limits (
    ip_address INET PRIMARY KEY,
    window_start TIMESTAMP WITH TIME ZONE NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
        CONSTRAINT ck_login_rate_limits_attempts CHECK (attempts >= 0)
);
CREATE INDEX idx_login_rate_limits_window ON iam.login_rate_limits(window_start);
COMMENT ON TABLE iam.login_rate_limits IS 'Failed logins per client IP in the current window';
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS iam.login_rate_limits;
ALTER TABLE iam.users DROP COLUMN IF EXISTS must_change_password;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
