-- Signed outbound webhooks (#10 part 3). Kept in step with sqlite/0019_webhooks.sql (which
-- explains each table).

CREATE TABLE webhook_endpoints (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    url_ct bytea NOT NULL,
    host text NOT NULL,
    events text NOT NULL,
    secret_ct bytea NOT NULL,
    previous_secret_ct bytea,
    previous_until bigint,
    active boolean NOT NULL DEFAULT true,
    created_at bigint NOT NULL,
    created_by text NOT NULL,
    disabled_at bigint,
    PRIMARY KEY (tenant_id, id)
);

CREATE TABLE webhook_deliveries (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    endpoint_id uuid NOT NULL,
    event_id text NOT NULL,
    event_type text NOT NULL,
    body bytea NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts integer NOT NULL DEFAULT 0,
    next_attempt_at bigint NOT NULL,
    lease_until bigint,
    leased_by text,
    last_status integer,
    last_error text,
    created_at bigint NOT NULL,
    delivered_at bigint,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
);

CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['webhook_endpoints', 'webhook_deliveries']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;

-- The workers' cross-tenant claim, as for `jobs` and `outbox` (0002): only inside a
-- transaction that sets `app.queue_claim`. The endpoint (URL, secrets) is then read in the
-- delivery's own tenant scope.
CREATE POLICY queue_claim ON webhook_deliveries USING (current_setting('app.queue_claim', true) = 'on');
