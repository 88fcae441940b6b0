-- Anomaly alerts (#12 item 4). Kept in step with sqlite/0026_security_alerts.sql (which
-- explains each table). Only new tables and an index: the previous release keeps working.

CREATE TABLE security_alerts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    kind text NOT NULL,
    subject text NOT NULL,
    details text NOT NULL,
    first_seen_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    occurrences bigint NOT NULL DEFAULT 1,
    closed_at bigint,
    acknowledged_at bigint,
    acknowledged_by text,
    emailed_at bigint,
    PRIMARY KEY (tenant_id, id)
);
CREATE UNIQUE INDEX security_alerts_open ON security_alerts (tenant_id, kind, subject) WHERE closed_at IS NULL;

CREATE TABLE security_events (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    kind text NOT NULL,
    subject text NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX security_events_window ON security_events (tenant_id, kind, subject, at);

CREATE TABLE api_key_networks (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    api_key_id uuid NOT NULL,
    network text NOT NULL,
    first_seen_at bigint NOT NULL,
    last_seen_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, api_key_id, network),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id)
);

CREATE INDEX audit_log_action_at ON audit_log (tenant_id, action, at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['security_alerts', 'security_events', 'api_key_networks']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
