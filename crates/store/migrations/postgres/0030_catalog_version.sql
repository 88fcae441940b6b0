-- A version stamp on each clinic's catalogue (#6): what the receptionist reads on every turn
-- (profile, practitioners, services and who gives them, FAQs, red-flag rules, whether an SMS
-- account exists). Every instance caches a clinic's catalogue with the stamp it was read at
-- and checks the stamp, one cheap read, on every turn. The stamp is bumped by triggers, not by
-- application code, so no write path can forget it: a red-flag rule added on one instance is
-- applied by the next turn on every instance. Old code ignores the column (rolling restart).
-- Kept in step with sqlite/0030_catalog_version.sql.

ALTER TABLE tenants ADD COLUMN catalog_version bigint NOT NULL DEFAULT 0;

CREATE FUNCTION frontdesk_bump_catalog_version() RETURNS trigger
    LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
    ELSE
        UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
    END IF;
    RETURN NULL;
END $$;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['clinic_profiles', 'practitioners', 'services', 'practitioner_services',
                             'faqs', 'clinic_red_flag_rules'] LOOP
        EXECUTE format('CREATE TRIGGER %I AFTER INSERT OR UPDATE OR DELETE ON %I '
                       'FOR EACH ROW EXECUTE FUNCTION frontdesk_bump_catalog_version()',
                       t || '_catalog_version', t);
    END LOOP;
END $$;

-- Channel accounts: only their existence and provider are read, not their secrets, so a
-- secret rotation does not empty every instance's cache.
CREATE TRIGGER channel_accounts_catalog_version AFTER INSERT OR DELETE OR UPDATE OF provider, tenant_id ON channel_accounts
    FOR EACH ROW EXECUTE FUNCTION frontdesk_bump_catalog_version();
