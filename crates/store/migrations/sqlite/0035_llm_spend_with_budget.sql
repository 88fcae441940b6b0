-- Migration 0034 counted every clinic's month spend, so every model turn of every clinic also
-- updated its `tenants` row (measured: +0.1 ms at the median of a phone turn on SQLite, +0.17
-- ms on PostgreSQL). Only a clinic with a monthly budget needs the count (#9): from here the
-- insert trigger counts only while the clinic's settings carry a budget, and writing settings
-- that carry one (setting a budget, changing it, any other change while one is set) starts the
-- count again from the usage rows of the month the settings were written in (their
-- `updated_at`, the application's clock). A clinic without a budget pays one primary-key
-- lookup per model turn and no write. Kept in step with postgres/0035_llm_spend_with_budget.sql.

-- compat: a trigger, which no release reads; replaced at once by the one below
DROP TRIGGER llm_usage_month_spend;

CREATE TRIGGER llm_usage_month_spend_budgeted AFTER INSERT ON llm_usage
WHEN EXISTS (
    SELECT 1 FROM llm_settings s
    WHERE s.tenant_id = NEW.tenant_id AND s.monthly_budget_cents IS NOT NULL
)
BEGIN
    UPDATE tenants SET
        llm_spend_micros = CASE
            WHEN llm_spend_month = CAST(strftime('%Y%m', NEW.at / 1000000, 'unixepoch') AS INTEGER)
                THEN llm_spend_micros + NEW.cost_micros
            WHEN llm_spend_month > CAST(strftime('%Y%m', NEW.at / 1000000, 'unixepoch') AS INTEGER)
                THEN llm_spend_micros
            ELSE NEW.cost_micros
        END,
        llm_spend_month = MAX(llm_spend_month, CAST(strftime('%Y%m', NEW.at / 1000000, 'unixepoch') AS INTEGER))
    WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER llm_settings_month_spend_insert AFTER INSERT ON llm_settings
WHEN NEW.monthly_budget_cents IS NOT NULL
BEGIN
    UPDATE tenants SET
        llm_spend_month = CAST(strftime('%Y%m', NEW.updated_at / 1000000, 'unixepoch') AS INTEGER),
        llm_spend_micros = (
            SELECT COALESCE(SUM(u.cost_micros), 0) FROM llm_usage u
            WHERE u.tenant_id = NEW.tenant_id
              AND u.at >= CAST(strftime('%s', NEW.updated_at / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000
              AND u.at < CAST(strftime('%s', NEW.updated_at / 1000000, 'unixepoch', 'start of month', '+1 month') AS INTEGER) * 1000000
        )
    WHERE id = NEW.tenant_id;
END;

CREATE TRIGGER llm_settings_month_spend_update AFTER UPDATE ON llm_settings
WHEN NEW.monthly_budget_cents IS NOT NULL
BEGIN
    UPDATE tenants SET
        llm_spend_month = CAST(strftime('%Y%m', NEW.updated_at / 1000000, 'unixepoch') AS INTEGER),
        llm_spend_micros = (
            SELECT COALESCE(SUM(u.cost_micros), 0) FROM llm_usage u
            WHERE u.tenant_id = NEW.tenant_id
              AND u.at >= CAST(strftime('%s', NEW.updated_at / 1000000, 'unixepoch', 'start of month') AS INTEGER) * 1000000
              AND u.at < CAST(strftime('%s', NEW.updated_at / 1000000, 'unixepoch', 'start of month', '+1 month') AS INTEGER) * 1000000
        )
    WHERE id = NEW.tenant_id;
END;
