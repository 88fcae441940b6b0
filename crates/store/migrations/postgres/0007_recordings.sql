-- Call recordings. Kept in step with sqlite/0007_recordings.sql.

CREATE TABLE call_recordings (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    call_sid text NOT NULL,
    recording_sid text NOT NULL,
    conversation_id uuid NOT NULL,
    patient_id uuid NOT NULL,
    duration_secs integer CHECK (duration_secs IS NULL OR duration_secs >= 0),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'stored')),
    blob_key text,
    sealed_bytes bigint CHECK (sealed_bytes IS NULL OR sealed_bytes > 0),
    sealed_sha256 text,
    created_at bigint NOT NULL,
    stored_at bigint,
    provider_deleted_at bigint,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, recording_sid),
    CHECK (status = 'pending' OR (blob_key IS NOT NULL AND sealed_bytes IS NOT NULL
        AND sealed_sha256 IS NOT NULL AND stored_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, call_sid) REFERENCES calls (tenant_id, call_sid) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX call_recordings_conversation ON call_recordings (tenant_id, conversation_id, created_at);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['call_recordings']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
