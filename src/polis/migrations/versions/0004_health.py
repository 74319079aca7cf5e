"""Health (seed 000): claims, member, provider, benefit, policy, billing.

Revision ID: 0004_health
Revises: 0003_reference
Create Date: 2026-11-23

Seed 000's tables, indexes, views, function, procedure, triggers and row-level security, with:
- claims.claim partitioned by year of service_date; ids and claim numbers stay globally
  unique through claims.claim_registry, which the seed's references to claims.claim(id) now
  point at (decision 0011);
- application-encrypted copies of national ids, passports and bank accounts (decision 0012);
- CHECKs for the value lists the seed gives in comments, and the FKs it leaves implicit
  (decision 0010); accumulator's unique key treats NULL benefit_code as one value (0013);
- member_role for row-level security, created once per cluster and never dropped (0014).
"""

from alembic import op

revision = "0004_health"
down_revision = "0003_reference"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ============================================================================ benefit
CREATE TABLE benefit.plan (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_code VARCHAR(50) UNIQUE NOT NULL,
    plan_name VARCHAR(255) NOT NULL,
    plan_type VARCHAR(50) NOT NULL, -- 'basic', 'standard', 'premium'

    -- Plan limits
    annual_limit DECIMAL(15,2),
    lifetime_limit DECIMAL(15,2),

    -- Deductibles
    individual_deductible DECIMAL(15,2) DEFAULT 0,
    family_deductible DECIMAL(15,2) DEFAULT 0,

    -- Out of pocket max
    individual_oop_max DECIMAL(15,2),
    family_oop_max DECIMAL(15,2),

    effective_date DATE NOT NULL,
    termination_date DATE,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_plan_plan_type CHECK (plan_type IN ('basic', 'standard', 'premium')),
    CONSTRAINT ck_plan_annual_limit_nonnegative CHECK (annual_limit >= 0),
    CONSTRAINT ck_plan_lifetime_limit_nonnegative CHECK (lifetime_limit >= 0),
    CONSTRAINT ck_plan_individual_deductible_nonnegative CHECK (individual_deductible >= 0),
    CONSTRAINT ck_plan_family_deductible_nonnegative CHECK (family_deductible >= 0),
    CONSTRAINT ck_plan_individual_oop_max_nonnegative CHECK (individual_oop_max >= 0),
    CONSTRAINT ck_plan_family_oop_max_nonnegative CHECK (family_oop_max >= 0),
    CONSTRAINT ck_plan_plan_period CHECK (termination_date >= effective_date)
);
COMMENT ON TABLE benefit.plan IS 'Benefit plans: annual and lifetime limits, deductibles';
COMMENT ON COLUMN benefit.plan.plan_type IS 'basic | standard | premium';

CREATE TABLE benefit.plan_benefit (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id UUID NOT NULL REFERENCES benefit.plan(id),

    -- Benefit identification
    benefit_code VARCHAR(50) NOT NULL,
    benefit_name VARCHAR(255) NOT NULL,
    benefit_category VARCHAR(50) NOT NULL,

    -- Coverage configuration
    coverage_type VARCHAR(20) DEFAULT 'covered', -- 'covered', 'not_covered', 'limited'

    -- Limits
    limit_type VARCHAR(20), -- 'per_incident', 'per_day', 'per_year'
    limit_amount DECIMAL(15,2),
    limit_days INTEGER,
    limit_visits INTEGER,

    -- Cost sharing
    coinsurance_percentage DECIMAL(5,2) DEFAULT 0,
    copay_amount DECIMAL(15,2) DEFAULT 0,

    -- Special conditions
    requires_authorization BOOLEAN DEFAULT false,
    waiting_period_days INTEGER DEFAULT 0,

    -- Network applicability
    in_network_covered BOOLEAN DEFAULT true,
    out_network_covered BOOLEAN DEFAULT false,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT plan_benefit_plan_id_benefit_code_key UNIQUE (plan_id, benefit_code),
    CONSTRAINT ck_plan_benefit_coverage_type
        CHECK (coverage_type IN ('covered', 'not_covered', 'limited')),
    CONSTRAINT ck_plan_benefit_limit_type
        CHECK (limit_type IN ('per_incident', 'per_day', 'per_year')),
    CONSTRAINT ck_plan_benefit_coinsurance_percentage_range
        CHECK (coinsurance_percentage BETWEEN 0 AND 100),
    CONSTRAINT ck_plan_benefit_limit_amount_nonnegative CHECK (limit_amount >= 0),
    CONSTRAINT ck_plan_benefit_limit_days_nonnegative CHECK (limit_days >= 0),
    CONSTRAINT ck_plan_benefit_limit_visits_nonnegative CHECK (limit_visits >= 0),
    CONSTRAINT ck_plan_benefit_copay_amount_nonnegative CHECK (copay_amount >= 0),
    CONSTRAINT ck_plan_benefit_waiting_period_days_nonnegative CHECK (waiting_period_days >= 0)
);
COMMENT ON TABLE benefit.plan_benefit IS 'Benefits of each plan: coverage, limits, cost sharing';
COMMENT ON COLUMN benefit.plan_benefit.coverage_type IS 'covered | not_covered | limited';
COMMENT ON COLUMN benefit.plan_benefit.limit_type IS 'per_incident | per_day | per_year';
COMMENT ON COLUMN benefit.plan_benefit.coinsurance_percentage IS 'Member''s share after deductible, 0-100';
COMMENT ON COLUMN benefit.plan_benefit.waiting_period_days IS 'Days from coverage start before it applies';

