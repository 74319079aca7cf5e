"""Self-service under row-level security: logins linked to people, a non-owner role, RLS.

- `member.member.user_id` and `motor.customers.user_id`: the MEMBER / CUSTOMER login of the
  person (unique, nullable; ON DELETE SET NULL). The link lives on the person's row, so the
  domain tables keep pointing at iam and never the other way round.
- `polis_self_service` (NOLOGIN, created once per cluster, idempotently): the role a
  self-service request runs as (`SET LOCAL ROLE`). It gets USAGE on the schemas and SELECT
  on the tables self-service reads, nothing else, and is granted to the migrating role (the
  application's login role in the usual set-up) so that `SET ROLE` works.
- Row-level security on the person's tables, one policy `self_service_own_rows` each, for
  `polis_self_service` only: a row is visible when it belongs to `app.current_member_id`
  (health) or `app.current_customer_id` (motor), read with `current_setting(..., true)`:
  unset or empty means no rows, never an error. Seed 000's `member_claim_policy` (for
  `member_role`, migration 0004, decision 0014) stays as the seed writes it. The
  application's role owns the tables and bypasses RLS (not FORCEd), so no other path
  changes.
- `claims.claim_summary_view` becomes `security_invoker`, so reading it applies the
  caller's RLS (a view otherwise reads its tables as the view's owner, who bypasses RLS).

Revision ID: 0023_self_service_rls
Revises: 0022_iam_two_factor
Create Date: 2026-11-23
"""

from alembic import op

revision = "0023_self_service_rls"
down_revision = "0022_iam_two_factor"
branch_labels = None
depends_on = None

ROLE = "polis_self_service"
MEMBER = "nullif(current_setting('app.current_member_id', true), '')::uuid"
CUSTOMER = "nullif(current_setting('app.current_customer_id', true), '')::uuid"

# table -> the rows polis_self_service sees (subqueries in a policy run under RLS as well,
# so "claims of visible claims" is "claims of the member"). One policy name on every table.
POLICY = "self_service_own_rows"
POLICIES: dict[str, str] = {
    # health (seed 000)
    "member.member": f"id = {MEMBER}",
    "member.member_coverage": f"member_id = {MEMBER}",
    "member.accumulator": f"member_id = {MEMBER}",
    "policy.policy": "id IN (SELECT mc.policy_id FROM member.member_coverage mc)",
    "claims.claim": f"member_id = {MEMBER}",
    "claims.claim_item": "claim_id IN (SELECT c.id FROM claims.claim c)",
    "claims.claim_document": "claim_id IN (SELECT c.id FROM claims.claim c)",
    "billing.eob": f"member_id = {MEMBER}",
    "billing.payment": "claim_id IN (SELECT c.id FROM claims.claim c)",
    # motor (seed 001)
    "motor.customers": f"id = {CUSTOMER}",
    "motor.customer_vehicles": f"customer_id = {CUSTOMER}",
    "motor.customer_documents": f"customer_id = {CUSTOMER}",
    "motor.policies": f"customer_id = {CUSTOMER}",
    "motor.policy_documents": "policy_id IN (SELECT p.id FROM motor.policies p)",
    "motor.payments": f"customer_id = {CUSTOMER}",
    "motor.payment_receipts": "payment_id IN (SELECT p.id FROM motor.payments p)",
    "motor.claims": "policy_id IN (SELECT p.id FROM motor.policies p)",
    "motor.claim_documents": "claim_id IN (SELECT c.id FROM motor.claims c)",
}
# Migration 0004 enabled RLS on claims.claim already (seed 000's member_claim_policy for
# member_role, decision 0014): the downgrade leaves it enabled.
ENABLED_BEFORE = frozenset({"claims.claim"})

# Read without row filter: catalogue data a member may read anyway (health.plans:read,
# health.providers:read) and that a claim or coverage names.
SHARED_READS = (
    "benefit.plan",
    "benefit.plan_benefit",
    "benefit.exclusion",
    "provider.provider",
)

VIEWS = ("claims.claim_summary_view",)

SCHEMAS = ("member", "policy", "claims", "billing", "benefit", "provider", "motor")

CREATE_ROLE = f"""
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{ROLE}') THEN
        CREATE ROLE {ROLE} NOLOGIN NOINHERIT;
    END IF;
EXCEPTION
    -- Another database of the cluster created it at the same moment.
    WHEN duplicate_object OR unique_violation THEN NULL;
END
$$;
COMMENT ON ROLE {ROLE} IS
    'Polis self-service requests (SET LOCAL ROLE): SELECT on own rows under RLS, nothing else';
DO $$
BEGIN
    IF NOT pg_has_role(current_user, '{ROLE}', 'MEMBER') THEN
        EXECUTE format('GRANT {ROLE} TO %I', current_user);
    END IF;
END
$$;
"""


def _links_up() -> str:
    return """
ALTER TABLE member.member
    ADD COLUMN user_id UUID UNIQUE REFERENCES iam.users(id) ON DELETE SET NULL;
COMMENT ON COLUMN member.member.user_id IS 'The MEMBER login of this person (self-service)';
ALTER TABLE motor.customers
    ADD COLUMN user_id UUID UNIQUE REFERENCES iam.users(id) ON DELETE SET NULL;
COMMENT ON COLUMN motor.customers.user_id IS 'The CUSTOMER login of this person (self-service)';
"""


def upgrade() -> None:
    """Links, the role, its grants and the policies."""
    op.execute(_links_up())
    op.execute(CREATE_ROLE)
    statements = [f"GRANT USAGE ON SCHEMA {s} TO {ROLE};" for s in SCHEMAS]
    for table, predicate in POLICIES.items():
        statements += [
            f"GRANT SELECT ON {table} TO {ROLE};",
            f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;",
            f"CREATE POLICY {POLICY} ON {table} FOR SELECT TO {ROLE} USING ({predicate});",
        ]
    statements += [f"GRANT SELECT ON {table} TO {ROLE};" for table in SHARED_READS]
    for view in VIEWS:
        statements += [
            f"ALTER VIEW {view} SET (security_invoker = true);",
            f"GRANT SELECT ON {view} TO {ROLE};",
        ]
    op.execute("\n".join(statements))


def downgrade() -> None:
    """Policies, grants and links go; the role stays (it is cluster-wide: other databases of
    the cluster may use it). `DROP ROLE polis_self_service` by hand once no database does."""
    statements = []
    for view in VIEWS:
        statements += [
            f"REVOKE ALL ON {view} FROM {ROLE};",
            f"ALTER VIEW {view} RESET (security_invoker);",
        ]
    statements += [f"REVOKE ALL ON {table} FROM {ROLE};" for table in SHARED_READS]
    for table in POLICIES:
        statements += [
            f"DROP POLICY IF EXISTS {POLICY} ON {table};",
            f"REVOKE ALL ON {table} FROM {ROLE};",
        ]
        if table not in ENABLED_BEFORE:
            statements.append(f"ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;")
    statements += [f"REVOKE ALL ON SCHEMA {s} FROM {ROLE};" for s in SCHEMAS]
    statements += [
        "ALTER TABLE motor.customers DROP COLUMN IF EXISTS user_id;",
        "ALTER TABLE member.member DROP COLUMN IF EXISTS user_id;",
    ]
    op.execute("\n".join(statements))
