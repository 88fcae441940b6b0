-- The end of a clinic (#8 item 2). Kept in step with postgres/0015_tenant_end.sql.
--
-- A terminated clinic is kept for a hold (default 30 days, for its export), then purged:
-- every row of it deleted, its keys included, and its `tenants` row kept as a tombstone with
-- status `purged` (`purging` while the purge is under way: nothing of it can be read then).
-- SQLite cannot change a CHECK constraint in place, so `tenants` is rebuilt; the migration
-- runner turns foreign keys off for the rebuild and checks them all before committing.
CREATE TABLE tenants_new (
    id BLOB PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'suspended', 'terminated', 'purging', 'purged')),
    created_at INTEGER NOT NULL,
    terminated_at INTEGER,
    purged_at INTEGER
) STRICT;

INSERT INTO tenants_new (id, slug, status, created_at, terminated_at)
    SELECT id, slug, status, created_at, terminated_at FROM tenants;

DROP TABLE tenants;

ALTER TABLE tenants_new RENAME TO tenants;

-- A purged clinic's deletion certificate: what was deleted and when (ids, counts, key ids,
-- the last audit chain head), as the canonical JSON `body` and its SHA-256 (hex). Operator
-- level like `tenants`: it outlives the clinic's own data, which is all gone.
CREATE TABLE deletion_certificates (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    slug TEXT NOT NULL,
    purged_at INTEGER NOT NULL,
    body TEXT NOT NULL,
    sha256 TEXT NOT NULL
) STRICT;
