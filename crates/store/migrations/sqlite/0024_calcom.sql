-- Cal.com as a clinic's calendar (#11 item 3). Kept in step with postgres/0024_calcom.sql.

-- One row per clinic that configured Cal.com. `enabled` makes Cal.com the source of truth for
-- the clinic's free times and bookings. `api_key_ct` and `webhook_secret_ct` are sealed with
-- the clinic's data key (bound to tenant, table, column, tenant id) and write-only: only the
-- runtime read opens them. `base_url` is Cal.com's API (https://api.cal.com unless a test or a
-- self-hosted Cal.com says otherwise).
CREATE TABLE calcom_settings (
    tenant_id BLOB NOT NULL PRIMARY KEY REFERENCES tenants (id),
    enabled INTEGER NOT NULL DEFAULT 0,
    base_url TEXT NOT NULL,
    api_key_ct BLOB,
    api_key_set_at INTEGER,
    webhook_secret_ct BLOB,
    webhook_secret_set_at INTEGER,
    updated_at INTEGER NOT NULL,
    updated_by TEXT NOT NULL
) STRICT;

-- Which Cal.com event type books a practitioner for a service.
CREATE TABLE calcom_event_types (
    tenant_id BLOB NOT NULL REFERENCES tenants (id),
    practitioner_id BLOB NOT NULL,
    service_id BLOB NOT NULL,
    event_type_id INTEGER NOT NULL CHECK (event_type_id > 0),
    PRIMARY KEY (tenant_id, practitioner_id, service_id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id),
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id)
) STRICT;

CREATE INDEX calcom_event_types_by_id ON calcom_event_types (tenant_id, event_type_id);

-- The Cal.com booking an appointment mirrors (NULL: a built-in booking).
ALTER TABLE appointments ADD COLUMN calcom_uid TEXT;
CREATE UNIQUE INDEX appointments_calcom_uid ON appointments (tenant_id, calcom_uid) WHERE calcom_uid IS NOT NULL;

-- A booking made directly on Cal.com for someone frontdesk does not know is kept as a busy
-- time of the practitioner (no patient is invented); this is its Cal.com booking.
ALTER TABLE schedule_exceptions ADD COLUMN calcom_uid TEXT;
CREATE UNIQUE INDEX schedule_exceptions_calcom_uid ON schedule_exceptions (tenant_id, calcom_uid) WHERE calcom_uid IS NOT NULL;
