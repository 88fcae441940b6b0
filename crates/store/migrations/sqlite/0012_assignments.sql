-- Assignments (issue #7): what a Doctor or Read-Only Doctor may see. Kept in step with
-- postgres/0012_assignments.sql.
--
-- users.practitioner_id links a staff member to the practitioner whose diary is theirs: they
-- see that practitioner's appointments and the patients booked with them.
-- conversations.assignee_user_id is the staff member a conversation was assigned to (by
-- someone who works the whole inbox): they see it, its patient and its call recordings.
-- Both are checked by the store in the clinic's own scope; neither column crosses tenants.
ALTER TABLE users ADD COLUMN practitioner_id BLOB;
ALTER TABLE conversations ADD COLUMN assignee_user_id BLOB;

CREATE INDEX conversations_assignee ON conversations (tenant_id, assignee_user_id, last_message_at)
    WHERE assignee_user_id IS NOT NULL;

-- Replies suggested by a staff member for someone else to send (a Read-Only Doctor's
-- drafts). The text is sealed with the patient's key, like every message, so erasing the
-- patient shreds their drafts too. A draft is decided once: sent (with the message it
-- became) or discarded, by whom and when.
CREATE TABLE reply_drafts (
    tenant_id BLOB NOT NULL,
    id BLOB NOT NULL,
    conversation_id BLOB NOT NULL,
    author_user_id BLOB NOT NULL,
    body_ct BLOB NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'discarded')),
    created_at INTEGER NOT NULL,
    decided_by BLOB,
    decided_at INTEGER,
    message_id BLOB,
    PRIMARY KEY (tenant_id, id),
    CHECK (status = 'pending' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_user_id) REFERENCES users (tenant_id, id)
) STRICT;
CREATE INDEX reply_drafts_pending ON reply_drafts (tenant_id, conversation_id, created_at)
    WHERE status = 'pending';
