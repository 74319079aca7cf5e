"""Reference data: Thai geography, system configurations.

Revision ID: 0003_reference
Revises: 0002_iam
Create Date: 2026-11-23

Seed 001 "System and Reference Data Schema" in schema ref. The geography (77 provinces, 928
amphoes, 7,436 tambons) is loaded from the CSVs shipped in polis/reference/data (decision 0020);
later data releases are applied with `polis reference load`, not with a migration.
"""

import csv
from importlib import resources
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0003_reference"
down_revision = "0002_iam"
branch_labels = None
depends_on = None

UPGRADE = r"""
CREATE TABLE ref.provinces (
    id SERIAL PRIMARY KEY,
    province_code VARCHAR(2) NOT NULL UNIQUE,
    name_th VARCHAR(100) NOT NULL,
    name_en VARCHAR(100) NOT NULL,
    region VARCHAR(20) NOT NULL
        CONSTRAINT ck_provinces_region
        CHECK (region IN ('CENTRAL', 'NORTH', 'NORTHEAST', 'SOUTH', 'EAST', 'WEST')),
    is_active BOOLEAN DEFAULT TRUE
);

CREATE TABLE ref.amphoes (
    id SERIAL PRIMARY KEY,
    amphoe_code VARCHAR(4) NOT NULL UNIQUE,
    province_id INTEGER NOT NULL REFERENCES ref.provinces(id),
    name_th VARCHAR(100) NOT NULL,
    name_en VARCHAR(100) NOT NULL,
    is_active BOOLEAN DEFAULT TRUE
);

CREATE TABLE ref.tambons (
    id SERIAL PRIMARY KEY,
    tambon_code VARCHAR(6) NOT NULL UNIQUE,
    amphoe_id INTEGER NOT NULL REFERENCES ref.amphoes(id),
    name_th VARCHAR(100) NOT NULL,
    name_en VARCHAR(100) NOT NULL,
    postal_code VARCHAR(5),
    is_active BOOLEAN DEFAULT TRUE
);

CREATE INDEX idx_amphoes_province ON ref.amphoes(province_id);
CREATE INDEX idx_tambons_amphoe ON ref.tambons(amphoe_id);
CREATE INDEX idx_tambons_postal_code ON ref.tambons(postal_code);

COMMENT ON TABLE ref.provinces IS 'Thai provinces master data';
COMMENT ON TABLE ref.amphoes IS 'Thai districts (amphoe) master data';
COMMENT ON TABLE ref.tambons IS 'Thai sub-districts (tambon) master data';
COMMENT ON COLUMN ref.provinces.province_code IS 'DOPA province code, 2 digits';
COMMENT ON COLUMN ref.amphoes.amphoe_code IS 'DOPA district code, 4 digits, starts with the province code';
COMMENT ON COLUMN ref.tambons.tambon_code IS 'DOPA sub-district code, 6 digits, starts with the district code';
COMMENT ON COLUMN ref.tambons.postal_code IS 'Main Thailand Post code of the tambon';

CREATE TABLE ref.system_configurations (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    config_key VARCHAR(100) NOT NULL UNIQUE,
    config_category VARCHAR(50) NOT NULL,
    config_value TEXT NOT NULL,
    config_type VARCHAR(20) NOT NULL
        CONSTRAINT ck_system_configurations_config_type
        CHECK (config_type IN ('STRING', 'INTEGER', 'DECIMAL', 'BOOLEAN', 'JSON')),
    description TEXT,
    is_sensitive BOOLEAN DEFAULT FALSE,
    is_readonly BOOLEAN DEFAULT FALSE,
    environment VARCHAR(20) DEFAULT 'ALL'
        CONSTRAINT ck_system_configurations_environment
        CHECK (environment IN ('ALL', 'DEVELOPMENT', 'STAGING', 'PRODUCTION')),
    validation_regex VARCHAR(500),
    min_value DECIMAL,
    max_value DECIMAL,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 1
);

CREATE INDEX idx_system_configurations_key ON ref.system_configurations(config_key);
CREATE INDEX idx_system_configurations_category ON ref.system_configurations(config_category);
CREATE INDEX idx_system_configurations_environment ON ref.system_configurations(environment);

-- Seed defaults, inserted before the audit trigger exists so that the downgrade leaves no
-- audit rows behind.
INSERT INTO ref.system_configurations (config_key, config_category, config_value, config_type, description) VALUES
('POLICY_GRACE_PERIOD_DAYS', 'POLICY', '30', 'INTEGER', 'Grace period for policy renewal in days'),
('MAX_CLAIM_AMOUNT', 'CLAIMS', '5000000.00', 'DECIMAL', 'Maximum claim amount in THB'),
('DEFAULT_NO_CLAIM_DISCOUNT', 'POLICY', '10.0', 'DECIMAL', 'Default no-claim discount percentage'),
('PAYMENT_TIMEOUT_MINUTES', 'PAYMENT', '15', 'INTEGER', 'Payment gateway timeout in minutes'),
('SMS_OTP_EXPIRY_MINUTES', 'SECURITY', '5', 'INTEGER', 'SMS OTP expiry time in minutes'),
('MAX_LOGIN_ATTEMPTS', 'SECURITY', '5', 'INTEGER', 'Maximum failed login attempts before account lock'),
('SESSION_TIMEOUT_HOURS', 'SECURITY', '8', 'INTEGER', 'User session timeout in hours');

COMMENT ON TABLE ref.system_configurations IS 'Application configuration parameters';

CREATE TRIGGER update_system_configurations_timestamp
    BEFORE UPDATE ON ref.system_configurations
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

SELECT audit.enable_audit('ref.system_configurations');
"""