CREATE TABLE benefit.exclusion (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    plan_id UUID REFERENCES benefit.plan(id),

    exclusion_code VARCHAR(50) NOT NULL,
    exclusion_description TEXT NOT NULL,

    -- Categorization
    exclusion_type VARCHAR(50), -- 'diagnosis', 'procedure', 'condition'
    icd_code VARCHAR(20),

    effective_date DATE,
    termination_date DATE,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_exclusion_exclusion_type
        CHECK (exclusion_type IN ('diagnosis', 'procedure', 'condition')),
    CONSTRAINT ck_exclusion_exclusion_period CHECK (termination_date >= effective_date)
);
COMMENT ON TABLE benefit.exclusion IS 'Exclusions by ICD-10 code, procedure or condition';
COMMENT ON COLUMN benefit.exclusion.plan_id IS 'NULL: applies to every plan';
COMMENT ON COLUMN benefit.exclusion.exclusion_type IS 'diagnosis | procedure | condition';
COMMENT ON COLUMN benefit.exclusion.icd_code IS 'ICD-10 code or category excluded';

-- ============================================================================ policy
CREATE TABLE policy.policy (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_number VARCHAR(50) UNIQUE NOT NULL,

    -- Policy holder
    company_name VARCHAR(255),
    company_id VARCHAR(50),

    -- Policy details
    policy_type VARCHAR(30) NOT NULL, -- 'group', 'individual'
    plan_id UUID NOT NULL REFERENCES benefit.plan(id),

    -- Period
    effective_date DATE NOT NULL,
    renewal_date DATE NOT NULL,
    termination_date DATE,

    -- Enrollment
    total_members INTEGER DEFAULT 0,
    total_premium DECIMAL(15,2),

    -- Funding (Indonesian specific)
    funding_type VARCHAR(20), -- 'aso', 'full_insured'
    aso_fund_balance DECIMAL(15,2) DEFAULT 0,
    buffer_fund_balance DECIMAL(15,2) DEFAULT 0,

    status VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_policy_policy_type CHECK (policy_type IN ('group', 'individual')),
    CONSTRAINT ck_policy_funding_type CHECK (funding_type IN ('aso', 'full_insured')),
    CONSTRAINT ck_policy_status
        CHECK (status IN ('draft', 'active', 'suspended', 'lapsed', 'terminated', 'cancelled')),
    CONSTRAINT ck_policy_renewal_after_effective CHECK (renewal_date >= effective_date),
    CONSTRAINT ck_policy_policy_period CHECK (termination_date >= effective_date),
    CONSTRAINT ck_policy_total_members_nonnegative CHECK (total_members >= 0),
    CONSTRAINT ck_policy_total_premium_nonnegative CHECK (total_premium >= 0),
    CONSTRAINT ck_policy_aso_fund_balance_nonnegative CHECK (aso_fund_balance >= 0),
    CONSTRAINT ck_policy_buffer_fund_balance_nonnegative CHECK (buffer_fund_balance >= 0)
);
COMMENT ON TABLE policy.policy IS 'Health policies: holder, plan, period, ASO funding';
COMMENT ON COLUMN policy.policy.policy_type IS 'group | individual';
COMMENT ON COLUMN policy.policy.funding_type IS 'aso (self-funded, administered) | full_insured';
COMMENT ON COLUMN policy.policy.aso_fund_balance IS 'ASO fund claims are paid from first';
COMMENT ON COLUMN policy.policy.buffer_fund_balance IS 'Buffer fund used when the ASO fund is short';

-- ============================================================================ provider
CREATE TABLE provider.provider (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_code VARCHAR(50) UNIQUE NOT NULL,

    -- Provider information
    provider_name VARCHAR(255) NOT NULL,
    provider_type VARCHAR(50) NOT NULL, -- 'hospital', 'clinic', 'pharmacy', 'lab'

    -- Classification
    provider_class VARCHAR(20), -- 'A', 'B', 'C', 'D'
    is_network BOOLEAN DEFAULT true,

    -- Contact
    address VARCHAR(500),
    city VARCHAR(100),
    province VARCHAR(100),
    phone VARCHAR(50),
    email VARCHAR(255),

    -- Banking (bank_account holds a masked value; decision 0012)
    bank_name VARCHAR(100),
    bank_account VARCHAR(50),
    bank_account_encrypted BYTEA,
    encryption_key_id VARCHAR(50),
    tax_id VARCHAR(50),

    -- Status
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    contract_start_date DATE,
    contract_end_date DATE,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_provider_provider_type
        CHECK (provider_type IN ('hospital', 'clinic', 'pharmacy', 'lab')),
    CONSTRAINT ck_provider_provider_class CHECK (provider_class IN ('A', 'B', 'C', 'D')),
    CONSTRAINT ck_provider_status
        CHECK (status IN ('active', 'inactive', 'suspended', 'terminated')),
    CONSTRAINT ck_provider_contract_period CHECK (contract_end_date >= contract_start_date)
);
COMMENT ON TABLE provider.provider IS 'Healthcare providers, network and banking details';
COMMENT ON COLUMN provider.provider.provider_type IS 'hospital | clinic | pharmacy | lab';
COMMENT ON COLUMN provider.provider.provider_class IS 'A | B | C | D';
COMMENT ON COLUMN provider.provider.bank_account IS 'Masked account number; the value is in bank_account_encrypted';
COMMENT ON COLUMN provider.provider.bank_account_encrypted IS 'AES-GCM ciphertext of the bank account number';
COMMENT ON COLUMN provider.provider.encryption_key_id IS 'Id of the key that encrypted bank_account_encrypted';

