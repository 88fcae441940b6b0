-- Phone calls (#5). Kept in step with postgres/0004_calls.sql.

-- Each Twilio call is its own voice conversation with the caller's patient (by caller id):
-- the call sid finds it again on every webhook of the call, and records how the call ended.
CREATE TABLE calls (
    tenant_id BLOB NOT NULL,
    call_sid TEXT NOT NULL,
    conversation_id BLOB NOT NULL,
    patient_id BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'in-progress',
    started_at INTEGER NOT NULL,
    ended_at INTEGER,
    duration_secs INTEGER,
    PRIMARY KEY (tenant_id, call_sid),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;
CREATE INDEX calls_conversation ON calls (tenant_id, conversation_id);
