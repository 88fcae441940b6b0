-- Call recordings. Kept in step with postgres/0007_recordings.sql.

-- A Twilio recording of a call, filed under the call's conversation and patient. The audio
-- itself is never in the database: it is sealed with the patient's data key (so erasing the
-- patient shreds it) and kept in blob storage under `blob_key`; this row holds only ids,
-- length, size and the SHA-256 of the sealed blob. `pending` until the sealed audio is
-- stored; `provider_deleted_at` once Twilio no longer holds its copy.
CREATE TABLE call_recordings (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    call_sid TEXT NOT NULL,
    recording_sid TEXT NOT NULL,
    conversation_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    duration_secs INTEGER CHECK (duration_secs IS NULL OR duration_secs >= 0),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'stored')),
    blob_key TEXT,
    sealed_bytes INTEGER CHECK (sealed_bytes IS NULL OR sealed_bytes > 0),
    sealed_sha256 TEXT,
    created_at INTEGER NOT NULL,
    stored_at INTEGER,
    provider_deleted_at INTEGER,
    PRIMARY KEY (tenant_id, id),
    -- A recording webhook delivered again files nothing new.
    UNIQUE (tenant_id, recording_sid),
    CHECK (status = 'pending' OR (blob_key IS NOT NULL AND sealed_bytes IS NOT NULL
        AND sealed_sha256 IS NOT NULL AND stored_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, call_sid) REFERENCES calls (tenant_id, call_sid) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX call_recordings_conversation ON call_recordings (tenant_id, conversation_id, created_at);
