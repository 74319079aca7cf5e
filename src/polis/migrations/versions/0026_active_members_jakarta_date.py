"""member.active_members_view holds the Jakarta date, not the session's (decision 0074).

The seed's view compares coverage dates with CURRENT_DATE, which is the date in the
session's TimeZone: UTC for the app's connections. From 00:00 to 07:00 in Jakarta (WIB,
UTC+7) that is yesterday, so a coverage starting today was missing from the view (and from
GET /members?active=true) and one that ended yesterday was still in it, while eligibility
and adjudication already use the Jakarta date. The view now compares with
`(now() AT TIME ZONE 'Asia/Jakarta')::date`, whatever the session's TimeZone; its columns
are unchanged.

Revision ID: 0026_active_members_jakarta_date
Revises: 0025_iam_anonymize_login
Create Date: 2026-12-08
"""

from alembic import op

revision = "0026_active_members_jakarta_date"
down_revision = "0025_iam_anonymize_login"
branch_labels = None
depends_on = None

_VIEW = """
CREATE OR REPLACE VIEW member.active_members_view AS
SELECT
    m.id,
    m.member_number,
    m.first_name || ' ' || m.last_name as full_name,
    mc.policy_id,
    mc.plan_id,
    mc.coverage_start_date,
    mc.coverage_end_date
FROM member.member m
JOIN member.member_coverage mc ON m.id = mc.member_id
WHERE m.status = 'active'
  AND mc.status = 'active'
  AND {today} BETWEEN mc.coverage_start_date
      AND COALESCE(mc.coverage_end_date, '9999-12-31');
"""


def upgrade() -> None:
    op.execute(_VIEW.format(today="(now() AT TIME ZONE 'Asia/Jakarta')::date"))


def downgrade() -> None:
    op.execute(_VIEW.format(today="CURRENT_DATE"))
