-- Audit log retention (#8); see sqlite/0016_audit_retention.sql.
ALTER TABLE audit_heads ADD COLUMN floor_seq bigint NOT NULL DEFAULT 0;
ALTER TABLE audit_heads ADD COLUMN floor_hash bytea;

-- The application role may not delete audit entries (its DELETE on audit_log is revoked).
-- This function, run with the owner's rights, is the only way it can: for the clinic of the
-- current transaction only, a prefix of the chain only, every entry of it older than
-- `p_before`, which must itself be more than a year ago (no retention policy is shorter),
-- moving the floor in the same statement.
CREATE FUNCTION frontdesk_purge_audit(p_tenant uuid, p_through bigint, p_before bigint)
RETURNS bigint LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    n bigint;
    h bytea;
    floor_at bigint;
BEGIN
    IF p_tenant IS DISTINCT FROM frontdesk_current_tenant() THEN
        RAISE EXCEPTION 'audit purge outside the current clinic';
    END IF;
    IF p_before > (extract(epoch FROM clock_timestamp()) * 1000000)::bigint - 365::bigint * 86400 * 1000000 THEN
        RAISE EXCEPTION 'audit entries younger than a year are never purged';
    END IF;
    SELECT floor_seq INTO floor_at FROM audit_heads WHERE tenant_id = p_tenant FOR UPDATE;
    IF floor_at IS NULL OR p_through <= floor_at THEN
        RAISE EXCEPTION 'nothing to purge below the floor';
    END IF;
    IF EXISTS (SELECT 1 FROM audit_log WHERE tenant_id = p_tenant AND seq <= p_through AND at >= p_before) THEN
        RAISE EXCEPTION 'an audit entry to purge is still within retention';
    END IF;
    SELECT hash INTO h FROM audit_log WHERE tenant_id = p_tenant AND seq = p_through;
    IF h IS NULL THEN
        RAISE EXCEPTION 'no audit entry at that seq';
    END IF;
    DELETE FROM audit_log WHERE tenant_id = p_tenant AND seq <= p_through;
    GET DIAGNOSTICS n = ROW_COUNT;
    UPDATE audit_heads SET floor_seq = p_through, floor_hash = h WHERE tenant_id = p_tenant;
    RETURN n;
END $$;
REVOKE ALL ON FUNCTION frontdesk_purge_audit(uuid, bigint, bigint) FROM PUBLIC;
