"""Motor (seed 001): customers, vehicles, policies, claims, payments.

Revision ID: 0005_motor
Revises: 0004_health
Create Date: 2026-11-23
"""

from alembic import op

revision = "0005_motor"
down_revision = "0004_health"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- Seed 001 section 3, in schema motor. Inline CHECKs keep PostgreSQL's own names
-- (<table>_<column>_check), named ones keep the seed's names (decision 0030).

-- ---------------------------------------------------------------------------------------
-- 3.1 Customers. national_id holds a masked display value; the id itself is encrypted by
-- the application and found through a blind index (decision 0032).
CREATE TABLE motor.customers (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    email VARCHAR(255) NOT NULL UNIQUE,
    phone_number VARCHAR(20),
    national_id VARCHAR(13),
    national_id_encrypted BYTEA,
    national_id_hash VARCHAR(64),
    encryption_key_id VARCHAR(50),
    first_name VARCHAR(100) NOT NULL,
    last_name VARCHAR(100) NOT NULL,
    first_name_en VARCHAR(100),
    last_name_en VARCHAR(100),
    date_of_birth DATE,
    gender VARCHAR(10) CHECK (gender IN ('MALE', 'FEMALE', 'OTHER')),
    address JSONB,
    account_status VARCHAR(20) DEFAULT 'ACTIVE'
        CHECK (account_status IN ('ACTIVE', 'INACTIVE', 'SUSPENDED', 'CLOSED')),
    kyc_status VARCHAR(20) DEFAULT 'PENDING'
        CHECK (kyc_status IN ('PENDING', 'IN_PROGRESS', 'VERIFIED', 'REJECTED')),
    preferred_language VARCHAR(5) DEFAULT 'th'
        CHECK (preferred_language IN ('th', 'en')),
    marketing_consent BOOLEAN DEFAULT FALSE,
    sms_notifications BOOLEAN DEFAULT TRUE,
    email_notifications BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID,
    CONSTRAINT chk_customers_national_id_hash CHECK (national_id_hash ~ '^[0-9a-f]{64}$'),
    CONSTRAINT chk_customers_national_id_encryption CHECK (
        (national_id_encrypted IS NULL AND national_id_hash IS NULL AND encryption_key_id IS NULL)
        OR (national_id_encrypted IS NOT NULL AND national_id_hash IS NOT NULL
            AND encryption_key_id IS NOT NULL)
    )
);

CREATE INDEX idx_customers_email ON motor.customers(email) WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_national_id ON motor.customers(national_id) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX idx_customers_national_id_hash ON motor.customers(national_id_hash)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_phone ON motor.customers(phone_number) WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_status ON motor.customers(account_status) WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_kyc_status ON motor.customers(kyc_status) WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_created_at ON motor.customers(created_at);
CREATE INDEX idx_customers_address_gin ON motor.customers USING GIN(address)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customers_active ON motor.customers(id)
    WHERE account_status = 'ACTIVE' AND deleted_at IS NULL;

COMMENT ON TABLE motor.customers IS 'Customer master data with Thai-specific fields';
COMMENT ON COLUMN motor.customers.national_id IS 'Thai national ID (13 digits): masked display value only, e.g. *********5635 (decision 0032)';
COMMENT ON COLUMN motor.customers.national_id_encrypted IS 'Thai national ID, AES-256-GCM ciphertext written by the application (kid$nonce||ciphertext)';
COMMENT ON COLUMN motor.customers.national_id_hash IS 'Blind index of the national ID: HMAC-SHA256 hex, unique among non-deleted customers';
COMMENT ON COLUMN motor.customers.encryption_key_id IS 'Id of the key national_id_encrypted is sealed under (key rotation)';
COMMENT ON COLUMN motor.customers.address IS 'Thai address in JSON format with tambon, amphoe, province';

-- ---------------------------------------------------------------------------------------
-- year_of_manufacture's CHECK calls now(): PostgreSQL evaluates it only when a row is
-- written, never re-checks old rows (decision 0030).
CREATE TABLE motor.customer_vehicles (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id UUID NOT NULL REFERENCES motor.customers(id),
    registration_number VARCHAR(20) NOT NULL,
    province VARCHAR(100) NOT NULL,
    make VARCHAR(50) NOT NULL,
    model VARCHAR(100) NOT NULL,
    year_of_manufacture INTEGER NOT NULL
        CHECK (year_of_manufacture >= 1950 AND year_of_manufacture <= EXTRACT(YEAR FROM NOW()) + 1),
    engine_size DECIMAL(4,1) CHECK (engine_size > 0),
    vehicle_type VARCHAR(50) NOT NULL
        CHECK (vehicle_type IN ('SEDAN', 'HATCHBACK', 'SUV', 'PICKUP', 'VAN', 'MOTORCYCLE')),
    fuel_type VARCHAR(20) NOT NULL
        CHECK (fuel_type IN ('GASOLINE', 'DIESEL', 'HYBRID', 'ELECTRIC', 'LPG', 'CNG')),
    color VARCHAR(30),
    chassis_number VARCHAR(50),
    usage_type VARCHAR(20) DEFAULT 'PERSONAL'
        CHECK (usage_type IN ('PERSONAL', 'COMMERCIAL', 'TAXI', 'RENTAL')),
    annual_mileage INTEGER CHECK (annual_mileage > 0),
    parking_location VARCHAR(20)
        CHECK (parking_location IN ('GARAGE', 'COVERED', 'STREET', 'PARKING_LOT')),
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID
);

