"""Audit trail made append-only; PDPA (motor) and UU PDP (health) export and anonymisation.

- `audit.protect_audit_log()` refuses UPDATE, DELETE and TRUNCATE on audit.audit_log for
  everyone, the owner included, unless a documented maintenance setting is on in the
  transaction (decision 0059): `polis.audit_maintenance = on` (any change, operators only),
  `polis.audit_scrub = on` (an UPDATE that only nulls values of the row images, what the
  anonymisation functions do) or `app.partition_move = on` (a DELETE of create_range_partition
  moving strays out of the DEFAULT partition). Partition DETACH and DROP (archiving) are DDL
  and fire no trigger; they need the table owner.
- UPDATE, DELETE and TRUNCATE on the audit tables are revoked from every role but the owner;
  `audit.grant_append_only(role)` gives an application role SELECT and INSERT only.
- motor.export_customer_data adds policy and claim document metadata and receipts;
  motor.anonymize_customer_data also clears the customer's settlement payee and bank account
  details, and scrubs the audit rows under `polis.audit_scrub`.
- member.export_member_data / member.anonymize_member_data: the same for health members.

Revision ID: 0020_audit_pdpa
Revises: 0019_iam_security
Create Date: 2026-11-23
"""

from alembic import op

revision = "0020_audit_pdpa"
down_revision = "0019_iam_security"
branch_labels = None
depends_on = None