CREATE TABLE provider.provider_contract (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    provider_id UUID NOT NULL REFERENCES provider.provider(id),
    contract_number VARCHAR(50) UNIQUE NOT NULL,

    -- Contract terms
    effective_date DATE NOT NULL,
    expiry_date DATE NOT NULL,

    -- Payment terms
    payment_method VARCHAR(20), -- 'fee_for_service', 'capitation'
    discount_percentage DECIMAL(5,2),

    -- Service agreements
    cashless_enabled BOOLEAN DEFAULT true,
    reimbursement_enabled BOOLEAN DEFAULT true,

    status VARCHAR(20) NOT NULL DEFAULT 'active',
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_provider_contract_payment_method
        CHECK (payment_method IN ('fee_for_service', 'capitation')),
    CONSTRAINT ck_provider_contract_status
        CHECK (status IN ('draft', 'active', 'suspended', 'expired', 'terminated')),
    CONSTRAINT ck_provider_contract_discount_percentage_range
        CHECK (discount_percentage BETWEEN 0 AND 100),
    CONSTRAINT ck_provider_contract_contract_period CHECK (expiry_date >= effective_date)
);
COMMENT ON TABLE provider.provider_contract IS 'Provider contracts: discount and payment terms';
COMMENT ON COLUMN provider.provider_contract.payment_method IS 'fee_for_service | capitation';
COMMENT ON COLUMN provider.provider_contract.discount_percentage IS 'Discount on charged amounts, 0-100';

-- ============================================================================ member
CREATE TABLE member.member (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    member_number VARCHAR(50) UNIQUE NOT NULL,

    -- Personal information
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    birth_date DATE NOT NULL,
    gender VARCHAR(10) NOT NULL,

    -- Identification: national_id and passport_number hold masked values; the values are
    -- encrypted by the application, looked up by keyed hash (decision 0012)
    national_id VARCHAR(50),
    passport_number VARCHAR(50),
    national_id_encrypted BYTEA,
    national_id_hash VARCHAR(64) UNIQUE,
    passport_number_encrypted BYTEA,
    passport_number_hash VARCHAR(64),
    encryption_key_id VARCHAR(50),

    -- Contact
    email VARCHAR(255),
    phone VARCHAR(50),
    address_line1 VARCHAR(255),
    address_line2 VARCHAR(255),
    city VARCHAR(100),
    province VARCHAR(100),
    postal_code VARCHAR(20),

    -- Status
    status VARCHAR(20) NOT NULL DEFAULT 'active',
    enrollment_date DATE NOT NULL,
    termination_date DATE,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_member_gender CHECK (gender IN ('male', 'female', 'other')),
    CONSTRAINT ck_member_status CHECK (status IN ('pending', 'active', 'suspended', 'terminated')),
    CONSTRAINT ck_member_termination_after_enrollment CHECK (termination_date >= enrollment_date)
);
COMMENT ON TABLE member.member IS 'Insured persons: identity, contact, enrolment status';
COMMENT ON COLUMN member.member.gender IS 'male | female | other';
COMMENT ON COLUMN member.member.national_id IS 'Masked NIK for display; the value is in national_id_encrypted';
COMMENT ON COLUMN member.member.passport_number IS 'Masked passport number; the value is in passport_number_encrypted';
COMMENT ON COLUMN member.member.national_id_encrypted IS 'AES-GCM ciphertext of the national id (application key)';
COMMENT ON COLUMN member.member.national_id_hash IS 'Keyed hash (blind index) of the national id';
COMMENT ON COLUMN member.member.passport_number_encrypted IS 'AES-GCM ciphertext of the passport number';
COMMENT ON COLUMN member.member.passport_number_hash IS 'Keyed hash (blind index) of the passport number';
COMMENT ON COLUMN member.member.encryption_key_id IS 'Id of the key that encrypted this row''s ciphertexts';

CREATE TABLE member.member_coverage (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id UUID NOT NULL REFERENCES member.member(id),
    policy_id UUID NOT NULL REFERENCES policy.policy(id),
    plan_id UUID NOT NULL REFERENCES benefit.plan(id),

    -- Coverage details
    relationship VARCHAR(20) NOT NULL, -- 'employee', 'spouse', 'child'
    coverage_start_date DATE NOT NULL,
    coverage_end_date DATE,

    -- Coverage layers (Indonesian specific)
    inner_limit_applicable BOOLEAN DEFAULT true,
    annual_cap_applicable BOOLEAN DEFAULT false,

    -- Status
    status VARCHAR(20) NOT NULL DEFAULT 'active',

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_member_coverage_relationship
        CHECK (relationship IN ('employee', 'spouse', 'child')),
    CONSTRAINT ck_member_coverage_status
        CHECK (status IN ('pending', 'active', 'suspended', 'terminated')),
    CONSTRAINT ck_member_coverage_coverage_period CHECK (coverage_end_date >= coverage_start_date)
);
COMMENT ON TABLE member.member_coverage IS 'Coverage of a member under a policy and plan';
COMMENT ON COLUMN member.member_coverage.relationship IS 'employee | spouse | child';
COMMENT ON COLUMN member.member_coverage.inner_limit_applicable IS 'Per-benefit (inner) limits apply';
COMMENT ON COLUMN member.member_coverage.annual_cap_applicable IS 'The plan''s annual limit applies';