CREATE UNIQUE INDEX idx_customer_vehicles_registration
    ON motor.customer_vehicles(registration_number, province) WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_vehicles_customer ON motor.customer_vehicles(customer_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_vehicles_make_model ON motor.customer_vehicles(make, model)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_vehicles_year ON motor.customer_vehicles(year_of_manufacture)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_vehicles_active ON motor.customer_vehicles(is_active)
    WHERE deleted_at IS NULL;

COMMENT ON TABLE motor.customer_vehicles IS 'Customer-owned vehicles for insurance';
COMMENT ON COLUMN motor.customer_vehicles.registration_number IS 'Thai vehicle registration number';
COMMENT ON COLUMN motor.customer_vehicles.province IS 'Province where vehicle is registered';

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.dlt_verifications (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    vehicle_id UUID NOT NULL REFERENCES motor.customer_vehicles(id),
    verification_date TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    registration_valid BOOLEAN NOT NULL,
    tax_paid BOOLEAN NOT NULL,
    registration_expiry DATE,
    dlt_response JSONB,
    dlt_reference_number VARCHAR(50),
    verified_by VARCHAR(50),
    verification_method VARCHAR(20),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID
);

CREATE INDEX idx_dlt_verifications_vehicle ON motor.dlt_verifications(vehicle_id);
CREATE INDEX idx_dlt_verifications_date ON motor.dlt_verifications(verification_date);
CREATE INDEX idx_dlt_verifications_valid ON motor.dlt_verifications(registration_valid);

COMMENT ON TABLE motor.dlt_verifications IS 'Vehicle verifications from Department of Land Transport';
COMMENT ON COLUMN motor.dlt_verifications.verified_by IS 'system, agent, admin';
COMMENT ON COLUMN motor.dlt_verifications.verification_method IS 'api, manual, document';

-- ---------------------------------------------------------------------------------------
-- 3.2 Policies
CREATE TABLE motor.policies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_number VARCHAR(50) NOT NULL UNIQUE,
    customer_id UUID NOT NULL REFERENCES motor.customers(id),
    vehicle_id UUID NOT NULL REFERENCES motor.customer_vehicles(id),
    agent_id UUID REFERENCES iam.users(id),
    policy_type VARCHAR(20) NOT NULL
        CHECK (policy_type IN ('CMI', 'CLASS_1', 'CLASS_2', 'CLASS_3')),
    coverage_details JSONB NOT NULL,
    base_premium DECIMAL(12,2) NOT NULL CHECK (base_premium > 0),
    discounts DECIMAL(12,2) DEFAULT 0,
    fees DECIMAL(12,2) DEFAULT 0,
    total_premium DECIMAL(12,2) NOT NULL CHECK (total_premium > 0),
    start_date DATE NOT NULL,
    end_date DATE NOT NULL,
    policy_period_months INTEGER NOT NULL DEFAULT 12
        CHECK (policy_period_months IN (6, 12, 24, 36)),
    status VARCHAR(20) DEFAULT 'ACTIVE'
        CHECK (status IN ('DRAFT', 'ACTIVE', 'EXPIRED', 'CANCELLED', 'SUSPENDED')),
    no_claim_discount DECIMAL(5,2) DEFAULT 0
        CHECK (no_claim_discount >= 0 AND no_claim_discount <= 50),
    auto_renewal BOOLEAN DEFAULT FALSE,
    previous_policy_id UUID REFERENCES motor.policies(id),
    renewal_count INTEGER DEFAULT 0,
    payment_plan VARCHAR(20) DEFAULT 'FULL'
        CHECK (payment_plan IN ('FULL', 'INSTALLMENT_6', 'INSTALLMENT_12')),
    payment_frequency VARCHAR(20) DEFAULT 'ANNUAL'
        CHECK (payment_frequency IN ('ANNUAL', 'SEMI_ANNUAL', 'MONTHLY')),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID,
    CONSTRAINT chk_policy_dates CHECK (end_date > start_date),
    CONSTRAINT chk_policy_premium_calculation
        CHECK (total_premium = base_premium - COALESCE(discounts, 0) + COALESCE(fees, 0))
);

CREATE UNIQUE INDEX idx_policies_vehicle_active ON motor.policies(vehicle_id)
    WHERE status = 'ACTIVE' AND deleted_at IS NULL;
CREATE INDEX idx_policies_customer ON motor.policies(customer_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_number ON motor.policies(policy_number) WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_status ON motor.policies(status) WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_dates ON motor.policies(start_date, end_date) WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_expiry ON motor.policies(end_date)
    WHERE status IN ('ACTIVE') AND deleted_at IS NULL;
CREATE INDEX idx_policies_renewal_lookup ON motor.policies(customer_id, end_date, status)
    WHERE status = 'ACTIVE' AND deleted_at IS NULL;
CREATE INDEX idx_policies_coverage_gin ON motor.policies USING GIN(coverage_details)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_policies_cmi ON motor.policies(id)
    WHERE policy_type = 'CMI' AND deleted_at IS NULL;
CREATE INDEX idx_policies_voluntary ON motor.policies(id)
    WHERE policy_type IN ('CLASS_1', 'CLASS_2', 'CLASS_3') AND deleted_at IS NULL;
-- Seed 5.1 (created CONCURRENTLY there; a plain index inside the migration transaction).
CREATE INDEX idx_policies_customer_start_date ON motor.policies(customer_id, start_date DESC)
    WHERE deleted_at IS NULL;
-- Not in the seed: the self-reference and agent_id get an index like every FK column.
CREATE INDEX idx_policies_previous ON motor.policies(previous_policy_id)
    WHERE previous_policy_id IS NOT NULL;
CREATE INDEX idx_policies_agent ON motor.policies(agent_id) WHERE agent_id IS NOT NULL;

COMMENT ON TABLE motor.policies IS 'Motor insurance policies';
COMMENT ON COLUMN motor.policies.policy_type IS 'CMI=Compulsory Motor Insurance, CLASS_1/2/3=Voluntary insurance classes';
COMMENT ON COLUMN motor.policies.coverage_details IS 'JSON structure containing coverage specifics per policy type';

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.policy_documents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    policy_id UUID NOT NULL REFERENCES motor.policies(id),
    document_type VARCHAR(30) NOT NULL
        CHECK (document_type IN ('POLICY', 'CERTIFICATE', 'SCHEDULE', 'ENDORSEMENT', 'RECEIPT')),
    document_name VARCHAR(255) NOT NULL,
    file_path VARCHAR(500) NOT NULL,
    file_size BIGINT,
    mime_type VARCHAR(100),
    language VARCHAR(5) DEFAULT 'th' CHECK (language IN ('th', 'en')),
    is_official BOOLEAN DEFAULT TRUE,
    version_number INTEGER DEFAULT 1,
    generated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    template_id UUID,
    template_version INTEGER,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID
);

CREATE INDEX idx_policy_documents_policy ON motor.policy_documents(policy_id);
CREATE INDEX idx_policy_documents_type ON motor.policy_documents(document_type);
CREATE INDEX idx_policy_documents_generated ON motor.policy_documents(generated_at);

COMMENT ON TABLE motor.policy_documents IS 'Generated policy documents and certificates';

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.policy_renewals (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    original_policy_id UUID NOT NULL REFERENCES motor.policies(id),
    renewed_policy_id UUID NOT NULL REFERENCES motor.policies(id),
    renewal_type VARCHAR(20) NOT NULL
        CHECK (renewal_type IN ('AUTOMATIC', 'MANUAL', 'EARLY')),
    renewal_date TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    premium_change DECIMAL(12,2) DEFAULT 0,
    coverage_changes JSONB,
    discount_change DECIMAL(5,2) DEFAULT 0,
    initiated_by VARCHAR(20) CHECK (initiated_by IN ('CUSTOMER', 'AGENT', 'SYSTEM')),
    renewal_channel VARCHAR(20) CHECK (renewal_channel IN ('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER')),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID
);

