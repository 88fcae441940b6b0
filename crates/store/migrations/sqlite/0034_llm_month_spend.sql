-- Each clinic's language model spend this calendar month (UTC), counted as usage rows are
-- written (#9): `llm_spend_month` is the month as yyyymm (0: nothing spent yet) and
-- `llm_spend_micros` what that month's rows cost. Every turn already reads the clinic's
-- `tenants` row for its catalogue stamp (migration 0030); it now reads the spend in the same
-- statement, so a clinic with a monthly budget checks it against the spend of every turn
-- committed before this one, without summing the month's `llm_usage` rows (which grow with the
-- month) and without re-reading its settings every 5 s. A row of an earlier month (never
-- written by frontdesk, which stamps rows when they are written) does not touch a later
-- month's count. Retention never deletes a row before its month is over, and deleting rows
-- does not change the count. Old code ignores the columns and the trigger (rolling restart).
-- Kept in step with postgres/0034_llm_month_spend.sql.

ALTER TABLE tenants ADD COLUMN llm_spend_month INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tenants ADD COLUMN llm_spend_micros INTEGER NOT NULL DEFAULT 0;

CREATE TRIGGER llm_usage_month_spend AFTER INSERT ON llm_usage
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

-- This month's spend so far, for clinics that already have usage rows.
UPDATE tenants SET
    llm_spend_month = CAST(strftime('%Y%m', 'now') AS INTEGER),
    llm_spend_micros = (
        SELECT COALESCE(SUM(u.cost_micros), 0) FROM llm_usage u
        WHERE u.tenant_id = tenants.id
          AND strftime('%Y%m', u.at / 1000000, 'unixepoch') = strftime('%Y%m', 'now')
    )
WHERE id IN (SELECT DISTINCT tenant_id FROM llm_usage);
