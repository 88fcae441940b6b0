-- Data subject requests (#8): the erasure ledger (see sqlite/0013_data_requests.sql).
CREATE TABLE erasure_ledger (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    patient_id uuid NOT NULL,
    erased_at bigint NOT NULL,
    actor_kind text NOT NULL,
    actor_id text,
    counts text NOT NULL,
    PRIMARY KEY (tenant_id, patient_id)
);

-- The retention purge finds expired recordings by age.
CREATE INDEX call_recordings_created ON call_recordings (tenant_id, created_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['erasure_ledger']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
