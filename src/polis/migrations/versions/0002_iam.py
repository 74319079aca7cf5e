"""Identity: iam.users, iam.user_sessions and iam.idempotency_keys.

Revision ID: 0002_iam
Revises: 0001_platform
Create Date: 2026-11-23
"""

from alembic import op

revision = "0002_iam"
down_revision = "0001_platform"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Seed 001 users. The role CHECK is widened with the health and audit roles of DESIGN.md
-- (decision 0004).
CREATE TABLE iam.users (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    username VARCHAR(100) NOT NULL UNIQUE,
    email VARCHAR(255) NOT NULL UNIQUE,
    phone_number VARCHAR(20),
    password_hash VARCHAR(255) NOT NULL,
    password_changed_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    password_history JSONB,
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    employee_id VARCHAR(50),
    role VARCHAR(20) NOT NULL
        CHECK (role IN ('CUSTOMER', 'AGENT', 'ADJUSTER', 'SURVEYOR', 'UNDERWRITER', 'ADMIN',
                        'SUPER_ADMIN', 'MEMBER', 'PROVIDER', 'CLAIMS_PROCESSOR',
                        'MEDICAL_REVIEWER', 'FINANCE', 'AUDITOR')),
    permissions JSONB,
    department VARCHAR(50),
    account_status VARCHAR(20) DEFAULT 'ACTIVE'
        CHECK (account_status IN ('ACTIVE', 'INACTIVE', 'LOCKED', 'SUSPENDED', 'TERMINATED')),
    email_verified BOOLEAN DEFAULT FALSE,
    phone_verified BOOLEAN DEFAULT FALSE,
    two_factor_enabled BOOLEAN DEFAULT FALSE,
    two_factor_secret VARCHAR(255),
    failed_login_attempts INTEGER DEFAULT 0,
    locked_until TIMESTAMP WITH TIME ZONE,
    last_login_at TIMESTAMP WITH TIME ZONE,
    last_login_ip INET,
    current_session_id VARCHAR(255),
    profile_picture_url VARCHAR(500),
    preferred_language VARCHAR(5) DEFAULT 'th' CHECK (preferred_language IN ('th', 'en', 'id')),
    timezone VARCHAR(50) DEFAULT 'Asia/Bangkok',
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID
);

CREATE INDEX idx_users_username ON iam.users(username) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_email ON iam.users(email) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_role ON iam.users(role) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_status ON iam.users(account_status) WHERE deleted_at IS NULL;
CREATE INDEX idx_users_last_login ON iam.users(last_login_at);
CREATE INDEX idx_users_department ON iam.users(department) WHERE deleted_at IS NULL;

COMMENT ON TABLE iam.users IS 'System users including customers, agents, and staff';
COMMENT ON COLUMN iam.users.password_hash IS 'argon2id hash, never the password';
COMMENT ON COLUMN iam.users.two_factor_secret IS 'TOTP secret, AES-GCM encrypted by the application';

CREATE TRIGGER update_users_timestamp BEFORE UPDATE ON iam.users
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
SELECT audit.enable_audit('iam.users');

-- Seed 001 user_sessions. session_id holds the SHA-256 of the opaque bearer token.
CREATE TABLE iam.user_sessions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES iam.users(id),
    session_id VARCHAR(255) NOT NULL UNIQUE,
    refresh_token_hash VARCHAR(255),
    ip_address INET NOT NULL,
    user_agent TEXT,
    device_info JSONB,
    location_info JSONB,
    is_active BOOLEAN DEFAULT TRUE,
    login_method VARCHAR(20) CHECK (login_method IN ('PASSWORD', 'SSO', 'TOKEN', 'BIOMETRIC')),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    last_activity_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    terminated_at TIMESTAMP WITH TIME ZONE,
    termination_reason VARCHAR(50)
);

CREATE INDEX idx_user_sessions_user ON iam.user_sessions(user_id);
CREATE INDEX idx_user_sessions_session_id ON iam.user_sessions(session_id);
CREATE INDEX idx_user_sessions_active ON iam.user_sessions(is_active, expires_at);
CREATE INDEX idx_user_sessions_cleanup ON iam.user_sessions(expires_at) WHERE NOT is_active;

COMMENT ON TABLE iam.user_sessions IS 'Active user sessions for security tracking';
COMMENT ON COLUMN iam.user_sessions.session_id IS 'SHA-256 of the bearer token (the token itself is never stored)';
SELECT audit.enable_audit('iam.user_sessions');

-- Idempotency-Key records of POST requests (decision 0042). Not audited: it is request
-- bookkeeping, and the business rows it guards carry their own audit trail.
CREATE TABLE iam.idempotency_keys (
    user_id UUID NOT NULL REFERENCES iam.users(id) ON DELETE CASCADE,
    key VARCHAR(255) NOT NULL,
    method VARCHAR(10) NOT NULL,
    path VARCHAR(500) NOT NULL,
    request_hash CHAR(64) NOT NULL,
    response_status INTEGER,
    response_body JSONB,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE INDEX idx_idempotency_keys_expires ON iam.idempotency_keys(expires_at);

COMMENT ON TABLE iam.idempotency_keys IS 'Idempotency-Key records of POST requests (replayed until expires_at)';
COMMENT ON COLUMN iam.idempotency_keys.request_hash IS 'SHA-256 of method, path and canonical JSON body';
COMMENT ON COLUMN iam.idempotency_keys.response_status IS 'NULL while the first request is still running';
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS iam.idempotency_keys;
DROP TABLE IF EXISTS iam.user_sessions;
DROP TABLE IF EXISTS iam.users;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