CREATE TABLE member.accumulator (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    member_id UUID NOT NULL REFERENCES member.member(id),
    plan_id UUID NOT NULL REFERENCES benefit.plan(id),
    benefit_code VARCHAR(50),

    -- Period
    year INTEGER NOT NULL,

    -- Accumulator values
    limit_amount DECIMAL(15,2),
    used_amount DECIMAL(15,2) DEFAULT 0,
    remaining_amount DECIMAL(15,2),

    -- Counts
    visit_limit INTEGER,
    visit_count INTEGER DEFAULT 0,
    remaining_visits INTEGER,

    -- Deductibles
    deductible_limit DECIMAL(15,2),
    deductible_met DECIMAL(15,2) DEFAULT 0,

    last_updated TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    -- One plan-level row (benefit_code NULL) per member, plan and year (decision 0013)
    CONSTRAINT accumulator_member_id_plan_id_benefit_code_year_key
        UNIQUE NULLS NOT DISTINCT (member_id, plan_id, benefit_code, year),
    CONSTRAINT ck_accumulator_limit_amount_nonnegative CHECK (limit_amount >= 0),
    CONSTRAINT ck_accumulator_used_amount_nonnegative CHECK (used_amount >= 0),
    CONSTRAINT ck_accumulator_visit_limit_nonnegative CHECK (visit_limit >= 0),
    CONSTRAINT ck_accumulator_visit_count_nonnegative CHECK (visit_count >= 0),
    CONSTRAINT ck_accumulator_deductible_limit_nonnegative CHECK (deductible_limit >= 0),
    CONSTRAINT ck_accumulator_deductible_met_nonnegative CHECK (deductible_met >= 0)
);
COMMENT ON TABLE member.accumulator IS 'Yearly usage per member, plan and benefit (NULL benefit: plan level)';
COMMENT ON COLUMN member.accumulator.benefit_code IS 'NULL for the plan-level row (annual and deductible totals)';

-- ============================================================================ claims
-- Partitioned by year of service date: the partition key is part of the primary key, so
-- global uniqueness of id and claim_number lives in claims.claim_registry (decision 0011).
CREATE TABLE claims.claim (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    claim_number VARCHAR(50) NOT NULL,
    member_id UUID NOT NULL REFERENCES member.member(id),
    provider_id UUID NOT NULL REFERENCES provider.provider(id),
    policy_id UUID NOT NULL REFERENCES policy.policy(id),

    -- Claim details
    claim_type VARCHAR(20) NOT NULL, -- 'cashless', 'reimbursement'
    service_type VARCHAR(20) NOT NULL, -- 'inpatient', 'outpatient', 'dental', 'optical'
    admission_date DATE,
    discharge_date DATE,
    service_date DATE NOT NULL,

    -- Status tracking
    status VARCHAR(30) NOT NULL DEFAULT 'submitted',
    submission_date TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    -- Financial
    total_charged_amount DECIMAL(15,2),
    total_approved_amount DECIMAL(15,2),
    total_paid_amount DECIMAL(15,2),
    member_responsibility DECIMAL(15,2),

    -- Metadata
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    created_by VARCHAR(100),
    updated_by VARCHAR(100),

    CONSTRAINT claim_pkey PRIMARY KEY (id, service_date),
    CONSTRAINT ck_claim_claim_type CHECK (claim_type IN ('cashless', 'reimbursement')),
    CONSTRAINT ck_claim_service_type
        CHECK (service_type IN ('inpatient', 'outpatient', 'dental', 'optical')),
    CONSTRAINT ck_claim_status CHECK (status IN ('submitted', 'adjudicating', 'pended',
        'approved', 'partially_approved', 'denied', 'paid', 'cancelled')),
    CONSTRAINT ck_claim_discharge_after_admission CHECK (discharge_date >= admission_date),
    CONSTRAINT ck_claim_total_charged_amount_nonnegative CHECK (total_charged_amount >= 0),
    CONSTRAINT ck_claim_total_approved_amount_nonnegative CHECK (total_approved_amount >= 0),
    CONSTRAINT ck_claim_total_paid_amount_nonnegative CHECK (total_paid_amount >= 0),
    CONSTRAINT ck_claim_member_responsibility_nonnegative CHECK (member_responsibility >= 0)
) PARTITION BY RANGE (service_date);
COMMENT ON TABLE claims.claim IS 'Health claims, one row per claim; partitioned by service_date (yearly)';
COMMENT ON COLUMN claims.claim.claim_number IS 'Business claim number; unique across partitions via claim_registry';
COMMENT ON COLUMN claims.claim.claim_type IS 'cashless | reimbursement';
COMMENT ON COLUMN claims.claim.service_type IS 'inpatient | outpatient | dental | optical';
COMMENT ON COLUMN claims.claim.service_date IS 'Date of service; the partition key';
COMMENT ON COLUMN claims.claim.status IS 'Claim lifecycle status';
COMMENT ON COLUMN claims.claim.total_charged_amount IS 'Sum of line charged amounts';
COMMENT ON COLUMN claims.claim.total_approved_amount IS 'Sum of line approved amounts';
COMMENT ON COLUMN claims.claim.total_paid_amount IS 'Sum of line paid amounts: what the plan pays';
COMMENT ON COLUMN claims.claim.member_responsibility IS 'Charged minus paid: what the member owes';

