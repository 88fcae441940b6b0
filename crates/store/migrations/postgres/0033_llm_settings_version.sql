-- A change to a clinic's language model settings bumps its catalogue stamp (#9), so every
-- instance's next turn sees it: each instance keeps the clinic's models (built from
-- `llm_settings`) with the stamp they were read at, and every turn already reads that stamp
-- with the catalogue (migration 0030). Before this, each instance re-read the settings every
-- 5 s, and a phone call's turns, seconds apart, paid that read on most turns. Any change
-- counts (models, routes, prices, limits, budget, enabled, a new key, a key re-sealed under a
-- new data key). `llm_usage` does not bump the stamp: a clinic with a monthly budget still
-- re-reads its spend every few seconds. Old code ignores the trigger (rolling restart).
-- Kept in step with sqlite/0033_llm_settings_version.sql.

CREATE TRIGGER llm_settings_catalog_version AFTER INSERT OR UPDATE OR DELETE ON llm_settings
    FOR EACH ROW EXECUTE FUNCTION frontdesk_bump_catalog_version();
