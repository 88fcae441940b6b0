-- Coordination between several `serve` instances on one database (#12 item 1). Kept in step
-- with postgres/0021_coordination.sql. Only new tables: the previous release keeps working
-- on a database migrated to this one (see docs/DEPLOY.md, "Rolling restarts").

-- Each clinic's outbound send rate, shared by every instance (see `crate::coordination`):
-- `tat` (microseconds) is when the clinic's bucket is full again; `granted` is what the last
-- take decided, written by the same upsert that moves `tat`, so its RETURNING tells the
-- caller. No personal data.
CREATE TABLE outbound_rates (
    tenant_id BLOB PRIMARY KEY REFERENCES tenants (id),
    tat INTEGER NOT NULL,
    granted INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

-- Daily maintenance passes, claimed by name so that one instance runs each: `holder` holds
-- it until `leased_until` (another instance takes over once that has passed), `last_done_at`
-- is when it last completed and `runs` how many times it has. Operator level, no clinic data.
CREATE TABLE maintenance_runs (
    name TEXT PRIMARY KEY,
    holder TEXT,
    leased_until INTEGER,
    last_done_at INTEGER,
    runs INTEGER NOT NULL DEFAULT 0
) STRICT;
