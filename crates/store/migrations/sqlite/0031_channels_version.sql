-- A version stamp on each clinic's channel accounts (#9, #6): every webhook routes to a
-- clinic and checks the provider's signature with that clinic's account secrets. Each instance
-- keeps the accounts it has opened with the stamp they were read at; the routing query returns
-- the stamp, so a webhook costs one statement instead of four. Triggers bump the stamp in the
-- same transaction as any change to the clinic's accounts (created, secret rotated, re-sealed
-- under a new key, removed): a rotated or revoked secret is refused by the next webhook, with
-- no time-to-live. Old code ignores the column (rolling restart).
-- Kept in step with postgres/0031_channels_version.sql.

ALTER TABLE tenants ADD COLUMN channels_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER channel_accounts_channels_insert AFTER INSERT ON channel_accounts
BEGIN
    UPDATE tenants SET channels_version = channels_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER channel_accounts_channels_update AFTER UPDATE ON channel_accounts
BEGIN
    UPDATE tenants SET channels_version = channels_version + 1 WHERE id IN (OLD.tenant_id, NEW.tenant_id);
END;

CREATE TRIGGER channel_accounts_channels_delete AFTER DELETE ON channel_accounts
BEGIN
    UPDATE tenants SET channels_version = channels_version + 1 WHERE id = OLD.tenant_id;
END;
