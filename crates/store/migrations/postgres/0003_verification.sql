-- Web chat identity by one-time code (#3). Kept in step with sqlite/0003_verification.sql.

CREATE TABLE phone_verifications (
    tenant_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    phone_bidx bytea NOT NULL,
    phone_ct bytea NOT NULL,
    code_hash bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    expires_at bigint NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE verification_sends (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    phone_bidx bytea NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id)
);
CREATE INDEX verification_sends_phone ON verification_sends (tenant_id, phone_bidx, at);

ALTER TABLE conversations ADD COLUMN verified_patient_id uuid;
ALTER TABLE conversations ADD COLUMN verified_until bigint;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['phone_verifications', 'verification_sends']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
