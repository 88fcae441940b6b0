-- An index on the referencing columns of every foreign key (#12). Deleting a parent row looks
-- up its children by those columns: the retention purge deletes messages (outbox rows hang
-- off them) and conversations (staff notifications, web chat sessions, read marks, reply
-- drafts, waitlist offers), erasure deletes a patient, a clinic's purge everything. Without
-- an index each such lookup read the whole child table. Found by the store test
-- `schema::*every_foreign_key_has_an_index_on_its_referencing_columns`, which keeps it so.
-- Building an index holds writes to its table until it is built (seconds per million rows);
-- old code is unaffected (rolling restart). Kept in step with postgres/0032_foreign_key_indexes.sql.

CREATE INDEX IF NOT EXISTS api_key_routes_tenant_fk ON api_key_routes (tenant_id);
CREATE INDEX IF NOT EXISTS appointments_service_id_fk ON appointments (tenant_id, service_id);
CREATE INDEX IF NOT EXISTS calcom_event_types_service_id_fk ON calcom_event_types (tenant_id, service_id);
CREATE INDEX IF NOT EXISTS calendar_feed_routes_tenant_fk ON calendar_feed_routes (tenant_id);
CREATE INDEX IF NOT EXISTS calendar_feeds_practitioner_id_fk ON calendar_feeds (tenant_id, practitioner_id);
CREATE INDEX IF NOT EXISTS call_recordings_call_sid_fk ON call_recordings (tenant_id, call_sid);
CREATE INDEX IF NOT EXISTS channel_routes_tenant_fk ON channel_routes (tenant_id);
CREATE INDEX IF NOT EXISTS conversation_reads_conversation_id_fk ON conversation_reads (tenant_id, conversation_id);
CREATE INDEX IF NOT EXISTS login_links_user_id_fk ON login_links (tenant_id, user_id);
CREATE INDEX IF NOT EXISTS outbox_message_id_fk ON outbox (tenant_id, message_id);
CREATE INDEX IF NOT EXISTS payments_patient_id_fk ON payments (tenant_id, patient_id);
CREATE INDEX IF NOT EXISTS practitioner_services_service_id_fk ON practitioner_services (tenant_id, service_id);
CREATE INDEX IF NOT EXISTS reply_drafts_author_user_id_fk ON reply_drafts (tenant_id, author_user_id);
CREATE INDEX IF NOT EXISTS reply_drafts_conversation_id_fk ON reply_drafts (tenant_id, conversation_id);
CREATE INDEX IF NOT EXISTS staff_notifications_conversation_id_fk ON staff_notifications (tenant_id, conversation_id);
CREATE INDEX IF NOT EXISTS waitlist_entries_practitioner_id_fk ON waitlist_entries (tenant_id, practitioner_id);
CREATE INDEX IF NOT EXISTS waitlist_offers_conversation_id_fk ON waitlist_offers (tenant_id, conversation_id);
CREATE INDEX IF NOT EXISTS webchat_sessions_conversation_id_fk ON webchat_sessions (tenant_id, conversation_id);
CREATE INDEX IF NOT EXISTS working_hours_practitioner_id_fk ON working_hours (tenant_id, practitioner_id);
