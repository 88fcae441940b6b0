-- Payments (#11). Kept in step with sqlite/0023_payments.sql (which explains each table).

CREATE TABLE payment_settings (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    provider text NOT NULL CHECK (provider IN ('stripe', 'mpesa')),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL,
    config text NOT NULL,
    secrets_ct bytea NOT NULL,
    enabled boolean NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);

CREATE TABLE payments (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    appointment_id uuid NOT NULL,
    conversation_id uuid,
    channel text NOT NULL,
    patient_id uuid NOT NULL,
    provider text NOT NULL CHECK (provider IN ('stripe', 'mpesa')),
    amount_minor bigint NOT NULL CHECK (amount_minor > 0),
    currency text NOT NULL,
    status text NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'cancelled', 'expired')),
    reference text,
    receipt text,
    callback_hash bytea,
    reason text,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    settled_at bigint,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (provider, reference),
    FOREIGN KEY (tenant_id, appointment_id) REFERENCES appointments (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX payments_appointment ON payments (tenant_id, appointment_id);
CREATE INDEX payments_conversation ON payments (tenant_id, conversation_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['payment_settings', 'payments']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
