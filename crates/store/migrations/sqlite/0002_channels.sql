-- Messaging channels (#4): provider accounts, consent, and the columns the outbox needs.
-- Kept in step with postgres/0002_channels.sql.

-- Which provider address belongs to which clinic: WhatsApp phone_number_id, a Twilio number or
-- Messaging Service, an Africa's Talking short code. A directory like `tenants` (no clinic
-- data, no secrets): a webhook is routed with it before any tenant scope exists.
CREATE TABLE channel_routes (
    provider TEXT NOT NULL CHECK (provider IN ('whatsapp', 'twilio', 'africastalking')),
    address TEXT NOT NULL,
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    PRIMARY KEY (provider, address)
) STRICT;

-- A clinic's account with a provider. `config` is non-secret JSON (account sid, sender id…);
-- `secrets_ct` is JSON of the secrets sealed with the tenant data key (write-only: the API and
-- the CLI never return it).
CREATE TABLE channel_accounts (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    provider TEXT NOT NULL CHECK (provider IN ('whatsapp', 'twilio', 'africastalking')),
    address TEXT NOT NULL,
    config TEXT NOT NULL,
    secrets_ct BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, provider)
) STRICT;

-- Opt-in / opt-out per phone and channel, found by the phone's blind index.
CREATE TABLE channel_consents (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    channel TEXT NOT NULL CHECK (channel IN ('whatsapp', 'sms')),
    phone_bidx BLOB NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('opted_in', 'opted_out')),
    source TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, channel, phone_bidx)
) STRICT;

-- What an outbox row is for: only an opt-out confirmation may go to an opted-out number.
ALTER TABLE outbox ADD COLUMN purpose TEXT NOT NULL DEFAULT 'reply'
    CHECK (purpose IN ('reply', 'optout_confirmation', 'notice', 'reminder', 'follow_up'));
ALTER TABLE outbox ADD COLUMN locked_by TEXT;
CREATE INDEX outbox_provider_id ON outbox (tenant_id, channel, provider_message_id);
CREATE INDEX jobs_claim ON jobs (status, run_at, lease_until);