CREATE INDEX idx_policy_renewals_original ON motor.policy_renewals(original_policy_id);
CREATE INDEX idx_policy_renewals_renewed ON motor.policy_renewals(renewed_policy_id);
CREATE INDEX idx_policy_renewals_date ON motor.policy_renewals(renewal_date);

COMMENT ON TABLE motor.policy_renewals IS 'Policy renewal history and relationships';

-- ---------------------------------------------------------------------------------------
-- 3.3 Claims
CREATE TABLE motor.claims (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_number VARCHAR(50) NOT NULL UNIQUE,
    policy_id UUID NOT NULL REFERENCES motor.policies(id),
    adjuster_id UUID REFERENCES iam.users(id),
    surveyor_id UUID REFERENCES iam.users(id),
    incident_date TIMESTAMP WITH TIME ZONE NOT NULL,
    reported_date TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    claim_type VARCHAR(30) NOT NULL
        CHECK (claim_type IN ('ACCIDENT', 'THEFT', 'FIRE', 'FLOOD', 'VANDALISM', 'NATURAL_DISASTER')),
    status VARCHAR(20) DEFAULT 'REPORTED'
        CHECK (status IN ('REPORTED', 'ASSIGNED', 'INVESTIGATING', 'ASSESSED', 'APPROVED', 'REJECTED', 'SETTLED', 'CLOSED')),
    sub_status VARCHAR(30),
    incident_description TEXT NOT NULL,
    damage_description TEXT,
    injury_description TEXT,
    incident_location JSONB,
    estimated_amount DECIMAL(12,2),
    assessed_amount DECIMAL(12,2),
    approved_amount DECIMAL(12,2),
    settled_amount DECIMAL(12,2),
    deductible_amount DECIMAL(12,2),
    assessment_date DATE,
    approval_date DATE,
    settlement_date DATE,
    closure_date DATE,
    police_report_number VARCHAR(50),
    court_case_number VARCHAR(50),
    other_party_info JSONB,
    fraud_score DECIMAL(5,2) DEFAULT 0,
    fraud_flags JSONB,
    requires_investigation BOOLEAN DEFAULT FALSE,
    repair_shop_id UUID,
    hospital_id UUID,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID,
    CONSTRAINT chk_claim_amounts CHECK (
        (estimated_amount IS NULL OR estimated_amount >= 0) AND
        (assessed_amount IS NULL OR assessed_amount >= 0) AND
        (approved_amount IS NULL OR approved_amount >= 0) AND
        (settled_amount IS NULL OR settled_amount >= 0)
    ),
    CONSTRAINT chk_claim_dates CHECK (
        reported_date >= incident_date AND
        (assessment_date IS NULL OR assessment_date >= incident_date::date) AND
        (settlement_date IS NULL OR settlement_date >= incident_date::date)
    )
);

CREATE INDEX idx_claims_policy ON motor.claims(policy_id) WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_number ON motor.claims(claim_number) WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_status ON motor.claims(status) WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_type ON motor.claims(claim_type) WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_reported_date ON motor.claims(reported_date);
CREATE INDEX idx_claims_incident_date ON motor.claims(incident_date);
CREATE INDEX idx_claims_status_reported ON motor.claims(status, reported_date)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_adjuster_status ON motor.claims(adjuster_id, status)
    WHERE adjuster_id IS NOT NULL AND deleted_at IS NULL;
CREATE INDEX idx_claims_location_gin ON motor.claims USING GIN(incident_location)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_fraud_gin ON motor.claims USING GIN(fraud_flags) WHERE deleted_at IS NULL;
CREATE INDEX idx_claims_active ON motor.claims(id)
    WHERE status IN ('REPORTED', 'ASSIGNED', 'INVESTIGATING', 'ASSESSED', 'APPROVED')
    AND deleted_at IS NULL;
-- Not in the seed: surveyor_id is an FK column too.
CREATE INDEX idx_claims_surveyor ON motor.claims(surveyor_id) WHERE surveyor_id IS NOT NULL;

COMMENT ON TABLE motor.claims IS 'Motor insurance claims';
COMMENT ON COLUMN motor.claims.incident_location IS 'JSON with lat/lng and Thai address';
COMMENT ON COLUMN motor.claims.other_party_info IS 'Details of other party in accidents';
COMMENT ON COLUMN motor.claims.fraud_flags IS 'JSON array of fraud detection flags';

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.claim_documents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id UUID NOT NULL REFERENCES motor.claims(id),
    document_type VARCHAR(30) NOT NULL
        CHECK (document_type IN ('PHOTO', 'VIDEO', 'POLICE_REPORT', 'MEDICAL_REPORT', 'ESTIMATE', 'INVOICE', 'RECEIPT', 'OTHER')),
    document_category VARCHAR(20)
        CHECK (document_category IN ('DAMAGE', 'SCENE', 'MEDICAL', 'LEGAL', 'FINANCIAL')),
    original_filename VARCHAR(255) NOT NULL,
    file_path VARCHAR(500) NOT NULL,
    file_size BIGINT,
    mime_type VARCHAR(100),
    description TEXT,
    is_sensitive BOOLEAN DEFAULT FALSE,
    is_required BOOLEAN DEFAULT FALSE,
    upload_status VARCHAR(20) DEFAULT 'PENDING'
        CHECK (upload_status IN ('PENDING', 'PROCESSED', 'APPROVED', 'REJECTED')),
    review_notes TEXT,
    extracted_text TEXT,
    extracted_data JSONB,
    uploaded_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    uploaded_by UUID,
    reviewed_at TIMESTAMP WITH TIME ZONE,
    reviewed_by UUID
);

CREATE INDEX idx_claim_documents_claim ON motor.claim_documents(claim_id);
CREATE INDEX idx_claim_documents_type ON motor.claim_documents(document_type);
CREATE INDEX idx_claim_documents_category ON motor.claim_documents(document_category);
CREATE INDEX idx_claim_documents_status ON motor.claim_documents(upload_status);
CREATE INDEX idx_claim_documents_uploaded ON motor.claim_documents(uploaded_at);
CREATE INDEX idx_claim_documents_text ON motor.claim_documents
    USING GIN(to_tsvector('english', extracted_text));