-- Yearly partitions from 2024 to two years ahead; later years are created ahead by the
-- periodic partition job, and the DEFAULT partition catches anything else.
SELECT public.create_yearly_partition('claims.claim', make_date(y, 1, 1))
  FROM generate_series(2024, EXTRACT(YEAR FROM CURRENT_DATE)::int + 2) AS y;
CREATE TABLE claims.claim_default PARTITION OF claims.claim DEFAULT;

CREATE TABLE claims.claim_registry (
    claim_id UUID PRIMARY KEY,
    claim_number VARCHAR(50) NOT NULL UNIQUE,
    service_date DATE NOT NULL
);
COMMENT ON TABLE claims.claim_registry IS 'One row per claim (maintained by triggers): globally unique id and number';
COMMENT ON COLUMN claims.claim_registry.claim_id IS 'claims.claim.id';
COMMENT ON COLUMN claims.claim_registry.claim_number IS 'claims.claim.claim_number, unique across partitions';
COMMENT ON COLUMN claims.claim_registry.service_date IS 'claims.claim.service_date: locates the partition';

-- A new claim takes its registry row; a duplicate id or claim_number fails here with a
-- unique violation. A claim moved to another partition by an UPDATE of service_date arrives
-- as DELETE + INSERT (AFTER UPDATE does not fire): the DELETE side repoints the registry
-- row, and the INSERT side then finds it current. Rows moved out of the DEFAULT partition
-- by public.create_range_partition (app.partition_move) keep their registry row.
-- SECURITY DEFINER: the registry is kept whatever role writes the claim, and RLS on
-- claims.claim cannot hide a moved row from the DELETE side.
CREATE FUNCTION claims.claim_registry_insert() RETURNS TRIGGER AS $$
BEGIN
    IF current_setting('app.partition_move', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF EXISTS (SELECT 1 FROM claims.claim_registry r
                WHERE r.claim_id = NEW.id AND r.claim_number = NEW.claim_number
                  AND r.service_date = NEW.service_date) THEN
        RETURN NULL;
    END IF;
    INSERT INTO claims.claim_registry (claim_id, claim_number, service_date)
    VALUES (NEW.id, NEW.claim_number, NEW.service_date);
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE FUNCTION claims.claim_registry_update() RETURNS TRIGGER AS $$
BEGIN
    UPDATE claims.claim_registry
       SET claim_id = NEW.id, claim_number = NEW.claim_number, service_date = NEW.service_date
     WHERE claim_id = OLD.id;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE FUNCTION claims.claim_registry_delete() RETURNS TRIGGER AS $$
DECLARE
    v_moved claims.claim%ROWTYPE;
BEGIN
    IF current_setting('app.partition_move', true) = 'on' THEN
        RETURN NULL;
    END IF;
    SELECT * INTO v_moved FROM claims.claim WHERE id = OLD.id LIMIT 1;
    IF FOUND THEN
        UPDATE claims.claim_registry
           SET claim_number = v_moved.claim_number, service_date = v_moved.service_date
         WHERE claim_id = OLD.id;
    ELSE
        DELETE FROM claims.claim_registry WHERE claim_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE TRIGGER claim_registry_on_insert AFTER INSERT ON claims.claim
    FOR EACH ROW EXECUTE FUNCTION claims.claim_registry_insert();
CREATE TRIGGER claim_registry_on_update AFTER UPDATE OF id, claim_number, service_date
    ON claims.claim FOR EACH ROW EXECUTE FUNCTION claims.claim_registry_update();
CREATE TRIGGER claim_registry_on_delete AFTER DELETE ON claims.claim
    FOR EACH ROW EXECUTE FUNCTION claims.claim_registry_delete();

-- Claim line items
CREATE TABLE claims.claim_item (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id UUID NOT NULL REFERENCES claims.claim_registry(claim_id),

    -- Service details
    benefit_code VARCHAR(50) NOT NULL,
    service_code VARCHAR(50),
    diagnosis_code VARCHAR(20),
    procedure_code VARCHAR(20),

    -- Quantities and amounts
    quantity INTEGER DEFAULT 1,
    unit_price DECIMAL(15,2),
    charged_amount DECIMAL(15,2) NOT NULL,
    approved_amount DECIMAL(15,2),
    paid_amount DECIMAL(15,2),

    -- Adjudication results
    deductible_amount DECIMAL(15,2) DEFAULT 0,
    coinsurance_amount DECIMAL(15,2) DEFAULT 0,
    copay_amount DECIMAL(15,2) DEFAULT 0,

    -- Status
    status VARCHAR(30) NOT NULL DEFAULT 'pending',
    denial_reason VARCHAR(500),

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_claim_item_status CHECK (status IN ('pending', 'pended', 'approved',
        'partially_approved', 'denied', 'cancelled')),
    CONSTRAINT ck_claim_item_quantity_positive CHECK (quantity > 0),
    CONSTRAINT ck_claim_item_unit_price_nonnegative CHECK (unit_price >= 0),
    CONSTRAINT ck_claim_item_charged_amount_nonnegative CHECK (charged_amount >= 0),
    CONSTRAINT ck_claim_item_approved_amount_nonnegative CHECK (approved_amount >= 0),
    CONSTRAINT ck_claim_item_paid_amount_nonnegative CHECK (paid_amount >= 0),
    CONSTRAINT ck_claim_item_deductible_amount_nonnegative CHECK (deductible_amount >= 0),
    CONSTRAINT ck_claim_item_coinsurance_amount_nonnegative CHECK (coinsurance_amount >= 0),
    CONSTRAINT ck_claim_item_copay_amount_nonnegative CHECK (copay_amount >= 0)
);
COMMENT ON TABLE claims.claim_item IS 'Claim lines with charged and adjudicated amounts';
COMMENT ON COLUMN claims.claim_item.benefit_code IS 'benefit.plan_benefit code';
COMMENT ON COLUMN claims.claim_item.diagnosis_code IS 'ICD-10 code';
COMMENT ON COLUMN claims.claim_item.charged_amount IS 'Amount billed';
COMMENT ON COLUMN claims.claim_item.approved_amount IS 'Paid + deductible + copay + coinsurance';
COMMENT ON COLUMN claims.claim_item.paid_amount IS 'What the plan pays';

-- Claim documents
CREATE TABLE claims.claim_document (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id UUID NOT NULL REFERENCES claims.claim_registry(claim_id),
    document_type VARCHAR(50) NOT NULL,
    file_name VARCHAR(255) NOT NULL,
    file_path VARCHAR(500) NOT NULL,
    file_size INTEGER,
    mime_type VARCHAR(100),
    uploaded_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    uploaded_by VARCHAR(100),

    CONSTRAINT ck_claim_document_file_size_nonnegative CHECK (file_size >= 0)
);
COMMENT ON TABLE claims.claim_document IS 'Documents attached to claims (stored files)';
COMMENT ON COLUMN claims.claim_document.file_path IS 'Storage path of the file';
COMMENT ON COLUMN claims.claim_document.file_size IS 'Bytes';

-- Authorization tracking
CREATE TABLE claims.authorization (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    authorization_number VARCHAR(50) UNIQUE NOT NULL,
    claim_id UUID REFERENCES claims.claim_registry(claim_id),
    member_id UUID NOT NULL REFERENCES member.member(id),
    provider_id UUID NOT NULL REFERENCES provider.provider(id),

    -- Authorization details
    service_type VARCHAR(50) NOT NULL,
    procedure_code VARCHAR(20),
    diagnosis_code VARCHAR(20),

    -- Validity period
    valid_from DATE NOT NULL,
    valid_to DATE NOT NULL,

    -- Status
    status VARCHAR(30) NOT NULL DEFAULT 'pending',
    approved_amount DECIMAL(15,2),
    approved_days INTEGER,

    -- Decision tracking
    decision_date TIMESTAMP WITH TIME ZONE,
    decision_by VARCHAR(100),
    decision_notes TEXT,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_authorization_status
        CHECK (status IN ('pending', 'approved', 'denied', 'expired', 'cancelled')),
    CONSTRAINT ck_authorization_valid_period CHECK (valid_to >= valid_from),
    CONSTRAINT ck_authorization_approved_amount_nonnegative CHECK (approved_amount >= 0),
    CONSTRAINT ck_authorization_approved_days_nonnegative CHECK (approved_days >= 0)
);
COMMENT ON TABLE claims.authorization IS 'Pre-authorisations: approved amount and days, validity';
COMMENT ON COLUMN claims.authorization.approved_amount IS 'Cap on the allowed amount';
COMMENT ON COLUMN claims.authorization.approved_days IS 'Cap on inpatient days';

-- ============================================================================ billing
CREATE TABLE billing.payment (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_number VARCHAR(50) UNIQUE NOT NULL,
    claim_id UUID REFERENCES claims.claim_registry(claim_id),

    -- Payment details
    payment_type VARCHAR(20) NOT NULL, -- 'claim', 'reimbursement'
    payment_method VARCHAR(20) NOT NULL, -- 'bank_transfer', 'check'

    -- Amounts
    payment_amount DECIMAL(15,2) NOT NULL,

    -- Recipient
    payee_type VARCHAR(20) NOT NULL, -- 'provider', 'member'
    payee_id UUID NOT NULL,

    -- Banking details (account_number holds a masked value; decision 0012)
    bank_name VARCHAR(100),
    account_number VARCHAR(50),
    account_number_encrypted BYTEA,
    encryption_key_id VARCHAR(50),
    reference_number VARCHAR(50),

    -- Status
    payment_status VARCHAR(20) NOT NULL DEFAULT 'pending',
    payment_date DATE,

    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),

    CONSTRAINT ck_payment_payment_type CHECK (payment_type IN ('claim', 'reimbursement')),
    CONSTRAINT ck_payment_payment_method CHECK (payment_method IN ('bank_transfer', 'check')),
    CONSTRAINT ck_payment_payee_type CHECK (payee_type IN ('provider', 'member')),
    CONSTRAINT ck_payment_payment_status CHECK (payment_status IN ('pending', 'processing',
        'paid', 'failed', 'cancelled', 'reversed')),
    CONSTRAINT ck_payment_payment_amount_positive CHECK (payment_amount > 0)
);
COMMENT ON TABLE billing.payment IS 'Claim payments to providers and members';
COMMENT ON COLUMN billing.payment.payment_type IS 'claim | reimbursement';
COMMENT ON COLUMN billing.payment.payment_method IS 'bank_transfer | check';
COMMENT ON COLUMN billing.payment.payee_type IS 'provider | member';
COMMENT ON COLUMN billing.payment.payee_id IS 'provider.provider.id or member.member.id, per payee_type';
COMMENT ON COLUMN billing.payment.account_number IS 'Masked account number; the value is in account_number_encrypted';
COMMENT ON COLUMN billing.payment.account_number_encrypted IS 'AES-GCM ciphertext of the account number';
COMMENT ON COLUMN billing.payment.encryption_key_id IS 'Id of the key that encrypted account_number_encrypted';

