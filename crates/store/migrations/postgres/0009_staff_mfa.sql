-- The second factor of staff sign-in: TOTP and recovery codes. Kept in step with
-- sqlite/0009_staff_mfa.sql (which explains each column).

ALTER TABLE users ADD COLUMN totp_ct bytea;
ALTER TABLE users ADD COLUMN totp_enabled_at bigint;
ALTER TABLE users ADD COLUMN totp_last_step bigint;

ALTER TABLE staff_sessions ADD COLUMN mfa_at bigint;
ALTER TABLE staff_sessions ADD COLUMN mfa_failures integer NOT NULL DEFAULT 0;

CREATE TABLE recovery_codes (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    user_id uuid NOT NULL,
    code_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    used_at bigint,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['recovery_codes']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