COMMENT ON TABLE motor.claim_documents IS 'Documents uploaded for claims processing';

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.claim_assessments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    claim_id UUID NOT NULL REFERENCES motor.claims(id),
    assessor_id UUID NOT NULL REFERENCES iam.users(id),
    assessor_type VARCHAR(20) NOT NULL
        CHECK (assessor_type IN ('SURVEYOR', 'ADJUSTER', 'SPECIALIST')),
    assessment_date TIMESTAMP WITH TIME ZONE NOT NULL,
    assessment_type VARCHAR(20) NOT NULL
        CHECK (assessment_type IN ('INITIAL', 'DETAILED', 'RE_ASSESSMENT', 'FINAL')),
    damage_assessment JSONB NOT NULL,
    repair_estimates JSONB,
    total_loss_assessment BOOLEAN DEFAULT FALSE,
    salvage_value DECIMAL(12,2),
    liability_percentage DECIMAL(5,2) CHECK (liability_percentage >= 0 AND liability_percentage <= 100),
    contributing_factors JSONB,
    recommended_amount DECIMAL(12,2),
    recommended_action VARCHAR(30)
        CHECK (recommended_action IN ('APPROVE', 'REJECT', 'INVESTIGATE', 'REQUEST_MORE_INFO')),
    assessment_notes TEXT,
    qa_reviewed BOOLEAN DEFAULT FALSE,
    qa_reviewer_id UUID REFERENCES iam.users(id),
    qa_notes TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    version INTEGER DEFAULT 1
);

CREATE INDEX idx_claim_assessments_claim ON motor.claim_assessments(claim_id);
CREATE INDEX idx_claim_assessments_assessor ON motor.claim_assessments(assessor_id);
CREATE INDEX idx_claim_assessments_date ON motor.claim_assessments(assessment_date);
CREATE INDEX idx_claim_assessments_type ON motor.claim_assessments(assessment_type);
CREATE INDEX idx_claim_assessments_qa_reviewer ON motor.claim_assessments(qa_reviewer_id)
    WHERE qa_reviewer_id IS NOT NULL;

COMMENT ON TABLE motor.claim_assessments IS 'Professional assessments of claims';

-- ---------------------------------------------------------------------------------------
-- 3.4 Payments, partitioned by month on created_at (seed 5.2). The primary key has to
-- include the partition key, so payment ids are kept globally unique, and referenceable,
-- by motor.payment_registry (decision 0031).
CREATE TABLE motor.payments (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    policy_id UUID REFERENCES motor.policies(id),
    claim_id UUID REFERENCES motor.claims(id),
    customer_id UUID NOT NULL REFERENCES motor.customers(id),
    payment_type VARCHAR(20) NOT NULL
        CHECK (payment_type IN ('PREMIUM', 'INSTALLMENT', 'CLAIM_SETTLEMENT', 'REFUND', 'FEE')),
    payment_direction VARCHAR(10) NOT NULL DEFAULT 'INCOMING'
        CHECK (payment_direction IN ('INCOMING', 'OUTGOING')),
    amount DECIMAL(12,2) NOT NULL CHECK (amount > 0),
    currency VARCHAR(3) DEFAULT 'THB' CHECK (currency IN ('THB', 'USD', 'EUR')),
    fees DECIMAL(12,2) DEFAULT 0,
    total_amount DECIMAL(12,2) NOT NULL CHECK (total_amount > 0),
    payment_method VARCHAR(30) NOT NULL
        CHECK (payment_method IN ('CREDIT_CARD', 'DEBIT_CARD', 'BANK_TRANSFER', 'PROMPTPAY', 'TRUEMONEY', 'RABBIT_LINE_PAY', 'K_PLUS', 'CASH')),
    payment_channel VARCHAR(20)
        CHECK (payment_channel IN ('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER', 'BANK', 'ATM')),
    payment_status VARCHAR(20) DEFAULT 'PENDING'
        CHECK (payment_status IN ('PENDING', 'PROCESSING', 'SUCCESS', 'FAILED', 'CANCELLED', 'REFUNDED', 'PARTIAL_REFUND')),
    transaction_reference VARCHAR(100),
    gateway_transaction_id VARCHAR(100),
    authorization_code VARCHAR(50),
    payment_date TIMESTAMP WITH TIME ZONE,
    due_date DATE,
    processed_at TIMESTAMP WITH TIME ZONE,
    installment_number INTEGER,
    total_installments INTEGER,
    gateway_provider VARCHAR(50),
    gateway_response JSONB,
    card_last_four VARCHAR(4),
    card_type VARCHAR(20),
    card_token VARCHAR(255),
    bank_code VARCHAR(10),
    bank_account_number VARCHAR(50),
    bank_account_number_encrypted BYTEA,
    reconciliation_status VARCHAR(20) DEFAULT 'PENDING'
        CHECK (reconciliation_status IN ('PENDING', 'MATCHED', 'UNMATCHED', 'DISPUTED')),
    reconciled_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    CONSTRAINT payments_pkey PRIMARY KEY (id, created_at),
    CONSTRAINT chk_payment_amounts CHECK (total_amount = amount + COALESCE(fees, 0)),
    CONSTRAINT chk_payment_installments CHECK (
        (installment_number IS NULL AND total_installments IS NULL) OR
        (installment_number > 0 AND total_installments > 0 AND installment_number <= total_installments)
    ),
    -- The seed's CHECK lets (1, NULL) through (NULL is not false): both or neither.
    CONSTRAINT chk_payment_installments_pair
        CHECK ((installment_number IS NULL) = (total_installments IS NULL))
) PARTITION BY RANGE (created_at);

CREATE INDEX idx_payments_customer ON motor.payments(customer_id);
CREATE INDEX idx_payments_policy ON motor.payments(policy_id);
CREATE INDEX idx_payments_claim ON motor.payments(claim_id);
CREATE INDEX idx_payments_status ON motor.payments(payment_status);
CREATE INDEX idx_payments_method ON motor.payments(payment_method);
CREATE INDEX idx_payments_date ON motor.payments(payment_date);
CREATE INDEX idx_payments_due_date ON motor.payments(due_date);
CREATE INDEX idx_payments_reference ON motor.payments(transaction_reference);
CREATE INDEX idx_payments_customer_status ON motor.payments(customer_id, payment_status);
CREATE INDEX idx_payments_due_status ON motor.payments(due_date, payment_status)
    WHERE due_date IS NOT NULL;
CREATE INDEX idx_payments_reconciliation ON motor.payments(reconciliation_status, processed_at);
CREATE INDEX idx_payments_pending ON motor.payments(id)
    WHERE payment_status IN ('PENDING', 'PROCESSING');

COMMENT ON TABLE motor.payments IS 'All payment transactions including premiums and claim settlements';
COMMENT ON COLUMN motor.payments.gateway_response IS 'Full gateway response for debugging';
COMMENT ON COLUMN motor.payments.card_token IS 'Gateway card token, encrypted by the application: kid$base64(nonce||ciphertext)';
COMMENT ON COLUMN motor.payments.bank_account_number IS 'Masked bank account number (display only)';
COMMENT ON COLUMN motor.payments.bank_account_number_encrypted IS 'Bank account number, AES-256-GCM ciphertext written by the application';
COMMENT ON COLUMN motor.payments.created_at IS 'Partition key (monthly); immutable';

