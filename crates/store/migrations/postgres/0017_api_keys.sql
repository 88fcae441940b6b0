-- API keys of the public REST API (#10). Kept in step with sqlite/0017_api_keys.sql (which
-- explains each table).

-- A directory (no secret, no clinic data, no RLS): routes a key's prefix to its clinic.
CREATE TABLE api_key_routes (
    prefix text PRIMARY KEY,
    tenant_id uuid NOT NULL REFERENCES tenants (id)
);

CREATE TABLE api_keys (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    prefix text NOT NULL UNIQUE,
    name text NOT NULL,
    secret_hash bytea NOT NULL,
    scopes text NOT NULL,
    rate_per_minute integer NOT NULL CHECK (rate_per_minute > 0),
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    expires_at bigint,
    revoked_at bigint,
    replaced_by uuid,
    last_used_at bigint,
    window_start bigint NOT NULL DEFAULT 0,
    window_count integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['api_keys']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
