"""Platform: schemas, shared functions, the audit log and its trigger, partition helpers.

Revision ID: 0001_platform
Revises:
Create Date: 2026-11-23
"""

from alembic import op

revision = "0001_platform"
down_revision = None
branch_labels = None
depends_on = None

SCHEMAS = (
    "claims",
    "member",
    "provider",
    "benefit",
    "policy",
    "billing",
    "audit",
    "motor",
    "iam",
    "ref",
)

UPGRADE = r"""
-- Seed 000 "Triggers": one timestamp function for every table with updated_at.
CREATE OR REPLACE FUNCTION public.update_updated_at()
RETURNS TRIGGER AS $$
BEGIN
    NEW.updated_at = NOW();
    RETURN NEW;
END;
$$ LANGUAGE plpgsql;

-- Seed 001 audit_logs, one table for both seeds (DESIGN.md), partitioned by month.
-- The primary key must contain the partition key (decision 0003).
CREATE TABLE audit.audit_log (
    id BIGSERIAL,
    table_name VARCHAR(50) NOT NULL,
    record_id UUID NOT NULL,
    operation VARCHAR(10) NOT NULL
        CHECK (operation IN ('INSERT', 'UPDATE', 'DELETE', 'EXPORT', 'ANONYMIZE')),
    old_values JSONB,
    new_values JSONB,
    changed_fields TEXT[],
    user_id UUID,
    user_role VARCHAR(20),
    ip_address INET,
    user_agent TEXT,
    business_context VARCHAR(100),
    request_id UUID,
    timestamp TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    CONSTRAINT audit_log_pkey PRIMARY KEY (id, timestamp)
) PARTITION BY RANGE (timestamp);

CREATE TABLE audit.audit_log_default PARTITION OF audit.audit_log DEFAULT;

CREATE INDEX idx_audit_logs_table_record ON audit.audit_log(table_name, record_id);
CREATE INDEX idx_audit_logs_user ON audit.audit_log(user_id, timestamp);
CREATE INDEX idx_audit_logs_timestamp ON audit.audit_log(timestamp);
CREATE INDEX idx_audit_logs_operation ON audit.audit_log(operation, timestamp);

COMMENT ON TABLE audit.audit_log IS 'Complete audit trail of all data changes';

-- Seed 001 create_monthly_partition, made schema-aware and safe to call twice.
-- A new partition takes over rows that had landed in the DEFAULT partition for its range.
CREATE OR REPLACE FUNCTION public.create_range_partition(
    p_table TEXT, p_start DATE, p_end DATE, p_partition TEXT
) RETURNS TEXT AS $$
DECLARE
    v_schema TEXT := split_part(p_table, '.', 1);
    v_parent TEXT := split_part(p_table, '.', 2);
    v_key TEXT;
    v_default TEXT;
    v_moved BIGINT := 0;
    v_tmp TEXT;
BEGIN
    IF v_parent = '' THEN
        v_parent := v_schema;
        v_schema := 'public';
    END IF;
    IF to_regclass(format('%I.%I', v_schema, p_partition)) IS NOT NULL THEN
        RETURN p_partition;
    END IF;
    SELECT pg_get_partkeydef(format('%I.%I', v_schema, v_parent)::regclass) INTO v_key;
    v_key := substring(v_key FROM '\((.*)\)');
    SELECT c.relname INTO v_default
      FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
     WHERE i.inhparent = format('%I.%I', v_schema, v_parent)::regclass
       AND pg_get_expr(c.relpartbound, c.oid) = 'DEFAULT';
    IF v_default IS NOT NULL THEN
        -- Strays in DEFAULT for this range would block CREATE ... PARTITION OF: move them.
        -- The audit trigger ignores this move (app.partition_move), it is not a business change.
        PERFORM set_config('app.partition_move', 'on', true);
        v_tmp := '_polis_moved_' || format('%I.%I', v_schema, v_parent)::regclass::oid;
        EXECUTE format('CREATE TEMP TABLE IF NOT EXISTS %I (LIKE %I.%I) ON COMMIT DROP',
                       v_tmp, v_schema, v_parent);
        EXECUTE format('WITH m AS (DELETE FROM %I.%I WHERE %s >= %L AND %s < %L RETURNING *) '
                       'INSERT INTO %I SELECT * FROM m',
                       v_schema, v_default, v_key, p_start, v_key, p_end, v_tmp);
        GET DIAGNOSTICS v_moved = ROW_COUNT;
    END IF;
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %I.%I FOR VALUES FROM (%L) TO (%L)',
                   v_schema, p_partition, v_schema, v_parent, p_start, p_end);
    IF v_moved > 0 THEN
        EXECUTE format('INSERT INTO %I.%I SELECT * FROM %I', v_schema, v_parent, v_tmp);
        EXECUTE format('TRUNCATE %I', v_tmp);
    END IF;
    IF v_default IS NOT NULL THEN
        PERFORM set_config('app.partition_move', 'off', true);
    END IF;
    RETURN p_partition;
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION public.create_monthly_partition(table_name TEXT, start_date DATE)
RETURNS VOID AS $$
DECLARE
    v_start DATE := date_trunc('month', start_date)::date;
    v_base TEXT := CASE WHEN position('.' IN table_name) > 0
                        THEN split_part(table_name, '.', 2) ELSE table_name END;
BEGIN
    PERFORM public.create_range_partition(
        table_name, v_start, (v_start + INTERVAL '1 month')::date,
        v_base || '_y' || EXTRACT(YEAR FROM v_start) || 'm'
            || LPAD(EXTRACT(MONTH FROM v_start)::TEXT, 2, '0'));
END;
$$ LANGUAGE plpgsql;

CREATE OR REPLACE FUNCTION public.create_yearly_partition(table_name TEXT, start_date DATE)
RETURNS VOID AS $$
DECLARE
    v_start DATE := date_trunc('year', start_date)::date;
    v_base TEXT := CASE WHEN position('.' IN table_name) > 0
                        THEN split_part(table_name, '.', 2) ELSE table_name END;
BEGIN
    PERFORM public.create_range_partition(
        table_name, v_start, (v_start + INTERVAL '1 year')::date,
        v_base || '_' || EXTRACT(YEAR FROM v_start));
END;
$$ LANGUAGE plpgsql;

-- Months from p_from through p_months ahead; returns how many partitions now exist for them.
CREATE OR REPLACE FUNCTION public.ensure_monthly_partitions(
    table_name TEXT, p_from DATE, p_months INTEGER
) RETURNS INTEGER AS $$
DECLARE
    i INTEGER;
BEGIN
    FOR i IN 0..p_months LOOP
        PERFORM public.create_monthly_partition(
            table_name, (date_trunc('month', p_from) + make_interval(months => i))::date);
    END LOOP;
    RETURN p_months + 1;
END;
$$ LANGUAGE plpgsql;

SELECT public.ensure_monthly_partitions('audit.audit_log', DATE '2024-12-01',
    ((EXTRACT(YEAR FROM age(date_trunc('month', now() + INTERVAL '3 months'), DATE '2024-12-01')) * 12)
     + EXTRACT(MONTH FROM age(date_trunc('month', now() + INTERVAL '3 months'), DATE '2024-12-01')))::int);

-- The audit trigger (DESIGN.md "Database"): who, request id, old/new values, changed fields.
-- The application sets app.* with set_config(..., true) per transaction.
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
    IF TG_OP IN ('UPDATE', 'DELETE') THEN v_old := to_jsonb(OLD); END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN v_new := to_jsonb(NEW); END IF;
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

-- Attach the audit trigger to a business table (used by every domain migration).
CREATE OR REPLACE FUNCTION audit.enable_audit(p_table REGCLASS) RETURNS VOID AS $$
BEGIN
    EXECUTE format('CREATE TRIGGER audit_change AFTER INSERT OR UPDATE OR DELETE ON %s '
                   'FOR EACH ROW EXECUTE FUNCTION audit.log_change()', p_table);
END;
$$ LANGUAGE plpgsql;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS audit.enable_audit(REGCLASS);
DROP FUNCTION IF EXISTS audit.log_change();
DROP FUNCTION IF EXISTS public.ensure_monthly_partitions(TEXT, DATE, INTEGER);
DROP FUNCTION IF EXISTS public.create_yearly_partition(TEXT, DATE);
DROP FUNCTION IF EXISTS public.create_monthly_partition(TEXT, DATE);
DROP FUNCTION IF EXISTS public.create_range_partition(TEXT, DATE, DATE, TEXT);
DROP TABLE IF EXISTS audit.audit_log;
DROP FUNCTION IF EXISTS public.update_updated_at();
"""


def upgrade() -> None:
    for schema in SCHEMAS:
        op.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
    for schema in reversed(SCHEMAS):
        op.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