SELECT public.ensure_monthly_partitions('motor.payments', DATE '2024-12-01',
    ((EXTRACT(YEAR FROM age(date_trunc('month', now() + INTERVAL '3 months'), DATE '2024-12-01')) * 12)
     + EXTRACT(MONTH FROM age(date_trunc('month', now() + INTERVAL '3 months'), DATE '2024-12-01')))::int);
CREATE TABLE motor.payments_default PARTITION OF motor.payments DEFAULT;

-- One row per payment id, whatever its partition: global uniqueness and an FK target.
CREATE TABLE motor.payment_registry (
    payment_id UUID PRIMARY KEY,
    created_at TIMESTAMP WITH TIME ZONE NOT NULL
);

COMMENT ON TABLE motor.payment_registry IS 'Every payment id once (global uniqueness across partitions; FK target for payment references)';
COMMENT ON COLUMN motor.payment_registry.created_at IS 'The payment''s created_at: the partition holding it';

CREATE OR REPLACE FUNCTION motor.payment_registry_sync() RETURNS TRIGGER AS $$
BEGIN
    -- Rows moved out of the DEFAULT partition by create_range_partition keep their entry.
    IF current_setting('app.partition_move', true) = 'on' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        INSERT INTO motor.payment_registry (payment_id, created_at)
        VALUES (NEW.id, NEW.created_at);
    ELSIF TG_OP = 'DELETE' THEN
        DELETE FROM motor.payment_registry WHERE payment_id = OLD.id;
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE OR REPLACE FUNCTION motor.payment_key_immutable() RETURNS TRIGGER AS $$
BEGIN
    IF NEW.id IS DISTINCT FROM OLD.id OR NEW.created_at IS DISTINCT FROM OLD.created_at THEN
        RAISE EXCEPTION 'motor.payments: id and created_at cannot change (payment %)', OLD.id
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END;
$$ LANGUAGE plpgsql SET search_path = pg_catalog, public;

CREATE TRIGGER payment_registry_insert AFTER INSERT ON motor.payments
    FOR EACH ROW EXECUTE FUNCTION motor.payment_registry_sync();
CREATE TRIGGER payment_registry_delete AFTER DELETE ON motor.payments
    FOR EACH ROW EXECUTE FUNCTION motor.payment_registry_sync();
CREATE TRIGGER payment_key_immutable BEFORE UPDATE ON motor.payments
    FOR EACH ROW EXECUTE FUNCTION motor.payment_key_immutable();

-- ---------------------------------------------------------------------------------------
CREATE TABLE motor.payment_receipts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id UUID NOT NULL REFERENCES motor.payment_registry(payment_id),
    receipt_number VARCHAR(50) NOT NULL UNIQUE,
    receipt_type VARCHAR(20) NOT NULL
        CHECK (receipt_type IN ('PAYMENT', 'TAX_INVOICE', 'RECEIPT')),
    file_path VARCHAR(500),
    file_format VARCHAR(10) DEFAULT 'PDF',
    tax_invoice_number VARCHAR(50),
    vat_amount DECIMAL(12,2),
    withholding_tax DECIMAL(12,2),
    issued_date DATE NOT NULL DEFAULT CURRENT_DATE,
    issued_by UUID,
    language VARCHAR(5) DEFAULT 'th' CHECK (language IN ('th', 'en')),
    delivery_method VARCHAR(20)
        CHECK (delivery_method IN ('EMAIL', 'SMS', 'POSTAL', 'DOWNLOAD')),
    delivered_at TIMESTAMP WITH TIME ZONE,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID
);

CREATE INDEX idx_payment_receipts_payment ON motor.payment_receipts(payment_id);
CREATE INDEX idx_payment_receipts_number ON motor.payment_receipts(receipt_number);
CREATE INDEX idx_payment_receipts_type ON motor.payment_receipts(receipt_type);
CREATE INDEX idx_payment_receipts_issued ON motor.payment_receipts(issued_date);

COMMENT ON TABLE motor.payment_receipts IS 'Payment receipts and tax invoices';

-- ---------------------------------------------------------------------------------------
-- The four tables seed 001's diagram names without DDL (decision 0033).
CREATE TABLE motor.customer_documents (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id UUID NOT NULL REFERENCES motor.customers(id),
    vehicle_id UUID REFERENCES motor.customer_vehicles(id),
    document_type VARCHAR(30) NOT NULL
        CHECK (document_type IN ('ID_CARD', 'DRIVING_LICENSE', 'VEHICLE_REGISTRATION',
                                 'HOUSE_REGISTRATION', 'PASSPORT', 'OTHER')),
    document_number VARCHAR(50),
    document_number_encrypted BYTEA,
    issue_date DATE,
    expiry_date DATE,
    original_filename VARCHAR(255) NOT NULL,
    file_path VARCHAR(500) NOT NULL,
    file_size BIGINT NOT NULL CHECK (file_size > 0),
    mime_type VARCHAR(100) NOT NULL,
    sha256 VARCHAR(64) NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    verification_status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
        CHECK (verification_status IN ('PENDING', 'VERIFIED', 'REJECTED', 'EXPIRED')),
    verified_by UUID REFERENCES iam.users(id),
    verified_at TIMESTAMP WITH TIME ZONE,
    rejection_reason TEXT,
    is_sensitive BOOLEAN NOT NULL DEFAULT TRUE,
    uploaded_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    uploaded_by UUID REFERENCES iam.users(id),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    deleted_at TIMESTAMP WITH TIME ZONE,
    deleted_by UUID,
    CONSTRAINT chk_customer_documents_dates
        CHECK (expiry_date IS NULL OR issue_date IS NULL OR expiry_date >= issue_date),
    CONSTRAINT chk_customer_documents_review CHECK (
        verification_status NOT IN ('VERIFIED', 'REJECTED')
        OR (verified_by IS NOT NULL AND verified_at IS NOT NULL)
    ),
    CONSTRAINT chk_customer_documents_rejection
        CHECK (verification_status <> 'REJECTED' OR rejection_reason IS NOT NULL)
);

CREATE INDEX idx_customer_documents_customer ON motor.customer_documents(customer_id)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_documents_vehicle ON motor.customer_documents(vehicle_id)
    WHERE vehicle_id IS NOT NULL;
CREATE INDEX idx_customer_documents_type ON motor.customer_documents(document_type);
CREATE INDEX idx_customer_documents_status ON motor.customer_documents(verification_status)
    WHERE deleted_at IS NULL;
CREATE INDEX idx_customer_documents_verified_by ON motor.customer_documents(verified_by)
    WHERE verified_by IS NOT NULL;
CREATE INDEX idx_customer_documents_uploaded_by ON motor.customer_documents(uploaded_by)
    WHERE uploaded_by IS NOT NULL;
CREATE INDEX idx_customer_documents_sha256 ON motor.customer_documents(sha256);

