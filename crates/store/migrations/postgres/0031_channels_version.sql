-- A version stamp on each clinic's channel accounts (#9, #6): every webhook routes to a
-- clinic and checks the provider's signature with that clinic's account secrets. Each instance
-- keeps the accounts it has opened with the stamp they were read at; the routing query returns
-- the stamp, so a webhook costs one statement instead of four. Triggers bump the stamp in the
-- same transaction as any change to the clinic's accounts (created, secret rotated, re-sealed
-- under a new key, removed): a rotated or revoked secret is refused by every instance's next
-- webhook, with no time-to-live. Old code ignores the column (rolling restart).
-- Kept in step with sqlite/0031_channels_version.sql.

ALTER TABLE tenants ADD COLUMN channels_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION frontdesk_bump_channels_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'UPDATE' THEN
        UPDATE tenants SET channels_version = channels_version + 1 WHERE id = OLD.tenant_id;
    END IF;
    IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND NEW.tenant_id IS DISTINCT FROM OLD.tenant_id) THEN
        UPDATE tenants SET channels_version = channels_version + 1 WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER channel_accounts_channels_version AFTER INSERT OR UPDATE OR DELETE ON channel_accounts
    FOR EACH ROW EXECUTE FUNCTION frontdesk_bump_channels_version();
