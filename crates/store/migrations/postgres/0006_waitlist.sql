-- The waitlist (#5). Kept in step with sqlite/0006_waitlist.sql.

CREATE TABLE waitlist_entries (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    patient_id uuid NOT NULL,
    service_id uuid NOT NULL,
    practitioner_id uuid,
    window_start bigint NOT NULL,
    window_end bigint NOT NULL CHECK (window_start < window_end),
    status text NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'booked', 'withdrawn')),
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id)
);
CREATE INDEX waitlist_entries_match ON waitlist_entries (tenant_id, service_id, status, created_at);
CREATE INDEX waitlist_entries_patient ON waitlist_entries (tenant_id, patient_id);
CREATE UNIQUE INDEX waitlist_entries_once ON waitlist_entries
    (tenant_id, patient_id, service_id, COALESCE(practitioner_id, '00000000-0000-0000-0000-000000000000'::uuid), window_start, window_end)
    WHERE status = 'waiting';

CREATE TABLE slot_holds (
    tenant_id uuid NOT NULL,
    id uuid NOT NULL,
    source_appointment_id uuid NOT NULL,
    practitioner_id uuid NOT NULL,
    service_id uuid NOT NULL,
    starts_at bigint NOT NULL,
    busy_until bigint NOT NULL CHECK (starts_at < busy_until),
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'offered', 'taken', 'expired', 'unmatched')),
    expires_at bigint,
    winner_entry_id uuid,
    appointment_id uuid,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, source_appointment_id),
    FOREIGN KEY (tenant_id, source_appointment_id) REFERENCES appointments (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX slot_holds_pending ON slot_holds (tenant_id, status, starts_at);

CREATE TABLE waitlist_offers (
    tenant_id uuid NOT NULL,
    hold_id uuid NOT NULL,
    entry_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    created_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, hold_id, entry_id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES slot_holds (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, entry_id) REFERENCES waitlist_entries (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX waitlist_offers_entry ON waitlist_offers (tenant_id, entry_id);

ALTER TABLE conversations ADD COLUMN offered_hold_id uuid;

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['waitlist_entries', 'slot_holds', 'waitlist_offers']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
