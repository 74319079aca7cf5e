"""Motor: effective-dated rate tables and quotes (decision 0036; not in seed 001).

motor.rate_tables holds each version of the voluntary rate table as JSONB data; the version
in force on a policy's start date is the one with the latest effective_from on or before it
(and no effective_to on or before it), so a new row takes effect on its date without a code
change. motor.quotes stores every priced quote with its itemised breakdown. The first rate
table version (2024.1, illustrative numbers) is seeded from the frozen package file
polis/motor/data/voluntary_rate_table_2024.1.json.

Revision ID: 0011_motor_rate_tables
Revises: 0010_payment_one_open_per_claim
Create Date: 2026-11-23
"""

import json
from importlib import resources

import sqlalchemy as sa
from alembic import op

revision = "0011_motor_rate_tables"
down_revision = "0010_payment_one_open_per_claim"
branch_labels = None
depends_on = None

FIRST_VERSION = "2024.1"
FIRST_FILE = "voluntary_rate_table_2024.1.json"

UPGRADE = r"""
CREATE TABLE motor.rate_tables (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    table_code VARCHAR(30) NOT NULL DEFAULT 'VOLUNTARY'
        CHECK (table_code IN ('VOLUNTARY')),
    version VARCHAR(20) NOT NULL,
    effective_from DATE NOT NULL,
    effective_to DATE,
    data JSONB NOT NULL CHECK (jsonb_typeof(data) = 'object'),
    description TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    CONSTRAINT uq_rate_tables_version UNIQUE (table_code, version),
    CONSTRAINT uq_rate_tables_effective_from UNIQUE (table_code, effective_from),
    CONSTRAINT chk_rate_tables_period CHECK (effective_to IS NULL OR effective_to > effective_from)
);

COMMENT ON TABLE motor.rate_tables IS 'Effective-dated versions of the voluntary motor rate table (decision 0036)';
COMMENT ON COLUMN motor.rate_tables.effective_from IS 'First policy start date the version rates';
COMMENT ON COLUMN motor.rate_tables.effective_to IS 'First start date it no longer rates (NULL: until a later version)';
COMMENT ON COLUMN motor.rate_tables.data IS 'Bands, factors, riders and discounts (polis.motor.rating.RateTable)';

CREATE TABLE motor.quotes (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    quote_number VARCHAR(50) NOT NULL UNIQUE,
    customer_id UUID REFERENCES motor.customers(id),
    vehicle_id UUID REFERENCES motor.customer_vehicles(id),
    policy_type VARCHAR(20) NOT NULL
        CHECK (policy_type IN ('CMI', 'CLASS_1', 'CLASS_2', 'CLASS_3')),
    coverage_option VARCHAR(20) NOT NULL DEFAULT 'STANDARD'
        CHECK (coverage_option IN ('STANDARD', 'PLUS')),
    vehicle_class VARCHAR(10) NOT NULL,
    vehicle_facts JSONB NOT NULL,
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    policy_period_months INTEGER NOT NULL DEFAULT 12
        CHECK (policy_period_months IN (6, 12, 24, 36)),
    sum_insured DECIMAL(12,2) CHECK (sum_insured > 0),
    options JSONB NOT NULL DEFAULT '{}',
    no_claim_discount DECIMAL(5,2) NOT NULL DEFAULT 0
        CHECK (no_claim_discount >= 0 AND no_claim_discount <= 50),
    base_premium DECIMAL(12,2) NOT NULL CHECK (base_premium > 0),
    discounts DECIMAL(12,2) NOT NULL DEFAULT 0 CHECK (discounts >= 0),
    fees DECIMAL(12,2) NOT NULL DEFAULT 0 CHECK (fees >= 0),
    total_premium DECIMAL(12,2) NOT NULL CHECK (total_premium > 0),
    breakdown JSONB NOT NULL,
    coverage_details JSONB NOT NULL,
    rate_table_id UUID REFERENCES motor.rate_tables(id),
    rate_table_version VARCHAR(20),
    status VARCHAR(20) NOT NULL DEFAULT 'QUOTED'
        CHECK (status IN ('QUOTED', 'BOUND', 'EXPIRED', 'WITHDRAWN')),
    policy_id UUID REFERENCES motor.policies(id),
    expires_at TIMESTAMP WITH TIME ZONE NOT NULL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    CONSTRAINT chk_quote_dates CHECK (end_date > start_date),
    CONSTRAINT chk_quote_premium_calculation
        CHECK (total_premium = base_premium - discounts + fees),
    CONSTRAINT chk_quote_rate_table CHECK (policy_type = 'CMI' OR rate_table_id IS NOT NULL),
    CONSTRAINT chk_quote_bound CHECK (status <> 'BOUND' OR policy_id IS NOT NULL)
);

CREATE INDEX idx_quotes_customer ON motor.quotes(customer_id) WHERE customer_id IS NOT NULL;
CREATE INDEX idx_quotes_vehicle ON motor.quotes(vehicle_id) WHERE vehicle_id IS NOT NULL;
CREATE INDEX idx_quotes_rate_table ON motor.quotes(rate_table_id) WHERE rate_table_id IS NOT NULL;
CREATE INDEX idx_quotes_policy ON motor.quotes(policy_id) WHERE policy_id IS NOT NULL;
CREATE INDEX idx_quotes_open ON motor.quotes(expires_at) WHERE status = 'QUOTED';
CREATE INDEX idx_quotes_created_at ON motor.quotes(created_at);

COMMENT ON TABLE motor.quotes IS 'Priced motor quotes, itemised as policies store premiums (decision 0036)';
COMMENT ON COLUMN motor.quotes.vehicle_class IS 'OIC CMI tariff code (1.10) or voluntary vehicle code (110)';
COMMENT ON COLUMN motor.quotes.breakdown IS 'Factors, riders, discounts and fees that produced the total';

CREATE TRIGGER update_quotes_timestamp BEFORE UPDATE ON motor.quotes
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

INSERT INTO ref.system_configurations
    (config_key, config_category, config_value, config_type, description)
VALUES
('MOTOR_QUOTE_VALIDITY_DAYS', 'POLICY', '30', 'INTEGER',
 'Days a motor quote can be bound (never past the end of its start date)')
ON CONFLICT (config_key) DO NOTHING;
"""

AUDIT = r"""
SELECT audit.enable_audit('motor.rate_tables');
SELECT audit.enable_audit('motor.quotes');
"""


def upgrade() -> None:
    op.execute(UPGRADE)
    data = resources.files("polis.motor").joinpath("data", FIRST_FILE).read_text("utf-8")
    json.loads(data)  # refuse to seed a file that does not parse
    # Seeded before the audit trigger exists, like the configuration defaults of 0003.
    op.execute(
        sa.text(
            "INSERT INTO motor.rate_tables (table_code, version, effective_from, data,"
            " description) VALUES ('VOLUNTARY', :version, DATE '2024-01-01',"
            " CAST(:data AS JSONB), :description)"
        ).bindparams(
            version=FIRST_VERSION,
            data=data,
            description="First version: illustrative rates in the OIC structure",
        )
    )
    op.execute(AUDIT)


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE motor.quotes;
        DROP TABLE motor.rate_tables;
        DELETE FROM ref.system_configurations WHERE config_key = 'MOTOR_QUOTE_VALIDITY_DAYS';
        """
    )