DOWNGRADE = r"""
DROP TABLE IF EXISTS ref.system_configurations;
DROP TABLE IF EXISTS ref.tambons;
DROP TABLE IF EXISTS ref.amphoes;
DROP TABLE IF EXISTS ref.provinces;
"""

# The geography as of this revision: the columns these tables had when it was written, read
# from the shipped CSVs. Rows are inserted in code order, so Bangkok, Phra Nakhon and
# Phra Borom Maha Ratchawang get id 1 as in the seed's sample rows.
GEOGRAPHY = (
    (
        "provinces.csv",
        "INSERT INTO ref.provinces (province_code, name_th, name_en, region) "
        "VALUES (:province_code, :name_th, :name_en, :region)",
    ),
    (
        "amphoes.csv",
        "INSERT INTO ref.amphoes (amphoe_code, province_id, name_th, name_en) "
        "SELECT :amphoe_code, p.id, :name_th, :name_en "
        "FROM ref.provinces p WHERE p.province_code = :province_code",
    ),
    (
        "tambons.csv",
        "INSERT INTO ref.tambons (tambon_code, amphoe_id, name_th, name_en, postal_code) "
        "SELECT :tambon_code, a.id, :name_th, :name_en, :postal_code "
        "FROM ref.amphoes a WHERE a.amphoe_code = :amphoe_code",
    ),
)


def _rows(name: str) -> list[dict[str, Any]]:
    source = resources.files("polis.reference").joinpath("data", name)
    rows = csv.DictReader(source.read_text(encoding="utf-8").splitlines())
    return sorted(rows, key=lambda r: next(iter(r.values())))


def upgrade() -> None:
    op.execute(UPGRADE)
    bind = op.get_bind()
    for name, sql in GEOGRAPHY:
        rows = _rows(name)
        bind.execute(sa.text(sql), rows)
        table = name.removesuffix(".csv")
        count = bind.execute(sa.text(f"SELECT count(*) FROM ref.{table}")).scalar_one()
        if count != len(rows):
            raise RuntimeError(f"ref.{table}: loaded {count} of {len(rows)} rows from {name}")


def downgrade() -> None:
    op.execute(DOWNGRADE)
