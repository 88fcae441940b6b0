-- Staff sign-in: emailed sign-in links, their rate limit, and dashboard sessions.
-- Kept in step with sqlite/0008_staff_auth.sql (which explains each table).

CREATE TABLE login_links (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    token_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    browser_hash bytea NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);

CREATE TABLE login_requests (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    at bigint NOT NULL,
    email_bidx bytea NOT NULL,
    ip_bidx bytea NOT NULL
);
CREATE INDEX login_requests_email ON login_requests (tenant_id, email_bidx, at);
CREATE INDEX login_requests_ip ON login_requests (tenant_id, ip_bidx, at);

CREATE TABLE staff_sessions (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id_hash bytea NOT NULL,
    user_id uuid NOT NULL,
    created_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    idle_secs integer NOT NULL CHECK (idle_secs > 0),
    expires_at bigint NOT NULL,
    revoked_at bigint,
    PRIMARY KEY (tenant_id, id_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX staff_sessions_user ON staff_sessions (tenant_id, user_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['login_links', 'login_requests', 'staff_sessions']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
