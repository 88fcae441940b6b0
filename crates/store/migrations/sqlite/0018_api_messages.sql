-- Messages sent to a patient through the REST API (#10, POST /v1/conversations/{id}/messages).
-- Kept in step with the other engine's 0018_api_messages.sql.
--
-- The key that sent it, and the caller's Idempotency-Key: the same key again answers the
-- message sent the first time, enforced by this unique index inside the sending transaction.
ALTER TABLE messages ADD COLUMN api_key_id BLOB;
ALTER TABLE messages ADD COLUMN api_idempotency_key TEXT;
CREATE UNIQUE INDEX messages_api_idempotency ON messages (tenant_id, api_key_id, api_idempotency_key)
    WHERE api_idempotency_key IS NOT NULL;