-- EOB (Explanation of Benefits)
CREATE TABLE billing.eob (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    eob_number VARCHAR(50) UNIQUE NOT NULL,
    claim_id UUID NOT NULL REFERENCES claims.claim_registry(claim_id),
    member_id UUID NOT NULL REFERENCES member.member(id),

    -- EOB details
    service_date DATE NOT NULL,
    provider_name VARCHAR(255),

    -- Financial summary
    total_charged DECIMAL(15,2),
    total_approved DECIMAL(15,2),
    total_paid DECIMAL(15,2),
    member_responsibility DECIMAL(15,2),

    -- Breakdown
    deductible_applied DECIMAL(15,2) DEFAULT 0,
    coinsurance_amount DECIMAL(15,2) DEFAULT 0,
    copay_amount DECIMAL(15,2) DEFAULT 0,

    generated_date TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    sent_date TIMESTAMP WITH TIME ZONE,

    CONSTRAINT ck_eob_total_charged_nonnegative CHECK (total_charged >= 0),
    CONSTRAINT ck_eob_total_approved_nonnegative CHECK (total_approved >= 0),
    CONSTRAINT ck_eob_total_paid_nonnegative CHECK (total_paid >= 0),
    CONSTRAINT ck_eob_member_responsibility_nonnegative CHECK (member_responsibility >= 0),
    CONSTRAINT ck_eob_deductible_applied_nonnegative CHECK (deductible_applied >= 0),
    CONSTRAINT ck_eob_coinsurance_amount_nonnegative CHECK (coinsurance_amount >= 0),
    CONSTRAINT ck_eob_copay_amount_nonnegative CHECK (copay_amount >= 0)
);
COMMENT ON TABLE billing.eob IS 'Explanations of benefits: the claim outcome per member';

