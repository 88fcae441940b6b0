-- Signed outbound webhooks (#10 part 3). Kept in step with postgres/0019_webhooks.sql.

-- A clinic's destination for events. The URL is sealed with the clinic's data key (it may
-- carry a token in its path or query); `host` is kept in clear for display and logs only.
-- `events` are wire names separated by spaces. The signing secret is sealed; after a
-- rotation the previous one stays (sealed) until `previous_until`, and is signed with too.
-- At most ten active endpoints per clinic, enforced by the store in the creating transaction.
CREATE TABLE webhook_endpoints (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    url_ct BLOB NOT NULL,
    host TEXT NOT NULL,
    events TEXT NOT NULL,
    secret_ct BLOB NOT NULL,
    previous_secret_ct BLOB,
    previous_until INTEGER,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    disabled_at INTEGER,
    PRIMARY KEY (tenant_id, id)
) STRICT;

-- One event to deliver to one endpoint. `body` is the exact envelope sent on every attempt
-- (ids only, no personal data), so that retries carry the same bytes. A worker leases a due
-- row (`lease_until`, `leased_by`) and settles it under that lease. `last_error` is a short
-- code, never a URL or a body.
CREATE TABLE webhook_deliveries (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    endpoint_id BLOB NOT NULL,
    event_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    body BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'dead')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    lease_until INTEGER,
    leased_by TEXT,
    last_status INTEGER,
    last_error TEXT,
    created_at INTEGER NOT NULL,
    delivered_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, endpoint_id, event_id),
    FOREIGN KEY (tenant_id, endpoint_id) REFERENCES webhook_endpoints (tenant_id, id)
) STRICT;

-- The workers' claim: pending rows by due time.
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at) WHERE status = 'pending';
