"""PDPA / UU PDP: a person's self-service login is erased with their data.

`iam.anonymize_login(user_uuid)` (owner rights, fixed search_path, not for PUBLIC, like the
anonymisation functions of 0005/0020) TERMINATES the login, replaces its username, email and
name, clears its phone and second factor, deletes its recovery codes, ends its sessions
(REVOKED_BY_ADMIN) and scrubs those values from the login's audit rows (under
`polis.audit_scrub`, decision 0059). `polis.audit.pdpa` calls it, after unlinking the login
from the member or customer, in the anonymisation's transaction (decision 0068).

Revision ID: 0025_iam_anonymize_login
Revises: 0024_audit_redact_secrets
Create Date: 2026-12-07
"""

from alembic import op

revision = "0025_iam_anonymize_login"
down_revision = "0024_audit_redact_secrets"
branch_labels = None
depends_on = None

_FUNCTION = """
CREATE OR REPLACE FUNCTION iam.anonymize_login(user_uuid UUID) RETURNS VOID AS $$
DECLARE
    v_scrub TEXT := current_setting('polis.audit_scrub', true);
    v_keys TEXT[] := ARRAY['username', 'email', 'first_name', 'last_name', 'phone_number'];
BEGIN
    UPDATE iam.users
       SET username = 'anonymized_' || user_uuid::text,
           email = 'anonymized_' || user_uuid::text || '@deleted.local',
           first_name = 'ANONYMIZED',
           last_name = 'DATA',
           phone_number = NULL,
           phone_verified = FALSE,
           two_factor_enabled = FALSE,
           two_factor_secret = NULL,
           account_status = 'TERMINATED'
     WHERE id = user_uuid;
    DELETE FROM iam.recovery_codes WHERE user_id = user_uuid;
    UPDATE iam.user_sessions
       SET is_active = FALSE, terminated_at = now(), termination_reason = 'REVOKED_BY_ADMIN'
     WHERE user_id = user_uuid AND is_active;

    PERFORM set_config('polis.audit_scrub', 'on', true);
    UPDATE audit.audit_log
       SET old_values = motor.scrub_keys(old_values, v_keys),
           new_values = motor.scrub_keys(new_values, v_keys)
     WHERE table_name = 'iam.users' AND record_id = user_uuid;
    PERFORM set_config('polis.audit_scrub', COALESCE(v_scrub, ''), true);
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;
REVOKE ALL ON FUNCTION iam.anonymize_login(UUID) FROM PUBLIC;
"""


def upgrade() -> None:
    op.execute(_FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS iam.anonymize_login(UUID)")
