-- Each clinic's language model spend this calendar month (UTC), counted as usage rows are
-- written (#9). See sqlite/0034_llm_month_spend.sql, kept in step with this file, for why.

ALTER TABLE tenants
    ADD COLUMN llm_spend_month integer NOT NULL DEFAULT 0,
    ADD COLUMN llm_spend_micros bigint NOT NULL DEFAULT 0;

CREATE FUNCTION frontdesk_count_llm_spend() RETURNS trigger
    LANGUAGE plpgsql AS $$
DECLARE
    m integer := to_char(to_timestamp(NEW.at / 1000000.0) AT TIME ZONE 'UTC', 'YYYYMM')::integer;
BEGIN
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

CREATE TRIGGER llm_usage_month_spend AFTER INSERT ON llm_usage
    FOR EACH ROW EXECUTE FUNCTION frontdesk_count_llm_spend();

-- This month's spend so far, for clinics that already have usage rows (`llm_usage` is under
-- forced row-level security, so each clinic's rows are summed in its own scope).
DO $$
DECLARE
    t uuid;
    m integer := to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')::integer;
BEGIN
    FOR t IN SELECT id FROM tenants LOOP
        PERFORM set_config('app.tenant_id', t::text, true);
        UPDATE tenants SET
            llm_spend_month = m,
            llm_spend_micros = s.cost
        FROM (
            SELECT COALESCE(SUM(cost_micros), 0) AS cost, COUNT(*) AS n FROM llm_usage
            WHERE tenant_id = t
              AND to_char(to_timestamp(at / 1000000.0) AT TIME ZONE 'UTC', 'YYYYMM')::integer = m
        ) s
        WHERE tenants.id = t AND s.n > 0;
    END LOOP;
    PERFORM set_config('app.tenant_id', '', true);
END $$;
