-- Cal.com as a clinic's calendar (#11 item 3). Kept in step with sqlite/0024_calcom.sql
-- (which explains each table and column).

CREATE TABLE calcom_settings (
    tenant_id uuid NOT NULL PRIMARY KEY REFERENCES tenants (id),
    enabled boolean NOT NULL DEFAULT false,
    base_url text NOT NULL,
    api_key_ct bytea,
    api_key_set_at bigint,
    webhook_secret_ct bytea,
    webhook_secret_set_at bigint,
    updated_at bigint NOT NULL,
    updated_by text NOT NULL
);

CREATE TABLE calcom_event_types (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    practitioner_id uuid NOT NULL,
    service_id uuid NOT NULL,
    event_type_id bigint NOT NULL CHECK (event_type_id > 0),
    PRIMARY KEY (tenant_id, practitioner_id, service_id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id)
);

CREATE INDEX calcom_event_types_by_id ON calcom_event_types (tenant_id, event_type_id);

ALTER TABLE appointments ADD COLUMN calcom_uid text;
CREATE UNIQUE INDEX appointments_calcom_uid ON appointments (tenant_id, calcom_uid) WHERE calcom_uid IS NOT NULL;

ALTER TABLE schedule_exceptions ADD COLUMN calcom_uid text;
CREATE UNIQUE INDEX schedule_exceptions_calcom_uid ON schedule_exceptions (tenant_id, calcom_uid) WHERE calcom_uid IS NOT NULL;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['calcom_settings', 'calcom_event_types']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
