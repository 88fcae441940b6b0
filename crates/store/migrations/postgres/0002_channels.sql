-- Messaging channels (#4): provider accounts, consent, and the columns the outbox needs.
-- Kept in step with sqlite/0002_channels.sql.

-- Which provider address belongs to which clinic. A directory like `tenants` (no clinic data,
-- no secrets, no RLS): a webhook is routed with it before any tenant scope exists.
CREATE TABLE channel_routes (
    provider text NOT NULL CHECK (provider IN ('whatsapp', 'twilio', 'africastalking')),
    address text NOT NULL,
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    PRIMARY KEY (provider, address)
);

CREATE TABLE channel_accounts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    provider text NOT NULL CHECK (provider IN ('whatsapp', 'twilio', 'africastalking')),
    address text NOT NULL,
    config text NOT NULL,
    secrets_ct bytea NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, provider)
);

CREATE TABLE channel_consents (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    channel text NOT NULL CHECK (channel IN ('whatsapp', 'sms')),
    phone_bidx bytea NOT NULL,
    status text NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
    source text NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, channel, phone_bidx)
);

ALTER TABLE outbox ADD COLUMN purpose text NOT NULL DEFAULT 'reply'
    CHECK (purpose IN ('reply', 'optout_confirmation', 'notice', 'reminder', 'follow_up'));
ALTER TABLE outbox ADD COLUMN locked_by text;
CREATE INDEX outbox_provider_id ON outbox (tenant_id, channel, provider_message_id);
CREATE INDEX jobs_claim ON jobs (status, run_at, lease_until);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['channel_accounts', 'channel_consents']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;

-- Workers claim due jobs and outbox rows of every clinic in one query. That claim (and only
-- that) runs in a transaction that sets `app.queue_claim`; it sees the queue columns of any
-- tenant's rows. Everything a claimed row leads to runs in that row's own tenant scope.
CREATE POLICY queue_claim ON jobs USING (current_setting('app.queue_claim', true) = 'on');
CREATE POLICY queue_claim ON outbox USING (current_setting('app.queue_claim', true) = 'on');
