"""Motor claim search: Thai-segmented full-text vectors on claims and claim documents (issue 5; decisions 0052, 0053).

PostgreSQL has no Thai parser, so the vectors are computed by the application
(polis.motor.claim_search: pythainlp word segmentation, then to_tsvector('simple', ...)) and
stored in `search_vector` columns with GIN indexes: a deviation from the seed, which has only
`to_tsvector('english', extracted_text)` on claim_documents (kept).

The audit trigger leaves `search_vector` out of old/new values: it is derived data, as large as
the text it indexes, and re-indexing alone must not write audit rows.

`MOTOR_CLAIM_VIDEO_MAX_BYTES` is the upload limit of claim videos (other files keep
DOCUMENT_MAX_BYTES).

Revision ID: 0016_motor_claim_search
Revises: 0015_motor_claims
Create Date: 2026-11-23
"""

from alembic import op

revision = "0016_motor_claim_search"
down_revision = "0015_motor_claims"
branch_labels = None
depends_on = None

# audit.log_change of 0001_platform, with `- 'search_vector'` on both images.
_LOG_CHANGE = r"""
CREATE OR REPLACE FUNCTION audit.log_change() RETURNS TRIGGER AS $$
DECLARE
    v_old JSONB;
    v_new JSONB;
    v_changed TEXT[];
    v_id UUID;
BEGIN
    IF current_setting('app.partition_move', true) = 'on' THEN
        RETURN COALESCE(NEW, OLD);
    END IF;
    IF TG_OP IN ('UPDATE', 'DELETE') THEN v_old := to_jsonb(OLD) __STRIP__; END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN v_new := to_jsonb(NEW) __STRIP__; END IF;
    IF TG_OP = 'UPDATE' THEN
        SELECT array_agg(n.key ORDER BY n.key) INTO v_changed
          FROM jsonb_each(v_new) n
         WHERE n.value IS DISTINCT FROM v_old -> n.key;
        IF v_changed IS NULL THEN RETURN NEW; END IF;
    END IF;
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

UPGRADE = r"""
ALTER TABLE motor.claims ADD COLUMN search_vector tsvector;
ALTER TABLE motor.claim_documents ADD COLUMN search_vector tsvector;
CREATE INDEX idx_claims_search ON motor.claims USING GIN (search_vector) WHERE deleted_at IS NULL;
CREATE INDEX idx_claim_documents_search ON motor.claim_documents USING GIN (search_vector);
INSERT INTO ref.system_configurations (config_key, config_category, config_value, config_type, description)
VALUES ('MOTOR_CLAIM_VIDEO_MAX_BYTES', 'CLAIMS', '104857600', 'INTEGER',
        'Upload limit of a motor claim video in bytes (other documents: DOCUMENT_MAX_BYTES)')
ON CONFLICT (config_key) DO NOTHING;
"""

DOWNGRADE = r"""
DELETE FROM ref.system_configurations WHERE config_key = 'MOTOR_CLAIM_VIDEO_MAX_BYTES';
DROP INDEX IF EXISTS motor.idx_claim_documents_search;
DROP INDEX IF EXISTS motor.idx_claims_search;
ALTER TABLE motor.claim_documents DROP COLUMN IF EXISTS search_vector;
ALTER TABLE motor.claims DROP COLUMN IF EXISTS search_vector;
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    op.execute(_LOG_CHANGE.replace("__STRIP__", "- 'search_vector'"))


def downgrade() -> None:
    op.execute(_LOG_CHANGE.replace("__STRIP__", ""))
    op.execute(DOWNGRADE)
