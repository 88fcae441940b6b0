-- Anomaly alerts (#12 item 4). Kept in step with postgres/0026_security_alerts.sql.
-- Everything a detector needs to share between `serve` instances lives here, not in memory.

-- An alert: one row per episode of one kind about one subject (a staff member, an account's
-- blind index, an API key, a channel). `subject` holds ids or blind-index fragments, never
-- an email, a phone number or a raw IP address; `details` is JSON of counts and rule
-- parameters. An episode stays open (`closed_at` NULL) while it recurs: a repeat bumps
-- `occurrences` and `last_seen_at` instead of raising again. It closes when acknowledged, or
-- when the next occurrence comes after a quiet day (then that occurrence opens a new one).
CREATE TABLE security_alerts (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id BLOB NOT NULL,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    occurrences INTEGER NOT NULL DEFAULT 1,
    closed_at INTEGER,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    emailed_at INTEGER,
    PRIMARY KEY (tenant_id, id)
) STRICT;
-- At most one open episode per (kind, subject): raising is an upsert on this index, so two
-- instances seeing the same burst at once still make one alert.
CREATE UNIQUE INDEX security_alerts_open ON security_alerts (tenant_id, kind, subject) WHERE closed_at IS NULL;

-- Events counted in a sliding window (failed webhook signatures, failed second factors),
-- pruned as they age out of the longest window.
CREATE TABLE security_events (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    at INTEGER NOT NULL
) STRICT;
CREATE INDEX security_events_window ON security_events (tenant_id, kind, subject, at);

-- The networks (an IPv4 /24 or IPv6 /48, never the address itself) each API key was used
-- from, `last_seen_at` written at most once an hour.
CREATE TABLE api_key_networks (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    api_key_id BLOB NOT NULL,
    network TEXT NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, api_key_id, network),
    FOREIGN KEY (tenant_id, api_key_id) REFERENCES api_keys (tenant_id, id)
) STRICT;

-- The record-reads detector counts `patient.viewed` per staff member and hour.
CREATE INDEX audit_log_action_at ON audit_log (tenant_id, action, at);
