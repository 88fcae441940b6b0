-- Staff sign-in: emailed sign-in links, their rate limit, and dashboard sessions.
-- Kept in step with postgres/0008_staff_auth.sql.

-- A sign-in link. Only the SHA-256 of its random token is stored, and the SHA-256 of the
-- random value of the cookie set in the browser that asked for it (the link works only there).
-- Single use: `used_at` is set in the transaction that opens the session.
CREATE TABLE login_links (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    token_hash BLOB NOT NULL,
    user_id BLOB NOT NULL,
    browser_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (tenant_id, token_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Every sign-in request, known address or not (so the rate limit itself reveals nothing):
-- the blind index of the address typed and a keyed hash of the client's IP address.
CREATE TABLE login_requests (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    at INTEGER NOT NULL,
    email_bidx BLOB NOT NULL,
    ip_bidx BLOB NOT NULL
) STRICT;
CREATE INDEX login_requests_email ON login_requests (tenant_id, email_bidx, at);
CREATE INDEX login_requests_ip ON login_requests (tenant_id, ip_bidx, at);

-- A dashboard session. The cookie holds the tenant id and a random 256-bit secret; only the
-- secret's SHA-256 is stored. Ends at `expires_at` (absolute), after `idle_secs` without a
-- request, when revoked (logout, logout everywhere), or when its user is disabled or changes
-- role (the rows are deleted).
CREATE TABLE staff_sessions (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    id_hash BLOB NOT NULL,
    user_id BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    idle_secs INTEGER NOT NULL CHECK (idle_secs > 0),
    expires_at INTEGER NOT NULL,
    revoked_at INTEGER,
    PRIMARY KEY (tenant_id, id_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX staff_sessions_user ON staff_sessions (tenant_id, user_id);