COMMENT ON TABLE motor.customer_documents IS 'Identity and vehicle documents uploaded by or for a customer (KYC)';
COMMENT ON COLUMN motor.customer_documents.document_number IS 'Masked document number (display only)';
COMMENT ON COLUMN motor.customer_documents.document_number_encrypted IS 'Document number (passport, licence...), AES-256-GCM ciphertext written by the application';
COMMENT ON COLUMN motor.customer_documents.vehicle_id IS 'The vehicle a registration book belongs to';
COMMENT ON COLUMN motor.customer_documents.sha256 IS 'SHA-256 hex of the stored file (integrity, duplicate detection)';
COMMENT ON COLUMN motor.customer_documents.is_sensitive IS 'Restricted to KYC staff; never shown in listings';

CREATE TABLE motor.consent_records (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    customer_id UUID NOT NULL REFERENCES motor.customers(id),
    consent_type VARCHAR(30) NOT NULL
        CHECK (consent_type IN ('MARKETING', 'SMS', 'EMAIL', 'PHONE', 'DATA_SHARING', 'PROFILING',
                                'SENSITIVE_DATA', 'CROSS_BORDER_TRANSFER', 'PRIVACY_NOTICE')),
    purpose TEXT NOT NULL,
    granted BOOLEAN NOT NULL,
    channel VARCHAR(20) NOT NULL
        CHECK (channel IN ('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER', 'PAPER')),
    consent_text_version VARCHAR(20) NOT NULL,
    granted_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    withdrawn_at TIMESTAMP WITH TIME ZONE,
    withdrawal_channel VARCHAR(20)
        CHECK (withdrawal_channel IN ('WEB', 'MOBILE', 'AGENT', 'CALL_CENTER', 'PAPER')),
    ip_address INET,
    user_agent TEXT,
    evidence JSONB,
    recorded_by UUID REFERENCES iam.users(id),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    CONSTRAINT chk_consent_withdrawal CHECK (
        (withdrawn_at IS NULL AND withdrawal_channel IS NULL)
        OR (granted AND withdrawn_at IS NOT NULL AND withdrawal_channel IS NOT NULL
            AND withdrawn_at >= granted_at)
    )
);

CREATE INDEX idx_consent_records_customer
    ON motor.consent_records(customer_id, consent_type, granted_at DESC);
CREATE INDEX idx_consent_records_type_active ON motor.consent_records(consent_type)
    WHERE granted AND withdrawn_at IS NULL;
CREATE INDEX idx_consent_records_recorded_by ON motor.consent_records(recorded_by)
    WHERE recorded_by IS NOT NULL;

COMMENT ON TABLE motor.consent_records IS 'PDPA consent decisions, one row per decision (the latest per type is current)';
COMMENT ON COLUMN motor.consent_records.granted IS 'TRUE = consent given, FALSE = refused';
COMMENT ON COLUMN motor.consent_records.granted_at IS 'When the decision (grant or refusal) was made';
COMMENT ON COLUMN motor.consent_records.consent_text_version IS 'Version of the consent / privacy notice text shown';
COMMENT ON COLUMN motor.consent_records.evidence IS 'Proof of the decision: form id, recording reference, signature file';

CREATE TABLE motor.payment_transactions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    payment_id UUID NOT NULL REFERENCES motor.payment_registry(payment_id),
    transaction_type VARCHAR(20) NOT NULL
        CHECK (transaction_type IN ('AUTHORIZE', 'CAPTURE', 'CONFIRM', 'REFUND', 'REVERSAL', 'WEBHOOK')),
    amount DECIMAL(12,2) CHECK (amount >= 0),
    currency VARCHAR(3) DEFAULT 'THB' CHECK (currency IN ('THB', 'USD', 'EUR')),
    status VARCHAR(20) NOT NULL
        CHECK (status IN ('PENDING', 'SUCCESS', 'FAILED', 'TIMEOUT')),
    gateway_provider VARCHAR(50) NOT NULL,
    gateway_reference VARCHAR(100),
    idempotency_key VARCHAR(100) UNIQUE,
    request_payload JSONB,
    response_payload JSONB,
    response_code VARCHAR(50),
    response_message TEXT,
    signature_valid BOOLEAN,
    occurred_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT NOW(),
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    UNIQUE (gateway_provider, gateway_reference)
);

CREATE INDEX idx_payment_transactions_payment
    ON motor.payment_transactions(payment_id, occurred_at);
CREATE INDEX idx_payment_transactions_occurred ON motor.payment_transactions(occurred_at);
CREATE INDEX idx_payment_transactions_pending ON motor.payment_transactions(id)
    WHERE status = 'PENDING';

COMMENT ON TABLE motor.payment_transactions IS 'Each gateway or bank event of a payment (requests, confirmations, webhooks)';
COMMENT ON COLUMN motor.payment_transactions.gateway_reference IS 'The gateway''s own id of the event, unique per gateway (replays are refused)';
COMMENT ON COLUMN motor.payment_transactions.idempotency_key IS 'Key we sent (or received) so that a retry is never applied twice';
COMMENT ON COLUMN motor.payment_transactions.signature_valid IS 'Gateway signature check: TRUE valid, FALSE invalid, NULL not signed';
COMMENT ON COLUMN motor.payment_transactions.occurred_at IS 'When the gateway says the event happened';

CREATE TABLE motor.claim_settlements (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    settlement_number VARCHAR(50) NOT NULL UNIQUE,
    claim_id UUID NOT NULL REFERENCES motor.claims(id),
    payee_type VARCHAR(20) NOT NULL
        CHECK (payee_type IN ('CUSTOMER', 'REPAIR_SHOP', 'HOSPITAL', 'THIRD_PARTY')),
    payee_name VARCHAR(255) NOT NULL,
    payee_id UUID,
    gross_amount DECIMAL(12,2) NOT NULL CHECK (gross_amount > 0),
    deductible_amount DECIMAL(12,2) NOT NULL DEFAULT 0 CHECK (deductible_amount >= 0),
    net_amount DECIMAL(12,2) NOT NULL CHECK (net_amount >= 0),
    currency VARCHAR(3) DEFAULT 'THB' CHECK (currency IN ('THB', 'USD', 'EUR')),
    settlement_method VARCHAR(20) NOT NULL
        CHECK (settlement_method IN ('BANK_TRANSFER', 'PROMPTPAY', 'CHEQUE', 'CASH')),
    payment_id UUID REFERENCES motor.payment_registry(payment_id),
    status VARCHAR(20) NOT NULL DEFAULT 'PENDING'
        CHECK (status IN ('PENDING', 'APPROVED', 'PAID', 'CANCELLED')),
    approved_by UUID REFERENCES iam.users(id),
    approved_at TIMESTAMP WITH TIME ZONE,
    paid_at TIMESTAMP WITH TIME ZONE,
    cancelled_at TIMESTAMP WITH TIME ZONE,
    cancellation_reason TEXT,
    bank_code VARCHAR(10),
    bank_account_name VARCHAR(255),
    bank_account_number VARCHAR(50),
    bank_account_number_encrypted BYTEA,
    notes TEXT,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    created_by UUID,
    updated_by UUID,
    version INTEGER DEFAULT 0,
    CONSTRAINT chk_settlement_amounts CHECK (net_amount = gross_amount - deductible_amount),
    CONSTRAINT chk_settlement_approval CHECK (
        status NOT IN ('APPROVED', 'PAID') OR (approved_by IS NOT NULL AND approved_at IS NOT NULL)
    ),
    CONSTRAINT chk_settlement_paid
        CHECK (status <> 'PAID' OR (paid_at IS NOT NULL AND payment_id IS NOT NULL)),
    CONSTRAINT chk_settlement_cancelled CHECK (status <> 'CANCELLED' OR cancelled_at IS NOT NULL)
);

