-- A change to a clinic's language model settings bumps its catalogue stamp (#9), so every
-- instance's next turn sees it: each instance keeps the clinic's models (built from
-- `llm_settings`) with the stamp they were read at, and every turn already reads that stamp
-- with the catalogue (migration 0030). Before this, each instance re-read the settings every
-- 5 s, and a phone call's turns, seconds apart, paid that read on most turns. Any change
-- counts (models, routes, prices, limits, budget, enabled, a new key, a key re-sealed under a
-- new data key). `llm_usage` does not bump the stamp: a clinic with a monthly budget still
-- re-reads its spend every few seconds. Old code ignores the triggers (rolling restart).
-- Kept in step with postgres/0033_llm_settings_version.sql.

CREATE TRIGGER llm_settings_catalog_insert AFTER INSERT ON llm_settings
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER llm_settings_catalog_update AFTER UPDATE ON llm_settings
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id IN (OLD.tenant_id, NEW.tenant_id);
END;

CREATE TRIGGER llm_settings_catalog_delete AFTER DELETE ON llm_settings
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;
