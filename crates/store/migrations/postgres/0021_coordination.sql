-- Coordination between several `serve` instances on one database (#12 item 1). Kept in step
-- with sqlite/0021_coordination.sql (which explains each table). Only new tables: the
-- previous release keeps working on a database migrated to this one.

CREATE TABLE outbound_rates (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    tat bigint NOT NULL,
    granted boolean NOT NULL,
    updated_at bigint NOT NULL
);

ALTER TABLE outbound_rates ENABLE ROW LEVEL SECURITY;
ALTER TABLE outbound_rates FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON outbound_rates USING (tenant_id = frontdesk_current_tenant())
    WITH CHECK (tenant_id = frontdesk_current_tenant());

-- Operator level, like `tenants`: no tenant_id, no clinic data, no row-level security.
CREATE TABLE maintenance_runs (
    name text PRIMARY KEY,
    holder text,
    leased_until bigint,
    last_done_at bigint,
    runs bigint NOT NULL DEFAULT 0
);
