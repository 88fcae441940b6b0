-- Live inbox updates poll the latest change of a clinic's conversations
-- (MAX(updated_at)); this index answers it without reading the clinic's rows.
-- Kept in step with sqlite/0011_inbox_live.sql.
CREATE INDEX conversations_updated ON conversations (tenant_id, updated_at);
