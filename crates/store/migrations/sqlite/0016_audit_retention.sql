-- Audit log retention (#8 item 2). Entries older than the clinic's audit retention are
-- purged from the start of the chain, a prefix at a time. The head row keeps where the kept
-- chain starts: the seq and hash of the last purged entry, which the first kept entry's
-- prev_hash must equal. Every purge is itself an `audit.purged` entry naming that seq and
-- hash, so a floor moved without one shows up as a break.
ALTER TABLE audit_heads ADD COLUMN floor_seq INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_heads ADD COLUMN floor_hash BLOB;
