"""Operations: monitoring views, health check, maintenance.

Revision ID: 0006_ops
Revises: 0005_motor
Create Date: 2026-11-23
"""

from alembic import op

revision = "0006_ops"
down_revision = "0005_motor"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Seed 001 section 7.1: monitoring views, over Polis's schemas instead of 'public'.
CREATE VIEW public.v_database_performance AS
SELECT
    schemaname,
    tablename,
    attname AS column_name,
    n_distinct,
    most_common_vals::text AS most_common_vals,  -- anyarray cannot be a view column
    most_common_freqs,
    histogram_bounds::text AS histogram_bounds,
    correlation
FROM pg_stats
WHERE schemaname IN ('claims', 'member', 'provider', 'benefit', 'policy', 'billing',
                     'audit', 'motor', 'iam', 'ref')
ORDER BY schemaname, tablename, attname;

CREATE VIEW public.v_active_connections AS
SELECT
    pid,
    usename,
    application_name,
    client_addr,
    client_port,
    backend_start,
    state,
    query_start,
    left(query, 100) AS query_preview
FROM pg_stat_activity
WHERE state != 'idle'
ORDER BY query_start;

-- v_slow_queries needs pg_stat_statements, which is optional (decision 0005): created when
-- the extension can be installed; the columns are PostgreSQL 13+'s *_exec_time.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'pg_stat_statements') THEN
        BEGIN
            CREATE EXTENSION IF NOT EXISTS pg_stat_statements;
            EXECUTE $v$
                CREATE VIEW public.v_slow_queries AS
                SELECT
                    query,
                    calls,
                    total_exec_time AS total_time,
                    mean_exec_time AS mean_time,
                    rows,
                    100.0 * shared_blks_hit / nullif(shared_blks_hit + shared_blks_read, 0)
                        AS hit_percent
                FROM pg_stat_statements
                WHERE mean_exec_time > 100
                ORDER BY mean_exec_time DESC
            $v$;
        EXCEPTION WHEN insufficient_privilege OR feature_not_supported THEN
            RAISE NOTICE 'pg_stat_statements unavailable: v_slow_queries not created';
        END;
    END IF;
END;
$$;

-- Seed 001 section 6.2, with the disk check made numeric (pg_database_size in bytes against
-- a threshold in GB) and the largest tables taken from Polis's schemas.
CREATE OR REPLACE FUNCTION public.check_database_health(p_disk_warning_gb NUMERIC DEFAULT 80,
                                                        p_connection_warning INTEGER DEFAULT 80,
                                                        p_lag_warning_seconds INTEGER DEFAULT 60)
RETURNS TABLE (
    check_name TEXT,
    status TEXT,
    details TEXT
) AS $$
BEGIN
    RETURN QUERY
    SELECT 'Disk Space'::TEXT,
           CASE WHEN pg_database_size(current_database()) > p_disk_warning_gb * 1024 ^ 3
                THEN 'WARNING' ELSE 'OK' END,
           'Database size: ' || pg_size_pretty(pg_database_size(current_database()));

    RETURN QUERY
    SELECT 'Connections'::TEXT,
           CASE WHEN count(*) > p_connection_warning THEN 'WARNING' ELSE 'OK' END,
           'Active connections: ' || count(*)::TEXT
    FROM pg_stat_activity
    WHERE state = 'active';

    RETURN QUERY
    SELECT 'Replication Lag'::TEXT,
           CASE WHEN EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))
                     > p_lag_warning_seconds
                THEN 'WARNING' ELSE 'OK' END,
           'Lag: ' || COALESCE(EXTRACT(EPOCH FROM (now() - pg_last_xact_replay_timestamp()))::TEXT
                               || ' seconds', 'N/A');

    RETURN QUERY
    SELECT 'Large Tables'::TEXT,
           'INFO'::TEXT,
           'Largest tables: ' || COALESCE(string_agg(t.name || ' ('
               || pg_size_pretty(t.size) || ')', ', ' ORDER BY t.size DESC), 'none')
    FROM (
        SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) AS size
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname IN ('claims', 'member', 'provider', 'benefit', 'policy', 'billing',
                            'audit', 'motor', 'iam', 'ref')
        ORDER BY pg_total_relation_size(c.oid) DESC
        LIMIT 5
    ) t;
END;
$$ LANGUAGE plpgsql;

-- Seed 001 section 7.2. VACUUM cannot run inside a function (it refuses a transaction
-- block), so this function ANALYZEs the ten largest tables and the four hot ones; the
-- maintenance job runs VACUUM (ANALYZE) on the hot tables as separate statements
-- (decision 0006).
CREATE OR REPLACE FUNCTION public.perform_maintenance()
RETURNS TEXT AS $$
DECLARE
    result TEXT;
    table_rec RECORD;
BEGIN
    result := 'Maintenance started at ' || NOW() || E'\n';
    FOR table_rec IN
        SELECT n.nspname AS schemaname, c.relname AS tablename
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
          AND n.nspname IN ('claims', 'member', 'provider', 'benefit', 'policy', 'billing',
                            'audit', 'motor', 'iam', 'ref')
        ORDER BY pg_total_relation_size(c.oid) DESC
        LIMIT 10
    LOOP
        EXECUTE 'ANALYZE ' || quote_ident(table_rec.schemaname) || '.'
            || quote_ident(table_rec.tablename);
        result := result || 'Analyzed ' || table_rec.schemaname || '.' || table_rec.tablename
            || E'\n';
    END LOOP;
    FOR table_rec IN
        SELECT unnest(ARRAY['motor.customers', 'motor.policies', 'motor.claims',
                            'motor.payments', 'claims.claim']) AS name
    LOOP
        IF to_regclass(table_rec.name) IS NOT NULL THEN
            EXECUTE 'ANALYZE ' || table_rec.name;
        END IF;
    END LOOP;
    result := result || 'Analyzed critical tables (VACUUM runs from the maintenance job)'
        || E'\n';
    result := result || 'Maintenance completed at ' || NOW() || E'\n';
    RETURN result;
END;
$$ LANGUAGE plpgsql;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS public.perform_maintenance();
DROP FUNCTION IF EXISTS public.check_database_health(NUMERIC, INTEGER, INTEGER);
DROP VIEW IF EXISTS public.v_slow_queries;
DROP VIEW IF EXISTS public.v_active_connections;
DROP VIEW IF EXISTS public.v_database_performance;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
