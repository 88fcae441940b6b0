-- The second factor of staff sign-in: TOTP and recovery codes. Kept in step with
-- postgres/0009_staff_mfa.sql.

-- The TOTP secret, sealed with the clinic's data key (bound to the user's row). Pending
-- (set, not enabled) between "set up" and the first correct code. `totp_last_step` refuses
-- a code already used.
ALTER TABLE users ADD COLUMN totp_ct BLOB;
ALTER TABLE users ADD COLUMN totp_enabled_at INTEGER;
ALTER TABLE users ADD COLUMN totp_last_step INTEGER;

-- When the session passed the second factor, and how many wrong codes it has sent (the
-- session ends after five).
ALTER TABLE staff_sessions ADD COLUMN mfa_at INTEGER;
ALTER TABLE staff_sessions ADD COLUMN mfa_failures INTEGER NOT NULL DEFAULT 0;

-- One-time recovery codes, stored as SHA-256 hashes.
CREATE TABLE recovery_codes (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    user_id BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    used_at INTEGER,
    PRIMARY KEY (tenant_id, user_id, code_hash),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE
) STRICT;