-- ============================================================================ indexes
-- Claims indexes (seed)
CREATE INDEX idx_claim_member ON claims.claim(member_id);
CREATE INDEX idx_claim_provider ON claims.claim(provider_id);
CREATE INDEX idx_claim_status ON claims.claim(status);
CREATE INDEX idx_claim_service_date ON claims.claim(service_date);
CREATE INDEX idx_claim_submission_date ON claims.claim(submission_date);

-- Member indexes (seed)
CREATE INDEX idx_member_status ON member.member(status);
CREATE INDEX idx_member_coverage_member ON member.member_coverage(member_id);
CREATE INDEX idx_accumulator_member ON member.accumulator(member_id, year);

-- Provider indexes (seed)
CREATE INDEX idx_provider_status ON provider.provider(status);
CREATE INDEX idx_provider_type ON provider.provider(provider_type);

-- Benefit indexes (seed)
CREATE INDEX idx_plan_benefit_plan ON benefit.plan_benefit(plan_id);
CREATE INDEX idx_plan_benefit_code ON benefit.plan_benefit(benefit_code);

-- Foreign keys the seed indexes nowhere, lookups by claim number and blind index
CREATE INDEX ix_claim_policy_id ON claims.claim(policy_id);
CREATE INDEX ix_claim_claim_number ON claims.claim(claim_number);
CREATE INDEX ix_claim_item_claim_id ON claims.claim_item(claim_id);
CREATE INDEX ix_claim_document_claim_id ON claims.claim_document(claim_id);
CREATE INDEX ix_authorization_claim_id ON claims.authorization(claim_id);
CREATE INDEX ix_authorization_member_id ON claims.authorization(member_id);
CREATE INDEX ix_authorization_provider_id ON claims.authorization(provider_id);
CREATE INDEX ix_member_passport_number_hash ON member.member(passport_number_hash);
CREATE INDEX ix_member_coverage_policy_id ON member.member_coverage(policy_id);
CREATE INDEX ix_member_coverage_plan_id ON member.member_coverage(plan_id);
CREATE INDEX ix_accumulator_plan_id ON member.accumulator(plan_id);
CREATE INDEX ix_provider_contract_provider_id ON provider.provider_contract(provider_id);
CREATE INDEX ix_exclusion_plan_id ON benefit.exclusion(plan_id);
CREATE INDEX ix_policy_plan_id ON policy.policy(plan_id);
CREATE INDEX ix_payment_claim_id ON billing.payment(claim_id);
CREATE INDEX ix_payment_payee_type_payee_id ON billing.payment(payee_type, payee_id);
CREATE INDEX ix_eob_claim_id ON billing.eob(claim_id);
CREATE INDEX ix_eob_member_id ON billing.eob(member_id);

-- ============================================================================ views (seed)
-- Active members with coverage
CREATE VIEW member.active_members_view AS
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
  AND CURRENT_DATE BETWEEN mc.coverage_start_date
      AND COALESCE(mc.coverage_end_date, '9999-12-31');

