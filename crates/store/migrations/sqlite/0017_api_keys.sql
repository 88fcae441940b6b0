-- API keys of the public REST API (#10). Kept in step with postgres/0017_api_keys.sql.

-- Which clinic an API key's public prefix belongs to. A directory like `tenants` and
-- `channel_routes` (no secret, no clinic data): a request is routed with it before any tenant
-- scope exists; everything else about the key is read in that clinic's scope.
CREATE TABLE api_key_routes (
    prefix TEXT PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants (id)
) STRICT;

-- A key: `fdk_<prefix>_<secret>`, shown once; only the SHA-256 of the whole key is stored.
-- `expires_at` is set when the key is rotated (the end of its overlap with its successor,
-- `replaced_by`); `revoked_at` ends it at once. `window_start` / `window_count` are its rate
-- limit (requests in the current minute), kept here so that every instance shares them.
CREATE TABLE api_keys (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    secret_hash BLOB NOT NULL,
    scopes TEXT NOT NULL,
    rate_per_minute INTEGER NOT NULL CHECK (rate_per_minute > 0),
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    expires_at INTEGER,
    revoked_at INTEGER,
    replaced_by BLOB,
    last_used_at INTEGER,
    window_start INTEGER NOT NULL DEFAULT 0,
    window_count INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, id)
) STRICT;
