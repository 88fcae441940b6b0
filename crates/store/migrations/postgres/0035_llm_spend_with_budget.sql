-- Count a clinic's month spend only while its settings carry a monthly budget, and start the
-- count again from the month's usage rows whenever settings with a budget are written (#9).
-- See sqlite/0035_llm_spend_with_budget.sql, kept in step with this file, for why.

CREATE OR REPLACE FUNCTION frontdesk_count_llm_spend() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    m integer := to_char(to_timestamp(NEW.at / 1000000.0) AT TIME ZONE 'UTC', 'YYYYMM')::integer;
BEGIN
    IF NOT EXISTS (SELECT 1 FROM llm_settings s
                   WHERE s.tenant_id = NEW.tenant_id AND s.monthly_budget_cents IS NOT NULL) THEN
        RETURN NULL;
    END IF;
    UPDATE tenants SET
        llm_spend_micros = CASE
            WHEN llm_spend_month = m THEN llm_spend_micros + NEW.cost_micros
            WHEN llm_spend_month > m THEN llm_spend_micros
            ELSE NEW.cost_micros
        END,
        llm_spend_month = GREATEST(llm_spend_month, m)
    WHERE id = NEW.tenant_id;
    RETURN NULL;
END $$;

-- The month of `updated_at` as wall time in UTC (timestamp without time zone), so that the
-- month's bounds do not depend on the session's time zone.
CREATE FUNCTION frontdesk_recount_llm_spend() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    month_first timestamp := date_trunc('month', to_timestamp(NEW.updated_at / 1000000.0) AT TIME ZONE 'UTC');
    lo bigint := (extract(epoch FROM month_first) * 1000000)::bigint;
    hi bigint := (extract(epoch FROM month_first + interval '1 month') * 1000000)::bigint;
BEGIN
    UPDATE tenants SET
        llm_spend_month = to_char(month_first, 'YYYYMM')::integer,
        llm_spend_micros = (
            SELECT COALESCE(SUM(u.cost_micros), 0) FROM llm_usage u
            WHERE u.tenant_id = NEW.tenant_id AND u.at >= lo AND u.at < hi
        )
    WHERE id = NEW.tenant_id;
    RETURN NULL;
END $$;

CREATE TRIGGER llm_settings_month_spend AFTER INSERT OR UPDATE ON llm_settings
    FOR EACH ROW WHEN (NEW.monthly_budget_cents IS NOT NULL)
    EXECUTE FUNCTION frontdesk_recount_llm_spend();
