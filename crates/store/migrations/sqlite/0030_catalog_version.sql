-- A version stamp on each clinic's catalogue (#6): what the receptionist reads on every turn
-- (profile, practitioners, services and who gives them, FAQs, red-flag rules, whether an SMS
-- account exists). Every instance caches a clinic's catalogue with the stamp it was read at
-- and checks the stamp, one cheap read, on every turn. The stamp is bumped by triggers, not by
-- application code, so no write path can forget it: a red-flag rule added on one instance is
-- applied by the next turn on every instance. Old code ignores the column (rolling restart).
-- Kept in step with postgres/0030_catalog_version.sql.

ALTER TABLE tenants ADD COLUMN catalog_version INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER clinic_profiles_catalog_insert AFTER INSERT ON clinic_profiles
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER clinic_profiles_catalog_update AFTER UPDATE ON clinic_profiles
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER clinic_profiles_catalog_delete AFTER DELETE ON clinic_profiles
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER practitioners_catalog_insert AFTER INSERT ON practitioners
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER practitioners_catalog_update AFTER UPDATE ON practitioners
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER practitioners_catalog_delete AFTER DELETE ON practitioners
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER services_catalog_insert AFTER INSERT ON services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER services_catalog_update AFTER UPDATE ON services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER services_catalog_delete AFTER DELETE ON services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER practitioner_services_catalog_insert AFTER INSERT ON practitioner_services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER practitioner_services_catalog_update AFTER UPDATE ON practitioner_services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER practitioner_services_catalog_delete AFTER DELETE ON practitioner_services
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER faqs_catalog_insert AFTER INSERT ON faqs
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER faqs_catalog_update AFTER UPDATE ON faqs
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER faqs_catalog_delete AFTER DELETE ON faqs
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

CREATE TRIGGER clinic_red_flag_rules_catalog_insert AFTER INSERT ON clinic_red_flag_rules
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER clinic_red_flag_rules_catalog_update AFTER UPDATE ON clinic_red_flag_rules
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER clinic_red_flag_rules_catalog_delete AFTER DELETE ON clinic_red_flag_rules
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;

-- Channel accounts: only their existence and provider are read, not their secrets, so a
-- secret rotation does not empty every instance's cache.

CREATE TRIGGER channel_accounts_catalog_insert AFTER INSERT ON channel_accounts
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER channel_accounts_catalog_update AFTER UPDATE OF provider, tenant_id ON channel_accounts
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER channel_accounts_catalog_delete AFTER DELETE ON channel_accounts
BEGIN
    UPDATE tenants SET catalog_version = catalog_version + 1 WHERE id = OLD.tenant_id;
END;
