-- The staff inbox: what each staff member has read, and finding expired takeover holds.
-- Kept in step with postgres/0010_inbox.sql.
--
-- A conversation is unread for a staff member when a message arrived after `read_at`
-- (conversations.last_message_at > read_at, or no row at all). Takeover holds use the
-- existing conversations.owner_user_id / hold_expires_at columns: the AI sends nothing while
-- hold_expires_at is in the future; the worker clears expired holds with a visible event.
CREATE TABLE conversation_reads (
    tenant_id BLOB NOT NULL,
    user_id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    read_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id, conversation_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
) STRICT;

CREATE INDEX conversations_held ON conversations (tenant_id, hold_expires_at)
    WHERE owner_user_id IS NOT NULL;

-- A conversation's own events (taken over, released, hold expired) for its page.
CREATE INDEX audit_log_target ON audit_log (tenant_id, target_kind, target_id, seq);