-- Claim summary view
CREATE VIEW claims.claim_summary_view AS
SELECT
    c.id,
    c.claim_number,
    m.member_number,
    m.first_name || ' ' || m.last_name as member_name,
    p.provider_name,
    c.service_date,
    c.status,
    c.total_charged_amount,
    c.total_approved_amount,
    c.total_paid_amount
FROM claims.claim c
JOIN member.member m ON c.member_id = m.id
JOIN provider.provider p ON c.provider_id = p.id;

-- ============================================================================ functions (seed)
-- Function to calculate remaining benefit
CREATE OR REPLACE FUNCTION benefit.calculate_remaining_benefit(
    p_member_id UUID,
    p_benefit_code VARCHAR,
    p_year INTEGER
) RETURNS DECIMAL AS $$
DECLARE
    v_limit DECIMAL;
    v_used DECIMAL;
BEGIN
    SELECT limit_amount, used_amount
    INTO v_limit, v_used
    FROM member.accumulator
    WHERE member_id = p_member_id
      AND benefit_code = p_benefit_code
      AND year = p_year;

    RETURN COALESCE(v_limit - v_used, 0);
END;
$$ LANGUAGE plpgsql;

-- Procedure to update accumulator
CREATE OR REPLACE PROCEDURE member.update_accumulator(
    p_member_id UUID,
    p_benefit_code VARCHAR,
    p_amount DECIMAL,
    p_year INTEGER
) AS $$
BEGIN
    UPDATE member.accumulator
    SET used_amount = used_amount + p_amount,
        remaining_amount = limit_amount - (used_amount + p_amount),
        last_updated = NOW()
    WHERE member_id = p_member_id
      AND benefit_code = p_benefit_code
      AND year = p_year;
END;
$$ LANGUAGE plpgsql;

-- ============================================================================ triggers
-- Seed's timestamp triggers (public.update_updated_at comes from 0001_platform)
CREATE TRIGGER update_claim_timestamp
BEFORE UPDATE ON claims.claim
FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

CREATE TRIGGER update_member_timestamp
BEFORE UPDATE ON member.member
FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

-- Audit trail on every business table
SELECT audit.enable_audit('benefit.plan');
SELECT audit.enable_audit('benefit.plan_benefit');
SELECT audit.enable_audit('benefit.exclusion');
SELECT audit.enable_audit('policy.policy');
SELECT audit.enable_audit('provider.provider');
SELECT audit.enable_audit('provider.provider_contract');
SELECT audit.enable_audit('member.member');
SELECT audit.enable_audit('member.member_coverage');
SELECT audit.enable_audit('member.accumulator');
SELECT audit.enable_audit('claims.claim');
SELECT audit.enable_audit('claims.claim_item');
SELECT audit.enable_audit('claims.claim_document');
SELECT audit.enable_audit('claims.authorization');
SELECT audit.enable_audit('billing.payment');
SELECT audit.enable_audit('billing.eob');

-- ============================================================================ row-level security
-- Roles are cluster-wide: create member_role once, tolerate a concurrent creator, never
-- drop it (decision 0014). The table owner bypasses RLS, so the application is unaffected.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'member_role') THEN
        CREATE ROLE member_role NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

ALTER TABLE claims.claim ENABLE ROW LEVEL SECURITY;

-- Policy for members to see only their claims
CREATE POLICY member_claim_policy ON claims.claim
FOR SELECT
TO member_role
USING (member_id = current_setting('app.current_member_id')::UUID);

GRANT USAGE ON SCHEMA claims, member, provider, benefit, policy, billing TO member_role;
GRANT SELECT ON claims.claim TO member_role;
"""

DOWNGRADE = r"""
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'member_role') THEN
        REVOKE SELECT ON claims.claim FROM member_role;
        REVOKE USAGE ON SCHEMA claims, member, provider, benefit, policy, billing
            FROM member_role;
    END IF;
END
$$;
DROP POLICY IF EXISTS member_claim_policy ON claims.claim;

DROP PROCEDURE IF EXISTS member.update_accumulator(UUID, VARCHAR, DECIMAL, INTEGER);
DROP FUNCTION IF EXISTS benefit.calculate_remaining_benefit(UUID, VARCHAR, INTEGER);
DROP VIEW IF EXISTS claims.claim_summary_view;
DROP VIEW IF EXISTS member.active_members_view;

DROP TABLE IF EXISTS billing.eob;
DROP TABLE IF EXISTS billing.payment;
DROP TABLE IF EXISTS claims.authorization;
DROP TABLE IF EXISTS claims.claim_document;
DROP TABLE IF EXISTS claims.claim_item;
-- Dropping the parent drops every partition, including those created after this migration.
DROP TABLE IF EXISTS claims.claim;
DROP TABLE IF EXISTS claims.claim_registry;
DROP FUNCTION IF EXISTS claims.claim_registry_delete();
DROP FUNCTION IF EXISTS claims.claim_registry_update();
DROP FUNCTION IF EXISTS claims.claim_registry_insert();
DROP TABLE IF EXISTS member.accumulator;
DROP TABLE IF EXISTS member.member_coverage;
DROP TABLE IF EXISTS member.member;
DROP TABLE IF EXISTS provider.provider_contract;
DROP TABLE IF EXISTS provider.provider;
DROP TABLE IF EXISTS policy.policy;
DROP TABLE IF EXISTS benefit.exclusion;
DROP TABLE IF EXISTS benefit.plan_benefit;
DROP TABLE IF EXISTS benefit.plan;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