CREATE INDEX idx_claim_settlements_claim ON motor.claim_settlements(claim_id);
CREATE INDEX idx_claim_settlements_payment ON motor.claim_settlements(payment_id)
    WHERE payment_id IS NOT NULL;
CREATE INDEX idx_claim_settlements_status ON motor.claim_settlements(status);
CREATE INDEX idx_claim_settlements_approved_by ON motor.claim_settlements(approved_by)
    WHERE approved_by IS NOT NULL;

COMMENT ON TABLE motor.claim_settlements IS 'Amounts a claim pays out, per payee, and the payment that carried each';
COMMENT ON COLUMN motor.claim_settlements.payee_id IS 'Customer, repair shop, hospital or third party id (by payee_type)';
COMMENT ON COLUMN motor.claim_settlements.net_amount IS 'gross_amount - deductible_amount (CHECK)';
COMMENT ON COLUMN motor.claim_settlements.bank_account_number IS 'Masked bank account number (display only)';
COMMENT ON COLUMN motor.claim_settlements.bank_account_number_encrypted IS 'Bank account number, AES-256-GCM ciphertext written by the application';

-- ---------------------------------------------------------------------------------------
-- Timestamps and audit on every business table.
CREATE TRIGGER update_customers_timestamp BEFORE UPDATE ON motor.customers
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_customer_vehicles_timestamp BEFORE UPDATE ON motor.customer_vehicles
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_policies_timestamp BEFORE UPDATE ON motor.policies
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_claims_timestamp BEFORE UPDATE ON motor.claims
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_payments_timestamp BEFORE UPDATE ON motor.payments
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_customer_documents_timestamp BEFORE UPDATE ON motor.customer_documents
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_consent_records_timestamp BEFORE UPDATE ON motor.consent_records
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_payment_transactions_timestamp BEFORE UPDATE ON motor.payment_transactions
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();
CREATE TRIGGER update_claim_settlements_timestamp BEFORE UPDATE ON motor.claim_settlements
    FOR EACH ROW EXECUTE FUNCTION public.update_updated_at();

SELECT audit.enable_audit('motor.customers');
SELECT audit.enable_audit('motor.customer_vehicles');
SELECT audit.enable_audit('motor.dlt_verifications');
SELECT audit.enable_audit('motor.policies');
SELECT audit.enable_audit('motor.policy_documents');
SELECT audit.enable_audit('motor.policy_renewals');
SELECT audit.enable_audit('motor.claims');
SELECT audit.enable_audit('motor.claim_documents');
SELECT audit.enable_audit('motor.claim_assessments');
SELECT audit.enable_audit('motor.payments');
SELECT audit.enable_audit('motor.payment_receipts');
SELECT audit.enable_audit('motor.customer_documents');
SELECT audit.enable_audit('motor.consent_records');
SELECT audit.enable_audit('motor.payment_transactions');
SELECT audit.enable_audit('motor.claim_settlements');

-- ---------------------------------------------------------------------------------------
-- Seed 4.2, PDPA (decision 0034). Both run as the owner, with a fixed search_path, and are
-- not executable by PUBLIC: grant EXECUTE to the application role.

-- Replaces the named keys of a JSONB object by null (personal values in audit rows).
CREATE OR REPLACE FUNCTION motor.scrub_keys(p_values JSONB, p_keys TEXT[]) RETURNS JSONB AS $$
    SELECT CASE WHEN p_values IS NULL OR jsonb_typeof(p_values) <> 'object' THEN p_values
           ELSE p_values || COALESCE((SELECT jsonb_object_agg(k, 'null'::jsonb)
                                        FROM unnest(p_keys) AS k WHERE p_values ? k), '{}'::jsonb)
           END;
$$ LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public;

CREATE OR REPLACE FUNCTION motor.export_customer_data(customer_uuid UUID)
RETURNS JSON AS $$
DECLARE
    result JSON;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM motor.customers WHERE id = customer_uuid) THEN
        RAISE EXCEPTION 'customer % not found', customer_uuid USING ERRCODE = 'no_data_found';
    END IF;

    -- Ciphertexts, blind indexes and card tokens are not personal data the customer can
    -- use; the application adds decrypted values where it exports through the API.
    SELECT json_build_object(
        'customer', (
            SELECT to_jsonb(c) - 'national_id_encrypted' - 'national_id_hash' - 'encryption_key_id'
            FROM motor.customers c
            WHERE c.id = customer_uuid
        ),
        'vehicles', (
            SELECT COALESCE(jsonb_agg(to_jsonb(cv) ORDER BY cv.created_at, cv.id), '[]'::jsonb)
            FROM motor.customer_vehicles cv
            WHERE cv.customer_id = customer_uuid
            AND cv.deleted_at IS NULL
        ),
        'policies', (
            SELECT COALESCE(jsonb_agg(to_jsonb(p) ORDER BY p.start_date, p.id), '[]'::jsonb)
            FROM motor.policies p
            WHERE p.customer_id = customer_uuid
            AND p.deleted_at IS NULL
        ),
        'claims', (
            SELECT COALESCE(jsonb_agg(to_jsonb(c) ORDER BY c.incident_date, c.id), '[]'::jsonb)
            FROM motor.claims c
            JOIN motor.policies p ON c.policy_id = p.id
            WHERE p.customer_id = customer_uuid
            AND c.deleted_at IS NULL
        ),
        'payments', (
            SELECT COALESCE(jsonb_agg(to_jsonb(pay) - 'card_token' - 'bank_account_number_encrypted'
                                      ORDER BY pay.created_at, pay.id), '[]'::jsonb)
            FROM motor.payments pay
            WHERE pay.customer_id = customer_uuid
        ),
        'documents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(d) - 'document_number_encrypted'
                                      ORDER BY d.uploaded_at, d.id), '[]'::jsonb)
            FROM motor.customer_documents d
            WHERE d.customer_id = customer_uuid
            AND d.deleted_at IS NULL
        ),
        'consents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(cr) ORDER BY cr.granted_at, cr.id), '[]'::jsonb)
            FROM motor.consent_records cr
            WHERE cr.customer_id = customer_uuid
        )
    ) INTO result;

    INSERT INTO audit.audit_log (table_name, record_id, operation, business_context, user_id,
                                 user_role, ip_address, user_agent, request_id)
    VALUES ('motor.customers', customer_uuid, 'EXPORT', 'DATA_PORTABILITY',
            COALESCE(NULLIF(current_setting('app.user_id', true), '')::uuid, customer_uuid),
            NULLIF(current_setting('app.user_role', true), ''),
            NULLIF(current_setting('app.ip_address', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), '')::uuid);

    RETURN result;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE OR REPLACE FUNCTION motor.anonymize_customer_data(customer_uuid UUID)