UPGRADE = r"""
-- ============================================================================ append-only audit
CREATE OR REPLACE FUNCTION audit.protect_audit_log() RETURNS TRIGGER AS $$
DECLARE
    v_ok BOOLEAN := FALSE;
BEGIN
    IF current_setting('polis.audit_maintenance', true) = 'on' THEN
        v_ok := TRUE;
    ELSIF TG_LEVEL = 'ROW' AND TG_OP = 'DELETE'
          AND current_setting('app.partition_move', true) = 'on' THEN
        v_ok := TRUE;  -- create_range_partition moves the row into its new partition
    ELSIF TG_LEVEL = 'ROW' AND TG_OP = 'UPDATE'
          AND current_setting('polis.audit_scrub', true) = 'on' THEN
        -- Only the row images may change, and only by values replaced with null.
        v_ok := (OLD.id, OLD.table_name, OLD.record_id, OLD.operation, OLD.changed_fields,
                 OLD.user_id, OLD.user_role, OLD.ip_address, OLD.user_agent,
                 OLD.business_context, OLD.request_id, OLD.timestamp)
                IS NOT DISTINCT FROM
                (NEW.id, NEW.table_name, NEW.record_id, NEW.operation, NEW.changed_fields,
                 NEW.user_id, NEW.user_role, NEW.ip_address, NEW.user_agent,
                 NEW.business_context, NEW.request_id, NEW.timestamp)
            AND audit.only_nulled(OLD.old_values, NEW.old_values)
            AND audit.only_nulled(OLD.new_values, NEW.new_values);
    END IF;
    IF NOT v_ok THEN
        RAISE EXCEPTION 'audit.audit_log is append-only: % refused', TG_OP
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Archive whole partitions (DETACH / DROP); see decision 0059.';
    END IF;
    IF TG_LEVEL = 'STATEMENT' THEN
        RETURN NULL;
    END IF;
    RETURN COALESCE(NEW, OLD);
END;
$$ LANGUAGE plpgsql SET search_path = pg_catalog, public;

-- Whether `b` is `a` with some values replaced by JSON null (same keys, nothing else changed).
CREATE OR REPLACE FUNCTION audit.only_nulled(a JSONB, b JSONB) RETURNS BOOLEAN AS $$
    SELECT a IS NOT DISTINCT FROM b
        OR (jsonb_typeof(a) = 'object' AND jsonb_typeof(b) = 'object'
            AND NOT EXISTS (SELECT 1 FROM jsonb_each(b) e
                             WHERE NOT (a ? e.key)
                                OR (e.value <> 'null'::jsonb AND e.value <> a -> e.key))
            AND NOT EXISTS (SELECT 1 FROM jsonb_object_keys(a) k WHERE NOT (b ? k)));
$$ LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, public;

-- Row triggers on the partitioned table are cloned to every partition, present and future.
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit.audit_log
    FOR EACH ROW EXECUTE FUNCTION audit.protect_audit_log();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit.audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit.protect_audit_log();

DO $$
DECLARE
    r RECORD;
BEGIN
    FOR r IN
        SELECT DISTINCT c.oid::regclass AS tbl, a.grantee
          FROM pg_class c
          JOIN pg_namespace n ON n.oid = c.relnamespace
          CROSS JOIN LATERAL aclexplode(c.relacl) a
         WHERE n.nspname = 'audit' AND c.relkind IN ('r', 'p')
           AND a.privilege_type IN ('UPDATE', 'DELETE', 'TRUNCATE')
           AND a.grantee <> c.relowner
    LOOP
        IF r.grantee = 0 THEN
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM PUBLIC', r.tbl);
        ELSE
            EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON %s FROM %I',
                           r.tbl, r.grantee::regrole::text);
        END IF;
    END LOOP;
END
$$;

-- What an application role gets on the audit schema: read and append, nothing else.
CREATE OR REPLACE FUNCTION audit.grant_append_only(p_role REGROLE) RETURNS VOID AS $$
BEGIN
    EXECUTE format('GRANT USAGE ON SCHEMA audit TO %s', p_role);
    EXECUTE format('GRANT SELECT, INSERT ON ALL TABLES IN SCHEMA audit TO %s', p_role);
    EXECUTE format('GRANT USAGE ON ALL SEQUENCES IN SCHEMA audit TO %s', p_role);
    EXECUTE format('REVOKE UPDATE, DELETE, TRUNCATE ON ALL TABLES IN SCHEMA audit FROM %s',
                   p_role);
END;
$$ LANGUAGE plpgsql SET search_path = pg_catalog, public;
REVOKE ALL ON FUNCTION audit.grant_append_only(REGROLE) FROM PUBLIC;

-- ============================================================================ motor (PDPA)
CREATE OR REPLACE FUNCTION motor.export_customer_data(customer_uuid UUID)
RETURNS JSON AS $$
DECLARE
    result JSON;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM motor.customers WHERE id = customer_uuid) THEN
        RAISE EXCEPTION 'customer % not found', customer_uuid USING ERRCODE = 'no_data_found';
    END IF;

    -- Ciphertexts, blind indexes, card tokens and storage paths are left out; the
    -- application adds the decrypted national id.
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
        'policy_documents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(d) - 'file_path'
                                      ORDER BY d.generated_at, d.id), '[]'::jsonb)
            FROM motor.policy_documents d
            JOIN motor.policies p ON p.id = d.policy_id
            WHERE p.customer_id = customer_uuid
        ),
        'claims', (
            SELECT COALESCE(jsonb_agg(to_jsonb(c) - 'search_vector'
                                      ORDER BY c.incident_date, c.id), '[]'::jsonb)
            FROM motor.claims c
            JOIN motor.policies p ON c.policy_id = p.id
            WHERE p.customer_id = customer_uuid
            AND c.deleted_at IS NULL
        ),
        'claim_documents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(d) - 'file_path' - 'extracted_text'
                                      ORDER BY d.id), '[]'::jsonb)
            FROM motor.claim_documents d
            JOIN motor.claims c ON c.id = d.claim_id
            JOIN motor.policies p ON p.id = c.policy_id
            WHERE p.customer_id = customer_uuid
        ),
        'settlements', (
            SELECT COALESCE(jsonb_agg(to_jsonb(s) - 'bank_account_number_encrypted'
                                      ORDER BY s.created_at, s.id), '[]'::jsonb)
            FROM motor.claim_settlements s
            JOIN motor.claims c ON c.id = s.claim_id
            JOIN motor.policies p ON p.id = c.policy_id
            WHERE p.customer_id = customer_uuid AND s.payee_type = 'CUSTOMER'
        ),
        'payments', (
            SELECT COALESCE(jsonb_agg(to_jsonb(pay) - 'card_token' - 'bank_account_number_encrypted'
                                      ORDER BY pay.created_at, pay.id), '[]'::jsonb)
            FROM motor.payments pay
            WHERE pay.customer_id = customer_uuid
        ),
        'receipts', (
            SELECT COALESCE(jsonb_agg(to_jsonb(r) - 'file_path'
                                      ORDER BY r.issued_date, r.id), '[]'::jsonb)
            FROM motor.payment_receipts r
            JOIN motor.payments pay ON pay.id = r.payment_id
            WHERE pay.customer_id = customer_uuid
        ),
        'documents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(d) - 'document_number_encrypted' - 'file_path'
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
    v_scrub TEXT := current_setting('polis.audit_scrub', true);
    v_customer_keys TEXT[] := ARRAY['email', 'phone_number', 'national_id',
        'national_id_encrypted', 'national_id_hash', 'encryption_key_id', 'first_name',
        'last_name', 'first_name_en', 'last_name_en', 'date_of_birth', 'address'];
    v_document_keys TEXT[] := ARRAY['document_number', 'document_number_encrypted',
        'original_filename', 'rejection_reason'];
    v_consent_keys TEXT[] := ARRAY['ip_address', 'user_agent', 'evidence'];
    v_payment_keys TEXT[] := ARRAY['card_token', 'bank_account_number',
        'bank_account_number_encrypted'];
    v_settlement_keys TEXT[] := ARRAY['payee_name', 'bank_account_name', 'bank_account_number',
        'bank_account_number_encrypted'];
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

    -- A stored card token could still charge the card; the payment row and amounts stay.
    UPDATE motor.payments
    SET card_token = NULL, bank_account_number = NULL, bank_account_number_encrypted = NULL
    WHERE customer_id = customer_uuid
      AND (card_token IS NOT NULL OR bank_account_number IS NOT NULL
           OR bank_account_number_encrypted IS NOT NULL);

    -- Settlements paid to the customer keep their amounts, not the payee's name and account.
    UPDATE motor.claim_settlements s
    SET payee_name = 'ANONYMIZED', bank_account_name = NULL, bank_account_number = NULL,
        bank_account_number_encrypted = NULL
    FROM motor.claims c JOIN motor.policies p ON p.id = c.policy_id
    WHERE s.claim_id = c.id AND p.customer_id = customer_uuid AND s.payee_type = 'CUSTOMER';

    -- The audit trail keeps who changed what and when, not the erased values. These are the
    -- only updates audit.audit_log lets through (polis.audit_scrub: values nulled, decision 0059).
    PERFORM set_config('polis.audit_scrub', 'on', true);
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
    SET old_values = motor.scrub_keys(old_values, v_payment_keys),
        new_values = motor.scrub_keys(new_values, v_payment_keys)
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
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_settlement_keys),
        new_values = motor.scrub_keys(new_values, v_settlement_keys)
    WHERE table_name = 'motor.claim_settlements'
      AND record_id IN (SELECT s.id FROM motor.claim_settlements s
                          JOIN motor.claims c ON c.id = s.claim_id
                          JOIN motor.policies p ON p.id = c.policy_id
                         WHERE p.customer_id = customer_uuid AND s.payee_type = 'CUSTOMER');
    PERFORM set_config('polis.audit_scrub', COALESCE(v_scrub, ''), true);

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

-- ============================================================================ health (UU PDP)
CREATE OR REPLACE FUNCTION member.export_member_data(member_uuid UUID)
RETURNS JSON AS $$
DECLARE
    result JSON;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM member.member WHERE id = member_uuid) THEN
        RAISE EXCEPTION 'member % not found', member_uuid USING ERRCODE = 'no_data_found';
    END IF;

    SELECT json_build_object(
        'member', (
            SELECT to_jsonb(m) - 'national_id_encrypted' - 'national_id_hash'
                   - 'passport_number_encrypted' - 'passport_number_hash' - 'encryption_key_id'
            FROM member.member m WHERE m.id = member_uuid
        ),
        'coverages', (
            SELECT COALESCE(jsonb_agg(to_jsonb(mc)
                                      || jsonb_build_object('plan_code', pl.plan_code,
                                                            'policy_number', po.policy_number)
                                      ORDER BY mc.coverage_start_date, mc.id), '[]'::jsonb)
            FROM member.member_coverage mc
            JOIN benefit.plan pl ON pl.id = mc.plan_id
            JOIN policy.policy po ON po.id = mc.policy_id
            WHERE mc.member_id = member_uuid
        ),
        'claims', (
            SELECT COALESCE(jsonb_agg(to_jsonb(c) || jsonb_build_object('items', (
                        SELECT COALESCE(jsonb_agg(to_jsonb(i) ORDER BY i.created_at, i.id),
                                        '[]'::jsonb)
                        FROM claims.claim_item i WHERE i.claim_id = c.id))
                    ORDER BY c.service_date, c.id), '[]'::jsonb)
            FROM claims.claim c WHERE c.member_id = member_uuid
        ),
        'authorizations', (
            SELECT COALESCE(jsonb_agg(to_jsonb(a) ORDER BY a.created_at, a.id), '[]'::jsonb)
            FROM claims.authorization a WHERE a.member_id = member_uuid
        ),
        'eobs', (
            SELECT COALESCE(jsonb_agg(to_jsonb(e) ORDER BY e.generated_date, e.id), '[]'::jsonb)
            FROM billing.eob e WHERE e.member_id = member_uuid
        ),
        'payments', (
            SELECT COALESCE(jsonb_agg(
                       CASE WHEN p.payee_type = 'member'
                            THEN to_jsonb(p) - 'account_number_encrypted' - 'encryption_key_id'
                            ELSE to_jsonb(p) - 'account_number_encrypted' - 'encryption_key_id'
                                 - 'account_number' - 'bank_name'
                       END ORDER BY p.created_at, p.id), '[]'::jsonb)
            FROM billing.payment p
            WHERE p.claim_id IN (SELECT c.id FROM claims.claim c WHERE c.member_id = member_uuid)
               OR (p.payee_type = 'member' AND p.payee_id = member_uuid)
        ),
        'documents', (
            SELECT COALESCE(jsonb_agg(to_jsonb(d) - 'file_path' ORDER BY d.uploaded_at, d.id),
                            '[]'::jsonb)
            FROM claims.claim_document d
            WHERE d.claim_id IN (SELECT c.id FROM claims.claim c WHERE c.member_id = member_uuid)
        )
    ) INTO result;

    INSERT INTO audit.audit_log (table_name, record_id, operation, business_context, user_id,
                                 user_role, ip_address, user_agent, request_id)
    VALUES ('member.member', member_uuid, 'EXPORT', 'DATA_PORTABILITY',
            NULLIF(current_setting('app.user_id', true), '')::uuid,
            NULLIF(current_setting('app.user_role', true), ''),
            NULLIF(current_setting('app.ip_address', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), '')::uuid);

    RETURN result;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

CREATE OR REPLACE FUNCTION member.anonymize_member_data(member_uuid UUID)
RETURNS BOOLEAN AS $$
DECLARE
    v_scrub TEXT := current_setting('polis.audit_scrub', true);
    v_member_keys TEXT[] := ARRAY['member_number', 'first_name', 'last_name', 'birth_date',
        'national_id', 'passport_number', 'national_id_encrypted', 'national_id_hash',
        'passport_number_encrypted', 'passport_number_hash', 'encryption_key_id', 'email',
        'phone', 'address_line1', 'address_line2', 'city', 'province', 'postal_code'];
    v_payment_keys TEXT[] := ARRAY['bank_name', 'account_number', 'account_number_encrypted',
        'encryption_key_id'];
BEGIN
    -- Birth date kept to the year (age still counts for benefits); everything else blanked.
    UPDATE member.member
    SET member_number = 'ANON-' || replace(id::text, '-', ''),
        first_name = 'ANONYMIZED',
        last_name = 'DATA',
        birth_date = make_date(EXTRACT(YEAR FROM birth_date)::int, 1, 1),
        national_id = NULL,
        passport_number = NULL,
        national_id_encrypted = NULL,
        national_id_hash = NULL,
        passport_number_encrypted = NULL,
        passport_number_hash = NULL,
        encryption_key_id = NULL,
        email = NULL,
        phone = NULL,
        address_line1 = NULL,
        address_line2 = NULL,
        city = NULL,
        province = NULL,
        postal_code = NULL
    WHERE id = member_uuid;
    IF NOT FOUND THEN
        RETURN FALSE;
    END IF;

    -- Claims, EOBs and payments stay with their amounts; a payment to the member loses the
    -- member's bank account, a claim document its file name (files are purged by storage).
    UPDATE billing.payment
    SET bank_name = NULL, account_number = NULL, account_number_encrypted = NULL,
        encryption_key_id = NULL
    WHERE payee_type = 'member' AND payee_id = member_uuid;
    UPDATE claims.claim_document
    SET file_name = 'ANONYMIZED'
    WHERE claim_id IN (SELECT c.id FROM claims.claim c WHERE c.member_id = member_uuid);

    PERFORM set_config('polis.audit_scrub', 'on', true);
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_member_keys),
        new_values = motor.scrub_keys(new_values, v_member_keys)
    WHERE table_name = 'member.member' AND record_id = member_uuid;
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, v_payment_keys),
        new_values = motor.scrub_keys(new_values, v_payment_keys)
    WHERE table_name = 'billing.payment'
      AND record_id IN (SELECT id FROM billing.payment
                         WHERE payee_type = 'member' AND payee_id = member_uuid);
    UPDATE audit.audit_log
    SET old_values = motor.scrub_keys(old_values, ARRAY['file_name']),
        new_values = motor.scrub_keys(new_values, ARRAY['file_name'])
    WHERE table_name = 'claims.claim_document'
      AND record_id IN (SELECT d.id FROM claims.claim_document d
                          JOIN claims.claim c ON c.id = d.claim_id
                         WHERE c.member_id = member_uuid);
    PERFORM set_config('polis.audit_scrub', COALESCE(v_scrub, ''), true);

    INSERT INTO audit.audit_log (table_name, record_id, operation, business_context, user_id,
                                 user_role, ip_address, user_agent, request_id)
    VALUES ('member.member', member_uuid, 'ANONYMIZE', 'RIGHT_TO_ERASURE',
            NULLIF(current_setting('app.user_id', true), '')::uuid,
            NULLIF(current_setting('app.user_role', true), ''),
            NULLIF(current_setting('app.ip_address', true), '')::inet,
            NULLIF(current_setting('app.user_agent', true), ''),
            NULLIF(current_setting('app.request_id', true), '')::uuid);

    RETURN TRUE;
END;
$$ LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, public;

REVOKE ALL ON FUNCTION member.export_member_data(UUID) FROM PUBLIC;
REVOKE ALL ON FUNCTION member.anonymize_member_data(UUID) FROM PUBLIC;
"""

DOWNGRADE = r"""
DROP FUNCTION IF EXISTS member.anonymize_member_data(UUID);
DROP FUNCTION IF EXISTS member.export_member_data(UUID);
DROP FUNCTION IF EXISTS audit.grant_append_only(REGROLE);
DROP TRIGGER IF EXISTS audit_log_no_truncate ON audit.audit_log;
DROP TRIGGER IF EXISTS audit_log_append_only ON audit.audit_log;
DROP FUNCTION IF EXISTS audit.protect_audit_log();
DROP FUNCTION IF EXISTS audit.only_nulled(JSONB, JSONB);
"""


def _motor_pdpa_0005() -> str:
    """The 0005 definitions of the two motor functions (what downgrade restores)."""
    import importlib

    text: str = importlib.import_module("polis.migrations.versions.0005_motor").UPGRADE
    start = text.index("CREATE OR REPLACE FUNCTION motor.export_customer_data")
    end = text.index("REVOKE ALL ON FUNCTION motor.export_customer_data")
    return text[start:end]


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
    op.execute(_motor_pdpa_0005())
