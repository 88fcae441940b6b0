-- Web chat identity by one-time code (#3). Kept in step with postgres/0003_verification.sql.

-- The pending code of a web chat conversation (at most one): only its HMAC, the phone's blind
-- index and the phone sealed with the tenant key (to link the patient once confirmed).
CREATE TABLE phone_verifications (
    tenant_id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    phone_bidx BLOB NOT NULL,
    phone_ct BLOB NOT NULL,
    code_hash BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    expires_at INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, conversation_id),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;

-- Every code sent, for the send limits (per conversation per hour, per phone per day).
CREATE TABLE verification_sends (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    phone_bidx BLOB NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, id)
) STRICT;
CREATE INDEX verification_sends_phone ON verification_sends (tenant_id, phone_bidx, at);

-- The patient a web chat visitor proved to be, until when.
ALTER TABLE conversations ADD COLUMN verified_patient_id BLOB;
ALTER TABLE conversations ADD COLUMN verified_until INTEGER;
