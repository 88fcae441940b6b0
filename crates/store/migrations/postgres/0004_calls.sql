-- Phone calls (#5). Kept in step with sqlite/0004_calls.sql.

CREATE TABLE calls (
    tenant_id uuid NOT NULL,
    call_sid text NOT NULL,
    conversation_id uuid NOT NULL,
    patient_id uuid NOT NULL,
    status text NOT NULL DEFAULT 'in-progress',
    started_at bigint NOT NULL,
    ended_at bigint,
    duration_secs integer,
    PRIMARY KEY (tenant_id, call_sid),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX calls_conversation ON calls (tenant_id, conversation_id);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['calls']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
