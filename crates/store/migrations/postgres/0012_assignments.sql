-- Assignments (issue #7): what a Doctor or Read-Only Doctor may see. Kept in step with
-- sqlite/0012_assignments.sql (which explains each column).
ALTER TABLE users ADD COLUMN practitioner_id uuid;
ALTER TABLE conversations ADD COLUMN assignee_user_id uuid;

CREATE INDEX conversations_assignee ON conversations (tenant_id, assignee_user_id, last_message_at)
    WHERE assignee_user_id IS NOT NULL;

-- Replies suggested by a staff member for someone else to send (see sqlite/0012).
CREATE TABLE reply_drafts (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    author_user_id uuid NOT NULL,
    body_ct bytea NOT NULL,
    status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'discarded')),
    created_at bigint NOT NULL,
    decided_by uuid,
    decided_at bigint,
    message_id uuid,
    PRIMARY KEY (tenant_id, id),
    CHECK (status = 'pending' OR (decided_by IS NOT NULL AND decided_at IS NOT NULL)),
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, author_user_id) REFERENCES users (tenant_id, id)
);
CREATE INDEX reply_drafts_pending ON reply_drafts (tenant_id, conversation_id, created_at)
    WHERE status = 'pending';

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['reply_drafts']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