RETURNS BOOLEAN AS $$
DECLARE
    v_actor UUID := COALESCE(NULLIF(current_setting('app.user_id', true), '')::uuid,
                             customer_uuid);
    v_customer_keys TEXT[] := ARRAY['email', 'phone_number', 'national_id',
        'national_id_encrypted', 'national_id_hash', 'encryption_key_id', 'first_name',
        'last_name', 'first_name_en', 'last_name_en', 'date_of_birth', 'address'];
    v_document_keys TEXT[] := ARRAY['document_number', 'document_number_encrypted',
        'original_filename', 'rejection_reason'];
    v_consent_keys TEXT[] := ARRAY['ip_address', 'user_agent', 'evidence'];
BEGIN
    UPDATE motor.customers
    SET
        email = 'anonymized_' || id::text || '@deleted.local',
        phone_number = NULL,
        national_id = NULL,
        national_id_encrypted = NULL,
        national_id_hash = NULL,
        encryption_key_id = NULL,
        first_name = 'ANONYMIZED',
        last_name = 'DATA',
        first_name_en = 'ANONYMIZED',
        last_name_en = 'DATA',
        date_of_birth = NULL,
        address = NULL,
        marketing_consent = FALSE,
        sms_notifications = FALSE,
        email_notifications = FALSE,
        account_status = 'CLOSED',
        deleted_at = COALESCE(deleted_at, NOW()),
        deleted_by = COALESCE(deleted_by, v_actor)
    WHERE id = customer_uuid;
    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;

    -- Policies, claims and payments stay: they are financial records with their own
    -- retention. Vehicles keep their registration (the policies insure it).
    UPDATE motor.customer_vehicles
    SET chassis_number = 'ANONYMIZED'
    WHERE customer_id = customer_uuid;

    UPDATE motor.customer_documents
    SET document_number = NULL,
        document_number_encrypted = NULL,
        original_filename = 'ANONYMIZED',
        rejection_reason = NULL,
        deleted_at = COALESCE(deleted_at, NOW()),
        deleted_by = COALESCE(deleted_by, v_actor)
    WHERE customer_id = customer_uuid;

    UPDATE motor.consent_records
    SET ip_address = NULL,
        user_agent = NULL,
        evidence = NULL
    WHERE customer_id = customer_uuid;

    -- A stored card token could still charge the card; the payment row itself stays.
    UPDATE motor.payments
    SET card_token = NULL
    WHERE customer_id = customer_uuid AND card_token IS NOT NULL;

    -- The audit trail keeps who changed what and when, not the erased values.
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_customer_keys),
        new_values = motor.scrub_keys(new_values, v_customer_keys)
    WHERE table_name = 'motor.customers' AND record_id = customer_uuid;
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, ARRAY['chassis_number']),
        new_values = motor.scrub_keys(new_values, ARRAY['chassis_number'])
    WHERE table_name = 'motor.customer_vehicles'
      AND record_id IN (SELECT id FROM motor.customer_vehicles WHERE customer_id = customer_uuid);
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, ARRAY['card_token']),
        new_values = motor.scrub_keys(new_values, ARRAY['card_token'])
    WHERE table_name = 'motor.payments'
      AND record_id IN (SELECT id FROM motor.payments WHERE customer_id = customer_uuid);
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_document_keys),
        new_values = motor.scrub_keys(new_values, v_document_keys)
    WHERE table_name = 'motor.customer_documents'
      AND record_id IN (SELECT id FROM motor.customer_documents WHERE customer_id = customer_uuid);
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_consent_keys),
        new_values = motor.scrub_keys(new_values, v_consent_keys)
    WHERE table_name = 'motor.consent_records'
      AND record_id IN (SELECT id FROM motor.consent_records WHERE customer_id = customer_uuid);

    INSERT INTO audit.audit_log (table_name, record_id, operation, business_context, user_id,
                                 user_role, ip_address, user_agent, request_id)
    VALUES ('motor.customers', customer_uuid, 'ANONYMIZE', 'RIGHT_TO_ERASURE', v_actor,
            NULLIF(current_setting('app.user_role', true), ''),
            NULLIF(current_setting('app.ip_address', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), '')::uuid);

    RETURN TRUE;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

REVOKE ALL ON FUNCTION motor.export_customer_data(UUID) FROM PUBLIC;
REVOKE ALL ON FUNCTION motor.anonymize_customer_data(UUID) FROM PUBLIC;
REVOKE ALL ON FUNCTION motor.payment_registry_sync() FROM PUBLIC;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS motor.anonymize_customer_data(UUID);
DROP FUNCTION IF EXISTS motor.export_customer_data(UUID);
DROP FUNCTION IF EXISTS motor.scrub_keys(JSONB, TEXT[]);
DROP TABLE IF EXISTS motor.claim_settlements;
DROP TABLE IF EXISTS motor.payment_transactions;
DROP TABLE IF EXISTS motor.consent_records;
DROP TABLE IF EXISTS motor.customer_documents;
DROP TABLE IF EXISTS motor.payment_receipts;
DROP TABLE IF EXISTS motor.payments;
DROP TABLE IF EXISTS motor.payment_registry;
DROP FUNCTION IF EXISTS motor.payment_key_immutable();
DROP FUNCTION IF EXISTS motor.payment_registry_sync();
DROP TABLE IF EXISTS motor.claim_assessments;
DROP TABLE IF EXISTS motor.claim_documents;
DROP TABLE IF EXISTS motor.claims;
DROP TABLE IF EXISTS motor.policy_renewals;
DROP TABLE IF EXISTS motor.policy_documents;
DROP TABLE IF EXISTS motor.policies;
DROP TABLE IF EXISTS motor.dlt_verifications;
DROP TABLE IF EXISTS motor.customer_vehicles;
DROP TABLE IF EXISTS motor.customers;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
