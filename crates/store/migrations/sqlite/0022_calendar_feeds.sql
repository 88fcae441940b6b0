-- Calendar feeds (#11): a practitioner's or the whole clinic's appointments as an iCalendar
-- subscription URL. Kept in step with postgres/0022_calendar_feeds.sql.

-- Which clinic a feed token's public prefix belongs to: a directory like `api_key_routes`
-- (no secret, no clinic data). A calendar app's request is routed with it before any tenant
-- scope exists; the feed itself is read in that clinic's scope.
CREATE TABLE calendar_feed_routes (
    prefix TEXT PRIMARY KEY,
    tenant_id BLOB NOT NULL REFERENCES tenants (id)
) STRICT;

-- A feed: its URL holds `fdcal_<prefix>_<secret>`, shown once; only the SHA-256 of the
-- whole token is stored. `practitioner_id` NULL: every practitioner of the clinic.
-- `revoked_at` ends it at once. `last_used_at` is written at most once an hour.
CREATE TABLE calendar_feeds (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    prefix TEXT NOT NULL UNIQUE,
    secret_hash BLOB NOT NULL,
    practitioner_id BLOB,
    created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL,
    revoked_at INTEGER,
    last_used_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id)
) STRICT;
