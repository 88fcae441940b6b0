-- The waitlist (#5). Kept in step with postgres/0006_waitlist.sql.

-- A patient waiting for a time of one service (with one practitioner, or anyone) whose start
-- falls within [window_start, window_end]. Offered in join order (created_at, then id).
CREATE TABLE waitlist_entries (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    service_id BLOB NOT NULL,
    practitioner_id BLOB,
    window_start INTEGER NOT NULL,
    window_end INTEGER NOT NULL CHECK (window_start < window_end),
    status TEXT NOT NULL DEFAULT 'waiting' CHECK (status IN ('waiting', 'booked', 'withdrawn')),
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    FOREIGN KEY (tenant_id, patient_id) REFERENCES patients (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, service_id) REFERENCES services (tenant_id, id),
    FOREIGN KEY (tenant_id, practitioner_id) REFERENCES practitioners (tenant_id, id)
) STRICT;
CREATE INDEX waitlist_entries_match ON waitlist_entries (tenant_id, service_id, status, created_at);
CREATE INDEX waitlist_entries_patient ON waitlist_entries (tenant_id, patient_id);
-- Joining twice with the same request is one entry, whatever the race.
CREATE UNIQUE INDEX waitlist_entries_once ON waitlist_entries
    (tenant_id, patient_id, service_id, COALESCE(practitioner_id, X''), window_start, window_end)
    WHERE status = 'waiting';

-- A freed time (its appointment cancelled or moved), held for the waitlist: pending until
-- offered, then taken by the first patient to confirm before expires_at.
CREATE TABLE slot_holds (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    source_appointment_id BLOB NOT NULL,
    practitioner_id BLOB NOT NULL,
    service_id BLOB NOT NULL,
    starts_at INTEGER NOT NULL,
    busy_until INTEGER NOT NULL CHECK (starts_at < busy_until),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'offered', 'taken', 'expired', 'unmatched')),
    expires_at INTEGER,
    winner_entry_id BLOB,
    appointment_id BLOB,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id),
    -- One hold per freed appointment (cancelling again adds none).
    UNIQUE (tenant_id, source_appointment_id),
    FOREIGN KEY (tenant_id, source_appointment_id) REFERENCES appointments (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX slot_holds_pending ON slot_holds (tenant_id, status, starts_at);

-- Who was offered which hold, and in which conversation.
CREATE TABLE waitlist_offers (
    tenant_id BLOB NOT NULL,
    hold_id BLOB NOT NULL,
    entry_id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hold_id, entry_id),
    FOREIGN KEY (tenant_id, hold_id) REFERENCES slot_holds (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, entry_id) REFERENCES waitlist_entries (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX waitlist_offers_entry ON waitlist_offers (tenant_id, entry_id);

-- The hold this conversation was last offered (so "yes" takes it).
ALTER TABLE conversations ADD COLUMN offered_hold_id BLOB;
