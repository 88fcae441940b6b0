-- The end of a clinic (#8 item 2); see sqlite/0015_tenant_end.sql.
ALTER TABLE tenants DROP CONSTRAINT tenants_status_check;
ALTER TABLE tenants ADD CONSTRAINT tenants_status_check
    CHECK (status IN ('active', 'suspended', 'terminated', 'purging', 'purged'));
ALTER TABLE tenants ADD COLUMN purged_at bigint;

-- Operator level like `tenants` (no row-level security: the clinic it describes has no data
-- left to protect, and the operator reads it by slug). The app role may only read and add
-- certificates (see the grants in `PgStore::migrate`).
CREATE TABLE deletion_certificates (
    tenant_id uuid PRIMARY KEY REFERENCES tenants (id),
    slug text NOT NULL,
    purged_at bigint NOT NULL,
    body text NOT NULL,
    sha256 text NOT NULL
);

-- The audit log is append-only for the app role (no UPDATE or DELETE). Purging a clinic is
-- the one time its entries go: through this function, owned by the schema owner, which
-- deletes only the entries of a clinic whose purge has begun (status `purging`), and only
-- within the transaction's own tenant (row-level security still applies to the owner).
CREATE FUNCTION frontdesk_purge_audit_log(t uuid) RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp
AS $$
DECLARE n bigint;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM tenants WHERE id = t AND status = 'purging') THEN
        RAISE EXCEPTION 'the audit log of a clinic can only be deleted by its purge'
            USING ERRCODE = '42501';
    END IF;
    DELETE FROM audit_log WHERE tenant_id = t;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION frontdesk_purge_audit_log(uuid) FROM PUBLIC;
