"""Audit rows never carry credentials: password hashes and the like are written as null.

audit.log_change (0016's version: `search_vector` left out of both images) now also writes
JSON null for the credential columns in `REDACTED` (argon2 password hashes and history, the
encrypted TOTP secret, refresh-token, token and one-time-code hashes) in old_values and
new_values, after `changed_fields` is worked out from the real values: an audit reader still
sees that a password changed, when and by whom, never the hash (which could be attacked
offline). Audit rows written before this migration are scrubbed the same way under the
documented `polis.audit_scrub` switch (decision 0059: an UPDATE that only nulls values).

Revision ID: 0024_audit_redact_secrets
Revises: 0023_self_service_rls
Create Date: 2026-11-23
"""

from alembic import op

revision = "0024_audit_redact_secrets"
down_revision = "0023_self_service_rls"
branch_labels = None
depends_on = None

# Column names, in any audited table, whose values an audit row must not hold.
REDACTED = (
    "password_hash",
    "password_history",
    "two_factor_secret",
    "refresh_token_hash",
    "token_hash",
    "code_hash",
)

_LOG_CHANGE = r"""
CREATE OR REPLACE FUNCTION audit.log_change() RETURNS TRIGGER AS $$
DECLARE
    v_old JSONB;
    v_new JSONB;
    v_changed TEXT[];
    v_id UUID;
    v_key TEXT;
BEGIN
    IF current_setting('app.partition_move', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN v_old := to_jsonb(OLD) - 'search_vector'; END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN v_new := to_jsonb(NEW) - 'search_vector'; END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO v_changed
          FROM jsonb_each(v_new) n
         WHERE n.value IS DISTINCT FROM v_old -> n.key;
        IF v_changed IS NULL THEN RETURN NEW; END IF;
    END IF;
    __REDACT__
    v_id := COALESCE(v_new ->> 'id', v_old ->> 'id')::uuid;
    INSERT INTO audit.audit_log (table_name, record_id, operation, old_values, new_values,
                                 changed_fields, user_id, user_role, ip_address, user_agent,
                                 business_context, request_id)
    VALUES (
            -- a row in a partition is logged under its partitioned table (claims.claim)
            COALESCE(pg_partition_root(TG_RELID), TG_RELID)::regclass::text, v_id, TG_OP, v_old, v_new, v_changed,
            NULLIF(current_setting('app.user_id', true), '')::uuid,
            NULLIF(current_setting('app.user_role', true), ''),
            NULLIF(current_setting('app.ip_address', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.business_context', true), ''),
            NULLIF(current_setting('app.request_id', true), '')::uuid);
    RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;
"""

_KEYS = "ARRAY[" + ", ".join(f"'{k}'" for k in REDACTED) + "]"

# After changed_fields: credentials become JSON null in both images (the keys stay, so the
# images keep the table's shape and `changed_fields` still names them).
_REDACT = f"""FOREACH v_key IN ARRAY {_KEYS} LOOP
        IF v_old ? v_key THEN v_old := jsonb_set(v_old, ARRAY[v_key], 'null'::jsonb); END IF;
        IF v_new ? v_key THEN v_new := jsonb_set(v_new, ARRAY[v_key], 'null'::jsonb); END IF;
    END LOOP;"""

# Rows written before: the same values nulled, under the scrub switch of decision 0059.
_SCRUB = f"""
DO $$
DECLARE
    v_key TEXT;
BEGIN
    PERFORM set_config('polis.audit_scrub', 'on', true);
    FOREACH v_key IN ARRAY {_KEYS} LOOP
        UPDATE audit.audit_log
           SET old_values = CASE WHEN old_values ? v_key
                                 THEN jsonb_set(old_values, ARRAY[v_key], 'null'::jsonb)
                                 ELSE old_values END,
               new_values = CASE WHEN new_values ? v_key
                                 THEN jsonb_set(new_values, ARRAY[v_key], 'null'::jsonb)
                                 ELSE new_values END
         WHERE (old_values ? v_key AND old_values -> v_key <> 'null'::jsonb)
            OR (new_values ? v_key AND new_values -> v_key <> 'null'::jsonb);
    END LOOP;
    PERFORM set_config('polis.audit_scrub', 'off', true);
END $$;
"""


def upgrade() -> None:
    op.execute(_LOG_CHANGE.replace("__REDACT__", _REDACT))
    op.execute(_SCRUB)


def downgrade() -> None:
    # 0016's trigger function; the scrubbed values cannot come back.
    op.execute(_LOG_CHANGE.replace("__REDACT__", ""))
