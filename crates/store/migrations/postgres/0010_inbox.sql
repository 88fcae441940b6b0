-- The staff inbox: what each staff member has read, and finding expired takeover holds.
-- Kept in step with sqlite/0010_inbox.sql (which explains each column).
CREATE TABLE conversation_reads (
    tenant_id uuid NOT NULL REFERENCES tenants (id),
    user_id uuid NOT NULL,
    conversation_id uuid NOT NULL,
    read_at bigint NOT NULL,
    PRIMARY KEY (tenant_id, user_id, conversation_id),
    FOREIGN KEY (tenant_id, user_id) REFERENCES users (tenant_id, id) ON DELETE CASCADE,
    FOREIGN KEY (tenant_id, conversation_id) REFERENCES conversations (tenant_id, id) ON DELETE CASCADE
);

CREATE INDEX conversations_held ON conversations (tenant_id, hold_expires_at)
    WHERE owner_user_id IS NOT NULL;

-- A conversation's own events (taken over, released, hold expired) for its page.
CREATE INDEX audit_log_target ON audit_log (tenant_id, target_kind, target_id, seq);

DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['conversation_reads']
    LOOP
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = frontdesk_current_tenant()) '
            'WITH CHECK (tenant_id = frontdesk_current_tenant())', t);
    END LOOP;
END $$;
